/**
 * `postern backup --out FILE`: a consistent copy of a site's SQLite store, taken while the
 * controller runs.
 *
 * The running controller holds its claim (a lock file) and writes through its writer thread; the
 * copy is made on a separate connection that only reads (query_only), with SQLite's online backup
 * API, every page in one step, so it is one read snapshot of the database (WAL readers do not block
 * the writer, and the writer does not block them): every transaction committed before it is in
 * the copy whole, none after it is in it at all. The copy is then switched out of WAL mode (one self-contained
 * file), checked (integrity_check, a Postern store this version can open), written 0600 under a
 * temporary name, fsync'd and renamed to FILE, which must not exist yet.
 *
 * The backup holds what the store holds, secrets included (the site key, credential and partner
 * secrets, password and token hashes): keep it as carefully as the data directory. Audit events
 * still waiting in the journal (written there while the store could not take them) are not in it.
 *
 * PostgreSQL stores are backed up with pg_dump (docs/backup.md); backupStore refuses them, naming
 * the command.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import Sqlite from 'better-sqlite3';

import { ErrorCodes, PosternError, isPosternError } from '../../machines/shared/errors.ts';
import { describePostgresUrl } from '../store/postgresBackend.ts';
import { translateStoreError } from '../store/storeErrors.ts';
import { ALL_PAGES, commitFile, inspectStoreFile, makePrivateFileExclusive, removeSqliteFiles, temporaryBeside, type AuditChainSummary } from './storeFile.ts';

export interface BackupOptions {
  /** The site's data directory (the site file's dataDir, resolved): the store is <dataDir>/postern.sqlite. */
  dataDir: string;
  /** Where the backup goes: a file that does not exist yet, in a folder that does. */
  out: string;
  /** The site's DATABASE_URL, when it has one: PostgreSQL is backed up with pg_dump, and refused here. */
  databaseUrl?: string;
  /** The store's file name in dataDir, default 'postern.sqlite'. */
  fileName?: string;
  /** How long to wait for another process's exclusive lock on the store, default 5000 ms. */
  busyTimeoutMs?: number;
}

export interface BackupResult {
  /** The backup file, absolute. */
  file: string;
  /** The store it was copied from. */
  source: string;
  bytes: number;
  /** The store's schema version (its newest migration) and every migration in it. */
  schemaVersion: string;
  migrations: string[];
  /** Each audit chain in the backup: its events and last seq. */
  auditChains: AuditChainSummary[];
}

/** The pg_dump command for a PostgreSQL store, for messages and docs/backup.md. */
export function pgDumpCommand(out: string): string {
  return `pg_dump -Fc -f ${JSON.stringify(out)} "$DATABASE_URL"`;
}

/**
 * Copies the store of `dataDir` to `out` (mode 0600), consistently, while a controller may be
 * running and writing. Throws STORE_UNAVAILABLE when there is no store, CONFLICT when `out`
 * exists, INVALID_ARGUMENT for a PostgreSQL store or an `out` whose folder is missing.
 */
export async function backupStore(options: BackupOptions): Promise<BackupResult> {
  const out = path.resolve(options.out);
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    const { location } = describePostgresUrl(options.databaseUrl);
    throw new PosternError(
      ErrorCodes.INVALID_ARGUMENT,
      `the store is PostgreSQL (${location}): back it up with ${pgDumpCommand(out)} (docs/backup.md), not postern backup`,
    );
  }
  const source = path.join(path.resolve(options.dataDir), options.fileName ?? 'postern.sqlite');
  if (!existsSync(source)) {
    throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `no store at ${source}: nothing to back up (is dataDir right?)`, {
      details: { dialect: 'sqlite', location: source, operation: 'backup' },
    });
  }
  if (existsSync(out)) throw new PosternError(ErrorCodes.CONFLICT, `${out} exists already: a backup is never written over a file; choose a new name`);
  const folder = path.dirname(out);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `cannot write the backup ${out}: the folder ${folder} does not exist`);
  }

  let reader: Sqlite.Database;
  try {
    // Not opened read-only: a read-only connection to a store nobody has open would leave the -wal
    // and -shm it had to make behind. query_only keeps it from changing any data; closing it
    // checkpoints and removes them when it is the last connection, as any SQLite connection does.
    reader = new Sqlite(source, { fileMustExist: true, timeout: Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000)) });
    reader.pragma('query_only = ON');
  } catch (error) {
    throw translateStoreError(error, { dialect: 'sqlite', location: source }, { what: 'backup', write: false });
  }
  const temporary = temporaryBeside(out);
  try {
    // The store is checked before it is copied, so a store this version cannot read is not backed up as if it could.
    inspectStoreFile(reader, source, 'store');
    try {
      makePrivateFileExclusive(temporary);
    } catch (error) {
      throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `cannot write the backup ${out}: ${(error as Error).message}`, { cause: error });
    }
    try {
      await reader.backup(temporary, { progress: () => ALL_PAGES });
    } catch (error) {
      if (isPosternError(error)) throw error;
      throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `the backup of ${source} to ${out} failed: ${(error as Error).message}`, { cause: error });
    }
    reader.close();

    // One file, no -wal beside it; checked as a restore will check it.
    const copy = new Sqlite(temporary, { fileMustExist: true });
    let info;
    try {
      copy.pragma('journal_mode = DELETE');
      info = inspectStoreFile(copy, out, 'backup');
    } finally {
      copy.close();
    }
    commitFile(temporary, out);
    return { file: out, source, bytes: statSync(out).size, schemaVersion: info.schemaVersion, migrations: info.migrations, auditChains: info.auditChains };
  } catch (error) {
    removeSqliteFiles(temporary);
    throw error;
  } finally {
    if (reader.open) reader.close();
  }
}
