/**
 * `postern start` as a real process refuses what it cannot run with at once: a POSTERN_API_PORT out
 * of range, a port taken, a data directory that is a file, cannot be made or cannot be written.
 * Each is one line naming the setting or the path, exit code 1, within seconds and with nothing
 * left running. It warns about key files other users can read, and the files the CLI writes with
 * codes in them are 0600 whatever the umask.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT, runCli, spawnCli, type CliResult } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const BIN = path.join(ROOT, 'controller/bin/postern.ts');
/**
 * A refusal takes 1-5 s (mostly loading the CLI from its sources); this leaves room for a loaded
 * CI machine (a full run once took 15 s there) and is still far from a hang, which is what it is
 * here to catch.
 */
const PROMPT_MS = 20_000;
const asRoot = process.getuid?.() === 0;
const locked: string[] = [];

/** A directory nobody can make files in: immutable for root (chattr +i), 0555 for anyone else. */
function lock(folder: string): void {
  if (asRoot) execFileSync('chattr', ['+i', folder]);
  else chmodSync(folder, 0o555);
  locked.push(folder);
}

let dir: string;
let site: string;

beforeAll(async () => {
  dir = await tempDir('postern-refusals-');
  site = path.join(dir, 'site.yaml');
  // Without a terminal scanner: standard input is a pipe here.
  await writeFile(site, stringify({ ...testSiteInput('./data'), logLevel: 'warn', scanners: [{ id: 'lab-in', door: 'lab', driver: 'simulated' }] }));
});

afterAll(() => {
  for (const folder of locked.splice(0)) {
    if (asRoot) execFileSync('chattr', ['-i', folder]);
    else chmodSync(folder, 0o755);
  }
});

/** Runs `postern start`, and kills it if it is still running after twice the time a refusal may take. */
async function start(env: Record<string, string>): Promise<CliResult & { ms: number }> {
  const began = Date.now();
  const child = spawnCli(['start', '--config', site], env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 2 * PROMPT_MS);
  // 'close', not 'exit': the refusal's last line may still be in the pipe when the exit is seen.
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(killer);
  return { code, stdout, stderr, ms: Date.now() - began };
}

function expectRefusal(result: CliResult & { ms: number }, line: string | RegExp, errorCode: string): void {
  // Log records (JSON lines: standard error is a pipe) come before a refusal made once the store is open, e.g. its new-store warning.
  const [first, second, ...rest] = result.stderr.split('\n').filter((l) => !l.startsWith('{"level":'));
  if (typeof line === 'string') expect(first).toBe(`postern: ${line}`);
  else expect(first).toMatch(line);
  expect(second).toBe(`  (${errorCode})`);
  expect(rest.join('')).toBe('');
  expect(result.code).toBe(1);
  expect(result.ms).toBeLessThan(PROMPT_MS);
  expect(result.stdout).not.toContain('Postern controller');
}

describe('postern start refuses POSTERN_API_PORT out of range', () => {
  it.each(['70000', '-1', 'abc'])('POSTERN_API_PORT=%s', async (port) => {
    const result = await start({ POSTERN_API_PORT: port, POSTERN_DATA_DIR: path.join(dir, `port-${port}`) });
    expectRefusal(result, `POSTERN_API_PORT="${port}" is not a valid api.port: it must be a whole number from 0 to 65535 (0 picks a free port)`, 'POSTERN_ERR_CONFIG_INVALID');
  });

  it('a port another process listens on, naming it, with nothing left running', async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      const result = await start({ POSTERN_API_PORT: String(port), POSTERN_DATA_DIR: path.join(dir, 'port-taken') });
      expectRefusal(result, `api: cannot listen on 127.0.0.1:${port}: EADDRINUSE: another process listens there (another controller?): set api.port (or POSTERN_API_PORT) to a free port`, 'POSTERN_ERR_CONFIG_INVALID');
    } finally {
      server.close();
    }
  });
});

describe('postern start refuses a data directory it cannot use', () => {
  it('a file where the directory should be', async () => {
    const file = path.join(dir, 'data-is-a-file');
    writeFileSync(file, 'not a folder');
    const result = await start({ POSTERN_DATA_DIR: file });
    expectRefusal(result, `data directory ${file} (POSTERN_DATA_DIR) is not a directory: a file is there`, 'POSTERN_ERR_STORE_UNAVAILABLE');
  });

  it('a directory below a file, named by the site file', async () => {
    const file = path.join(dir, 'blocker');
    writeFileSync(file, 'x');
    const below = path.join(dir, 'below-file.yaml');
    await writeFile(below, stringify({ ...testSiteInput('./blocker/data'), scanners: [] }));
    const began = Date.now();
    const result = { ...(await runCli(['start', '--config', below])), ms: 0 };
    result.ms = Date.now() - began;
    expectRefusal(result, `data directory ${path.join(file, 'data')} (dataDir in ${below}) cannot be made: ${file} is a file, not a directory`, 'POSTERN_ERR_STORE_UNAVAILABLE');
  });

  it('a directory that cannot be made', async () => {
    const parent = path.join(dir, 'locked-parent');
    mkdirSync(parent);
    lock(parent);
    const result = await start({ POSTERN_DATA_DIR: path.join(parent, 'data') });
    expectRefusal(result, new RegExp(`^postern: data directory ${parent}/data \\(POSTERN_DATA_DIR\\) cannot be made: ${parent} is not writable \\((EPERM|EACCES)`), 'POSTERN_ERR_STORE_READ_ONLY');
  });

  it('a directory that cannot be written, even with a store in it that still could be', async () => {
    const dataDir = path.join(dir, 'locked-store');
    // A store made by an earlier run; then its folder is locked, its files are not.
    expect((await runCli(['audit', 'tail', '--create', '--config', site], { POSTERN_DATA_DIR: dataDir })).code).toBe(0);
    const before = readdirSync(dataDir).sort();
    lock(dataDir);
    const result = await start({ POSTERN_DATA_DIR: dataDir });
    expectRefusal(result, new RegExp(`^postern: data directory ${dataDir} \\(POSTERN_DATA_DIR\\) is not writable \\((EPERM|EACCES)`), 'POSTERN_ERR_STORE_READ_ONLY');
    expect(readdirSync(dataDir).sort()).toEqual(before);
  }, 120_000);
});

describe('postern start and secret files', () => {
  it('warns about a password file others can read, and makes the one inside the data directory private', async () => {
    const dataDir = path.join(dir, 'secrets-data');
    mkdirSync(dataDir, { recursive: true });
    const inside = path.join(dataDir, 'smtp-password');
    const outside = path.join(dir, 'smtp-password');
    for (const file of [inside, outside]) {
      writeFileSync(file, 'correct horse battery staple\n');
      chmodSync(file, 0o644);
    }
    const siteWith = (passwordFile: string) => stringify({ ...testSiteInput(dataDir), logLevel: 'warn', scanners: [], email: { from: 'door@example.org', smtp: { host: '127.0.0.1', user: 'door', passwordFile } } });
    const outsideSite = path.join(dir, 'outside.yaml');
    const insideSite = path.join(dir, 'inside.yaml');
    await writeFile(outsideSite, siteWith(outside));
    await writeFile(insideSite, siteWith(inside));

    for (const [file, expected] of [
      [outsideSite, `email.smtp.passwordFile: ${outside} is readable by other users (mode 0644); it holds a secret: run chmod 600 ${outside}`],
      [insideSite, `email.smtp.passwordFile: ${inside} was readable by other users (mode 0644); it holds a secret, so its mode is now 0600`],
    ] as const) {
      const child = spawnCli(['start', '--config', file]);
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      for (const deadline = Date.now() + 30_000; !out.includes('Press Ctrl+C') && child.exitCode === null && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      child.kill('SIGTERM');
      const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      expect(code, `exit ${code}, signal ${signal}\n${out}\n${err}`).toBe(0);
      const warnings = err.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string; component?: string });
      expect(warnings).toContainEqual(expect.objectContaining({ level: 40, component: 'files', msg: expected }));
      expect(err).not.toContain('correct horse');
    }
    expect(statSync(outside).mode & 0o777).toBe(0o644);
    expect(statSync(inside).mode & 0o777).toBe(0o600);
  }, 120_000);
});

describe('files the CLI writes with codes in them', () => {
  /** `postern ARGS` under umask 000, so that only explicit modes keep files private. */
  function runWithUmask0(args: string[], env: Record<string, string>): Promise<CliResult> {
    const child = spawn('/bin/sh', ['-c', 'umask 000 && exec "$0" "$@"', process.execPath, '--import', 'tsx', BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env, DATABASE_URL: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.end();
    return once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  }

  it('link create writes its PNG and SVG 0600 in a 0700 folder, and link email --eml replaces a 0644 file with a 0600 one', async () => {
    const dataDir = path.join(dir, 'umask-data');
    const emailSite = path.join(dir, 'email-site.yaml');
    await writeFile(emailSite, stringify({ ...testSiteInput('./umask-data'), scanners: [], email: { from: 'door@example.org' } }));
    const created = await runWithUmask0(['link', 'create', '--name', 'Ada', '--scope', '7', '--create', '--config', emailSite], {});
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = /^Link (\d+)/m.exec(created.stdout)![1]!;
    const links = path.join(dataDir, 'links');
    expect(statSync(links).mode & 0o777).toBe(0o700);
    expect(readdirSync(links).sort()).toEqual([`link-${id}.png`, `link-${id}.svg`]);
    for (const name of readdirSync(links)) expect(statSync(path.join(links, name)).mode & 0o777).toBe(0o600);

    const eml = path.join(dir, 'ada.eml');
    writeFileSync(eml, 'an older message');
    chmodSync(eml, 0o644);
    const emailed = await runWithUmask0(['link', 'email', id, '--eml', eml, '--config', emailSite], {});
    expect(emailed.stderr).toBe('');
    expect(emailed.code).toBe(0);
    expect(statSync(eml).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it('link create prints the code even when its QR files cannot be written, then says why in one line', async () => {
    const dataDir = path.join(dir, 'links-blocked');
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, 'links'), 'a file where the folder should be');
    const result = await runCli(['link', 'create', '--name', 'Bob', '--scope', '7', '--create', '--config', site], { POSTERN_DATA_DIR: dataDir });
    expect(result.stdout).toMatch(/^P1\.[A-Z2-7]{64}$/m);
    const id = /^Link (\d+)/m.exec(result.stdout)![1]!;
    expect(result.stderr).toMatch(new RegExp(`^postern: link ${id} was created and its code is printed above, but its QR files could not be written to the data directory's links folder ${dataDir}/links: ${dataDir}/links is a file, not a directory\n`));
    expect(result.stderr).toContain('(POSTERN_ERR_STORE_WRITE_FAILED)');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.code).toBe(1);
  });
});
