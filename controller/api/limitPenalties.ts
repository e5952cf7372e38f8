/**
 * Clients disconnected for ignoring the rate limit (rpcConnection.ts) are kept out for a while:
 * otherwise each would reconnect at once and flood again, and every reconnection costs a token
 * check in the store. Keyed by a fingerprint of the bearer token, so a refused upgrade costs one
 * hash and no store read. The wait doubles with each strike, from 10 s up to 10 min, and is
 * forgotten after a quiet hour.
 */
import { createHash } from 'node:crypto';

const FIRST_PENALTY_MS = 10_000;
const MAX_PENALTY_MS = 10 * 60_000;
const FORGET_AFTER_MS = 60 * 60_000;
/** Fingerprints kept at most; the oldest go first (a flood of made-up tokens cannot grow it). */
const MAX_KEPT = 10_000;

interface Penalty {
  strikes: number;
  until: number;
}

export class LimitPenalties {
  readonly #penalties = new Map<string, Penalty>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** The fingerprint of a bearer token: what penalties are kept under, never the token itself. */
  static fingerprint(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  /** Milliseconds the client must still wait; 0 when it may connect. */
  waitFor(fingerprint: string): number {
    const penalty = this.#penalties.get(fingerprint);
    if (penalty === undefined) return 0;
    const now = this.clock();
    if (now - penalty.until > FORGET_AFTER_MS) this.#penalties.delete(fingerprint);
    return Math.max(0, penalty.until - now);
  }

  strike(fingerprint: string): void {
    const strikes = (this.#penalties.get(fingerprint)?.strikes ?? 0) + 1;
    this.#penalties.delete(fingerprint);
    this.#penalties.set(fingerprint, { strikes, until: this.clock() + Math.min(MAX_PENALTY_MS, FIRST_PENALTY_MS * 2 ** (strikes - 1)) });
    if (this.#penalties.size > MAX_KEPT) this.#penalties.delete(this.#penalties.keys().next().value!);
  }
}
