/**
 * `postern start` as a real process: the demo site that README tells a new user to try, clean
 * stops on SIGTERM and SIGINT, and clear refusals for a broken config or store.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, spawnCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

/** Collects a child's standard output and waits for lines in it. */
function watch(child: ReturnType<typeof spawnCli>) {
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return {
    output: () => out,
    errors: () => err,
    async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(out);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('postern start', () => {
  it('runs the demo site: a link made as the README says opens the front door; SIGTERM stops it cleanly', async () => {
    const dataDir = await tempDir('postern-demo-');
    const env = { POSTERN_DATA_DIR: dataDir };
    const child = spawnCli(['start', '--demo'], env);
    const io = watch(child);
    await io.waitFor(/Press Ctrl\+C to stop/);
    expect(io.output()).toContain(`\nnew empty store at ${path.join(dataDir, 'postern.sqlite')}\n`);
    expect(io.output()).toContain('Scanner "front-in" reads this terminal');

    const created = await runCli(['link', 'create', '--name', 'Ada Visitor', '--scope', '1'], env);
    const code = /^(P1\.[A-Z2-7]{64})$/m.exec(created.stdout)![1]!;
    child.stdin.write(`${code}\r\n`);
    await io.waitFor(/GRANT front \(scanner front-in\) link/);
    await io.waitFor(/door front: secured -> unlocked/);
    child.stdin.write('HELLO-WORLD-TICKET-123\n');
    await io.waitFor(/DENY  front \(scanner front-in\): unknown-format/);

    const id = /^Link (\d+)/m.exec(created.stdout)![1]!;
    await runCli(['link', 'revoke', id], env);
    // The scanner's debounce window (1.5 s) would drop the same code read again at once.
    await new Promise((r) => setTimeout(r, 1600));
    child.stdin.write(`${code}\n`);
    await io.waitFor(/DENY  front \(scanner front-in\) link \d+: revoked/);

    // The kiosk page: its token comes with the link to open on the tablet (here, this machine).
    expect(io.output()).toContain('Scanner "lab-kiosk" is a kiosk page: `postern token create --name tablet --role scanner --scanner lab-kiosk`');
    const token = await runCli(['token', 'create', '--name', 'tablet', '--role', 'scanner', '--scanner', 'lab-kiosk'], env);
    expect(token.stderr).toMatch(new RegExp(`Open the kiosk page on the tablet at the door: http://127\\.0\\.0\\.1:\\d+/kiosk#token=${token.stdout.trim()}\n`));

    child.kill('SIGTERM');
    const [exitCode] = await once(child, 'close');
    expect(exitCode).toBe(0);
    expect(io.output()).toMatch(/SIGTERM: stopping\n[\s\S]*stopped\n$/);
    expect(io.errors()).not.toMatch(/Error|\n\s+at /);

    const tail = await runCli(['audit', 'tail', '-n', '100', '--controller', 'demo'], env);
    expect(tail.stdout).toMatch(/demo#\d+ decision door=front scanner=front-in GRANT subject=\d+/);
    expect(tail.stdout).toMatch(/system stopped/);
    expect((await runCli(['audit', 'verify'], env)).stdout).toMatch(/demo: \d+ events, chain intact/);
  });

  it('stops on SIGINT too, leaving nothing running; started again, it opens the store it made', async () => {
    const env = { POSTERN_DATA_DIR: await tempDir('postern-demo-') };
    for (const run of ['first', 'second']) {
      const child = spawnCli(['start', '--demo'], env);
      const io = watch(child);
      await io.waitFor(/Press Ctrl\+C to stop/);
      expect(io.output().includes('new empty store at'), io.output()).toBe(run === 'first');
      child.kill('SIGINT');
      const [exitCode] = await once(child, 'close');
      expect(exitCode).toBe(0);
      expect(io.output()).toContain('SIGINT: stopping');
    }
  });

  /**
   * A site whose SMTP password file others can read: the controller warns about it on stderr just
   * before it starts, which gives a test a moment inside the start to send a signal at.
   */
  async function siteWarningBeforeStart(): Promise<string> {
    const dir = await tempDir('postern-stop-at-start-');
    const passwordFile = path.join(dir, 'smtp-password');
    await writeFile(passwordFile, 'secret\n');
    chmodSync(passwordFile, 0o644);
    const file = path.join(dir, 'site.yaml');
    await writeFile(file, stringify({ ...testSiteInput(path.join(dir, 'data')), logLevel: 'warn', scanners: [], email: { from: 'door@example.org', smtp: { host: '127.0.0.1', user: 'door', passwordFile } } }));
    return file;
  }

  /** Spawns `postern start` and sends `signals` SIGTERMs, one at each line of output that matches its pattern. */
  async function stopDuringStart(file: string, signals: RegExp[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
    const child = spawnCli(['start', '--config', file]);
    let out = '';
    let err = '';
    const next = () => {
      if (signals.length > 0 && signals[0]!.test(out + err)) {
        signals.shift();
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', (d: Buffer) => ((out += d.toString()), next()));
    child.stderr.on('data', (d: Buffer) => ((err += d.toString()), next()));
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { code, signal, out, err };
  }

  it('stops cleanly on a SIGTERM that comes while it starts: once started, not halfway (it used to die of the signal)', async () => {
    const run = await stopDuringStart(await siteWarningBeforeStart(), [/readable by other users/]);
    expect(run.code, `exit ${run.code}, signal ${run.signal}\n${run.out}\n${run.err}`).toBe(0);
    expect(run.out).toMatch(/^SIGTERM: stopping as soon as the controller has started \(SIGTERM again quits at once\)\n[\s\S]*Press Ctrl\+C to stop\.\nSIGTERM: stopping\n[\s\S]*stopped\n$/);
  });

  it('quits at once on a second SIGTERM while it starts', async () => {
    const run = await stopDuringStart(await siteWarningBeforeStart(), [/readable by other users/, /stopping as soon as the controller has started/]);
    expect(run.signal, `exit ${run.code}, signal ${run.signal}\n${run.out}\n${run.err}`).toBe('SIGTERM');
    expect(run.out).not.toContain('Press Ctrl+C to stop.');
  });

  it('refuses a broken site file, listing every problem by its path', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'site.yaml');
    const input = testSiteInput('./data');
    await writeFile(file, stringify({ ...input, doors: [{ id: 'front', name: 'Front', failMode: 'open' }], scanners: [{ id: 's', door: 'back', driver: 'laser' }] }));
    const result = await runCli(['start', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file} is not a valid site file`);
    expect(result.stderr).toContain('doors.0.failMode');
    expect(result.stderr).toContain('scanners.0.driver');
    expect(result.stderr).toContain('POSTERN_ERR_CONFIG_INVALID');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an unreachable PostgreSQL, naming it', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    server.close();
    const result = await runCli(['start', '--demo'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postern`, POSTERN_DATA_DIR: await tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).toContain('POSTERN_ERR_STORE_UNAVAILABLE');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a corrupt SQLite file, naming it', async () => {
    const dataDir = await tempDir();
    await writeFile(path.join(dataDir, 'postern.sqlite'), 'this is not a database, it is a shopping list\n'.repeat(100));
    const result = await runCli(['start', '--demo'], { POSTERN_DATA_DIR: dataDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(path.join(dataDir, 'postern.sqlite'));
    expect(result.stderr).toContain('POSTERN_ERR_STORE_CORRUPT');
    expect(result.stdout).not.toContain('GRANT');
  });
});

describe('postern start on a read-only store', () => {
  // chmod does not stop root: as root the file and its folder are made immutable instead, which
  // refuses every write, root's too (as a read-only mount would).
  const asRoot = process.getuid?.() === 0;
  const lock = (paths: string[]) => (asRoot ? execFileSync('chattr', ['+i', ...paths]) : paths.forEach((p) => chmodSync(p, 0o555)));
  const unlock = (paths: string[]) => (asRoot ? execFileSync('chattr', ['-i', ...paths]) : paths.forEach((p) => chmodSync(p, 0o755)));

  it('stops with a message naming the read-only file, never a half-open door', async () => {
    const dataDir = await tempDir('postern-ro-');
    // A store made and migrated by an earlier run, then made read-only.
    const made = await runCli(['audit', 'tail', '--create'], { POSTERN_DATA_DIR: dataDir });
    expect(made.code).toBe(0);
    const locked = [path.join(dataDir, 'postern.sqlite'), dataDir];
    lock(locked);
    try {
      const result = await runCli(['start', '--demo'], { POSTERN_DATA_DIR: dataDir });
      expect(result.stderr).toContain('POSTERN_ERR_STORE_READ_ONLY');
      expect(result.stderr).toContain(dataDir);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.code).toBe(1);
      expect(result.stdout).not.toContain('GRANT');
    } finally {
      unlock(locked);
    }
  });
});

describe('postern scan', () => {
  it('feeds a read of a network scanner into a running controller and prints the verdict', async () => {
    const dir = await tempDir('postern-scan-');
    const file = path.join(dir, 'site.yaml');
    const input = testSiteInput('./data');
    await writeFile(file, stringify({ ...input, api: { port: 0 }, scanners: [{ id: 'net-1', door: 'lab', driver: 'network' }] }));
    const child = spawnCli(['start', '--config', file]);
    try {
      const io = watch(child);
      const url = (await io.waitFor(/API: (ws:\/\/\S+)/))[1]!;
      const token = /^(pst_\S+)$/m.exec((await runCli(['token', 'create', '--name', 'scan-cli', '--role', 'integrator', '--config', file])).stdout)![1]!;
      const code = /^(P1\.[A-Z2-7]{64})$/m.exec((await runCli(['link', 'create', '--name', 'Ada', '--doors', 'lab', '--config', file])).stdout)![1]!;

      const granted = await runCli(['scan', code, '--scanner', 'net-1', '--url', url], { POSTERN_TOKEN: token });
      expect(granted.stdout).toBe('GRANT lab\n');
      expect(granted.code).toBe(0);
      const denied = await runCli(['scan', 'HELLO', '--scanner', 'net-1', '--url', url, '--token', token]);
      expect(denied.stdout).toBe('DENY lab: unknown-format\n');
      expect(denied.code).toBe(4);
      const refused = await runCli(['scan', 'HELLO', '--scanner', 'net-1', '--url', url, '--token', 'pst_wrong']);
      expect(refused.stderr).toContain('HTTP 401');
      expect(refused.code).toBe(1);
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await once(child, 'exit');
    }
  });
});
