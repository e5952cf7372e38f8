/** The last `size` latencies of one door, for percentiles without keeping history. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 1024) {
    this.samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    this.count = Math.min(this.count + 1, this.samples.length);
  }

  /** p50, p90, p99 and max in ms over the window; null when empty. */
  percentiles(): { samples: number; p50: number; p90: number; p99: number; max: number } | null {
    if (this.count === 0) return null;
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
    return { samples: this.count, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1)! };
  }
}
