/**
 * What backup and restore need to know of a SQLite file before they trust it: that it is a SQLite
 * database, that it is a Postern store (its schema history and tables), that this version of
 * Postern can open it (no migration it does not know: STORE_TOO_NEW), that it is undamaged
 * (integrity_check), and what audit chains it holds. Every file they write is made here too: mode
 * 0600 from the first byte, written whole under a temporary name, fsync'd, then renamed into place.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import type Sqlite from 'better-sqlite3';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { DATA_FILE_MODE } from '../store/fileModes.ts';
import { MIGRATED_BY_SETTING, storeTooNewError, unknownMigrations } from '../store/migrate.ts';
import { MIGRATION_TABLE } from '../store/migrations.ts';

/** The tables every Postern store has had since its first release. */
const CORE_TABLES = ['settings', 'links', 'credentials', 'partners', 'revocations', 'replay_marks', 'door_sets', 'door_modes', 'audit_events'];

/** Pages per backup step: every page in one step, so the copy is one read snapshot of the source. */
export const ALL_PAGES = 0x7fffffff;

/** One audit chain as a store file holds it. */
export interface AuditChainSummary {
  controllerId: string;
  events: number;
  lastSeq: number;
}

export interface StoreFileInfo {
  /** The applied migrations, in name order; the last is the schema version. */
  migrations: string[];
  schemaVersion: string;
  /** The Postern version that last ran migrations on it, when the store says (0.1.0 did not). */
  migratedBy: string | undefined;
  auditChains: AuditChainSummary[];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/**
 * Checks an open connection to `file` (`what` names it in messages: "backup file", "store"):
 * INVALID_ARGUMENT when it is not a SQLite database or not a Postern store, STORE_TOO_NEW when a
 * newer Postern wrote it, STORE_CORRUPT when integrity_check finds damage.
 */
export function inspectStoreFile(db: Sqlite.Database, file: string, what: string): StoreFileInfo {
  let tables: Set<string>;
  try {
    tables = new Set((db.prepare(`select name from sqlite_master where type = 'table'`).all() as Array<{ name: string }>).map((row) => row.name));
  } catch (error) {
    const code = codeOf(error);
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `${what} ${file} is not a SQLite database (${messageOf(error)}), so it is no Postern store`, { cause: error });
    }
    throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `cannot read ${what} ${file}: ${messageOf(error)}`, { cause: error });
  }
  const migrations = tables.has(MIGRATION_TABLE)
    ? (db.prepare(`select name from ${MIGRATION_TABLE} order by name`).all() as Array<{ name: string }>).map((row) => row.name)
    : [];
  if (migrations.length === 0) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `${what} ${file} is a SQLite database but not a Postern store: it has no Postern schema history (${MIGRATION_TABLE})`);
  }
  const migratedBy = tables.has('settings')
    ? (db.prepare('select value from settings where key = ?').get(MIGRATED_BY_SETTING) as { value: string } | undefined)?.value
    : undefined;
  if (unknownMigrations(migrations).length > 0) throw storeTooNewError({ dialect: 'sqlite', location: file }, migrations, migratedBy);
  const missing = CORE_TABLES.filter((table) => !tables.has(table));
  if (missing.length > 0) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `${what} ${file} is not a whole Postern store: table(s) ${missing.join(', ')} missing`);
  }
  const problems = (db.prepare('pragma integrity_check(20)').all() as Array<{ integrity_check: string }>).map((row) => row.integrity_check);
  if (problems.length !== 1 || problems[0] !== 'ok') {
    throw new PosternError(ErrorCodes.STORE_CORRUPT, `${what} ${file} is damaged (integrity_check: ${problems.slice(0, 3).join('; ')})`, {
      details: { dialect: 'sqlite', location: file, operation: 'integrity_check', problems },
    });
  }
  const auditChains = db
    .prepare('select controller_id as controllerId, count(*) as events, max(seq) as lastSeq from audit_events group by controller_id order by controller_id')
    .all() as AuditChainSummary[];
  return { migrations, schemaVersion: migrations.at(-1)!, migratedBy, auditChains };
}

/** A name beside `target` for the file being written, unique to this call. */
export function temporaryBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}-${randomBytes(4).toString('hex')}.partial`);
}

/** Makes an empty file, mode 0600 whatever the umask; fails when it exists. */
export function makePrivateFileExclusive(file: string): void {
  closeSync(openSync(file, 'wx', DATA_FILE_MODE));
}

/** fsyncs a file or a directory (a rename is durable once its directory is). */
export function fsyncPath(target: string): void {
  const fd = openSync(target, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncs `temporary`, renames it to `target` and fsyncs the folder. */
export function commitFile(temporary: string, target: string): void {
  fsyncPath(temporary);
  renameSync(temporary, target);
  fsyncPath(path.dirname(target));
}

/** Removes a SQLite file and the -wal, -shm and -journal files beside it; never throws. */
export function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    try {
      rmSync(file + suffix, { force: true });
    } catch {
      // what cannot be removed is left; the caller's error says what went wrong
    }
  }
}
