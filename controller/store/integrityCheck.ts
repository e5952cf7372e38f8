/**
 * SQLite's `PRAGMA quick_check`, in a thread of its own after start, on a read-only connection.
 *
 * It reads the whole file: 1.8 s of a 2.26 s start on a 1.1 GB store, when it ran at every start.
 * Start still reads the header and the schema (a file that is not a database, or whose schema is
 * damaged, fails start with STORE_CORRUPT); the full check now runs beside the running controller
 * and reports damage through Store.onProblem (kind 'integrity', STORE_CORRUPT), the store's logger,
 * and Store.integrityCheck(). Why not only after an unclean shutdown: with WAL and
 * synchronous = FULL a crash or power cut does not damage the file (SQLite recovers the log), so
 * a crash is no sign of damage; damage comes from the disk or from outside writes, at any time, and
 * would go unseen at every clean start. Why not in the writer thread: it would hold the writer for
 * the whole read. A read-only reader never blocks writers in WAL mode; it only keeps the log from
 * being truncated while it runs.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import type { StoreIntegrity } from './storeTypes.ts';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db;
try {
  db = new Database(workerData.file, { readonly: true, fileMustExist: true, timeout: 5000 });
  const rows = db.pragma('quick_check');
  parentPort.postMessage({ problems: rows.map((row) => row.quick_check).filter((text) => text !== 'ok') });
} catch (error) {
  parentPort.postMessage({ error: String((error && error.message) || error), code: error && error.code });
} finally {
  try {
    if (db) db.close();
  } catch {
    // the answer is sent already
  }
}
`;

/** How many of quick_check's lines are kept (it gives up to 100). */
const MAX_PROBLEMS = 20;

export interface IntegrityCheck {
  readonly result: Promise<StoreIntegrity>;
  /** Ends the thread if it still runs; result becomes 'skipped'. */
  stop(): void;
}

export function startIntegrityCheck(file: string): IntegrityCheck {
  let settle!: (result: StoreIntegrity) => void;
  const result = new Promise<StoreIntegrity>((resolve) => (settle = resolve));
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(SOURCE, { eval: true, workerData: { file, module } });
  // Never keeps a process alive on its own: a CLI command ends before a long check would.
  worker.unref();
  worker.on('message', (message: { problems?: string[]; error?: string; code?: string }) => {
    if (message.problems !== undefined) {
      settle(message.problems.length === 0 ? { status: 'ok' } : { status: 'corrupt', problems: message.problems.slice(0, MAX_PROBLEMS) });
    } else if (typeof message.code === 'string' && (message.code === 'SQLITE_NOTADB' || message.code.startsWith('SQLITE_CORRUPT'))) {
      settle({ status: 'corrupt', problems: [message.error ?? message.code] });
    } else {
      settle({ status: 'failed', message: message.error ?? 'no answer' });
    }
  });
  worker.on('error', (error) => settle({ status: 'failed', message: error.message }));
  worker.on('exit', () => settle({ status: 'skipped', reason: 'the check was stopped before it finished' }));
  return {
    result,
    stop() {
      settle({ status: 'skipped', reason: 'the store was stopped before the check finished' });
      // The thread ends when quick_check returns (native code is not interrupted); unref'd, it
      // holds nothing up meanwhile.
      void worker.terminate();
    },
  };
}
