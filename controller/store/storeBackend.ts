/**
 * What KyselyStore needs from a dialect (sqliteBackend.ts, postgresBackend.ts), and the options
 * openStore() takes for either. The store class owns the lifecycle and argument checks; a backend
 * owns its connections, its controller claim and its background work.
 */
import type { Kysely } from 'kysely';

import type { PosternError } from '../../machines/shared/errors.ts';
import type { Database } from './schema.ts';
import type { StoreLocation, StoreOperation } from './storeErrors.ts';
import type { StoreProblems } from './storeProblems.ts';
import type { Dialect, StoreIntegrity } from './storeTypes.ts';

/** The few logger methods the store uses; a pino logger fits. `error` and `info` fall back to `warn`. */
export interface StoreLogger {
  warn(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}

export interface OpenStoreOptions {
  /** postgres://user:password@host:port/database; when set, PostgreSQL is used. */
  databaseUrl?: string;
  /** Directory of the SQLite file, created (mode 0700) when missing (unless `create: false`). */
  dataDir: string;
  /**
   * Whether start() may make a new, empty store: default true (the controller). With false (CLI
   * commands other than `start`, unless given `--create`), start() refuses with STORE_UNAVAILABLE
   * "no store at ..." when there is none yet: no SQLite file in the data directory (nothing is
   * made, not even the directory), or a PostgreSQL database without Postern's schema. Either way
   * Store.created tells afterwards whether start() made one.
   */
  create?: boolean;
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
  /**
   * SQLite: how long a write (in the writer thread) waits for another process's lock before it
   * fails with STORE_UNAVAILABLE, default 5000 ms.
   */
  busyTimeoutMs?: number;
  /**
   * SQLite: how long a read on the main thread waits for a lock, default 100 ms. WAL readers are
   * not blocked by writers, so this only matters while another process recovers or locks the
   * file exclusively; the wait blocks the event loop, hence short.
   */
  readBusyTimeoutMs?: number;
  /**
   * SQLite: the -wal file size past which the writer thread runs a truncating checkpoint, default
   * 64 MiB (SQLITE_WAL_LIMIT_BYTES). Tests pass a small one.
   */
  walLimitBytes?: number;
  /**
   * SQLite: run `PRAGMA quick_check` in a background thread after start (it reads the whole file:
   * about a second per few hundred MB). Default true. See Store.integrityCheck(). The header and
   * schema are always read at start.
   */
  quickCheck?: boolean;
  /** Time source for createdAt/revokedAt stamps, default Date.now. */
  clock?: () => number;
  logger?: StoreLogger;
}

/** A controller's hold on the store for its site (Store.claimController); released by release(). */
export interface StoreClaim {
  readonly siteId: string;
  release(): Promise<void>;
}

/** What KyselyStore needs from a dialect: how to open it and how to explain its errors. */
export interface StoreBackend extends StoreLocation {
  readonly dialect: Dialect;
  readonly readOnly: boolean;
  /** Opens, and checks that the database answers; throws a PosternError. */
  open(): Promise<Kysely<Database>>;
  /** Work beside the open database (SQLite's integrity check): started after migrations, stopped before closing. */
  background?: { start(): void; stop(): Promise<void> };
  /** What the background integrity check found; 'skipped' where there is none. */
  integrityCheck(): Promise<StoreIntegrity>;
  /** Claims the store for a site's controller; throws STORE_IN_USE when another holds it. */
  claim(siteId: string): Promise<StoreClaim>;
  translate(error: unknown, op: StoreOperation): PosternError;
  /** Where problems found after start are reported (Store.onProblem). */
  readonly problems: StoreProblems;
}
