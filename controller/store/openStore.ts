/**
 * Chooses and opens the database: PostgreSQL when a URL is given (DATABASE_URL), otherwise SQLite
 * in the data directory. `openStore()` returns a Store that is not open yet; its `start()` opens
 * the database, checks it, migrates it and makes sure it can be written, so that every store
 * problem shows at start as a PosternError naming the file or the server (see storeErrors.ts).
 * A store written by a newer Postern is refused (STORE_TOO_NEW, migrate.ts); where there is no
 * store yet, start() makes a new, empty one (warned about, and `store.created` is true) unless
 * `create: false` says not to (STORE_UNAVAILABLE "no store at ...").
 * The dialects are in sqliteBackend.ts and postgresBackend.ts.
 */
import { postgresBackend } from './postgresBackend.ts';
import { sqliteBackend, type SqliteBackendOptions } from './sqliteBackend.ts';
import { KyselyStore } from './store.ts';
import type { Store } from './storeTypes.ts';

export type { OpenStoreOptions, StoreBackend, StoreLogger } from './storeBackend.ts';
export { describePostgresUrl, postgresBackend } from './postgresBackend.ts';
export { sqliteBackend, type SqliteBackendOptions } from './sqliteBackend.ts';
export { SQLITE_WAL_LIMIT_BYTES } from './sqliteWriter.ts';

/**
 * The store for these options: PostgreSQL when databaseUrl is set, else SQLite. Not started.
 * `writerThread` (SQLite only, default true) is false for a CLI command: see sqliteBackend.ts.
 */
export function openStore(options: SqliteBackendOptions): Store {
  const backend =
    options.databaseUrl !== undefined && options.databaseUrl !== ''
      ? postgresBackend({ ...options, databaseUrl: options.databaseUrl })
      : sqliteBackend(options);
  return new KyselyStore({ backend, clock: options.clock, create: options.create, logger: options.logger });
}
