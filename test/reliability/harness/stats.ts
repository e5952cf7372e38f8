/** Small helpers for the reports: percentiles, counters, durations, the machine. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(values: number[]): string {
  if (values.length === 0) return 'n/a';
  const f = (v: number | undefined) => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `p50 ${f(percentile(values, 50))} / p95 ${f(percentile(values, 95))} / p99 ${f(percentile(values, 99))} / max ${f(Math.max(...values))} ms (n=${values.length})`;
}

export class Counter {
  readonly counts = new Map<string, number>();
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }
  toString(): string {
    if (this.counts.size === 0) return 'none';
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

export function seconds(ms: number): string {
  return ms >= 120_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 1000).toFixed(1)} s`;
}

/** Failures are collected, not thrown, so that one run reports all it found; the first few keep their detail. */
export class Failures {
  readonly list: string[] = [];
  private count = 0;
  constructor(private readonly keep = 50) {}
  add(message: string): void {
    this.count++;
    if (this.list.length < this.keep) this.list.push(message);
  }
  get total(): number {
    return this.count;
  }
}

export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown CPU';
  let distro = `${os.type()} ${os.release()}`;
  try {
    const pretty = readFileSync('/etc/os-release', 'utf8').split('\n').find((l) => l.startsWith('PRETTY_NAME='));
    if (pretty) distro = `${pretty.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '')}, kernel ${os.release()}`;
  } catch {
    // not Linux: os.type() will do
  }
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, ${distro}, Node ${process.version}`;
}

export function gitCommit(cwd: string): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return 'unknown';
  }
}

/** The machine's CPU use between two calls: how busy the 2-core box was besides us. */
export function cpuSnapshot(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
  }
  return { idle, total };
}

export function busyCores(from: { idle: number; total: number }, to: { idle: number; total: number }): number {
  const total = to.total - from.total;
  if (total <= 0) return 0;
  return ((total - (to.idle - from.idle)) / total) * os.cpus().length;
}
