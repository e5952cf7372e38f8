/**
 * One controller per site on a SQLite store: the claim is a lock file beside the database,
 * `<database>.<site>.lock`, opened as a SQLite database of its own and held in a write transaction
 * (BEGIN IMMEDIATE, never committed) for as long as the controller runs.
 *
 * - Another process that tries the same gets SQLITE_BUSY at once (busy timeout 0): SQLite's lock is
 *   a POSIX advisory lock, which the kernel drops when the holder dies, kill -9 and power cuts
 *   included, so a dead controller never blocks its restart.
 * - Another Store object in the same process gets SQLITE_BUSY too: SQLite's unix VFS tracks locks
 *   per file across the connections of a process (POSIX locks alone would not tell them apart).
 * - The lock file is never opened with fs, only by SQLite: closing any descriptor of a file drops
 *   every POSIX lock the process holds on it.
 * - Who holds it (pid, host, since) is written by the holder after it got the lock, to
 *   `<lock file>.json`, so that the refusal can name it. A stale file (its pid is gone) is ignored.
 *
 * Tools (the CLI) never claim, and keep reading and writing the database while a controller runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

import Sqlite from 'better-sqlite3';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { StoreClaim, StoreLogger } from './storeBackend.ts';
import { DATA_FILE_MODE, makePrivateFile, tightenModes } from './fileModes.ts';

interface Holder {
  siteId: string;
  pid: number;
  host: string;
  since: string;
}

/** `<database>.<site>.lock`; a site id that is not a plain file-name word is hashed. */
export function sqliteLockFile(file: string, siteId: string): string {
  const part = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(siteId) ? siteId : `site-${createHash('sha256').update(siteId).digest('hex').slice(0, 16)}`;
  return `${file}.${part}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(infoFile: string, siteId: string): Holder | undefined {
  try {
    const holder = JSON.parse(readFileSync(infoFile, 'utf8')) as Holder;
    if (holder.siteId !== siteId || !Number.isInteger(holder.pid)) return undefined;
    // Written by a holder that has died since, and not yet replaced: it names no one.
    if (holder.host === hostname() && !alive(holder.pid)) return undefined;
    return holder;
  } catch {
    return undefined;
  }
}

function describeHolder(holder: Holder | undefined): string {
  if (holder === undefined) return 'held by another process, or by another store object in this process';
  if (holder.pid === process.pid && holder.host === hostname()) return `held by another store object in this process (pid ${holder.pid}) since ${holder.since}`;
  return `held by process ${holder.pid} on ${holder.host} since ${holder.since}`;
}

export function claimSqlite(file: string, siteId: string, logger: StoreLogger | undefined): StoreClaim {
  const lockFile = sqliteLockFile(file, siteId);
  const infoFile = `${lockFile}.json`;
  makePrivateFile(lockFile);
  tightenModes([lockFile], logger);
  const lock = new Sqlite(lockFile, { timeout: 0 });
  try {
    lock.exec('BEGIN IMMEDIATE');
  } catch (error) {
    lock.close();
    const code = (error as { code?: string }).code ?? '';
    if (!code.startsWith('SQLITE_BUSY') && !code.startsWith('SQLITE_LOCKED')) throw error;
    const holder = readHolder(infoFile, siteId);
    throw new PosternError(
      ErrorCodes.STORE_IN_USE,
      `another controller for site ${siteId} already runs on this store (SQLite database ${file}): its lock ${lockFile} is ${describeHolder(holder)}`,
      { cause: error, details: { dialect: 'sqlite', location: file, lockFile, siteId, holder } },
    );
  }
  const holder: Holder = { siteId, pid: process.pid, host: hostname(), since: new Date().toISOString() };
  try {
    const temporary = `${infoFile}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(holder)}\n`, { mode: DATA_FILE_MODE });
    renameSync(temporary, infoFile);
  } catch (error) {
    // The lock is what counts; without the note a refusal only cannot name the holder.
    logger?.warn({ path: infoFile, err: error }, `cannot write ${infoFile}: ${(error as Error).message}`);
  }
  let released = false;
  return {
    siteId,
    async release() {
      if (released) return;
      released = true;
      // The note goes while the lock is still held, so it can never remove the next holder's.
      rmSync(infoFile, { force: true });
      lock.close();
    },
  };
}
