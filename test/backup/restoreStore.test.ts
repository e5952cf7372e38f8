/**
 * restoreStore: a backup taken while a controller runs, restored into an empty data directory,
 * verifies (every audit chain) and decides every code as the original store did, through a real
 * Controller. What restore refuses: a data directory that is not empty, a file that is not a
 * Postern store, a store from a newer version, PostgreSQL (pg_restore's job).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

import { backupStore } from '../../controller/backup/backupStore.ts';
import { RESTORE_DOOR_SET_GAP, restoreStore } from '../../controller/backup/restoreStore.ts';
import type { Controller } from '../../controller/controller.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { tempDir } from '../support/testSite.ts';
import { populate, scanAll, scenarioController, scenarioScans } from './siteScenario.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/store-0.1.0/postern.sqlite', import.meta.url));

const running: Controller[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('restoreStore', () => {
  it('restores a backup taken while the controller ran; the restored store verifies and decides every code the same way', async () => {
    const original = await tempDir('postern-restore-a-');
    const a = scenarioController(original);
    await a.controller.start();
    running.push(a.controller);
    const data = await populate(a.controller, a.terminal);

    const backup = path.join(await tempDir('postern-restore-file-'), 'site.backup');
    const made = await backupStore({ dataDir: original, out: backup });
    expect(made.auditChains.map((c) => c.controllerId)).toEqual(['test-site']);

    // The same codes through the original controller, after the backup ...
    const scans = scenarioScans(data);
    const before = await scanAll(a.controller, a.terminal, scans);
    await a.controller.stop();
    running.splice(0);

    // ... and through a controller on the restored store.
    const restoredDir = path.join(await tempDir('postern-restore-b-'), 'data');
    const restored = await restoreStore(backup, restoredDir);
    expect(restored).toMatchObject({ file: path.join(restoredDir, 'postern.sqlite'), from: backup, migrated: [], verified: true });
    expect(restored.auditChains).toEqual([{ controllerId: 'test-site', events: made.auditChains[0]!.events, ok: true, problems: [] }]);
    expect((await stat(restoredDir)).mode & 0o777).toBe(0o700);
    expect((await stat(restored.file)).mode & 0o777).toBe(0o600);

    const b = scenarioController(restoredDir);
    await b.controller.start();
    running.push(b.controller);
    const after = await scanAll(b.controller, b.terminal, scans);
    expect(after).toEqual(before);
    // A door set made after the restore never takes an id the original may have given out after the backup.
    const scopes = (await b.controller.issuing.listLinks({ includeRevoked: true })).map((l) => l.scope);
    const { link } = await b.controller.issuing.createLink({ name: 'After the restore', doors: ['front', 'store'] }, 'test');
    expect(link.scope).toBeGreaterThan(Math.max(...scopes) + RESTORE_DOOR_SET_GAP);

    // What the verdicts are, so that "the same" cannot be "the same nonsense".
    const byLabel = Object.fromEntries(before.map((v) => [v.label, v.reason ?? v.verdict]));
    expect(byLabel).toEqual({
      'ada at front': 'grant',
      'ada at lab': 'grant',
      'lab-only link at lab': 'grant',
      'lab-only link at front': 'out-of-scope',
      'store-only link at the store, in lockdown': 'lockdown',
      'expired link': 'expired',
      'revoked link': 'revoked',
      'online link, second use': 'grant',
      'online link, third use': 'used-up',
      'grace, the step used before the backup': 'replayed',
      'grace, the next step': 'grant',
      'grace, wrong secret': 'bad-mac',
      'revoked badge': 'revoked',
      'partner code': 'grant',
      'partner code, scope 7 at lab': 'grant',
      'partner code, revoked subject': 'revoked',
      'partner code, scope 3 at lab': 'out-of-scope',
      'unknown partner': 'unknown-issuer',
      garbage: 'unknown-format',
    });
  });

  it('restores the store of the previous release (0.1.0), which verifies', async () => {
    const dir = await tempDir('postern-restore-old-');
    const dataDir = path.join(dir, 'data');
    // A copy: opening a WAL-mode file, even read-only, leaves -wal and -shm beside it, and the fixture stays untouched.
    const backup = path.join(dir, 'backup.sqlite');
    await copyFile(FIXTURE, backup);
    const restored = await restoreStore(backup, dataDir);
    expect(restored.schemaVersion).toBe('0003_enrolments');
    expect(restored.verified).toBe(true);
    expect(restored.auditChains.map((c) => [c.controllerId, c.events])).toEqual([
      ['fixture-site', 26],
      ['fixture-site/admin', 17],
    ]);
  });

  it('refuses a data directory that is not empty, and leaves it as it was', async () => {
    const dataDir = await tempDir('postern-restore-full-');
    await writeFile(path.join(dataDir, 'postern.sqlite'), 'the store in use');
    await expect(restoreStore(FIXTURE, dataDir)).rejects.toMatchObject({ code: ErrorCodes.CONFLICT, message: expect.stringContaining(`${dataDir} is not empty (postern.sqlite)`) });
    expect(await readdir(dataDir)).toEqual(['postern.sqlite']);
    expect(await readFile(path.join(dataDir, 'postern.sqlite'), 'utf8')).toBe('the store in use');
  });

  it('refuses a file that is not a Postern store, making nothing', async () => {
    const dir = await tempDir('postern-restore-bad-');
    const text = path.join(dir, 'notes.txt');
    await writeFile(text, 'not a database at all, just some words that are long enough to fill a header of 100 bytes. '.repeat(3));
    const other = path.join(dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('create table customers (id integer primary key, name text)');
    db.close();
    const target = path.join(dir, 'data');
    await expect(restoreStore(text, target)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringContaining('is not a SQLite database') });
    await expect(restoreStore(other, target)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringContaining('not a Postern store') });
    await expect(restoreStore(path.join(dir, 'missing.backup'), target)).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    expect((await readdir(dir)).sort()).toEqual(['notes.txt', 'other.sqlite']);
  });

  it('refuses a store written by a newer version, making nothing', async () => {
    const dir = await tempDir('postern-restore-new-');
    const future = path.join(dir, 'future.backup');
    await copyFile(FIXTURE, future);
    const db = new Database(future);
    db.prepare('insert into postern_migrations (name, timestamp) values (?, ?)').run('0099_from_the_future', new Date().toISOString());
    db.prepare('insert into settings (key, value) values (?, ?)').run('postern.migratedBy', '9.9.0');
    db.pragma('journal_mode = DELETE');
    db.close();
    const hash = await sha256(future);
    const target = path.join(dir, 'data');
    await mkdir(target);
    await expect(restoreStore(future, target)).rejects.toMatchObject({
      code: ErrorCodes.STORE_TOO_NEW,
      message: expect.stringMatching(/written by a newer version of Postern \(9\.9\.0\): its schema has migration\(s\) 0099_from_the_future/),
    });
    expect(await readdir(target)).toEqual([]);
    expect(await sha256(future)).toBe(hash);
  });

  it('refuses PostgreSQL, naming pg_restore', async () => {
    const dir = await tempDir('postern-restore-pg-');
    await expect(restoreStore(FIXTURE, path.join(dir, 'data'), { databaseUrl: 'postgres://postern:secret@db.example.org:5432/doors' })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringMatching(/PostgreSQL \(db\.example\.org:5432\/doors\).*pg_restore --no-owner/),
    });
    await expect(restoreStore(FIXTURE, path.join(dir, 'data'), { databaseUrl: 'postgres://postern:secret@db.example.org:5432/doors' })).rejects.not.toMatchObject({
      message: expect.stringContaining('secret'),
    });
    expect(await readdir(dir)).toEqual([]);
  });
});
