/**
 * One use per time step for rotating codes, decided in memory.
 *
 * A claim is synchronous, so two scanners reading one code at the same moment cannot both pass:
 * JavaScript runs one claim to its end before the next. Memory is enough because the controller
 * holds its store alone (store.claimController): no other process decides this site's codes.
 *
 * Durability comes from the record, not from a write of its own: a granted rotating code's audit
 * event carries its step (`data.step`) and is durable before the relay moves, so at start the
 * controller reloads the claims of the last minute from its audit trail (`load`). A read that
 * claimed a step but was then refused by its door keeps the claim until the process ends; after a
 * restart only grants are reloaded, which is what the door really did.
 */
import type { ReplayMark } from '../store/storeTypes.ts';
import { ROTATION_PERIOD_SECONDS, timeStep } from './credentialCodec.ts';

/**
 * A code of step s is valid while the current step is s-1, s or s+1 (docs/credential-format.md);
 * claims older than that can never be asked about again and are dropped.
 */
const STEPS_VALID_BEHIND = 1;

/**
 * How far back the start must look for grants: a code of step s is valid until step s+2 begins,
 * so a grant older than three periods can only be of a step no longer valid; one more for a
 * clock that stepped.
 */
export const REPLAY_LOOKBACK_MS = 4 * ROTATION_PERIOD_SECONDS * 1000;

/** The oldest step still valid at `nowMs`: claims before it are never asked about again. */
export function oldestValidStep(nowMs: number): number {
  return timeStep(Math.floor(nowMs / 1000)) - STEPS_VALID_BEHIND;
}

interface StepClaims {
  keys: Set<string>;
  /** Monotonic time of the newest claim of this step. */
  lastClaimAt: number;
}

export class ReplayGuard {
  /** Claimed `issuer/subject` keys by step. */
  readonly #byStep = new Map<number, StepClaims>();
  readonly #monotonic: () => number;

  /** `monotonic`: milliseconds that never step back (performance.now), for how long claims are kept. */
  constructor(monotonic: () => number = () => performance.now()) {
    this.#monotonic = monotonic;
  }

  /** Marks the use; false when this code's step was already used. */
  claim(mark: ReplayMark, nowMs: number): boolean {
    const at = this.#monotonic();
    this.#prune(oldestValidStep(nowMs), at);
    const key = `${mark.issuer}/${mark.subject}`;
    let claims = this.#byStep.get(mark.step);
    if (claims === undefined) {
      claims = { keys: new Set(), lastClaimAt: at };
      this.#byStep.set(mark.step, claims);
    }
    if (claims.keys.has(key)) return false;
    claims.keys.add(key);
    claims.lastClaimAt = at;
    return true;
  }

  /** Claims uses made before this process started (granted codes found in the audit trail). */
  load(marks: Iterable<ReplayMark>, nowMs: number): number {
    let loaded = 0;
    for (const mark of marks) if (this.claim(mark, nowMs)) loaded += 1;
    return loaded;
  }

  /** Claims held (tests read it). */
  get size(): number {
    let total = 0;
    for (const claims of this.#byStep.values()) total += claims.keys.size;
    return total;
  }

  /**
   * A step's claims go once the wall clock says the step is no longer valid and none was made
   * for a lookback period of real time, so a wall clock stepping forward and back again within a
   * minute cannot free a code used a moment ago.
   */
  #prune(oldest: number, at: number): void {
    for (const [step, claims] of this.#byStep) {
      if (step < oldest && at - claims.lastClaimAt > REPLAY_LOOKBACK_MS) this.#byStep.delete(step);
    }
  }
}
