/**
 * Throttles repeated failures per scanner. A scanner that sees `maxFailures` denials within
 * `windowMs` is locked out for `lockoutMs`; each lockout that follows soon after another doubles,
 * up to `maxLockoutMs`. State is per scanner, so a flood on one scanner never slows another.
 */
export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  maxLockoutMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 8, windowMs: 10_000, lockoutMs: 5_000, maxLockoutMs: 120_000 };

interface ScannerFailures {
  failures: number[]; // times of recent failures, oldest first
  lockedUntil: number;
  lastLockoutMs: number;
}

export class ScanThrottle {
  private readonly scanners = new Map<string, ScannerFailures>();

  constructor(private readonly options: ThrottleOptions = DEFAULT_THROTTLE) {}

  isLockedOut(scanner: string, now: number): boolean {
    const state = this.scanners.get(scanner);
    return state !== undefined && now < state.lockedUntil;
  }

  recordFailure(scanner: string, now: number): void {
    let state = this.scanners.get(scanner);
    if (state === undefined) {
      state = { failures: [], lockedUntil: 0, lastLockoutMs: 0 };
      this.scanners.set(scanner, state);
    }
    const horizon = now - this.options.windowMs;
    while (state.failures.length > 0 && state.failures[0]! <= horizon) state.failures.shift();
    state.failures.push(now);
    if (state.failures.length < this.options.maxFailures) return;
    // A lockout soon after the previous one ended means the flood goes on: lock out longer.
    const recentlyLocked = now - state.lockedUntil < this.options.windowMs;
    const lockout = recentlyLocked
      ? Math.min(state.lastLockoutMs * 2, this.options.maxLockoutMs)
      : this.options.lockoutMs;
    state.lockedUntil = now + lockout;
    state.lastLockoutMs = lockout;
    state.failures.length = 0;
  }

  recordSuccess(scanner: string): void {
    this.scanners.get(scanner)?.failures.splice(0);
  }

  forget(): void {
    this.scanners.clear();
  }
}
