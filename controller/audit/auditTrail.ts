/**
 * AuditTrail: numbers, chains and stores one controller's audit events, and says when each is
 * durable.
 *
 * - append() assigns the seq and the hash synchronously, so events are chained in call order even
 *   when many appends run at once, and tells listeners at once. Each event goes into an in-memory
 *   outbox, written to the store in order; events that arrive while a write is in flight go
 *   together into the next appendAudit call (group commit).
 * - Durable means on disk on this machine: committed by the store (SQLite synchronous=FULL,
 *   PostgreSQL synchronous_commit on), or written and fsync'd to the journal (auditJournal.ts).
 *   When the store has not taken an event within `maxWaitMs` (default 500 ms), or fails, every
 *   event not yet durable goes to the journal, and so does every new one until the store is back;
 *   the store keeps being retried with backoff (0.5 s doubling to 30 s) and gets every event, in
 *   order, exactly once ((controllerId, seq) is unique there); once it holds all of them the
 *   journal is emptied. At start, events left in the journal by a run that died are drained into
 *   the store before anything else (those it already has are skipped).
 * - record() is for what must be durable before it is acted on (a grant, before the relay moves):
 *   it gives the event at once and a promise that resolves when it is durable, and rejects with
 *   STORE_UNAVAILABLE when it cannot be made so (store and journal both failing, or no journal).
 *   append() never rejects once started: it resolves when the event is durable or given up on.
 * - An event that could not be made durable stays in the outbox and is written when the store is
 *   back; `pending` tells how many events are not in the store yet, and a warning is logged at
 *   every 10_000. stop() tries the store once more and journals the rest, so a stop loses nothing
 *   that the disk can take.
 * - onDurable() tells, for each event appended with record(), how long it waited to be durable and
 *   where it became so: the time a grant's relay waited for the disk (postern_audit_durable_seconds).
 * - `at` never runs backwards within a chain: an event stamped before the previous one gets the
 *   previous one's time, so a clock stepping back does not look like tampering.
 *
 * This class does not look inside events. Callers pass a subject id, never the scanned code or any
 * secret; `data` must hold no credential text.
 */
import { ErrorCodes, PosternError, isPosternError } from '../../machines/shared/errors.ts';
import type { AuditEvent, Store } from '../store/storeTypes.ts';
import type { AuditJournal } from './auditJournal.ts';
import { GENESIS_HASH, hashEvent } from './auditChain.ts';

/** An event as callers give it: the trail adds controllerId, seq, prevHash and hash. */
export type AuditEntry = Partial<Omit<AuditEvent, 'controllerId' | 'seq' | 'prevHash' | 'hash' | 'type'>> & {
  type: AuditEvent['type'];
};

/** An event appended for acting on: the event now, and when it is durable. */
export interface AuditReceipt {
  event: AuditEvent;
  /** Resolves with where the event became durable; rejects (STORE_UNAVAILABLE) when it cannot. */
  durable: Promise<'store' | 'journal'>;
}

export type AuditListener = (event: AuditEvent) => void;

/** An event appended with record() became durable `where`, `waitedMs` after it was appended. */
export type DurableListener = (where: 'store' | 'journal', waitedMs: number) => void;

/** The logger methods used; a pino logger fits. */
export interface AuditLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AuditTrailOptions {
  store: Pick<Store, 'appendAudit' | 'lastAudit'>;
  controllerId: string;
  /** Where events go while the store cannot take them; without one they wait in memory only. */
  journal?: AuditJournal;
  logger?: AuditLogger;
  clock?: () => number;
  /** Events per appendAudit call, default 1000. */
  maxBatch?: number;
  /**
   * The longest an event waits for the store before it goes to the journal (default 500 ms: a
   * person at the door barely notices), or, without a journal, before append() resolves anyway
   * (default 2 s).
   */
  maxWaitMs?: number;
  /** Retry backoff after a failed write: first and longest delay, default 500 ms and 30 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Several short-lived processes append to this chain (the command line's `<site>/admin`): when
   * another one stored the seq this trail was about to use, the events not yet stored are chained
   * again after the store's newest event (new seqs and hashes) instead of failing. Only for
   * events nobody has acted on by their seq, and never once any is in the journal.
   */
  sharedChain?: boolean;
  /**
   * How long an event appended with `{ deferred: true }` may wait for company before it is
   * written (default 20 ms); anything else appended meanwhile takes it along at once.
   */
  deferMs?: number;
}

interface Pending {
  event: AuditEvent;
  /** performance.now() at append, for the store wait bound. */
  appendedAt: number;
  journaled: boolean;
  /** Appended `deferred` and not yet due: no write is started for it alone. */
  deferred: boolean;
  /** Appended with record(): something waits on it before acting. */
  recorded: boolean;
  waiters: Array<(outcome: Outcome) => void>;
  /** Set once: durable (where), or not (why). */
  outcome: Outcome | undefined;
}

type Outcome = { where: 'store' | 'journal' } | { error: unknown };

const WARN_EVERY = 10_000;

/** A JSON round trip, so that the event returned is exactly what the store gives back later. */
function plainData(data: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  if (data === null || data === undefined) return null;
  return JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
}

export class AuditTrail {
  readonly controllerId: string;
  readonly #store: AuditTrailOptions['store'];
  readonly #journal: AuditJournal | undefined;
  readonly #logger: AuditLogger | undefined;
  readonly #clock: () => number;
  readonly #maxBatch: number;
  readonly #maxWait: number;
  readonly #retryMin: number;
  readonly #retryMax: number;
  readonly #sharedChain: boolean;
  readonly #deferMs: number;

  #started = false;
  #seq = 0;
  #hash = GENESIS_HASH;
  #at = Number.NEGATIVE_INFINITY;
  /** Events not yet in the store, oldest first. */
  #outbox: Pending[] = [];
  #writing: Promise<void> | undefined;
  /** The one run to start after #writing, when events came while it was ending. */
  #writeAfter: Promise<void> | undefined;
  #journaling: Promise<void> | undefined;
  /** The one journal write to make after #journaling, for events that came during it. */
  #journalAfter: Promise<void> | undefined;
  /** The store failed, or was slower than maxWaitMs: new events go to the journal at once. */
  #degraded = false;
  /** The last write failed; a retry is scheduled. */
  #failing = false;
  #retryDelay: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #boundTimer: NodeJS.Timeout | undefined;
  /** The write that deferred events wait for, when nothing else has started one. */
  #deferTimer: NodeJS.Timeout | undefined;
  /** Events in the outbox that are not deferred: while there are none, no write starts. */
  #due = 0;
  #listeners = new Set<AuditListener>();
  #durableListeners = new Set<DurableListener>();

  constructor(options: AuditTrailOptions) {
    this.#store = options.store;
    this.controllerId = options.controllerId;
    this.#journal = options.journal;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.#maxWait = options.maxWaitMs ?? (options.journal ? 500 : 2000);
    this.#retryMin = options.retryMinMs ?? 500;
    this.#retryMax = options.retryMaxMs ?? 30_000;
    this.#retryDelay = this.#retryMin;
    this.#sharedChain = options.sharedChain ?? false;
    this.#deferMs = options.deferMs ?? 20;
  }

  /** Events appended but not yet in the store (in the journal, or in memory only). */
  get pending(): number {
    return this.#outbox.length;
  }

  /** Events in the journal waiting for the store. */
  get journaled(): number {
    return this.#journal?.size ?? 0;
  }

  /** The seq and hash of the newest event appended (stored or not). */
  get head(): { seq: number; hash: string } {
    return { seq: this.#seq, hash: this.#hash };
  }

  /**
   * Drains what an earlier run left in the journal into the store, then continues the chain from
   * the newest event of this controller (or from the outbox, after a stop and start in one process).
   */
  async start(): Promise<void> {
    if (this.#started) return;
    if (this.#outbox.length === 0) {
      let last = await this.#store.lastAudit(this.controllerId);
      last = (await this.#drainJournal(last)) ?? last;
      this.#seq = last?.seq ?? 0;
      this.#hash = last?.hash ?? GENESIS_HASH;
      this.#at = last?.at ?? Number.NEGATIVE_INFINITY;
    }
    this.#started = true;
    this.#failing = false;
    this.#degraded = false;
    this.#retryDelay = this.#retryMin;
    if (this.#outbox.length > 0) void this.flush();
  }

  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    this.#clearTimers();
    await this.#writing;
    this.#makeAllDue();
    if (this.#outbox.length > 0) {
      this.#failing = false;
      await this.#drain();
    }
    this.#clearTimers();
    if (this.#outbox.length > 0) {
      // The store is still not taking them: whatever the journal can take survives the process.
      await this.#journalPending();
      const lost = this.#outbox.filter((item) => !item.journaled).length;
      this.#logger?.error(
        { controllerId: this.controllerId, pending: this.#outbox.length, journaled: this.#outbox.length - lost, lost, firstSeq: this.#outbox[0]?.event.seq },
        lost > 0 ? 'audit events could not be written before stop' : 'audit events left in the journal for the next start',
      );
    }
    await this.#journal?.close();
  }

  /** Calls listener synchronously for every event appended from now on; returns the unsubscribe. */
  onAppend(listener: AuditListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Calls listener each time an event appended with record() becomes durable; returns the unsubscribe. */
  onDurable(listener: DurableListener): () => void {
    this.#durableListeners.add(listener);
    return () => {
      this.#durableListeners.delete(listener);
    };
  }

  /**
   * Appends; resolves when the event is durable or given up on (never rejects once started).
   *
   * `deferred`: for an event nobody waits on and nothing is acted on after (a door's state change,
   * told after the door moved): its write waits up to deferMs for the next event, so that it
   * shares that event's commit. Without it, each such event took a commit of its own, and a grant
   * recorded a moment later waited behind that commit's fsync before its own could start.
   */
  append(entry: AuditEntry, options: { deferred?: boolean } = {}): Promise<AuditEvent> {
    if (!this.#started) return Promise.reject(this.#notStarted());
    const item = this.#add(entry, options.deferred === true);
    return new Promise((resolve) => this.#await(item, () => resolve(item.event)));
  }

  /** Appends what must be durable before it is acted on; see AuditReceipt. */
  record(entry: AuditEntry): AuditReceipt {
    if (!this.#started) throw this.#notStarted();
    const item = this.#add(entry);
    item.recorded = true;
    const durable = new Promise<'store' | 'journal'>((resolve, reject) =>
      this.#await(item, (outcome) => ('where' in outcome ? resolve(outcome.where) : reject(outcome.error))),
    );
    return { event: item.event, durable };
  }

  /** Writes the outbox now (cancelling a scheduled retry); resolves when the attempt is over. */
  async flush(): Promise<void> {
    this.#makeAllDue();
    if (this.#writing !== undefined) {
      await this.#writing;
      if (this.#outbox.length === 0) return;
    }
    this.#clearRetry();
    this.#failing = false;
    await this.#drain();
  }

  #notStarted(): PosternError {
    return new PosternError(ErrorCodes.STORE_UNAVAILABLE, `audit trail ${this.controllerId} is not started`);
  }

  #add(entry: AuditEntry, deferred = false): Pending {
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

    const item: Pending = { event, appendedAt: performance.now(), journaled: false, deferred: deferred && !this.#degraded, recorded: false, waiters: [], outcome: undefined };
    this.#outbox.push(item);
    if (!item.deferred) this.#due++;
    if (this.#outbox.length % WARN_EVERY === 0) {
      this.#logger?.warn({ controllerId: this.controllerId, pending: this.#outbox.length }, 'audit outbox is growing: store writes fail');
    }
    if (this.#degraded) void this.#journalPending();
    if (item.deferred) this.#deferDrain();
    else if (!this.#failing) this.#drainNow();
    this.#armBound();
    return item;
  }

  #drainNow(): void {
    if (this.#deferTimer !== undefined) {
      clearTimeout(this.#deferTimer);
      this.#deferTimer = undefined;
    }
    void this.#drain();
  }

  #deferDrain(): void {
    if (this.#deferTimer !== undefined || this.#failing || !this.#started) return;
    this.#deferTimer = setTimeout(() => {
      this.#deferTimer = undefined;
      this.#makeAllDue();
      if (!this.#failing) void this.#drain();
    }, this.#deferMs);
  }

  /** Every event in the outbox is written at the next write, deferred or not. */
  #makeAllDue(): void {
    for (const item of this.#outbox) {
      if (!item.deferred) continue;
      item.deferred = false;
      this.#due++;
    }
  }

  /** An item can be settled inside #add already (no journal, store failing): then the waiter hears at once. */
  #await(item: Pending, waiter: Pending['waiters'][number]): void {
    if (item.outcome !== undefined) waiter(item.outcome);
    else item.waiters.push(waiter);
  }

  #settle(item: Pending, outcome: Outcome): void {
    if (item.outcome !== undefined) return;
    item.outcome = outcome;
    if (item.recorded && 'where' in outcome) {
      const waitedMs = performance.now() - item.appendedAt;
      for (const listener of this.#durableListeners) {
        try {
          listener(outcome.where, waitedMs);
        } catch (error) {
          this.#logger?.warn({ err: error, seq: item.event.seq }, 'audit durability listener failed');
        }
      }
    }
    for (const waiter of item.waiters.splice(0)) waiter(outcome);
  }

  /**
   * Writes batches until the outbox is empty or a write fails; one run at a time. An event added
   * while a run is ending (its last batch written, its promise not yet settled) is written by a
   * run chained after it, never left waiting for the next append.
   */
  #drain(): Promise<void> {
    if (this.#writing !== undefined) {
      // One follow-up for all the events that come during a run, not one per event: under load
      // a run is nearly always in flight, and a chain per append grew without bound.
      this.#writeAfter ??= this.#writing.then(() => {
        this.#writeAfter = undefined;
        return this.#due > 0 && !this.#failing ? this.#drain() : undefined;
      });
      return this.#writeAfter;
    }
    if (this.#due === 0) {
      if (this.#outbox.length > 0) this.#deferDrain();
      return Promise.resolve();
    }
    const run = this.#writeAll().finally(() => {
      if (this.#writing === run) this.#writing = undefined;
    });
    this.#writing = run;
    return run;
  }

  async #writeAll(): Promise<void> {
    // Deferred events behind the last due one ride along in its batch; alone, they wait.
    while (this.#due > 0) {
      const batch = this.#outbox.slice(0, this.#maxBatch);
      try {
        await this.#store.appendAudit(batch.map((item) => item.event));
      } catch (error) {
        if (await this.#reconcile(error)) continue;
        this.#fail(error);
        return;
      }
      this.#stored(batch.length);
      if (this.#failing || this.#degraded) {
        this.#logger?.warn({ controllerId: this.controllerId, pending: this.#outbox.length }, 'audit store writes again');
      }
      this.#failing = false;
      this.#retryDelay = this.#retryMin;
    }
    if (this.#outbox.length > 0) {
      this.#deferDrain();
      return;
    }
    // Everything is in the store: the journal's copies are no longer needed.
    this.#degraded = false;
    if (this.#journal && this.#journal.size > 0) {
      await this.#journal.clear(() => !this.#outbox.some((item) => item.journaled)).catch((error: unknown) => {
        this.#logger?.warn({ err: error, file: this.#journal?.file }, 'audit journal could not be emptied; its events are in the store and will be skipped at start');
      });
    }
  }

  /** The first `count` events of the outbox are in the store. */
  #stored(count: number): void {
    for (const item of this.#outbox.splice(0, count)) {
      if (!item.deferred) this.#due--;
      this.#settle(item, { where: 'store' });
    }
    this.#armBound();
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
    if (index >= 0 && this.#outbox[index]?.event.hash === last.hash) {
      this.#stored(index + 1);
      return true;
    }
    if (this.#sharedChain && this.#rechainAfter(last)) return true;
    this.#logger?.error(
      { controllerId: this.controllerId, storedSeq: last.seq, firstPending: this.#outbox[0]?.event.seq },
      'audit chain conflict: another writer uses this controller id',
    );
    return false;
  }

  /**
   * Another writer of a shared chain stored events after the head this trail started from: the
   * outbox is chained again after `last`, in order. Not when anything is journaled (the journal's
   * copies would then disagree with the store) or when `last` is behind the outbox.
   */
  #rechainAfter(last: AuditEvent): boolean {
    const first = this.#outbox[0];
    if (first === undefined || last.seq < first.event.seq - 1 || this.#outbox.some((item) => item.journaled)) return false;
    let prev = last;
    for (const item of this.#outbox) {
      const { hash: _old, ...event } = item.event;
      const unsigned: Omit<AuditEvent, 'hash'> = { ...event, seq: prev.seq + 1, at: Math.max(event.at, prev.at), prevHash: prev.hash };
      item.event = { ...unsigned, hash: hashEvent(prev.hash, unsigned) };
      prev = item.event;
    }
    this.#seq = prev.seq;
    this.#hash = prev.hash;
    this.#at = prev.at;
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
    this.#degrade();
    if (!this.#started) return;
    this.#clearRetry();
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryMax, this.#retryDelay * 2);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#makeAllDue();
      void this.#drain();
    }, delay);
    this.#retryTimer.unref?.();
  }

  /** From now until the store holds everything, events go to the journal as they come. */
  #degrade(): void {
    this.#degraded = true;
    void this.#journalPending();
  }

  /** Journals every event that is neither stored nor journaled yet; one write at a time. */
  #journalPending(): Promise<void> {
    if (this.#journaling !== undefined) {
      this.#journalAfter ??= this.#journaling.then(() => {
        this.#journalAfter = undefined;
        return this.#outbox.some((i) => !i.journaled && i.outcome === undefined) ? this.#journalPending() : undefined;
      });
      return this.#journalAfter;
    }
    const batch = this.#outbox.filter((item) => !item.journaled);
    if (batch.length === 0) return Promise.resolve();
    const journal = this.#journal;
    const run = (async () => {
      if (journal === undefined) {
        // Nowhere durable to put them: whoever waits is told now; the events wait in memory.
        const error = new PosternError(ErrorCodes.STORE_UNAVAILABLE, `audit store of ${this.controllerId} is not taking events and there is no journal`);
        for (const item of batch) this.#settle(item, { error });
        return;
      }
      try {
        await journal.append(batch.map((item) => item.event));
        for (const item of batch) {
          item.journaled = true;
          this.#settle(item, { where: 'journal' });
        }
      } catch (cause) {
        const error = new PosternError(ErrorCodes.STORE_UNAVAILABLE, `audit events of ${this.controllerId} could not be written to the store or the journal ${journal.file}`, { cause });
        this.#logger?.error({ err: cause, file: journal.file, events: batch.length }, 'audit journal write failed: events are in memory only');
        for (const item of batch) this.#settle(item, { error });
      }
    })().finally(() => {
      this.#journaling = undefined;
    });
    this.#journaling = run;
    return run;
  }

  /** Watches the oldest event that is not durable yet: past maxWaitMs, the store is too slow. */
  #armBound(): void {
    if (this.#boundTimer !== undefined || this.#degraded || !this.#started) return;
    const oldest = this.#outbox.find((item) => item.outcome === undefined);
    if (oldest === undefined) return;
    const wait = Math.max(0, this.#maxWait - (performance.now() - oldest.appendedAt));
    this.#boundTimer = setTimeout(() => {
      this.#boundTimer = undefined;
      if (oldest.outcome !== undefined || this.#degraded) return this.#armBound();
      this.#logger?.warn({ controllerId: this.controllerId, seq: oldest.event.seq, waitedMs: this.#maxWait }, 'audit store is slow; journaling instead of waiting longer');
      this.#degrade();
    }, wait);
    this.#boundTimer.unref?.();
  }

  /**
   * Events an earlier run left in the journal and the store does not have yet, appended to the
   * store in order (exactly once: those at or below the store's newest seq are skipped), then the
   * journal is emptied. Returns the newest event drained.
   */
  async #drainJournal(last: AuditEvent | undefined): Promise<AuditEvent | undefined> {
    if (this.#journal === undefined) return undefined;
    const left = (await this.#journal.read()).filter((event) => event.controllerId === this.controllerId && event.seq > (last?.seq ?? 0));
    left.sort((a, b) => a.seq - b.seq);
    for (let i = 0; i < left.length; i += this.#maxBatch) await this.#store.appendAudit(left.slice(i, i + this.#maxBatch));
    if (left.length > 0) this.#logger?.warn({ controllerId: this.controllerId, events: left.length, firstSeq: left[0]?.seq, file: this.#journal.file }, 'audit events drained from the journal into the store');
    await this.#journal.clear(() => true);
    return left.at(-1);
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
  }

  #clearTimers(): void {
    this.#clearRetry();
    if (this.#deferTimer !== undefined) {
      clearTimeout(this.#deferTimer);
      this.#deferTimer = undefined;
    }
    if (this.#boundTimer !== undefined) {
      clearTimeout(this.#boundTimer);
      this.#boundTimer = undefined;
    }
  }
}
