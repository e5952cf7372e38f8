/**
 * An experiment, not the controller as shipped: POSTERN_BENCH_CHECKPOINT=worker moves SQLite's WAL
 * checkpoints off the controller's thread, to measure what they cost the hot path.
 *
 * As shipped, every SQLite connection checkpoints automatically (wal_autocheckpoint, 1000 pages):
 * the commit that crosses the threshold copies the WAL into the database and fsyncs both files,
 * synchronously, on the event loop. With the experiment on, connections opened afterwards get
 * wal_autocheckpoint = 0 (better-sqlite3's pragma() is wrapped, in this process only), and a worker
 * thread with its own connection runs PRAGMA wal_checkpoint(PASSIVE) every second instead.
 */
import { Worker } from 'node:worker_threads';

import Sqlite from 'better-sqlite3';

export const checkpointExperiment = process.env.POSTERN_BENCH_CHECKPOINT === 'worker';

let wrapped = false;

function disableAutocheckpoint(): void {
  if (wrapped) return;
  wrapped = true;
  const original = Sqlite.prototype.pragma;
  Sqlite.prototype.pragma = function pragma(this: Sqlite.Database, source: string, options?: Sqlite.PragmaOptions) {
    const result = original.call(this, source, options);
    if (/^journal_mode\s*=\s*WAL$/i.test(source.trim())) original.call(this, 'wal_autocheckpoint = 0');
    return result;
  } as typeof original;
}

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Sqlite = require('better-sqlite3');
const db = new Sqlite(workerData.file, { timeout: 5000 });
let runs = 0;
const timer = setInterval(() => { db.pragma('wal_checkpoint(PASSIVE)'); runs++; }, workerData.everyMs);
parentPort.on('message', () => { clearInterval(timer); db.pragma('wal_checkpoint(PASSIVE)'); db.close(); parentPort.postMessage(runs + 1); });
`;

/** Starts the checkpointing worker on `file` (the experiment must be on); stop() ends it. */
export function startCheckpointWorker(file: string, everyMs = 1000): { stop(): Promise<number> } {
  disableAutocheckpoint();
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, everyMs } });
  return {
    stop: () =>
      new Promise<number>((resolve, reject) => {
        worker.once('message', (runs: number) => {
          void worker.terminate().then(() => resolve(runs));
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}

/** Call before any store is opened, so every connection of the run is covered. */
export function prepareCheckpointExperiment(): void {
  if (checkpointExperiment) disableAutocheckpoint();
}
