/**
 * AuditTrail: numbers, chains and stores one controller's audit events.
 *
 * - append() assigns the seq and the hash synchronously, so events are chained in call order even
 *   when many appends run at once. Each event goes into an in-memory outbox, which is written to
 *   the store in order; events that arrive while a write is in flight go together into the next
 *   appendAudit call.
 * - The promise of append() resolves when the event is in the store, or, if the store fails, as
 *   soon as that write has failed, or after `maxWaitMs` (default 2 s) if the store hangs: a door
 *   decision never fails, nor waits long, because of the audit store. The event then stays in the
 *   outbox (`pending` tells how many) and a timer retries with backoff (0.5 s doubling to 30 s).
 *   While the store is failing, new events resolve at once. The promise never rejects once started.
 * - The outbox is never trimmed: dropping audit events silently would defeat the chain, so it grows
 *   and a warning is logged at every 10_000 events. Watch `pending` for health; at about half a
 *   kilobyte per event, a day of a busy door is a few megabytes.
 * - stop() clears the timer, waits for a write in flight, and tries once more; events still pending
 *   stay in memory (a later start() + flush would write them) and are lost if the process ends.
 * - `at` never runs backwards within a chain: an event stamped before the previous one gets the
 *   previous one's time, so a clock stepping back does not look like tampering.
 *
 * This class does not look inside events. Callers pass a subject id, never the scanned code or any
 * secret; `data` must hold no credential text.
 */
import { ErrorCodes, PosternError, isPosternError } from '../../machines/shared/errors.ts';
import type { AuditEvent, Store } from '../store/storeTypes.ts';
import { GENESIS_HASH, hashEvent } from './auditChain.ts';

/** An event as callers give it: the trail adds controllerId, seq, prevHash and hash. */
export type AuditEntry = Partial<Omit<AuditEvent, 'controllerId' | 'seq' | 'prevHash' | 'hash' | 'type'>> & {
  type: AuditEvent['type'];
};

export type AuditListener = (event: AuditEvent) => void;

/** The logger methods used; a pino logger fits. */
export interface AuditLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AuditTrailOptions {
  store: Pick<Store, 'appendAudit' | 'lastAudit'>;
  controllerId: string;
  logger?: AuditLogger;
  clock?: () => number;
  /** Events per appendAudit call, default 1000. */
  maxBatch?: number;
  /** The longest an append() waits for its write before resolving anyway, default 2000 ms. */
  maxWaitMs?: number;
  /** Retry backoff after a failed write: first and longest delay, default 500 ms and 30 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

interface Pending {
  event: AuditEvent;
  settle: (() => void) | undefined;
  watchdog: NodeJS.Timeout | undefined;
}

const WARN_EVERY = 10_000;

/** A JSON round trip, so that the event returned is exactly what the store gives back later. */
function plainData(data: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (data === null || data === undefined) return null;
  return JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
}

export class AuditTrail {
  readonly controllerId: string;
  readonly #store: AuditTrailOptions['store'];
  readonly #logger: AuditLogger | undefined;
  readonly #clock: () => number;
  readonly #maxBatch: number;
  readonly #maxWait: number;
  readonly #retryMin: number;
  readonly #retryMax: number;

  #started = false;
  #seq = 0;
  #hash = GENESIS_HASH;
  #at = Number.NEGATIVE_INFINITY;
  #outbox: Pending[] = [];
  #writing: Promise<void> | undefined;
  #failing = false;
  #retryDelay: number;
  #timer: NodeJS.Timeout | undefined;
  #listeners = new Set<AuditListener>();

  constructor(options: AuditTrailOptions) {
    this.#store = options.store;
    this.controllerId = options.controllerId;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.#maxWait = options.maxWaitMs ?? 2000;
    this.#retryMin = options.retryMinMs ?? 500;
    this.#retryMax = options.retryMaxMs ?? 30_000;
    this.#retryDelay = this.#retryMin;
  }

  /** Events appended but not yet in the store. */
  get pending(): number {
    return this.#outbox.length;
  }

  /** The seq and hash of the newest event appended (stored or not). */
  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#hash };
  }

  /** Continues the chain from the newest stored event of this controller (or from the outbox). */
  async start(): Promise<void> {
    if (this.#started) return;
    if (this.#outbox.length === 0) {
      const last = await this.#store.lastAudit(this.controllerId);
      this.#seq = last?.seq ?? 0;
      this.#hash = last?.hash ?? GENESIS_HASH;
      this.#at = last?.at ?? Number.NEGATIVE_INFINITY;
    }
    this.#started = true;
    this.#failing = false;
    this.#retryDelay = this.#retryMin;
    if (this.#outbox.length > 0) void this.flush();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#clearTimer();
    await this.#writing;
    if (this.#outbox.length > 0) await this.#drain();
    this.#clearTimer();
    if (this.#outbox.length > 0) {
      this.#logger?.error(
        { controllerId: this.controllerId, pending: this.#outbox.length, firstSeq: this.#outbox[0]?.event.seq },
        'audit events could not be written before stop',
      );
    }
  }

  /** Calls listener synchronously for every event appended from now on; returns the unsubscribe. */
  onAppend(listener: AuditListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  append(entry: AuditEntry): Promise<AuditEvent> {
    if (!this.#started) {
      return Promise.reject(
        new PosternError(ErrorCodes.STORE_UNAVAILABLE, `audit trail ${this.controllerId} is not started`),
      );
    }
    const at = Math.max(entry.at ?? this.#clock(), this.#at);
    const unsigned: Omit<AuditEvent, 'hash'> = {
      controllerId: this.controllerId,
      seq: this.#seq + 1,
      at,
      type: entry.type,
      door: entry.door ?? null,
      scanner: entry.scanner ?? null,
      subject: entry.subject ?? null,
      kind: entry.kind ?? null,
      issuer: entry.issuer ?? null,
      verdict: entry.verdict ?? null,
      reason: entry.reason ?? null,
      actor: entry.actor ?? null,
      data: plainData(entry.data),
      prevHash: this.#hash,
    };
    const event: AuditEvent = { ...unsigned, hash: hashEvent(this.#hash, unsigned) };
    this.#seq = event.seq;
    this.#hash = event.hash;
    this.#at = at;

    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#logger?.warn({ err: error, seq: event.seq }, 'audit listener failed');
      }
    }

    const item: Pending = { event, settle: undefined, watchdog: undefined };
    const stored = new Promise<AuditEvent>((resolve) => {
      item.settle = () => resolve(event);
    });
    this.#outbox.push(item);
    if (this.#outbox.length % WARN_EVERY === 0) {
      this.#logger?.warn({ controllerId: this.controllerId, pending: this.#outbox.length }, 'audit outbox is growing: store writes fail');
    }
    if (this.#failing) {
      // The store is down and a retry is scheduled: do not hold the caller.
      this.#settle(item);
    } else {
      item.watchdog = setTimeout(() => {
        if (item.settle === undefined) return;
        this.#logger?.warn({ controllerId: this.controllerId, seq: event.seq, waitedMs: this.#maxWait }, 'audit store is slow; not waiting longer');
        this.#settle(item);
      }, this.#maxWait);
      item.watchdog.unref?.();
      void this.flush();
    }
    return stored;
  }

  /** Writes the outbox now (cancelling a scheduled retry); resolves when the attempt is over. */
  async flush(): Promise<void> {
    if (this.#writing !== undefined) {
      await this.#writing;
      if (this.#outbox.length === 0 || this.#failing) return;
    }
    this.#clearTimer();
    await this.#drain();
  }

  /** Writes batches until the outbox is empty or a write fails; one run at a time. */
  #drain(): Promise<void> {
    if (this.#writing !== undefined) return this.#writing;
    if (this.#outbox.length === 0) return Promise.resolve();
    const run = this.#writeAll().finally(() => {
      if (this.#writing === run) this.#writing = undefined;
    });
    this.#writing = run;
    return run;
  }

  async #writeAll(): Promise<void> {
    while (this.#outbox.length > 0) {
      const batch = this.#outbox.slice(0, this.#maxBatch);
      try {
        await this.#store.appendAudit(batch.map((item) => item.event));
      } catch (error) {
        if (await this.#reconcile(error)) continue;
        this.#fail(error);
        return;
      }
      this.#outbox.splice(0, batch.length);
      for (const item of batch) this.#settle(item);
      if (this.#failing) {
        this.#logger?.warn({ controllerId: this.controllerId, pending: this.#outbox.length }, 'audit store writes again');
      }
      this.#failing = false;
      this.#retryDelay = this.#retryMin;
    }
  }

  /**
   * A CONFLICT can mean that an earlier write did commit although its answer was lost: then the
   * store's newest event is one of ours, and what it covers leaves the outbox. Returns whether the
   * outbox changed (so the write is tried again at once).
   */
  async #reconcile(error: unknown): Promise<boolean> {
    if (!isPosternError(error, ErrorCodes.CONFLICT)) return false;
    let last: AuditEvent | undefined;
    try {
      last = await this.#store.lastAudit(this.controllerId);
    } catch {
      return false;
    }
    if (last === undefined) return false;
    const index = this.#outbox.findIndex((item) => item.event.seq === last.seq);
    if (index < 0 || this.#outbox[index]?.event.hash !== last.hash) {
      this.#logger?.error(
        { controllerId: this.controllerId, storedSeq: last.seq, firstPending: this.#outbox[0]?.event.seq },
        'audit chain conflict: another writer uses this controller id',
      );
      return false;
    }
    const done = this.#outbox.splice(0, index + 1);
    for (const item of done) this.#settle(item);
    return true;
  }

  #fail(error: unknown): void {
    if (!this.#failing) {
      this.#logger?.warn(
        { err: error, controllerId: this.controllerId, pending: this.#outbox.length },
        'audit events could not be written; keeping them and retrying',
      );
    }
    this.#failing = true;
    // The caller's decision must not wait for a dead store.
    for (const item of this.#outbox) this.#settle(item);
    if (!this.#started) return;
    this.#clearTimer();
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryMax, this.#retryDelay * 2);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delay);
    this.#timer.unref?.();
  }

  #settle(item: Pending): void {
    if (item.watchdog !== undefined) {
      clearTimeout(item.watchdog);
      item.watchdog = undefined;
    }
    const settle = item.settle;
    item.settle = undefined;
    settle?.();
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
