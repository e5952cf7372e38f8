/**
 * A pool of decode worker threads shared by every camera of the controller. Each camera is a
 * channel holding at most one frame in a worker and one waiting: a newer frame replaces the
 * waiting one (counted as dropped), so a camera faster than its decoder always has its newest
 * frame decoded next, and nothing queues up behind a slow frame. Channels take turns for free
 * workers, so one busy camera cannot starve another. A worker that dies, or that is stuck on one
 * frame for longer than the decode timeout, is replaced: its frame is answered with an error, and
 * the channels go on with the next worker free.
 */
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';
import type { DecodeRequest, DecodeResponse, WorkerReady } from './decodeProtocol.ts';

/** A frame for a channel: grey pixels from a camera, or an encoded image from a kiosk page. */
export type Frame = { kind: 'gray'; width: number; height: number; data: Uint8Array } | { kind: 'image'; data: Uint8Array };

export interface DecodeResult {
  texts: string[];
  /** Time inside the worker. */
  decodeMs: number;
  /** From submit() to this result: waiting for a worker, transfer and decode. */
  latencyMs: number;
  /** The frame could not be decoded as an image of its stated size. */
  error?: string;
}

export interface DecodeChannel {
  /**
   * Hands the newest frame over; false when it replaced a waiting frame (that one is dropped).
   * `settled` hears this frame's own result, or null when a newer frame replaced it.
   */
  submit(frame: Frame, settled?: (result: DecodeResult | null) => void): boolean;
  /** Frames replaced before a worker took them, since the channel opened. */
  readonly dropped: number;
  close(): void;
}

const READY_TIMEOUT_MS = 30_000;

// The worker is the sibling decodeWorker module: .ts when running the sources, .js when built.
const ENTRY = new URL(`./decodeWorker${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
// Sources need a TypeScript loader in the worker too; the built controller does not.
const TS_LOADER = ENTRY.endsWith('.ts') ? tsxEsmApi() : null;
const BOOTSTRAP = `
const { workerData, parentPort } = require('node:worker_threads');
(async () => {
  if (workerData.loader) { const m = await import(workerData.loader); (m.register ?? m.default.register)(); }
  await import(workerData.entry);
})().catch((error) => parentPort.postMessage({ ready: false, error: String((error && error.message) || error) }));
`;

interface Job {
  channel: Channel;
  frame: Frame;
  submittedAt: number;
  settled: ((result: DecodeResult | null) => void) | undefined;
}

interface PoolWorker {
  worker: Worker;
  job: Job | null;
  /** Runs while a job is in the worker: when it fires the worker is stuck. */
  timer: NodeJS.Timeout | null;
}

class Channel implements DecodeChannel {
  waiting: Job | null = null;
  inFlight = false;
  closed = false;
  dropped = 0;

  constructor(
    private readonly pool: DecoderPool,
    readonly onResult: (result: DecodeResult) => void,
  ) {}

  submit(frame: Frame, settled?: (result: DecodeResult | null) => void): boolean {
    if (this.closed) {
      settled?.(null);
      return false;
    }
    const replaced = this.waiting;
    if (replaced !== null) {
      this.dropped++;
      replaced.settled?.(null);
    }
    this.waiting = { channel: this, frame, submittedAt: performance.now(), settled };
    this.pool.schedule(this);
    return replaced === null;
  }

  close(): void {
    this.closed = true;
    this.waiting?.settled?.(null);
    this.waiting = null;
  }
}

export interface DecoderPoolOptions {
  workers: number;
  /** A worker still decoding one frame after this long is stopped and replaced (default 5 s). */
  decodeTimeoutMs?: number;
  /** A worker that died or was stuck is replaced; this hears why. */
  onWorkerError?: (error: Error) => void;
}

/** Normal frames decode in tens of milliseconds, a 4K frame on a small board in well under a second. */
export const DEFAULT_DECODE_TIMEOUT_MS = 5000;
export const WORKER_STOPPED_ERROR = 'the decode worker stopped; it is being replaced';
/** A replacement that does not start is tried again after this, doubling up to RESPAWN_MAX_MS. */
const RESPAWN_FIRST_MS = 500;
const RESPAWN_MAX_MS = 30_000;

export class DecoderPool {
  private readonly workers: PoolWorker[] = [];
  /** Channels with a waiting frame and nothing in flight, in the order they became so. */
  private readonly turns: Channel[] = [];
  private nextId = 1;
  private running = false;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  /** Workers replaced since start(): died, or stopped when stuck. */
  replaced = 0;

  constructor(private readonly options: DecoderPoolOptions) {}

  get size(): number {
    return this.workers.length;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await Promise.all(Array.from({ length: this.options.workers }, () => this.spawn()));
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const timer of this.respawnTimers) clearTimeout(timer);
    this.respawnTimers.clear();
    for (const channel of this.turns.splice(0)) channel.close();
    for (const slot of this.workers) {
      this.clearTimer(slot);
      slot.job?.channel.close();
      slot.job?.settled?.(null);
      slot.job = null;
    }
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }

  channel(onResult: (result: DecodeResult) => void): DecodeChannel {
    return new Channel(this, onResult);
  }

  /** A channel has a new waiting frame. */
  schedule(channel: Channel): void {
    if (!channel.inFlight && !this.turns.includes(channel)) this.turns.push(channel);
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.workers) {
      if (slot.job !== null) continue;
      const channel = this.turns.shift();
      if (channel === undefined) return;
      const job = channel.waiting;
      channel.waiting = null;
      if (job === null || channel.closed) continue;
      channel.inFlight = true;
      slot.job = job;
      const id = this.nextId++;
      // The frame's bytes move to the worker instead of being copied: the channel is done with them.
      const data = transferable(job.frame.data);
      const request: DecodeRequest = job.frame.kind === 'gray' ? { id, kind: 'gray', width: job.frame.width, height: job.frame.height, data } : { id, kind: 'image', data };
      slot.worker.postMessage(request, [data]);
      const timeoutMs = this.options.decodeTimeoutMs ?? DEFAULT_DECODE_TIMEOUT_MS;
      slot.timer = setTimeout(() => {
        slot.timer = null;
        const reason = `decoding one frame took over ${timeoutMs} ms: the decode worker was stopped and is being replaced`;
        this.options.onWorkerError?.(new Error(reason));
        this.replace(slot, reason);
      }, timeoutMs);
    }
  }

  /**
   * Takes a worker out of the pool at once (no frame goes to it any more), answers its frame with
   * `reason`, ends the thread and starts another in its place.
   */
  private replace(slot: PoolWorker, reason: string): void {
    const index = this.workers.indexOf(slot);
    if (index === -1) return; // already replaced, or the pool stopped
    this.workers.splice(index, 1);
    this.replaced++;
    this.finish(slot, { texts: [], decodeMs: 0, error: reason });
    void slot.worker.terminate();
    if (this.running) this.respawn(0);
  }

  private respawn(attempt: number): void {
    this.spawn().catch((error: Error) => {
      this.options.onWorkerError?.(error);
      if (!this.running) return;
      const timer = setTimeout(() => {
        this.respawnTimers.delete(timer);
        if (this.running) this.respawn(attempt + 1);
      }, Math.min(RESPAWN_FIRST_MS * 2 ** attempt, RESPAWN_MAX_MS));
      this.respawnTimers.add(timer);
    });
  }

  private clearTimer(slot: PoolWorker): void {
    if (slot.timer !== null) clearTimeout(slot.timer);
    slot.timer = null;
  }

  private finish(slot: PoolWorker, response: Omit<DecodeResponse, 'id'>): void {
    this.clearTimer(slot);
    const job = slot.job;
    slot.job = null;
    if (job !== null) {
      const { channel } = job;
      channel.inFlight = false;
      const result: DecodeResult = { texts: response.texts, decodeMs: response.decodeMs, latencyMs: performance.now() - job.submittedAt, ...(response.error !== undefined ? { error: response.error } : {}) };
      if (!channel.closed) {
        channel.onResult(result);
        if (channel.waiting !== null) this.turns.push(channel);
      }
      job.settled?.(channel.closed ? null : result);
    }
    this.dispatch();
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { entry: ENTRY, loader: TS_LOADER } });
      const slot: PoolWorker = { worker, job: null, timer: null };
      let ready = false;
      const timer = setTimeout(() => fail(new Error(`no answer in ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        void worker.terminate();
        reject(new PosternError(ErrorCodes.DRIVER_FAILED, `QR decode worker did not start: ${error.message}`, { cause: error }));
      };
      worker.on('message', (message: DecodeResponse | WorkerReady) => {
        if ('ready' in message) {
          if (!message.ready) return fail(new Error(message.error ?? 'unknown error'));
          ready = true;
          clearTimeout(timer);
          if (!this.running) {
            // A replacement that came up after the pool stopped.
            void worker.terminate();
            return resolve();
          }
          this.workers.push(slot);
          resolve();
          this.dispatch();
          return;
        }
        this.finish(slot, message);
      });
      // An uncaught error in the worker comes as 'error', and its end as 'exit' right after.
      let crash: Error | null = null;
      worker.on('error', (error) => {
        if (!ready) return fail(error);
        crash = error;
      });
      worker.on('exit', (code) => {
        if (!ready) return fail(new Error('the worker exited'));
        if (!this.workers.includes(slot)) return; // replaced on purpose, or the pool stopped
        this.options.onWorkerError?.(crash ?? new Error(`the decode worker exited with code ${code}`));
        this.replace(slot, WORKER_STOPPED_ERROR);
      });
    });
  }
}

function transferable(bytes: Uint8Array): ArrayBuffer {
  // Only a view over a whole ArrayBuffer of its own can be moved. Anything else is copied once:
  // a small Buffer is a view into Node's shared allocation pool, which must never be moved away
  // (and Buffer's slice() is a view too, not a copy).
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

/** tsx's ESM register(), by file: an eval'd worker has no module path to resolve a package from. */
function tsxEsmApi(): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  return pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
}
