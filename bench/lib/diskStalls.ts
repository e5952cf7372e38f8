/**
 * Watches the disk under a benchmark for stalls. Every durable grant waits for its fsync, so when
 * the disk stops for 60 ms every door's grant waits with it: at 50 scans a second that is three or
 * four scans, enough to set a 500-scan phase's p99 on its own, and at 200/s a dozen. On the shared
 * virtual disk these benchmarks ran on, stalls of 60-390 ms came about once a minute, in any phase.
 *
 * A worker thread writes 1 KiB at the start of a file in `directory` (the store's file system) and
 * fdatasyncs it every `everyMs`; a write that took longer than `thresholdMs` is kept. A stall shorter
 * than `everyMs` can fall between two probes; a longer one cannot. The probe adds one small fsync
 * per `everyMs` to the disk's work (20 a second by default, against the 50-200 of a scan benchmark).
 *
 * Times are this thread's performance.now(), so they compare with the scans' own timestamps.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

export interface DiskStall {
  /** performance.now() of this thread when the write began. */
  start: number;
  ms: number;
}

/** The probe loop, as plain source: a worker of a .ts file would need a TypeScript loader in the thread. */
const PROBE_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { file, everyMs, thresholdMs, stop } = workerData;
const stopped = new Int32Array(stop);
const fd = fs.openSync(file, 'w', 0o600);
const block = Buffer.alloc(1024, 0x61);
const stalls = [];
while (Atomics.load(stopped, 0) === 0) {
  const t0 = performance.now();
  fs.writeSync(fd, block, 0, block.length, 0);
  fs.fdatasyncSync(fd);
  const ms = performance.now() - t0;
  if (ms > thresholdMs) stalls.push({ at: performance.timeOrigin + t0, ms });
  Atomics.wait(stopped, 0, 0, everyMs);
}
fs.closeSync(fd);
fs.rmSync(file, { force: true });
parentPort.postMessage(stalls);
`;

export class DiskStallWatch {
  readonly #worker: Worker;
  readonly #stop = new SharedArrayBuffer(4);
  readonly #stalls: Promise<DiskStall[]>;

  /** Starts probing `directory` at once. */
  constructor(directory: string, options: { everyMs?: number; thresholdMs?: number } = {}) {
    this.#worker = new Worker(PROBE_SOURCE, {
      eval: true,
      workerData: { file: path.join(directory, 'disk-stall-probe.bin'), everyMs: options.everyMs ?? 50, thresholdMs: options.thresholdMs ?? 10, stop: this.#stop },
    });
    this.#stalls = new Promise((resolve, reject) => {
      this.#worker.once('message', (stalls: Array<{ at: number; ms: number }>) => resolve(stalls.map(({ at, ms }) => ({ start: at - performance.timeOrigin, ms }))));
      this.#worker.once('error', reject);
    });
  }

  /** Stops the probe; the stalls it saw, oldest first. */
  async stop(): Promise<DiskStall[]> {
    Atomics.store(new Int32Array(this.#stop), 0, 1);
    Atomics.notify(new Int32Array(this.#stop), 0);
    return this.#stalls;
  }
}

/** The stalls that began within [from, to]. */
export function stallsBetween(stalls: readonly DiskStall[], from: number, to: number): DiskStall[] {
  return stalls.filter((s) => s.start >= from && s.start <= to);
}

/** Whether the interval [t0, t1] (a scan) overlaps one of the stalls. */
export function overlapsStall(stalls: readonly DiskStall[], t0: number, t1: number): boolean {
  return stalls.some((s) => s.start < t1 && s.start + s.ms > t0);
}
