/**
 * `postern user` and `postern token` in real child processes on a real SQLite file: the first
 * admin of a fresh install, passwords on standard input, tokens shown once, and the accounts they
 * make checked back in-process through Accounts on the same file.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Accounts } from '../../controller/accounts/accounts.ts';
import type { Principal } from '../../controller/accounts/accountTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { readPassword } from '../../controller/cli/accountCommands.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const ENV = { USER: 'tester' };
const PASSWORD = 'correct horse battery staple';

let dir: string;
let configFile: string;
const cli = (args: string[], stdin?: string) => runCli([...args, '--config', configFile], ENV, stdin);

beforeAll(async () => {
  dir = await tempDir('postern-accounts-cli-');
  configFile = path.join(dir, 'site.yaml');
  const input = testSiteInput('./data');
  input.scanners = [...(input.scanners ?? []), { id: 'front-net', door: 'front', driver: 'network' }];
  await writeFile(configFile, stringify(input));
});

/** Runs work with Accounts on the same SQLite file the CLI writes, as the API would. */
async function withAccounts<T>(work: (accounts: Accounts) => Promise<T>): Promise<T> {
  const store = openStore({ dataDir: path.join(dir, 'data'), quickCheck: false });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'test-site/api' });
  await audit.start();
  try {
    return await work(new Accounts({ store, audit }));
  } finally {
    await audit.stop();
    await store.stop();
  }
}

const verify = (name: string, password: string) => withAccounts((a) => a.verifyPassword(name, password));
const authenticate = (token: string) => withAccounts((a) => a.authenticateToken(token));

function expectNoStack(result: { stderr: string }): void {
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr).not.toContain('unexpected error');
}

// Each step is a child process (about a second, more on a busy machine): room beyond the default.
describe('postern user', { timeout: 90_000 }, () => {
  it('makes the first admin of a fresh install with the password on standard input', async () => {
    // Before the controller ever ran: --create makes the store.
    const added = await cli(['user', 'add', 'admin', '--role', 'admin', '--create'], `${PASSWORD}\n`);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^User admin added, role admin \(id usr_[0-9a-f]{16}\)\n$/);
    expect(await verify('admin', PASSWORD)).toMatchObject<Partial<Principal>>({ kind: 'user', name: 'admin', role: 'admin' });
    expect(await verify('admin', 'wrong password!!')).toBeUndefined();

    const list = await cli(['user', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ROLE\s+DISABLED\s+CREATED\s+CREATED BY\s+LAST LOGIN\n/);
    expect(list.stdout).toMatch(/usr_[0-9a-f]{16}\s+admin\s+admin\s+no\s+\S+\s+cli:tester\s+\S+\n/);
    const json = await cli(['user', 'list', '--json']);
    const users = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(users).toEqual([expect.objectContaining({ name: 'admin', role: 'admin', disabled: false, createdBy: 'cli:tester' })]);
    for (const out of [list.stdout, json.stdout]) {
      expect(out).not.toContain(PASSWORD);
      expect(out).not.toContain('scrypt');
    }
  });

  it('takes a password from a file (first line) or stdin without its line ending, never from an argument', async () => {
    const file = path.join(dir, 'password.txt');
    await writeFile(file, 'a password in a file\r\nsecond line ignored\n');
    const fromFile = await cli(['user', 'add', 'grace', '--role', 'operator', '--password-file', file]);
    expect(fromFile.code).toBe(0);
    expect(await verify('grace', 'a password in a file')).toMatchObject({ role: 'operator' });

    const noNewline = await cli(['user', 'add', 'linus', '--role', 'viewer'], '  spaces count too  ');
    expect(noNewline.code).toBe(0);
    expect(await verify('linus', '  spaces count too  ')).toBeDefined();

    const asArgument = await cli(['user', 'add', 'eve', '--role', 'admin', '--password', PASSWORD]);
    expect(asArgument.code).toBe(2);
    expect(asArgument.stderr).toContain('--password is not accepted');
    expectNoStack(asArgument);
    expect(await verify('eve', PASSWORD)).toBeUndefined();
  });

  it('changes a password and a role, disables and removes a user', async () => {
    expect((await cli(['user', 'add', 'ada', '--role', 'viewer'], `${PASSWORD}\n`)).code).toBe(0);
    const passwd = await cli(['user', 'passwd', 'ada'], 'a new long password\n');
    expect(passwd.code).toBe(0);
    expect(passwd.stdout).toBe('Password of ada changed\n');
    expect(await verify('ada', PASSWORD)).toBeUndefined();
    expect(await verify('ada', 'a new long password')).toMatchObject({ role: 'viewer' });

    const role = await cli(['user', 'role', 'ada', 'integrator']);
    expect(role.code).toBe(0);
    expect(role.stdout).toBe('ada: role viewer -> integrator\n');
    expect(await verify('ada', 'a new long password')).toMatchObject({ role: 'integrator' });

    expect((await cli(['user', 'disable', 'ada'])).code).toBe(0);
    expect(await verify('ada', 'a new long password')).toBeUndefined();

    const removed = await cli(['user', 'remove', 'ada']);
    expect(removed.code).toBe(0);
    expect((await cli(['user', 'list'])).stdout).not.toMatch(/\sada\s/);
  });

  it('explains bad input without a stack trace', async () => {
    // Independent refusals: run side by side to keep the suite short.
    const [short, empty, badRole, noRole, badName, duplicate, unknown, missingFile, sub] = await Promise.all([
      cli(['user', 'add', 'bob', '--role', 'viewer'], 'short\n'),
      cli(['user', 'add', 'bob', '--role', 'viewer'], ''),
      cli(['user', 'add', 'bob', '--role', 'scanner'], `${PASSWORD}\n`),
      cli(['user', 'add', 'bob'], `${PASSWORD}\n`),
      cli(['user', 'add', 'bob smith', '--role', 'viewer'], `${PASSWORD}\n`),
      cli(['user', 'add', 'ADMIN', '--role', 'viewer'], `${PASSWORD}\n`),
      cli(['user', 'remove', 'nobody']),
      cli(['user', 'passwd', 'admin', '--password-file', path.join(dir, 'nope.txt')]),
      cli(['user', 'frobnicate']),
    ]);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password: must be at least 12 characters');
    expect(short.stderr).toContain('POSTERN_ERR_INVALID_ARGUMENT');

    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('none on standard input');

    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toContain("role: a user's role is one of viewer, operator, integrator, admin");

    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('missing --role');

    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('name: must be 1-64 characters');

    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('exists already');
    expect(duplicate.stderr).toContain('POSTERN_ERR_CONFLICT');

    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no user "nobody"');
    expect(unknown.stderr).toContain('POSTERN_ERR_NOT_FOUND');

    expect(missingFile.code).toBe(1);
    expect(missingFile.stderr).toContain('--password-file: cannot read');

    expect(sub.code).toBe(2);
    expect(sub.stderr).toContain("unknown command 'frobnicate'");

    for (const r of [short, empty, badRole, noRole, badName, duplicate, unknown, missingFile, sub]) {
      expectNoStack(r);
      expect(r.stderr).not.toContain(PASSWORD);
    }
    expect(await verify('bob', PASSWORD)).toBeUndefined();
  });
});

describe('reading a password on a terminal', () => {
  /** A terminal as readPassword sees one: a stream with isTTY and setRawMode. */
  function terminal() {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, rawMode: false, setRawMode(raw: boolean) { this.rawMode = raw; } });
    let shown = '';
    const stderr = new Writable({ write(chunk: Buffer, _encoding, done) { shown += chunk.toString(); done(); } });
    const io = { env: {}, stdin, stdout: new PassThrough(), stderr };
    return { io, stdin, shown: () => shown };
  }

  it('prompts twice without echo, in raw mode, and handles backspace', async () => {
    const { io, stdin, shown } = terminal();
    const password = readPassword(io, undefined, 'Password for ada: ', true);
    expect(stdin.rawMode).toBe(true);
    stdin.write('a long passwordX\u007f\r');
    await new Promise((r) => setImmediate(r));
    stdin.write('a long password\n');
    expect(await password).toBe('a long password');
    expect(stdin.rawMode).toBe(false);
    expect(shown()).toBe('Password for ada: \nAgain: \n');
  });

  it('keeps what was typed ahead for the second prompt', async () => {
    const { io, stdin } = terminal();
    const password = readPassword(io, undefined, 'Password: ', true);
    stdin.write('pasted password\r\npasted password\r');
    expect(await password).toBe('pasted password');
  });

  it('refuses two different entries, and Ctrl-C', async () => {
    const differ = terminal();
    const mismatch = readPassword(differ.io, undefined, 'Password: ', true);
    differ.stdin.write('first password\r');
    await new Promise((r) => setImmediate(r));
    differ.stdin.write('second password\r');
    await expect(mismatch).rejects.toThrow('the two entries differ');

    const cancel = terminal();
    const cancelled = readPassword(cancel.io, undefined, 'Password: ', false);
    cancel.stdin.write('typing\u0003');
    await expect(cancelled).rejects.toThrow('cancelled');
    expect(cancel.stdin.rawMode).toBe(false);
  });
});

describe('postern token', { timeout: 90_000 }, () => {
  it('prints a token once, lists it without the token, and revokes it', async () => {
    const created = await cli(['token', 'create', '--name', 'ci', '--role', 'admin']);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^pst_[A-Za-z0-9_-]{43}\n$/);
    const token = created.stdout.trim();
    expect(created.stderr).toMatch(/^Token tok_[0-9a-f]{16} \(ci\), role admin:\n/);
    expect(created.stderr).toContain('shown once');
    const id = /Token (tok_[0-9a-f]{16})/.exec(created.stderr)![1]!;
    expect(await authenticate(token)).toEqual({ kind: 'token', id, name: 'ci', role: 'admin', scanner: null });

    const [list, jsonList] = await Promise.all([cli(['token', 'list']), cli(['token', 'list', '--json'])]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+ROLE\s+SCANNER\s+DOORS\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(list.stdout).toContain(`${token.slice(0, 8)}...`);
    expect(list.stdout).not.toContain(token.slice(0, 9));
    const json = JSON.parse(jsonList.stdout) as Array<Record<string, unknown>>;
    const listed = json.find((t) => t.id === id)!;
    expect(listed).toMatchObject({ name: 'ci', role: 'admin', scanner: null, prefix: token.slice(0, 8), createdBy: 'cli:tester', revokedAt: null });
    expect(listed.lastUsedAt).toBeTypeOf('number');
    expect(JSON.stringify(json)).not.toContain(token.slice(8));

    const revoked = await cli(['token', 'revoke', id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe(`Token ${id} (ci) revoked\n`);
    expect(await authenticate(token)).toBeUndefined();
    const afterList = JSON.parse((await cli(['token', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(afterList.find((t) => t.id === id)!.revokedAt).toBeTypeOf('number');

    const [again, unknown] = await Promise.all([cli(['token', 'revoke', id]), cli(['token', 'revoke', 'tok_0000000000000000'])]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('revoked already');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no token tok_0000000000000000');
    for (const r of [again, unknown]) expectNoStack(r);
  });

  it('makes a scanner token for a network scanner of the site, and refuses any other scanner', async () => {
    const created = await cli(['token', 'create', '--name', 'front-reader', '--role', 'scanner', '--scanner', 'front-net']);
    expect(created.code).toBe(0);
    expect(await authenticate(created.stdout.trim())).toMatchObject({ role: 'scanner', scanner: 'front-net' });

    const [unknownScanner, noScanner, scannerOnViewer, badRole, noName, notNetwork] = await Promise.all([
      cli(['token', 'create', '--name', 'x', '--role', 'scanner', '--scanner', 'back-door']),
      cli(['token', 'create', '--name', 'x', '--role', 'scanner']),
      cli(['token', 'create', '--name', 'x', '--role', 'viewer', '--scanner', 'front-net']),
      cli(['token', 'create', '--name', 'x', '--role', 'root']),
      cli(['token', 'create', '--role', 'admin']),
      cli(['token', 'create', '--name', 'x', '--role', 'scanner', '--scanner', 'front-in']),
    ]);
    expect(unknownScanner.code).toBe(1);
    expect(unknownScanner.stderr).toContain('no network or kiosk scanner "back-door" in this site; it has front-net');
    expect(notNetwork.code).toBe(1);
    expect(notNetwork.stderr).toContain('no network or kiosk scanner "front-in"');
    expect(noScanner.code).toBe(1);
    expect(noScanner.stderr).toContain("scanner: a token with role 'scanner' needs the id of its scanner");
    expect(scannerOnViewer.code).toBe(1);
    expect(scannerOnViewer.stderr).toContain("only a token with role 'scanner' has a scanner");
    expect(badRole.code).toBe(1);
    expect(badRole.stderr).toContain("role: a token's role is one of");
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('missing --name');
    for (const r of [unknownScanner, noScanner, scannerOnViewer, badRole, noName]) {
      expectNoStack(r);
      expect(r.stdout).not.toMatch(/pst_/);
    }
  });

  it('records account changes in the audit trail with the CLI user as actor', async () => {
    const tail = await cli(['audit', 'tail', '-n', '200']);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toMatch(/operator user\.create subject=usr_[0-9a-f]{16} by=cli:tester/);
    expect(tail.stdout).toMatch(/operator token\.create subject=tok_[0-9a-f]{16} by=cli:tester/);
    expect(tail.stdout).toMatch(/operator token\.revoke subject=tok_[0-9a-f]{16} by=cli:tester/);
    expect(tail.stdout).not.toContain('pst_');
  });
});
