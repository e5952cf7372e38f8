/**
 * Notices account changes (a token revoked, a user disabled, removed or given another role) made
 * by any process on the store, and tells the listeners (the API server, the web sessions) so that
 * they check their open connections again at once instead of at their next periodic check.
 *
 * The store keeps a version (one settings row, bumped in the transaction of every such change:
 * store/accountQueries.ts). This process's own changes call check() when they are written, and
 * wait for the listeners; changes by another process (the command line on the same SQLite file or
 * PostgreSQL database) are found by a poll every `intervalMs`, and by the check a request makes
 * before it runs (check(): one read shared by the requests that arrive together).
 *
 * Why a polled row and not PostgreSQL's LISTEN/NOTIFY: SQLite has no notification between
 * processes, so the poll is needed there anyway, and one code path serves both. Its cost, measured
 * through Store.accountsVersion (Kysely included) on a busy 2-core machine: about 0.1 ms a read on
 * SQLite and 0.5 ms (mostly waiting on the round trip) on a local PostgreSQL. Four polls a second
 * are well under a thousandth of a core; the check before a request adds one such read to its
 * latency, shared by the requests that arrive while it runs. A read that fails or hangs never
 * holds a request back for longer than `waitMs`: the request then runs with the principal as last
 * checked (as when the store is down at a heartbeat), so doors stay usable without the store.
 */
import { settleWithin } from '../settleWithin.ts';

export type AccountChangeListener = () => Promise<void> | void;

/** What the API server and the web sessions need of it. */
export interface AccountChangeFeed {
  /** Called after every change noticed, one call at a time; returns the unsubscribe. */
  onChange(listener: AccountChangeListener): () => void;
  /**
   * Reads the version now (sharing a read that starts after this call with other callers) and,
   * when it changed, waits for the listeners. Never rejects; gives up waiting after `waitMs`.
   */
  check(): Promise<void>;
  /** Counts the changes noticed: a check that began under another generation may have missed one. */
  readonly generation: number;
}

export interface AccountChangesOptions {
  /** The store's accounts version (Store.accountsVersion). */
  read(): Promise<string | undefined>;
  /** Poll period while anyone listens. Default 250 ms: a change is noticed well within a second. */
  intervalMs?: number;
  /** The longest check() makes a caller wait. Default 250 ms. */
  waitMs?: number;
  onError?(error: unknown): void;
}

const UNKNOWN = Symbol('unknown');

export class AccountChanges implements AccountChangeFeed {
  readonly #options: AccountChangesOptions;
  readonly #listeners = new Set<AccountChangeListener>();
  #timer: NodeJS.Timeout | undefined;
  /** The version last read; UNKNOWN before the first read, so that it counts as a change. */
  #version: string | undefined | typeof UNKNOWN = UNKNOWN;
  #running: Promise<void> | undefined;
  #runningSince = 0;
  /** The run the callers arriving during #running share: it starts when #running ends. */
  #queued: Promise<void> | undefined;
  #generation = 0;
  #failing = false;

  constructor(options: AccountChangesOptions) {
    this.#options = options;
  }

  get generation(): number {
    return this.#generation;
  }

  onChange(listener: AccountChangeListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => void this.#shared(), this.#options.intervalMs ?? 250);
      this.#timer.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        clearInterval(this.#timer);
        this.#timer = undefined;
      }
    };
  }

  check(): Promise<void> {
    // Nobody listens (the command line): nothing to tell, no read.
    if (this.#listeners.size === 0) return Promise.resolve();
    const waitMs = this.#options.waitMs ?? 250;
    // A read hung for longer than a caller may wait: do not make every request wait for it too.
    if (this.#running !== undefined && performance.now() - this.#runningSince > waitMs) return Promise.resolve();
    return settleWithin(this.#shared(), waitMs, undefined);
  }

  /** A read that starts after this call: the running one started too early, so callers queue. */
  #shared(): Promise<void> {
    if (this.#running === undefined) return this.#run();
    this.#queued ??= this.#running.then(() => {
      this.#queued = undefined;
      return this.#run();
    });
    return this.#queued;
  }

  #run(): Promise<void> {
    this.#runningSince = performance.now();
    const running = (async () => {
      let version: string | undefined;
      try {
        version = await this.#options.read();
      } catch (error) {
        // Told once per outage, not at every poll.
        if (!this.#failing) this.#options.onError?.(error);
        this.#failing = true;
        return;
      }
      this.#failing = false;
      if (version === this.#version) return;
      this.#version = version;
      this.#generation += 1;
      for (const listener of [...this.#listeners]) {
        try {
          await listener();
        } catch (error) {
          this.#options.onError?.(error);
        }
      }
    })().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
    return running;
  }
}
