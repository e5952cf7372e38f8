/**
 * The main thread's side of SQLite's writer thread (sqliteWriterSource.ts): every write and every
 * transaction of a SQLite store goes through here, so the event loop never waits for a lock held by
 * another process (busy_timeout) or for an fsync. Nothing here blocks: each call returns a promise
 * that settles when the thread answers.
 *
 * Group commit: one request is in the thread at a time. Statements that arrive meanwhile queue up
 * and go together as the next batch, committed in one transaction (one fsync), each in its own
 * savepoint: as if they had run one after another, which they may, since none of their callers
 * had an answer yet. A transaction (Kysely's db.transaction()) holds the thread alone from
 * BEGIN IMMEDIATE to COMMIT or ROLLBACK; what arrives meanwhile waits for it.
 *
 * When the thread dies, the requests it held fail with STORE_UNAVAILABLE (a write in it may or may
 * not have been committed), the problem is reported (kind 'writer-exited'), and the next write
 * starts a new thread (at most one start a second).
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { SQLITE_WRITER_SOURCE } from './sqliteWriterSource.ts';
import type { StoreProblemKind } from './storeTypes.ts';

/** Past this -wal size the writer runs a truncating checkpoint. */
export const SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/** Statements per group commit at most. */
const MAX_BATCH = 256;
/** How long a truncating checkpoint waits for readers. */
const CHECKPOINT_BUSY_MS = 100;
const CLOSE_TIMEOUT_MS = 10_000;
const RESTART_INTERVAL_MS = 1000;
/** Statements that cannot run inside a transaction or change it: never grouped. */
const SOLO = /^\s*(pragma|vacuum|attach|detach|begin|commit|end|rollback|savepoint|release)\b/i;

export interface SqliteWriterOptions {
  file: string;
  busyTimeoutMs: number;
  walLimitBytes?: number;
  checkpointEveryMs?: number;
  /** Problems of the thread itself (it died, checkpoints fail). */
  onProblem(kind: StoreProblemKind, error: PosternError): void;
}

export interface WriteResult {
  rows: unknown[];
  numAffectedRows?: bigint;
  insertId?: bigint;
}

/** A statement's error from the thread, rebuilt: `code` is SQLite's (SQLITE_CONSTRAINT_PRIMARYKEY, ...). */
export class SqliteWriterError extends Error {
  readonly code: string | undefined;
  /** For SQLITE_BUSY: how long the write waited for the other connection's lock. */
  readonly waitedMs: number | undefined;

  constructor(error: WireError) {
    super(error.message);
    this.name = 'SqliteError';
    this.code = error.code;
    this.waitedMs = error.waitedMs;
  }
}

/** An open transaction in the writer thread; every statement of it runs there. */
export interface WriterTransaction {
  execute(sql: string, params: readonly unknown[]): Promise<WriteResult>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

interface WireError {
  message: string;
  code?: string;
  waitedMs?: number;
}

interface WireResult {
  rows?: unknown[];
  changes?: number;
  lastInsertRowid?: number | bigint;
}

type WireReply = { id: number; result?: WireResult; results?: Array<({ ok: true } & WireResult) | { ok: false; error: WireError }>; error?: WireError };

interface StatementJob {
  kind: 'statement';
  sql: string;
  params: readonly unknown[];
  resolve(result: WriteResult): void;
  reject(error: Error): void;
}

interface TransactionJob {
  kind: 'transaction';
  resolve(transaction: WriterTransaction): void;
  reject(error: Error): void;
}

type Job = StatementJob | TransactionJob;

interface Thread {
  worker: Worker;
  /** The one request the thread is answering. */
  inFlight: { id: number; resolve(reply: WireReply): void; reject(error: Error): void } | undefined;
  exited: boolean;
}

/** Blobs come back from the thread as Uint8Array; callers expect Buffers, as better-sqlite3 gives. */
function toBuffers(rows: unknown[]): unknown[] {
  for (const row of rows) {
    if (row === null || typeof row !== 'object') continue;
    const record = row as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (value instanceof Uint8Array && !Buffer.isBuffer(value)) record[key] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
  }
  return rows;
}

function toWriteResult(result: WireResult): WriteResult {
  return {
    rows: toBuffers(result.rows ?? []),
    numAffectedRows: result.changes === undefined ? undefined : BigInt(result.changes),
    insertId: result.lastInsertRowid === undefined ? undefined : BigInt(result.lastInsertRowid),
  };
}

/** Counts since the writer was made: how well group commit groups, for tests and metrics. */
export interface SqliteWriterStats {
  /** Batches sent to the thread (each one commit). */
  batches: number;
  /** Statements in them. */
  statements: number;
  transactions: number;
  /** Threads started (1 + restarts). */
  threads: number;
}

export class SqliteWriter {
  readonly stats: SqliteWriterStats = { batches: 0, statements: 0, transactions: 0, threads: 0 };
  readonly #options: SqliteWriterOptions;
  readonly #module = createRequire(import.meta.url).resolve('better-sqlite3');
  readonly #queue: Job[] = [];
  #thread: Thread | undefined;
  #starting: Promise<void> | undefined;
  #nextStartAt = 0;
  /** A batch or a transaction holds the thread. */
  #busy = false;
  #closed = false;
  #nextId = 1;
  #drained: (() => void) | undefined;

  constructor(options: SqliteWriterOptions) {
    this.#options = options;
  }

  /** Starts the thread and opens its connection; rejects with the driver's error (SqliteWriterError). */
  async start(): Promise<void> {
    this.#closed = false;
    await this.#ensureThread();
  }

  /** Runs one statement outside any transaction, grouped with others that queue meanwhile. */
  execute(sql: string, params: readonly unknown[]): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(this.#closedError());
      this.#queue.push({ kind: 'statement', sql, params, resolve, reject });
      this.#pump();
    });
  }

  /** BEGIN IMMEDIATE in the thread, once everything queued before has run. */
  begin(): Promise<WriterTransaction> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(this.#closedError());
      this.#queue.push({ kind: 'transaction', resolve, reject });
      this.#pump();
    });
  }

  /** Lets what is queued finish, then closes the connection and ends the thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#busy || this.#queue.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    const thread = this.#thread;
    this.#thread = undefined;
    if (thread === undefined || thread.exited) return;
    thread.worker.ref();
    const exited = once(thread.worker, 'exit');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#request(thread, { type: 'close' }).then(() => exited),
        new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
      ]);
    } catch {
      // A connection that fails to close is closed by ending the thread below.
    } finally {
      clearTimeout(timer);
    }
    if (!thread.exited) await thread.worker.terminate();
  }

  /** For tests: ends the thread as a crash would. */
  async kill(): Promise<void> {
    await this.#thread?.worker.terminate();
  }

  #closedError(): PosternError {
    return new PosternError(ErrorCodes.STORE_UNAVAILABLE, `the SQLite store ${this.#options.file} is closed`);
  }

  #lostError(detail: string, outcome = 'the write it held may or may not have been committed'): PosternError {
    return new PosternError(
      ErrorCodes.STORE_UNAVAILABLE,
      `the writer thread of SQLite database ${this.#options.file} stopped (${detail}); ${outcome}`,
      { details: { dialect: 'sqlite', location: this.#options.file } },
    );
  }

  async #ensureThread(): Promise<void> {
    if (this.#thread !== undefined && !this.#thread.exited) return;
    this.#starting ??= this.#spawn().finally(() => (this.#starting = undefined));
    return this.#starting;
  }

  async #spawn(): Promise<void> {
    const wait = this.#nextStartAt - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    this.#nextStartAt = Date.now() + RESTART_INTERVAL_MS;
    const { file, busyTimeoutMs } = this.#options;
    const worker = new Worker(SQLITE_WRITER_SOURCE, {
      eval: true,
      workerData: {
        module: this.#module,
        file,
        busyTimeoutMs,
        walLimitBytes: this.#options.walLimitBytes ?? SQLITE_WAL_LIMIT_BYTES,
        checkpointEveryMs: this.#options.checkpointEveryMs ?? 1000,
        checkpointBusyMs: CHECKPOINT_BUSY_MS,
      },
    });
    this.stats.threads += 1;
    const thread: Thread = { worker, inFlight: undefined, exited: false };
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (message: WireReply | { type: 'ready' } | { type: 'open-failed' | 'problem'; kind?: StoreProblemKind; error: WireError }) => {
        if ('type' in message) {
          if (message.type === 'ready') {
            ready = true;
            resolve();
          } else if (message.type === 'open-failed') {
            reject(new SqliteWriterError(message.error));
          } else if (message.type === 'problem') {
            const error = new SqliteWriterError(message.error);
            this.#options.onProblem(
              message.kind ?? 'wal-checkpoint',
              new PosternError(ErrorCodes.STORE_WRITE_FAILED, `checkpoint of SQLite database ${file} failed: ${error.message}`, { cause: error }),
            );
          }
          return;
        }
        const inFlight = thread.inFlight;
        if (inFlight?.id === message.id) {
          thread.inFlight = undefined;
          inFlight.resolve(message);
        }
      });
      let lastError: Error | undefined;
      worker.on('error', (error) => (lastError = error));
      worker.on('exit', (code) => {
        thread.exited = true;
        const detail = lastError?.message ?? `exit code ${code}`;
        if (!ready) reject(new SqliteWriterError({ message: `the writer thread ended before opening the database (${detail})` }));
        const inFlight = thread.inFlight;
        thread.inFlight = undefined;
        const lost = this.#lostError(detail);
        inFlight?.reject(lost);
        if (this.#thread === thread) {
          this.#thread = undefined;
          if (!this.#closed) this.#options.onProblem('writer-exited', lost);
        }
      });
    });
    this.#thread = thread;
    this.#refresh();
  }

  /** Sends one message and waits for its answer; rejects when the thread dies first. */
  #request(thread: Thread, message: Record<string, unknown>): Promise<WireReply> {
    return new Promise((resolve, reject) => {
      if (thread.exited) return reject(this.#lostError('it had exited'));
      const id = this.#nextId++;
      thread.inFlight = { id, resolve, reject };
      thread.worker.postMessage({ ...message, id });
    });
  }

  /** Keeps the process alive while writes are pending, and only then. */
  #refresh(): void {
    const thread = this.#thread;
    if (thread === undefined || thread.exited) return;
    if (this.#busy || this.#queue.length > 0) thread.worker.ref();
    else thread.worker.unref();
  }

  #pump(): void {
    this.#refresh();
    if (this.#busy) return;
    if (this.#queue.length === 0) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained?.();
      return;
    }
    this.#busy = true;
    void this.#next().finally(() => {
      this.#busy = false;
      this.#pump();
    });
  }

  /** Runs the head of the queue: a transaction alone, or as many statements as wait, together. */
  async #next(): Promise<void> {
    try {
      await this.#ensureThread();
    } catch (error) {
      // No connection: everything queued fails with the reason; the next call tries again.
      for (const job of this.#queue.splice(0)) job.reject(error as Error);
      return;
    }
    const thread = this.#thread;
    const head = this.#queue[0];
    if (thread === undefined || head === undefined) return;
    if (head.kind === 'transaction') {
      this.#queue.shift();
      this.stats.transactions += 1;
      await this.#runTransaction(thread, head);
      return;
    }
    const batch: StatementJob[] = [];
    while (batch.length < MAX_BATCH) {
      const job = this.#queue[0];
      if (job?.kind !== 'statement') break;
      if (SOLO.test(job.sql) && batch.length > 0) break;
      batch.push(job);
      this.#queue.shift();
      if (SOLO.test(job.sql)) break;
    }
    this.stats.batches += 1;
    this.stats.statements += batch.length;
    let reply: WireReply;
    try {
      reply = await this.#request(thread, { type: 'batch', statements: batch.map(({ sql, params }) => ({ sql, params })) });
    } catch (error) {
      for (const job of batch) job.reject(error as Error);
      return;
    }
    batch.forEach((job, i) => {
      const outcome = reply.results?.[i];
      if (outcome === undefined) job.reject(new SqliteWriterError(reply.error ?? { message: 'no answer for this statement' }));
      else if (outcome.ok) job.resolve(toWriteResult(outcome));
      else job.reject(new SqliteWriterError(outcome.error));
    });
  }

  /** Hands the thread to a transaction until it commits or rolls back (or the thread dies). */
  async #runTransaction(thread: Thread, job: TransactionJob): Promise<void> {
    const call = async (message: Record<string, unknown>): Promise<WireResult> => {
      const reply = await this.#request(thread, message);
      if (reply.error !== undefined) throw new SqliteWriterError(reply.error);
      return reply.result ?? {};
    };
    try {
      await call({ type: 'begin' });
    } catch (error) {
      job.reject(error as Error);
      return;
    }
    let open = true;
    let lost: PosternError | undefined;
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const end = () => {
      open = false;
      ended();
    };
    const exited = (code: number) => {
      if (!open) return;
      // SQLite rolled the transaction back as the thread's connection closed.
      lost = this.#lostError(`exit code ${code}`, 'the open transaction was rolled back');
      end();
    };
    thread.worker.once('exit', exited);
    const closedError = () => lost ?? new PosternError(ErrorCodes.STORE_UNAVAILABLE, `the transaction on SQLite database ${this.#options.file} has ended`);
    job.resolve({
      execute: async (sql, params) => {
        if (!open) throw closedError();
        return toWriteResult(await call({ type: 'exec', sql, params }));
      },
      commit: async () => {
        if (!open) throw closedError();
        try {
          await call({ type: 'commit' });
        } finally {
          end();
        }
      },
      rollback: async () => {
        if (!open) return;
        try {
          await call({ type: 'rollback' });
        } finally {
          end();
        }
      },
    });
    await done;
    thread.worker.off('exit', exited);
  }
}
