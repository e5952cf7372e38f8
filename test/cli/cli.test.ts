/**
 * The `postern` command line in real child processes on a real SQLite file: issuing, listing,
 * revoking, the QR files it writes (decoded back with zxing-wasm), and the audit commands.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { decodeQrPng } from '../support/qrDecode.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

let dir: string;
let configFile: string;
const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

beforeAll(async () => {
  dir = await tempDir('postern-cli-');
  configFile = path.join(dir, 'site.yaml');
  await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
  // Commands other than start make no store unless told to.
  expect((await cli('audit', 'head', '--create')).code).toBe(0);
});

describe('postern link', () => {
  it('creates a link: prints the code and its QR, writes PNG and SVG that decode to the code', async () => {
    const result = await cli('link', 'create', '--name', 'Ada Visitor', '--email', 'ada@example.org', '--scope', '7', '--until', '+8h', '--out', path.join(dir, 'qr'));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const code = /^(P1\.[A-Z2-7]{64})$/m.exec(result.stdout)?.[1];
    expect(code).toBeDefined();
    const id = /^Link (\d+) for Ada Visitor/m.exec(result.stdout)?.[1];
    const decoded = decodeCredential(code!)!;
    expect(decoded).toMatchObject({ kind: 'link', issuer: 0, scope: 7, subject: BigInt(id!) });
    expect(decoded.b - decoded.a).toBeGreaterThanOrEqual(8 * 3600 - 2);
    expect(result.stdout).toMatch(/[▀▄█]/); // the QR drawn in the terminal
    const png = await readFile(path.join(dir, 'qr', `link-${id}.png`));
    expect(await decodeQrPng(png)).toEqual([code]);
    const svg = await readFile(path.join(dir, 'qr', `link-${id}.svg`), 'utf8');
    expect(svg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

    const list = await cli('link', 'list', '--json');
    const links = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    expect(links.find((l) => l.id === id)).toMatchObject({ name: 'Ada Visitor', email: 'ada@example.org', scope: 7, revokedAt: null });
    expect(list.stdout).not.toContain(code!.slice(3));

    expect((await cli('link', 'revoke', id!)).code).toBe(0);
    expect((await cli('link', 'list', '--json')).stdout).not.toContain(`"${id}"`);
    expect(JSON.parse((await cli('link', 'list', '--all', '--json')).stdout).find((l: { id: string }) => l.id === id).revokedAt).toBeTypeOf('number');
    const again = await cli('link', 'revoke', id!);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('revoked already');
  });

  it('issues a link for a list of doors, and one with no end', async () => {
    const result = await cli('link', 'create', '--name', 'Lab tech', '--doors', 'lab,store', '--until', 'never', '--out', path.join(dir, 'qr'));
    expect(result.code).toBe(0);
    const decoded = decodeCredential(/^(P1\..{64})$/m.exec(result.stdout)![1]!)!;
    expect(decoded.scope).toBeGreaterThanOrEqual(0x40000000);
    expect(decoded.b).toBe(0xffffffff);
  });

  it('explains bad arguments without a stack trace', async () => {
    const noScope = await cli('link', 'create', '--name', 'X');
    expect(noScope.code).toBe(1);
    expect(noScope.stderr).toContain('give a scope or doors');
    const badDoor = await cli('link', 'create', '--name', 'X', '--doors', 'vault');
    expect(badDoor.stderr).toContain('no door "vault"');
    const badTime = await cli('link', 'create', '--name', 'X', '--scope', '7', '--from', 'tomorrowish');
    expect(badTime.stderr).toContain('"tomorrowish" is not a time');
    const unknownFlag = await cli('link', 'create', '--colour', 'red');
    expect(unknownFlag.code).toBe(2);
    for (const r of [noScope, badDoor, badTime, unknownFlag]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('postern credential and partner', () => {
  it('shows a credential secret once and never lists it', async () => {
    const created = await cli('credential', 'create', '--name', 'Grace', '--scope', '7');
    expect(created.code).toBe(0);
    const secret = /^secret: ([0-9a-f]{64})$/m.exec(created.stdout)![1]!;
    const id = /^Rotating credential (\d+)/m.exec(created.stdout)![1]!;
    const list = await cli('credential', 'list');
    expect(list.stdout).toContain('Grace');
    expect(list.stdout).not.toContain(secret);
    const code = await runCli(['credential', 'code', id, '--secret', secret]);
    expect(decodeCredential(/^(P1\..{64})$/m.exec(code.stdout)![1]!)).toMatchObject({ kind: 'rotating', subject: BigInt(id) });
    expect((await cli('credential', 'revoke', id)).code).toBe(0);
    expect((await cli('credential', 'list')).stdout).not.toContain('Grace');
    expect((await cli('credential', 'revoke', '123')).stderr).toContain('no credential 123');
  });

  it('adds, lists and removes partners', async () => {
    const added = await cli('partner', 'add', '--id', '17', '--name', 'Ticketing', '--scopes', '3', '--default-scope', '3');
    expect(added.code).toBe(0);
    const secret = /^shared secret: ([0-9a-f]{64})$/m.exec(added.stdout)![1]!;
    const list = await cli('partner', 'list');
    expect(list.stdout).toMatch(/17\s+Ticketing\s+3 \(front only\)\s+3 \(front only\)\s+yes/);
    expect(list.stdout).not.toContain(secret);
    expect((await cli('partner', 'add', '--id', '17', '--name', 'Again', '--scopes', '3')).stderr).toContain('exists already');
    expect((await cli('partner', 'add', '--id', '18', '--name', 'Bad', '--scopes', '99')).stderr).toContain('no scope 99');
    expect((await cli('partner', 'remove', '17')).code).toBe(0);
    expect((await cli('partner', 'list')).stdout).not.toContain('Ticketing');
  });
});

describe('postern audit', () => {
  it('tails, exports CSV and verifies, then names an edited and a deleted event', async () => {
    await cli('link', 'create', '--name', 'For audit', '--scope', '3', '--out', path.join(dir, 'qr'));
    const tail = await cli('audit', 'tail', '-n', '3');
    expect(tail.code).toBe(0);
    expect(tail.stdout.trim().split('\n')).toHaveLength(3);
    expect(tail.stdout).toMatch(/test-site\/admin#\d+ operator link\.create/);

    const csvFile = path.join(dir, 'audit.csv');
    expect((await cli('audit', 'export', '--csv', '--out', csvFile)).code).toBe(0);
    const csv = (await readFile(csvFile, 'utf8')).trim().split('\r\n');
    expect(csv[0]).toBe('controllerId,seq,at,type,door,scanner,subject,kind,issuer,verdict,reason,actor,data,prevHash,hash');
    expect(csv.length).toBeGreaterThan(5);

    const intact = await cli('audit', 'verify');
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/test-site\/admin: \d+ events, chain intact/);

    // An attacker with the database file: drop the append-only guard, then tamper.
    const db = new Database(path.join(dir, 'data', 'postern.sqlite'));
    for (const { name } of db.prepare("select name from sqlite_master where type = 'trigger'").all() as Array<{ name: string }>) db.exec(`drop trigger "${name}"`);
    db.prepare("update audit_events set actor = 'someone-else' where controller_id = 'test-site/admin' and seq = 2").run();
    db.prepare("delete from audit_events where controller_id = 'test-site/admin' and seq = 4").run();
    db.close();
    const broken = await cli('audit', 'verify');
    expect(broken.code).toBe(3);
    expect(broken.stdout).toMatch(/event #2: edited/);
    expect(broken.stdout).toMatch(/event #4: missing/);
  });
});
