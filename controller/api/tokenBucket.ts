/** A token bucket: `rate` per second on average, bursts up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  /** Takes `count` tokens, all or none; false when the bucket holds fewer. */
  take(count = 1): boolean {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Gives back tokens taken for work that was then not done. */
  giveBack(count: number): void {
    this.tokens = Math.min(this.burst, this.tokens + count);
  }

  /** Whether it has refilled completely: forgetting it then loses nothing. */
  get full(): boolean {
    return this.tokens + ((this.clock() - this.last) / 1000) * this.rate >= this.burst;
  }

  /** Milliseconds until one token is back. */
  get retryAfterMs(): number {
    return this.retryAfterMsFor(1);
  }

  /** Milliseconds until `count` tokens are back (at most the burst: a larger cost never fits). */
  retryAfterMsFor(count: number): number {
    return Math.max(0, Math.ceil(((Math.min(count, this.burst) - this.tokens) / this.rate) * 1000));
  }
}
