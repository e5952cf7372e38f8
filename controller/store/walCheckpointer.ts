/**
 * SQLite's write-ahead log is copied into the database (a checkpoint, with two fsyncs) by whichever
 * commit crosses the autocheckpoint threshold: on the event loop, in the middle of a scan. With
 * automatic checkpoints off, this worker thread checkpoints on its own connection once a second,
 * so decisions never wait for the disk. PASSIVE never blocks writers; the main connection's close
 * makes the final checkpoint.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file, { timeout: 1000 });
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
};
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

export function startWalCheckpointer(file: string, onError: (message: string) => void, everyMs = 1000): WalCheckpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, module, everyMs } });
  worker.on('message', (message: { error?: string }) => message.error && onError(message.error));
  worker.on('error', (error) => onError(error.message));
  // The checkpointer never keeps a process alive on its own.
  worker.unref();
  return {
    async stop() {
      if (worker.threadId === -1) return;
      // Held while it stops, so that the process waits for its connection to close.
      worker.ref();
      const exited = once(worker, 'exit');
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
