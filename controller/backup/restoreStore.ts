/**
 * `postern restore FILE`: puts a backup (backupStore's, or any SQLite store file of Postern's) into
 * an EMPTY data directory, then opens it with this version (which migrates a backup of an older
 * release) and verifies every audit chain.
 *
 * Refused, with nothing written:
 * - a data directory that is not empty (CONFLICT): restore never merges with or replaces a store;
 *   move the old directory away first;
 * - a file that is not a SQLite database, or not a Postern store (INVALID_ARGUMENT);
 * - a store written by a newer Postern (STORE_TOO_NEW), a damaged one (STORE_CORRUPT).
 *
 * The copy is made with SQLite's backup API (so a store file with its -wal beside it is read whole),
 * 0600 under a temporary name in the data directory (0700), fsync'd, then renamed to postern.sqlite.
 * The door-set id sequence moves on by RESTORE_DOOR_SET_GAP (ids the original may have handed out
 * after the backup are never handed out again). If opening or migrating it fails, the restored
 * files are removed again and the directory is left empty. A broken audit chain does not undo the restore (it is the data there is): the result says
 * so (verified: false), and the command exits as `audit verify` does.
 *
 * PostgreSQL stores are restored with pg_restore (docs/backup.md); restoreStore refuses them.
 */
import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

import Sqlite from 'better-sqlite3';

import { ErrorCodes, PosternError, isPosternError } from '../../machines/shared/errors.ts';
import { verifyChain, type ChainProblem } from '../audit/auditChain.ts';
import { makePrivateDirectory, tightenModes } from '../store/fileModes.ts';
import { migrations as knownMigrations } from '../store/migrations.ts';
import { openStore, type StoreLogger } from '../store/openStore.ts';
import { describePostgresUrl } from '../store/postgresBackend.ts';
import { ALL_PAGES, commitFile, inspectStoreFile, makePrivateFileExclusive, removeSqliteFiles, temporaryBeside } from './storeFile.ts';

export interface RestoreOptions {
  /** The site's DATABASE_URL, when it has one: PostgreSQL is restored with pg_restore, and refused here. */
  databaseUrl?: string;
  /** The store's file name in dataDir, default 'postern.sqlite'. */
  fileName?: string;
  /** Where the store's own warnings go while the restored store is opened. */
  logger?: StoreLogger;
}

export interface RestoredChain {
  controllerId: string;
  /** Events checked. */
  events: number;
  ok: boolean;
  problems: ChainProblem[];
}

export interface RestoreResult {
  /** The restored store, absolute: <dataDir>/postern.sqlite. */
  file: string;
  /** The backup it came from, absolute. */
  from: string;
  /** The backup's schema version (its newest migration) and the migrations applied now to bring it up to this version. */
  schemaVersion: string;
  migrated: string[];
  /** `audit verify` of every chain in the restored store. */
  auditChains: RestoredChain[];
  /** Every chain intact. */
  verified: boolean;
}

/** The pg_restore command for a PostgreSQL store, for messages and docs/backup.md. */
export function pgRestoreCommand(file: string): string {
  return `pg_restore --no-owner --single-transaction --exit-on-error -d "$DATABASE_URL" ${JSON.stringify(file)}`;
}

/** The entries of `dir`, or undefined when it does not exist; refuses a path that is not a directory. */
function entriesOf(dir: string): string[] | undefined {
  if (!existsSync(dir)) return undefined;
  if (!statSync(dir).isDirectory()) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `the data directory ${dir} is not a directory`);
  return readdirSync(dir);
}

function notEmpty(dir: string, entries: string[]): PosternError {
  const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? `, ... (${entries.length} entries)` : '');
  return new PosternError(
    ErrorCodes.CONFLICT,
    `the data directory ${dir} is not empty (${shown}): a backup is restored only into an empty data directory; stop the controller and move the directory away first`,
  );
}

/**
 * Restores the backup `file` into `dataDir`, which must be empty or not exist yet, and verifies
 * it. See the module comment for what is refused.
 */
export async function restoreStore(file: string, dataDir: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const from = path.resolve(file);
  const dir = path.resolve(dataDir);
  const target = path.join(dir, options.fileName ?? 'postern.sqlite');
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    const { location } = describePostgresUrl(options.databaseUrl);
    throw new PosternError(
      ErrorCodes.INVALID_ARGUMENT,
      `the store is PostgreSQL (${location}): restore a pg_dump backup into an empty database with ${pgRestoreCommand(from)} (docs/backup.md), not postern restore`,
    );
  }
  if (!existsSync(from)) throw new PosternError(ErrorCodes.NOT_FOUND, `no backup file ${from}`);
  if (!statSync(from).isFile()) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `${from} is not a file`);
  const before = entriesOf(dir);
  if (before !== undefined && before.length > 0) throw notEmpty(dir, before);

  let reader: Sqlite.Database;
  try {
    reader = new Sqlite(from, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `cannot open the backup ${from}: ${(error as Error).message}`, { cause: error });
  }
  let madeDir = false;
  let info;
  try {
    info = inspectStoreFile(reader, from, 'backup file');
    if (before === undefined) {
      try {
        makePrivateDirectory(dir);
      } catch (error) {
        throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `cannot make the data directory ${dir}: ${(error as Error).message}`, { cause: error });
      }
      madeDir = true;
    }
    tightenModes([dir], options.logger);
    // Checked again just before writing: something may have been put there meanwhile.
    const now = entriesOf(dir) ?? [];
    if (now.length > 0) throw notEmpty(dir, now);

    const temporary = temporaryBeside(target);
    try {
      makePrivateFileExclusive(temporary);
      await reader.backup(temporary, { progress: () => ALL_PAGES });
      skipDoorSetIds(temporary);
      commitFile(temporary, target);
    } catch (error) {
      removeSqliteFiles(temporary);
      if (isPosternError(error)) throw error;
      throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `cannot write the restored store ${target}: ${(error as Error).message}`, { cause: error });
    }
  } catch (error) {
    if (madeDir) removeDirIfEmpty(dir);
    throw error;
  } finally {
    reader.close();
  }

  // Opened as the controller will open it: migrated to this version, then every chain verified.
  const migrated = Object.keys(knownMigrations)
    .sort()
    .filter((name) => !info.migrations.includes(name));
  const store = openStore({ dataDir: dir, fileName: options.fileName, create: false, quickCheck: false, logger: options.logger });
  const auditChains: RestoredChain[] = [];
  try {
    await store.start();
    for (const controllerId of await store.auditControllers()) {
      const report = await verifyChain(store.iterateAudit(controllerId));
      auditChains.push({ controllerId, events: report.checked, ok: report.ok, problems: report.problems });
    }
  } catch (error) {
    await store.stop().catch(() => undefined);
    removeSqliteFiles(target);
    if (madeDir) removeDirIfEmpty(dir);
    throw error;
  }
  await store.stop();
  tightenModes([dir], options.logger);
  return { file: target, from, schemaVersion: info.schemaVersion, migrated, auditChains, verified: auditChains.every((chain) => chain.ok) };
}

/**
 * Door-set ids the original store may have handed out after the backup was taken: a restored
 * store skips this many, so that a link made after the backup for one set of doors (its code still
 * valid, signed with the site key) can never name a set made after the restore for other doors.
 */
export const RESTORE_DOOR_SET_GAP = 1_000_000;

/** The same for a PostgreSQL store restored with pg_restore: run once on the restored database (docs/backup.md). */
export const POSTGRES_SKIP_DOOR_SET_IDS_SQL =
  `SELECT setval(pg_get_serial_sequence('door_sets', 'id'), ` +
  `coalesce(pg_sequence_last_value(pg_get_serial_sequence('door_sets', 'id')::regclass), ${0x40000000 - 1}) + ${RESTORE_DOOR_SET_GAP})`;

function skipDoorSetIds(file: string): void {
  const db = new Sqlite(file, { fileMustExist: true });
  try {
    db.prepare(`update sqlite_sequence set seq = seq + ? where name = 'door_sets'`).run(RESTORE_DOOR_SET_GAP);
  } finally {
    db.close();
  }
}

function removeDirIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // left as it is
  }
}
