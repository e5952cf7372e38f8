/**
 * Wrong passwords, counted per key (a user name, a client address) in a sliding window: at
 * `maxFailures` within `windowMs` the key is locked until its oldest failure leaves the window.
 * Attempts in flight count as failures until they are settled, so that many parallel guesses
 * cannot get past the limit while their password checks run.
 */
export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
  clock?: () => number;
  /** The most keys remembered; past it, the stalest are forgotten. Default 50 000. */
  maxKeys?: number;
}

interface Entry {
  failures: number[];
  pending: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Milliseconds until the first of `keys` that is locked may try again; 0 when none is locked. */
  retryAfterMs(keys: readonly string[]): number {
    const now = this.clock();
    let wait = 0;
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry === undefined) continue;
      this.prune(entry, now);
      if (entry.failures.length + entry.pending < this.options.maxFailures) continue;
      const { failures } = entry;
      const max = this.options.maxFailures;
      // Locked by attempts in flight only: a short wait, they settle within a second. Otherwise
      // until enough failures leave the window.
      wait = Math.max(wait, failures.length < max ? 1000 : failures[failures.length - max]! + this.options.windowMs - now);
    }
    return wait;
  }

  /** Counts an attempt in flight for each key; settle it with fail() or succeed(). */
  begin(keys: readonly string[]): void {
    for (const key of keys) this.entry(key).pending++;
  }

  /** A wrong password: returns the keys this failure locked (it reached the limit). */
  fail(keys: readonly string[]): string[] {
    const now = this.clock();
    const locked: string[] = [];
    for (const key of keys) {
      const entry = this.entry(key);
      entry.pending = Math.max(0, entry.pending - 1);
      this.prune(entry, now);
      entry.failures.push(now);
      if (entry.failures.length === this.options.maxFailures) locked.push(key);
    }
    return locked;
  }

  /** A right password: the attempt is settled, and the failures of `clear` are forgotten. */
  succeed(keys: readonly string[], clear: readonly string[]): void {
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (entry) entry.pending = Math.max(0, entry.pending - 1);
    }
    for (const key of clear) this.entries.delete(key);
    this.forgetIdle();
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= (this.options.maxKeys ?? 50_000)) this.forgetIdle(true);
      entry = { failures: [], pending: 0 };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private prune(entry: Entry, now: number): void {
    while (entry.failures.length > 0 && entry.failures[0]! + this.options.windowMs <= now) entry.failures.shift();
  }

  /** Forgets keys with nothing in the window; `force`: and then the oldest half, to stay bounded. */
  private forgetIdle(force = false): void {
    const now = this.clock();
    for (const [key, entry] of this.entries) {
      this.prune(entry, now);
      if (entry.failures.length === 0 && entry.pending === 0) this.entries.delete(key);
    }
    if (force && this.entries.size >= (this.options.maxKeys ?? 50_000)) {
      let drop = Math.ceil(this.entries.size / 2);
      for (const key of this.entries.keys()) {
        if (drop-- <= 0) break;
        this.entries.delete(key);
      }
    }
  }
}
