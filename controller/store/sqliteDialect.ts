/**
 * Kysely's SQLite dialect with two connections: plain reads run on a read-only better-sqlite3
 * connection on the main thread, everything else in the writer thread (sqliteWriter.ts). So the
 * query modules stay plain Kysely, and:
 *
 * - a read is a direct call, as before: the hot path makes several primary-key reads per scan, and
 *   a thread round trip for each would cost latency. In WAL mode a reader never waits for a writer,
 *   of this process or another, and reads the last committed state; the connection is opened
 *   read-only, so SQLite itself guarantees that nothing on the main thread writes (or checkpoints);
 * - a statement that writes (INSERT, UPDATE, DELETE, DDL, anything SQLite does not call read-only)
 *   runs in the writer thread, grouped with others that queue meanwhile; it resolves once committed
 *   and fsync'd, so a read issued after it sees it;
 * - a transaction runs wholly in the writer thread, its reads included (they must see its writes);
 *   the adapter says DDL is transactional (it is, in SQLite), so migrations run in one transaction
 *   there too, and a second process that migrates at the same moment waits for the first.
 *
 * Whether a statement only reads is SQLite's own answer (sqlite3_stmt_readonly), from preparing it
 * on the read connection; prepared statements are kept by SQL text.
 */
import type Sqlite from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

import type { SqliteWriter, WriteResult, WriterTransaction } from './sqliteWriter.ts';

const STATEMENT_CACHE = 256;

export interface RoutedSqliteConfig {
  /** Opened read-only, on the main thread. */
  reader: Sqlite.Database;
  writer: SqliteWriter;
}

/** SQLite runs DDL inside transactions; Kysely's adapter says it does not, which would split migrations. */
export class TransactionalSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

/** Read statements prepared on the read connection; null marks SQL that must go to the writer. */
class ReadStatements {
  readonly #reader: Sqlite.Database;
  readonly #cache = new Map<string, Sqlite.Statement | null>();

  constructor(reader: Sqlite.Database) {
    this.#reader = reader;
  }

  get(sql: string): Sqlite.Statement | null {
    let stmt = this.#cache.get(sql);
    if (stmt !== undefined) {
      // Most recently used last, so that the oldest goes first when the cache is full.
      this.#cache.delete(sql);
      this.#cache.set(sql, stmt);
      return stmt;
    }
    try {
      const prepared = this.#reader.prepare(sql);
      stmt = prepared.readonly && prepared.reader ? prepared : null;
    } catch {
      // Not preparable here (a table made by an earlier write still in flight...): the writer decides.
      return null;
    }
    if (this.#cache.size >= STATEMENT_CACHE) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(sql, stmt);
    return stmt;
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

class RoutedConnection implements DatabaseConnection {
  readonly #reads: ReadStatements;
  readonly #writer: SqliteWriter;
  #transaction: WriterTransaction | undefined;

  constructor(reads: ReadStatements, writer: SqliteWriter) {
    this.#reads = reads;
    this.#writer = writer;
  }

  async begin(): Promise<void> {
    this.#transaction = await this.#writer.begin();
  }

  async commit(): Promise<void> {
    const transaction = this.#transaction;
    this.#transaction = undefined;
    await transaction?.commit();
  }

  async rollback(): Promise<void> {
    const transaction = this.#transaction;
    this.#transaction = undefined;
    await transaction?.rollback();
  }

  /** A transaction left open (never the case with db.transaction()) must not hold the writer. */
  async abandon(): Promise<void> {
    await this.rollback().catch(() => undefined);
  }

  async executeInTransaction(sql: string): Promise<void> {
    if (this.#transaction === undefined) throw new Error(`${sql}: no transaction`);
    await this.#transaction.execute(sql, []);
  }

  async executeQuery<R>(compiledQuery: CompiledQuery): Promise<QueryResult<R>> {
    const { sql, parameters } = compiledQuery;
    if (this.#transaction !== undefined) return asQueryResult<R>(await this.#transaction.execute(sql, parameters));
    const stmt = this.#reads.get(sql);
    if (stmt !== null) return { rows: stmt.all(parameters as unknown[]) as R[] };
    return asQueryResult<R>(await this.#writer.execute(sql, parameters));
  }

  async *streamQuery<R>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // Read whole, not iterated: an iterator paused between rows would keep a read snapshot open
    // across turns of the event loop, and a snapshot held open keeps the log from being truncated.
    const result = await this.executeQuery<R>(compiledQuery);
    for (const row of result.rows) yield { rows: [row] };
  }
}

function asQueryResult<R>(result: WriteResult): QueryResult<R> {
  return { rows: result.rows as R[], numAffectedRows: result.numAffectedRows, insertId: result.insertId };
}

class RoutedSqliteDriver implements Driver {
  readonly #config: RoutedSqliteConfig;
  readonly #reads: ReadStatements;

  constructor(config: RoutedSqliteConfig) {
    this.#config = config;
    this.#reads = new ReadStatements(config.reader);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    // Connections are cheap views: reads need no lock, and the writer serializes writes itself.
    return new RoutedConnection(this.#reads, this.#config.writer);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as RoutedConnection).begin();
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as RoutedConnection).commit();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as RoutedConnection).rollback();
  }

  async savepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await (connection as RoutedConnection).executeInTransaction(`savepoint ${quoteIdentifier(savepointName)}`);
  }

  async rollbackToSavepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await (connection as RoutedConnection).executeInTransaction(`rollback to ${quoteIdentifier(savepointName)}`);
  }

  async releaseSavepoint(connection: DatabaseConnection, savepointName: string): Promise<void> {
    await (connection as RoutedConnection).executeInTransaction(`release ${quoteIdentifier(savepointName)}`);
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    await (connection as RoutedConnection).abandon();
  }

  /** The read connection first: the writer's connection, closing last, checkpoints the log. */
  async destroy(): Promise<void> {
    this.#config.reader.close();
    await this.#config.writer.close();
  }
}

export class RoutedSqliteDialect implements Dialect {
  readonly #config: RoutedSqliteConfig;

  constructor(config: RoutedSqliteConfig) {
    this.#config = config;
  }

  createDriver(): Driver {
    return new RoutedSqliteDriver(this.#config);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new TransactionalSqliteAdapter();
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
