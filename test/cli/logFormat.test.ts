/**
 * What a person at a terminal reads: log records as lines (pino-pretty) on a terminal or with
 * `--log-format pretty`, JSON elsewhere or with `--log-format json`, secrets redacted either way;
 * and door states in the words of the web UI.
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { formatEvent } from '../../controller/cli/auditCommands.ts';
import { STATE_WORDS, stateWord } from '../../controller/cli/format.ts';
import { createCliLogger, type LogFormat } from '../../controller/logger.ts';
// @ts-expect-error plain JavaScript of the web UI, without type declarations
import { stateWord as uiStateWord } from '../../webui/src/format.js';
import { spawnCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

/** A stream that keeps what is written to it; `terminal` makes it look like a TTY. */
function sink(terminal: boolean) {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream: Object.assign(stream, { isTTY: terminal }), text: () => text };
}

async function logged(format: LogFormat | undefined, terminal: boolean): Promise<string> {
  const out = sink(terminal);
  const logger = await createCliLogger('info', format, out.stream);
  logger.child({ component: 'files' }).warn({ file: '/etc/postern/key', code: 'P1.SECRETCODE' }, 'readable by other users');
  await new Promise((r) => setImmediate(r));
  return out.text();
}

const ANSI = /\u001b\[/;
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: files: readable by other users \{"file":"\/etc\/postern\/key","code":"\[redacted\]"\}\n$/;

describe('log format', () => {
  it('on a terminal: one readable line a record, in colour; elsewhere JSON', async () => {
    const terminal = await logged(undefined, true);
    expect(terminal).toMatch(ANSI);
    expect(terminal.replace(/\u001b\[[0-9;]*m/g, '')).toMatch(PRETTY_LINE);

    const piped = await logged(undefined, false);
    expect(JSON.parse(piped)).toMatchObject({ level: 40, component: 'files', msg: 'readable by other users', code: '[redacted]' });
  });

  it('--log-format pretty gives lines (without colour) into a pipe; json gives JSON on a terminal', async () => {
    const pretty = await logged('pretty', false);
    expect(pretty).not.toMatch(ANSI);
    expect(pretty).toMatch(PRETTY_LINE);
    expect(pretty).not.toContain('SECRETCODE');
    expect(JSON.parse(await logged('json', true))).toMatchObject({ level: 40, msg: 'readable by other users' });
  });

  it('postern start --log-format pretty writes its log as lines', async () => {
    const dir = await tempDir('postern-logs-');
    const site = path.join(dir, 'site.yaml');
    await writeFile(site, stringify({ ...testSiteInput('./data'), logLevel: 'info', scanners: [] }));
    const child = spawnCli(['start', '--config', site, '--log-format', 'pretty']);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    for (const deadline = Date.now() + 30_000; !out.includes('Press Ctrl+C') && child.exitCode === null && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGTERM');
    const [code] = await once(child, 'close');
    expect(code, err).toBe(0);
    const lines = err.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /);
    // A new store, made by this first start: the store's warning says where.
    expect(err).toContain(`WARN: store: new empty store at ${path.join(dir, 'data', 'postern.sqlite')}`);
    expect(out).toMatch(/door lab: secured -> stopped\n/);
  }, 60_000);
});

describe('door states', () => {
  it('are named as the web UI names them', () => {
    for (const state of Object.keys(STATE_WORDS)) expect(stateWord(state)).toBe(uiStateWord(state));
    expect(stateWord('heldOpen')).toBe('held open');
    expect(stateWord('fault')).toBe('I/O fault');
    expect(stateWord('somethingNew')).toBe('somethingNew');
    expect(stateWord('toString')).toBe('toString');
  });

  it('in audit tail too', () => {
    const event = { controllerId: 'site', seq: 7, at: Date.UTC(2026, 0, 2, 3, 4, 5), type: 'door', door: 'front', reason: 'heldOpen' };
    expect(formatEvent(event as Parameters<typeof formatEvent>[0])).toBe('2026-01-02T03:04:05.000Z site#7 door door=front held open');
  });
});
