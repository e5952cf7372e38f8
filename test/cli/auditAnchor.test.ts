/**
 * `postern audit head` and `postern audit verify --anchor` in real child processes on a real SQLite
 * file: the head taken as an anchor, a chain that grows past it, then an attacker with the database
 * file who deletes the newest 50 events of the controller's chain and the whole admin chain (which
 * plain `verify` cannot see) and the anchor that catches both.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

let dir: string;
let configFile: string;
const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
const HEAD_LINE = /^(\S+) (\d+) ([0-9a-f]{64})$/;

/** Events of the controller's own chain, as a running controller would append them. */
async function controllerEvents(count: number): Promise<void> {
  const store = openStore({ dataDir: path.join(dir, 'data') });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'test-site' });
  await audit.start();
  for (let i = 0; i < count; i++) await audit.append({ type: 'door', door: 'front', reason: i % 2 ? 'opened' : 'closed', actor: 'system' });
  await audit.stop();
  await store.stop();
}

beforeAll(async () => {
  dir = await tempDir('postern-anchor-');
  configFile = path.join(dir, 'site.yaml');
  await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
  for (const name of ['One', 'Two', 'Three']) expect((await cli('link', 'create', '--name', name, '--scope', '3', '--out', path.join(dir, 'qr'), '--create')).code).toBe(0);
  await controllerEvents(80);
});

describe('postern audit head and verify --anchor', () => {
  let anchorFile: string;

  it('prints each chain\'s newest seq and hash, as text or JSON, and one chain with --controller', async () => {
    const head = await cli('audit', 'head');
    expect(head.stderr).toBe('');
    expect(head.code).toBe(0);
    const lines = head.stdout.trimEnd().split('\n');
    expect(lines.map((l) => HEAD_LINE.exec(l)?.slice(1, 3))).toEqual([
      ['test-site', '80'],
      ['test-site/admin', '3'],
    ]);
    anchorFile = path.join(dir, 'anchor.txt');
    await writeFile(anchorFile, `# kept on another machine\n${head.stdout}`);

    const json = await cli('audit', 'head', '--json');
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { takenAt: string; chains: Array<{ controllerId: string; seq: number; hash: string }> };
    expect(Date.parse(parsed.takenAt)).toBeGreaterThan(0);
    expect(parsed.chains.map((c) => `${c.controllerId} ${c.seq} ${c.hash}`)).toEqual(lines);

    const one = await cli('audit', 'head', '--controller', 'test-site/admin');
    expect(one.stdout).toBe(`${lines[1]}\n`);
    const none = await cli('audit', 'head', '--controller', 'elsewhere');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no audit chain "elsewhere"');
  });

  it('passes against the anchor, also once the chains grew', async () => {
    expect((await cli('link', 'create', '--name', 'Four', '--scope', '3', '--out', path.join(dir, 'qr'))).code).toBe(0);
    await controllerEvents(5);
    const verified = await cli('audit', 'verify', '--anchor', anchorFile);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain('test-site: 85 events, chain intact\n');
    expect(verified.stdout).toContain('test-site: anchor ok: event 80 matches the anchor; 5 events since\n');
    expect(verified.stdout).toContain('test-site/admin: anchor ok: event 3 matches the anchor; 1 event since\n');
  });

  it('refuses an anchor file that is missing, not a head, or silent on the chain asked for', async () => {
    const missing = await cli('audit', 'verify', '--anchor', path.join(dir, 'nowhere.txt'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--anchor: cannot read');
    const junk = path.join(dir, 'junk.txt');
    await writeFile(junk, 'test-site 12\n');
    const broken = await cli('audit', 'verify', '--anchor', junk);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('junk.txt, line 1: expected "<controllerId> <seq> <hash>"');
    const other = await cli('audit', 'verify', '--controller', 'elsewhere', '--anchor', anchorFile);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('has no line for chain "elsewhere"');
  });

  it('catches the newest 50 events and the whole admin chain deleted, which the chain alone cannot', async () => {
    const db = new Database(path.join(dir, 'data', 'postern.sqlite'));
    for (const { name } of db.prepare("select name from sqlite_master where type = 'trigger'").all() as Array<{ name: string }>) db.exec(`drop trigger "${name}"`);
    db.prepare("delete from audit_events where controller_id = 'test-site' and seq > 35").run();
    db.prepare("delete from audit_events where controller_id = 'test-site/admin'").run();
    db.close();

    const plain = await cli('audit', 'verify');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('test-site: 35 events, chain intact\n');

    const anchored = await cli('audit', 'verify', '--anchor', anchorFile);
    expect(anchored.code).toBe(3);
    expect(anchored.stderr).toBe('postern: 2 audit chain(s) failed verification\n');
    expect(anchored.stdout).toContain(
      'test-site: anchor FAILED (truncated): the anchor has event 80, but the chain ends at event 35: events 36..80 (and any after them) were deleted\n',
    );
    expect(anchored.stdout).toContain(
      'test-site/admin: anchor FAILED (chain-missing): the anchor has event 3, but the store holds no event of chain test-site/admin: the whole chain was deleted\n',
    );

    const one = await cli('audit', 'verify', '--controller', 'test-site/admin', '--anchor', anchorFile);
    expect(one.code).toBe(3);
    expect(one.stdout).not.toContain('test-site: ');
    expect(one.stdout).toContain('test-site/admin: anchor FAILED (chain-missing)');
  });
});
