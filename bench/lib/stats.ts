/** Latency statistics and plain-text tables for the benchmark reports. */

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((acc, v) => acc + v, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

/** Rounds every number of a summary for JSON output (µs resolution). */
export function rounded(summary: LatencySummary): LatencySummary {
  const r = (v: number) => (Number.isFinite(v) ? Math.round(v * 1000) / 1000 : v);
  return { count: summary.count, p50: r(summary.p50), p90: r(summary.p90), p99: r(summary.p99), max: r(summary.max), mean: r(summary.mean) };
}

export function ms(value: number, digits = 3): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** A Markdown table (also readable on a terminal). */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = rows.map((row) => row.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    '| ' + values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|') + '|';
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function latencyRow(label: string, s: LatencySummary): string[] {
  return [label, String(s.count), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), ms(s.mean)];
}

export const LATENCY_HEADERS = ['scenario', 'count', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'] as const;

export function mb(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}

export const sleep = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));
