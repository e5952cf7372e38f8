/**
 * SQLite for the store, in the data directory:
 *
 * - the directory is 0700 and the files 0600 (fileModes.ts);
 * - writes and transactions run in a writer thread with its own connection (sqliteWriter.ts:
 *   WAL, synchronous = FULL, busy timeout busyTimeoutMs, group commit, checkpoints and the bound on
 *   the -wal file); plain reads run on a read-only connection on the main thread with a short busy
 *   timeout (sqliteDialect.ts routes each statement);
 * - start reads the header and the schema; the full quick_check runs in the background
 *   (integrityCheck.ts);
 * - the controller claim is a lock file beside the database (sqliteClaim.ts);
 * - with `create: false`, a missing file is refused before anything is made (no store at ...).
 *
 * A store opened read-only (tools that only read) has no writer thread: one read-only connection
 * on the main thread, where every write fails with SQLITE_READONLY (STORE_READ_ONLY).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import Sqlite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { makePrivateDirectory, makePrivateFile, tightenModes } from './fileModes.ts';
import { startIntegrityCheck, type IntegrityCheck } from './integrityCheck.ts';
import { noStoreError } from './migrate.ts';
import type { Database } from './schema.ts';
import type { OpenStoreOptions, StoreBackend } from './storeBackend.ts';
import { claimSqlite } from './sqliteClaim.ts';
import { RoutedSqliteDialect } from './sqliteDialect.ts';
import { SqliteWriter } from './sqliteWriter.ts';
import { translateStoreError } from './storeErrors.ts';
import { StoreProblems } from './storeProblems.ts';

function directoryError(error: unknown, dataDir: string, file: string): PosternError {
  const code = (error as NodeJS.ErrnoException).code;
  const readOnly = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  return new PosternError(
    readOnly ? ErrorCodes.STORE_READ_ONLY : ErrorCodes.STORE_UNAVAILABLE,
    `cannot create the data directory ${dataDir} for ${file}: ${(error as Error).message}`,
    { cause: error, details: { dialect: 'sqlite', location: file, operation: 'open' } },
  );
}

/** The SQLite backend; `writer` (while open) is there for tests and metrics. */
export interface SqliteBackend extends StoreBackend {
  readonly writer: SqliteWriter | undefined;
}

export function sqliteBackend(options: OpenStoreOptions): SqliteBackend {
  const dataDir = resolve(options.dataDir);
  const file = join(dataDir, options.fileName ?? 'postern.sqlite');
  const readOnly = options.readOnly === true;
  const busyTimeout = Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000));
  const readBusyTimeout = Math.max(0, Math.trunc(options.readBusyTimeoutMs ?? 100));
  const logger = options.logger;
  let check: IntegrityCheck | undefined;
  let currentWriter: SqliteWriter | undefined;

  /** The read-only connection; `timeout` is its busy timeout. */
  const openReader = (timeout: number): Sqlite.Database => {
    const reader = new Sqlite(file, { readonly: true, fileMustExist: true, timeout });
    try {
      // Reading the schema checks the header: a file that is not a database fails here.
      reader.prepare('SELECT count(*) AS n FROM sqlite_master').get();
    } catch (error) {
      reader.close();
      throw error;
    }
    return reader;
  };

  const backend: SqliteBackend = {
    get writer() {
      return currentWriter;
    },
    dialect: 'sqlite',
    location: file,
    readOnly,
    problems: new StoreProblems(file, logger),
    translate: (error, op) => translateStoreError(error, backend, op),
    claim: async (siteId) => claimSqlite(file, siteId, logger),
    integrityCheck: () => check?.result ?? Promise.resolve({ status: 'skipped', reason: readOnly ? 'the store is read-only' : 'the check is off (quickCheck: false) or the store is not started' }),

    async open() {
      const op = { what: 'open', write: false };
      if (readOnly) {
        if (!existsSync(file)) {
          throw new PosternError(ErrorCodes.STORE_READ_ONLY, `SQLite database ${file} does not exist, and a store opened read-only cannot create it`, {
            details: { dialect: 'sqlite', location: file, operation: 'open' },
          });
        }
        tightenModes([dataDir, file, `${file}-wal`, `${file}-shm`], logger, false);
        try {
          const reader = openReader(busyTimeout);
          reader.pragma('foreign_keys = ON');
          return new Kysely<Database>({ dialect: new SqliteDialect({ database: reader }) });
        } catch (error) {
          throw backend.translate(error, op);
        }
      }

      // Checked before anything is made: a command that may not create a store leaves no empty
      // directory or file behind (migrate.ts refuses an empty file the same way).
      if (options.create === false && !existsSync(file)) throw noStoreError(backend);
      try {
        makePrivateDirectory(dataDir);
      } catch (error) {
        throw directoryError(error, dataDir, file);
      }
      tightenModes([dataDir], logger);
      try {
        // Before SQLite opens it: -wal and -shm are made with the database file's mode.
        makePrivateFile(file);
      } catch (error) {
        throw backend.translate(error, op);
      }
      tightenModes([file], logger);

      const writer = new SqliteWriter({ file, busyTimeoutMs: busyTimeout, walLimitBytes: options.walLimitBytes, onProblem: (kind, error) => backend.problems.report(kind, error) });
      try {
        await writer.start();
      } catch (error) {
        await writer.close().catch(() => undefined);
        throw backend.translate(error, op);
      }
      tightenModes([`${file}-wal`, `${file}-shm`], logger);
      let reader: Sqlite.Database;
      try {
        reader = openReader(readBusyTimeout);
      } catch (error) {
        await writer.close().catch(() => undefined);
        throw backend.translate(error, op);
      }
      currentWriter = writer;
      return new Kysely<Database>({ dialect: new RoutedSqliteDialect({ reader, writer }) });
    },
  };

  if (!readOnly && options.quickCheck !== false) {
    backend.background = {
      start() {
        check?.stop();
        check = startIntegrityCheck(file);
        void check.result.then((result) => {
          if (result.status === 'corrupt') {
            backend.problems.report(
              'integrity',
              new PosternError(
                ErrorCodes.STORE_CORRUPT,
                `SQLite database ${file} is damaged (quick_check: ${result.problems.slice(0, 3).join('; ')}); restore it from a backup or move it away`,
                { details: { dialect: 'sqlite', location: file, operation: 'quick_check', problems: result.problems } },
              ),
            );
          } else if (result.status === 'failed') {
            logger?.warn({ location: file, error: result.message }, `the integrity check of ${file} could not run: ${result.message}`);
          }
        });
      },
      async stop() {
        check?.stop();
      },
    };
  }
  return backend;
}
