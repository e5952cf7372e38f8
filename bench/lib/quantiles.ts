/** Percentiles the camera benchmarks report (p95 too), on top of stats.ts. */

export interface Quantiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100), as stats.ts computes it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function quantiles(samples: readonly number[]): Quantiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const r = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : v);
  return {
    count: sorted.length,
    p50: r(percentile(sorted, 50)),
    p95: r(percentile(sorted, 95)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!),
    mean: r(sorted.length === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}
