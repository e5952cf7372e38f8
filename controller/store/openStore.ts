/**
 * Chooses and opens the database: PostgreSQL when a URL is given (DATABASE_URL), otherwise SQLite
 * in the data directory. `openStore()` returns a Store that is not open yet; its `start()` opens
 * the database, checks it, migrates it and makes sure it can be written, so that every store
 * problem shows at start as a PosternError naming the file or the server (see storeErrors.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Database } from './schema.ts';
import { KyselyStore } from './store.ts';
import { startWalCheckpointer, type WalCheckpointer } from './walCheckpointer.ts';
import { translateStoreError, type StoreLocation, type StoreOperation } from './storeErrors.ts';
import type { Dialect, Store } from './storeTypes.ts';

/** The few logger methods the store uses; a pino logger fits. */
export interface StoreLogger {
  warn(obj: object, msg?: string): void;
}

export interface OpenStoreOptions {
  /** postgres://user:password@host:port/database; when set, PostgreSQL is used. */
  databaseUrl?: string;
  /** Directory of the SQLite file, created when missing. */
  dataDir: string;
  /** Default 'postern.sqlite'. */
  fileName?: string;
  /**
   * Opens without writing: SQLite with the read-only flag (the file must exist), PostgreSQL with
   * read-only transactions. start() fails with STORE_READ_ONLY when a migration is pending, and
   * every write fails with STORE_READ_ONLY. For tools that only read (audit export, verify).
   */
  readOnly?: boolean;
  /** PostgreSQL: how long to wait for a connection, default 5000 ms. */
  connectTimeoutMs?: number;
  /** PostgreSQL: client-side limit for one query, default 30_000 ms (STORE_UNAVAILABLE after it). */
  queryTimeoutMs?: number;
  /** SQLite: how long to wait for another process's lock, default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * SQLite: run `PRAGMA quick_check` at start (reads the whole file: about a second per few
   * hundred MB). Default true. The header and schema are always read.
   */
  quickCheck?: boolean;
  /** Time source for createdAt/revokedAt stamps, default Date.now. */
  clock?: () => number;
  logger?: StoreLogger;
}

/** What KyselyStore needs from a dialect: how to open it and how to explain its errors. */
export interface StoreBackend extends StoreLocation {
  readonly dialect: Dialect;
  readonly readOnly: boolean;
  /** Opens, and checks that the database answers; throws a PosternError. */
  open(): Promise<Kysely<Database>>;
  /** Work beside the open database (SQLite's checkpointer): started after migrations, stopped before closing. */
  background?: { start(): void; stop(): Promise<void> };
  translate(error: unknown, op: StoreOperation): PosternError;
}

const INT8_OID = 20;

function parseInt8(value: string): number {
  // Every int8 Postern stores is below 2^53 (ms timestamps, seqs, steps, uint32 ids).
  return Number(value);
}

/** Keeps pg's parsers except int8 (bigint, count(*)), which comes back as a number. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function describePostgresUrl(databaseUrl: string): { server: string; location: string } {
  try {
    const url = new URL(databaseUrl);
    const host = url.hostname || url.searchParams.get('host') || 'localhost';
    const port = url.port || '5432';
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    const server = `${host}:${port}`;
    return { server, location: `${server}/${database}` };
  } catch {
    return { server: '(unparsable DATABASE_URL)', location: '(unparsable DATABASE_URL)' };
  }
}

export function postgresBackend(options: OpenStoreOptions & { databaseUrl: string }): StoreBackend {
  const { server, location } = describePostgresUrl(options.databaseUrl);
  const readOnly = options.readOnly === true;
  const backend: StoreBackend = {
    dialect: 'postgres',
    location,
    server,
    readOnly,
    translate: (error, op) => translateStoreError(error, backend, op),
    async open() {
      let pool: pg.Pool;
      try {
        pool = new pg.Pool({
          connectionString: options.databaseUrl,
          max: 10,
          connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
          // A server gone silent (network cut) fails queries instead of hanging them.
          keepAlive: true,
          query_timeout: options.queryTimeoutMs ?? 30_000,
          application_name: 'postern',
          types: pgTypes,
          ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
        });
      } catch (error) {
        throw backend.translate(error, { what: 'open', write: false });
      }
      // An idle client that loses its server emits 'error' on the pool; unhandled, it would end
      // the process. The next query reports the problem as STORE_UNAVAILABLE instead.
      const lost = (error: Error) => options.logger?.warn({ err: error, server }, 'PostgreSQL connection lost');
      pool.on('error', lost);
      // A client checked out when its server goes away emits 'error' on itself, not on the pool.
      pool.on('connect', (client) => client.on('error', lost));
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        await db.destroy().catch(() => undefined);
        throw backend.translate(error, { what: 'connect', write: false });
      }
      return db;
    },
  };
  return backend;
}

export function sqliteBackend(options: OpenStoreOptions): StoreBackend {
  const dataDir = resolve(options.dataDir);
  const file = join(dataDir, options.fileName ?? 'postern.sqlite');
  const readOnly = options.readOnly === true;
  const busyTimeout = options.busyTimeoutMs ?? 5000;
  const backend: StoreBackend = {
    dialect: 'sqlite',
    location: file,
    readOnly,
    translate: (error, op) => translateStoreError(error, backend, op),
    async open() {
      const op = { what: 'open', write: false };
      if (readOnly) {
        if (!existsSync(file)) {
          throw new PosternError(
            ErrorCodes.STORE_READ_ONLY,
            `SQLite database ${file} does not exist, and a store opened read-only cannot create it`,
            { details: { dialect: 'sqlite', location: file, operation: 'open' } },
          );
        }
      } else {
        try {
          mkdirSync(dataDir, { recursive: true });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
            throw new PosternError(
              ErrorCodes.STORE_READ_ONLY,
              `cannot create the data directory ${dataDir} for ${file}: ${(error as Error).message}`,
              { cause: error, details: { dialect: 'sqlite', location: file, operation: 'open' } },
            );
          }
          throw new PosternError(
            ErrorCodes.STORE_UNAVAILABLE,
            `cannot create the data directory ${dataDir} for ${file}: ${(error as Error).message}`,
            { cause: error, details: { dialect: 'sqlite', location: file, operation: 'open' } },
          );
        }
      }
      let database: Sqlite.Database | undefined;
      try {
        database = new Sqlite(file, { readonly: readOnly, fileMustExist: readOnly, timeout: busyTimeout });
        // Reading the schema checks the header: a file that is not a database fails here.
        database.prepare('SELECT count(*) AS n FROM sqlite_master').get();
        if (!readOnly) {
          database.pragma('journal_mode = WAL');
          // Checkpoints happen in a worker thread instead (walCheckpointer.ts).
          database.pragma('wal_autocheckpoint = 0');
        }
        database.pragma('synchronous = NORMAL');
        database.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeout))}`);
        database.pragma('foreign_keys = ON');
        if (options.quickCheck !== false) {
          const rows = database.pragma('quick_check') as Array<{ quick_check: string }>;
          const problems = rows.map((row) => row.quick_check).filter((text) => text !== 'ok');
          if (problems.length > 0) {
            throw new PosternError(
              ErrorCodes.STORE_CORRUPT,
              `SQLite database ${file} is damaged (quick_check: ${problems.slice(0, 3).join('; ')}); ` +
                'restore it from a backup or move it away',
              { details: { dialect: 'sqlite', location: file, operation: 'open', problems: problems.slice(0, 20) } },
            );
          }
        }
      } catch (error) {
        try {
          database?.close();
        } catch {
          // closing a half-open handle may fail too; the original error is the one to report
        }
        throw backend.translate(error, op);
      }
      return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
    },
  };
  if (!readOnly) {
    let checkpointer: WalCheckpointer | undefined;
    backend.background = {
      start() {
        checkpointer ??= startWalCheckpointer(file, (message) => options.logger?.warn({ location: file, error: message }, 'WAL checkpoint failed'));
      },
      async stop() {
        await checkpointer?.stop();
        checkpointer = undefined;
      },
    };
  }
  return backend;
}

/** The store for these options: PostgreSQL when databaseUrl is set, else SQLite. Not started. */
export function openStore(options: OpenStoreOptions): Store {
  const backend =
    options.databaseUrl !== undefined && options.databaseUrl !== ''
      ? postgresBackend({ ...options, databaseUrl: options.databaseUrl })
      : sqliteBackend(options);
  return new KyselyStore({ backend, clock: options.clock });
}
