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
 *
 * `writerThread: false` (a CLI command) has no writer thread either, but writes: one connection on
 * the main thread, set up as the writer thread's own (the same pragmas, BEGIN IMMEDIATE), which
 * does everything. Starting the thread and its connection costs a command more than the command's
 * own work; a command has no event loop to keep free (a busy wait blocks it, as it would wait for
 * the thread's answer anyway) and writes too little to need group commit or the thread's
 * checkpoints. It closes the way the thread does, last, so the log is checkpointed and removed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import Sqlite from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type QueryResult } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { makePrivateDirectory, makePrivateFile, tightenModes } from './fileModes.ts';
import { startIntegrityCheck, type IntegrityCheck } from './integrityCheck.ts';
import { noStoreError } from './migrate.ts';
import type { Database } from './schema.ts';
import type { OpenStoreOptions, StoreBackend } from './storeBackend.ts';
import { claimSqlite } from './sqliteClaim.ts';
import { RoutedSqliteDialect, TransactionalSqliteAdapter } from './sqliteDialect.ts';
import { SQLITE_WAL_LIMIT_BYTES, SqliteWriter } from './sqliteWriter.ts';
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

export interface SqliteBackendOptions extends OpenStoreOptions {
  /**
   * false: every statement runs on one connection on the main thread, with no writer thread (for
   * a process that runs one command and exits: the CLI). Default true. Ignored when readOnly.
   */
  writerThread?: boolean;
}

/**
 * Kysely's SQLite driver with the writer thread's habits: transactions BEGIN IMMEDIATE (the write
 * lock is taken at the start, so a transaction that reads then writes never fails half-way on
 * another process's write), and a busy error says how long it waited, as the thread's does.
 */
class MainThreadSqliteDriver extends SqliteDriver {
  readonly #busyTimeoutMs: number;

  constructor(database: Sqlite.Database, busyTimeoutMs: number) {
    super({ database });
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await super.acquireConnection();
    const waited = this.#busyTimeoutMs;
    return {
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        try {
          return await connection.executeQuery<R>(query);
        } catch (error) {
          const code = (error as { code?: unknown } | null)?.code;
          if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) Object.assign(error as object, { waitedMs: waited });
          throw error;
        }
      },
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class MainThreadSqliteDialect extends SqliteDialect {
  readonly #database: Sqlite.Database;
  readonly #busyTimeoutMs: number;

  constructor(database: Sqlite.Database, busyTimeoutMs: number) {
    super({ database });
    this.#database = database;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  override createDriver(): SqliteDriver {
    return new MainThreadSqliteDriver(this.#database, this.#busyTimeoutMs);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalSqliteAdapter();
  }
}

export function sqliteBackend(options: SqliteBackendOptions): SqliteBackend {
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

  /**
   * The one connection of `writerThread: false`, opened as sqliteWriterSource.ts opens the
   * thread's (keep the two alike): the header read first, then WAL, synchronous = FULL, no
   * automatic checkpoints (a running controller's writer thread does them), the log's size limit,
   * foreign keys.
   */
  const openMainThreadWriter = (): Sqlite.Database => {
    const db = new Sqlite(file, { timeout: busyTimeout });
    try {
      db.prepare('SELECT count(*) AS n FROM sqlite_master').get();
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (String(mode).toLowerCase() !== 'wal') throw Object.assign(new Error(`journal_mode stays ${String(mode)}, not wal`), { code: 'SQLITE_READONLY' });
      db.pragma('synchronous = FULL');
      db.pragma('wal_autocheckpoint = 0');
      db.pragma(`journal_size_limit = ${Math.trunc(options.walLimitBytes ?? SQLITE_WAL_LIMIT_BYTES)}`);
      db.pragma('foreign_keys = ON');
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
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

      if (options.writerThread === false) {
        let db: Sqlite.Database;
        try {
          db = openMainThreadWriter();
        } catch (error) {
          throw backend.translate(error, op);
        }
        tightenModes([`${file}-wal`, `${file}-shm`], logger);
        return new Kysely<Database>({ dialect: new MainThreadSqliteDialect(db, busyTimeout) });
      }

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
