/**
 * backupStore: a consistent copy of a SQLite store while a controller runs on it (its claim held,
 * its writer thread writing) and another process writes to it too; written 0600, one file, checked.
 * What it refuses: no store, a file that exists, a missing folder, PostgreSQL (pg_dump's job).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { backupStore } from '../../controller/backup/backupStore.ts';
import { restoreStore } from '../../controller/backup/restoreStore.ts';
import type { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';
import { scanOne, scenarioController } from './siteScenario.ts';

const WRITER = fileURLToPath(new URL('./writerProcess.ts', import.meta.url));

const running: Controller[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const c of running.splice(0)) await c.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts writerProcess.ts on the store; resolves once it has written its first round. */
async function startWriter(dataDir: string, siteFile: string): Promise<{ child: ChildProcess; stop(): Promise<number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dataDir, siteFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  for (let i = 0; i < 300 && !out.includes('"rounds"'); i++) {
    if (child.exitCode !== null) throw new Error(`the writer process exited: ${err}`);
    await sleep(50);
  }
  if (!out.includes('"rounds"')) throw new Error(`the writer process did not start: ${err}`);
  return {
    child,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`the writer process exited with ${code}: ${err}`);
      const lines = out.trim().split('\n');
      return (JSON.parse(lines.at(-1)!) as { rounds: number }).rounds;
    },
  };
}

/** What a consistent snapshot must show: a link is stamped revoked exactly when its revocation is there. */
function inconsistentLinks(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (
      db
        .prepare(
          `select count(*) as n from links l left join revocations r on r.issuer = 0 and r.subject = l.id
           where (l.revoked_at is null) <> (r.subject is null)`,
        )
        .get() as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

function countOf(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('backupStore', () => {
  it('copies the store of a running controller consistently while two processes write to it', async () => {
    const previous = process.umask(0o022);
    try {
      const root = await tempDir('postern-backup-');
      const dataDir = path.join(root, 'data');
      const siteFile = path.join(root, 'site.yaml');
      await writeFile(siteFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
      // A store of some size, so that a copy takes a while: 20 000 links (about 4 MB).
      const filler = openStore({ dataDir, quickCheck: false });
      await filler.start();
      await filler.stop();
      const db = new Database(path.join(dataDir, 'postern.sqlite'));
      const insert = db.prepare('insert into links (id, name, scope, not_before, not_after, created_at) values (?, ?, 7, 0, 4294967295, 0)');
      db.transaction(() => {
        for (let i = 0; i < 20_000; i++) insert.run(String(1_000_000 + i), `Visitor ${i} `.padEnd(120, '.'));
      })();
      db.close();
      const { controller, terminal } = scenarioController(dataDir);
      await controller.start();
      running.push(controller);

      const writer = await startWriter(dataDir, siteFile);
      // The controller decides all along: every read is an audit event written by its writer thread.
      let scanning = true;
      let decided = 0;
      const scans = (async () => {
        while (scanning) {
          await scanOne(controller, terminal, { label: 'garbage', scanner: 'lab-in', text: `NOT-A-CODE-${decided}` });
          decided += 1;
        }
      })();

      const backups: string[] = [];
      const out = await tempDir('postern-backup-out-');
      for (let i = 0; i < 5; i++) {
        const file = path.join(out, `backup-${i}.sqlite`);
        const result = await backupStore({ dataDir, out: file });
        expect(result).toMatchObject({ file, source: path.join(dataDir, 'postern.sqlite'), schemaVersion: '0004_token_doors' });
        expect(result.bytes).toBe((await stat(file)).size);
        backups.push(file);
        await sleep(100);
      }
      scanning = false;
      await scans;
      const rounds = await writer.stop();
      expect(rounds).toBeGreaterThan(5);
      expect(decided).toBeGreaterThan(5);

      // Only the five backups: no temporary file, no -wal or -shm beside them.
      expect((await readdir(out)).sort()).toEqual(backups.map((b) => path.basename(b)).sort());
      const audited: number[] = [];
      for (const file of backups) {
        expect((await stat(file)).mode & 0o777).toBe(0o600);
        const db = new Database(file, { readonly: true });
        expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
        db.close();
        expect(inconsistentLinks(file)).toBe(0);
        audited.push(countOf(file, 'audit_events'));
        // Restored, every chain verifies: no event is torn out of the middle, none half-written.
        const restored = await restoreStore(file, path.join(await tempDir('postern-backup-check-'), 'data'));
        expect(restored.verified).toBe(true);
        expect(restored.auditChains.map((c) => c.controllerId)).toEqual(['test-site', 'test-site/admin']);
      }
      // The writes went on between the backups, and each backup is a later snapshot than the one before.
      expect(audited).toEqual([...audited].sort((a, b) => a - b));
      expect(audited.at(-1)!).toBeGreaterThan(audited[0]!);
    } finally {
      process.umask(previous);
    }
  });

  it('backs up a store nobody has open (no -shm there) and leaves the store as it was', async () => {
    const dataDir = path.join(await tempDir('postern-backup-idle-'), 'data');
    await mkdir(dataDir);
    const { controller } = scenarioController(dataDir);
    await controller.start();
    await controller.issuing.createLink({ name: 'Ada', scope: 7 }, 'test');
    await controller.stop();
    const before = (await readdir(dataDir)).sort();
    const storeBytes = await readFile(path.join(dataDir, 'postern.sqlite'));
    const out = path.join(await tempDir('postern-backup-idle-out-'), 'copy.sqlite');
    const result = await backupStore({ dataDir, out });
    expect(result.auditChains).toEqual([expect.objectContaining({ controllerId: 'test-site' })]);
    expect(countOf(out, 'links')).toBe(1);
    expect((await readdir(dataDir)).sort()).toEqual(before);
    expect((await readFile(path.join(dataDir, 'postern.sqlite'))).equals(storeBytes)).toBe(true);
  });

  it('refuses what it cannot do, and writes nothing', async () => {
    const root = await tempDir('postern-backup-refuse-');
    const missing = path.join(root, 'nothing-here');
    await expect(backupStore({ dataDir: missing, out: path.join(root, 'a.backup') })).rejects.toMatchObject({
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: expect.stringContaining(`no store at ${path.join(missing, 'postern.sqlite')}`),
    });
    expect(existsSync(missing)).toBe(false);

    const dataDir = path.join(root, 'data');
    const { controller } = scenarioController(dataDir);
    await controller.start();
    running.push(controller);
    const taken = path.join(root, 'taken.backup');
    await writeFile(taken, 'yesterday');
    await expect(backupStore({ dataDir, out: taken })).rejects.toMatchObject({ code: ErrorCodes.CONFLICT, message: expect.stringContaining('exists already') });
    expect(await readFile(taken, 'utf8')).toBe('yesterday');
    await expect(backupStore({ dataDir, out: path.join(root, 'no-such-folder', 'a.backup') })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(backupStore({ dataDir, out: path.join(root, 'pg.backup'), databaseUrl: 'postgres://postern:secret@db.example.org/doors' })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringMatching(/PostgreSQL \(db\.example\.org:5432\/doors\): back it up with pg_dump -Fc/),
    });
    expect((await readdir(root)).sort()).toEqual(['data', 'nothing-here', 'taken.backup'].filter((name) => name !== 'nothing-here'));
  });
});
