/** What the results were measured on: machine, OS and the versions of what is on the hot path. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import Sqlite from 'better-sqlite3';

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    // Some packages (kysely) do not export ./package.json: read it from their folder instead.
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const file = path.join(dir, 'package.json');
      try {
        const json = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (json.name === name && json.version !== undefined) return json.version;
      } catch {
        // no package.json here: go up
      }
      const parent = path.dirname(dir);
      if (parent === dir) return 'unknown';
      dir = parent;
    }
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const pretty = readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('PRETTY_NAME='));
    if (pretty !== undefined) return `${pretty.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '')}, kernel ${os.release()}`;
  } catch {
    // not Linux
  }
  return `${os.type()} ${os.release()}`;
}

export interface Environment {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  versions: Record<string, string>;
}

export function environment(postgresServerVersion?: string | null): Environment {
  const memory = new Sqlite(':memory:');
  const sqliteVersion = (memory.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  memory.close();
  const versions: Record<string, string> = {
    node: process.version,
    'better-sqlite3': packageVersion('better-sqlite3'),
    sqlite: sqliteVersion,
    xstate: packageVersion('xstate'),
    kysely: packageVersion('kysely'),
    pg: packageVersion('pg'),
    tsx: packageVersion('tsx'),
  };
  if (postgresServerVersion !== undefined) versions.postgresql = postgresServerVersion ?? 'not reachable';
  return {
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: osName(),
    versions,
  };
}

export function describeEnvironment(env: Environment): string {
  const versions = Object.entries(env.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${env.cpu}, ${env.cores} cores, ${env.memoryGiB} GiB, ${env.os}\n${versions}`;
}

/**
 * How busy the machine was while a benchmark ran: other processes on a 2-core machine show up
 * directly in the latency tails, so every report says how much CPU the rest of the machine used.
 */
export interface MachineLoad {
  loadAverageBefore: number;
  loadAverageAfter: number;
  /** Average busy cores of the whole machine during the run (from /proc/stat). */
  machineBusyCores: number;
  /** Average cores used by this benchmark process (its own threads, not its children or PostgreSQL). */
  benchProcessCores: number;
}

function procStat(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export function watchLoad(): { stop(): MachineLoad } {
  const loadBefore = os.loadavg()[0]!;
  const stat = procStat();
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  return {
    stop() {
      const seconds = (performance.now() - t0) / 1000;
      const after = procStat();
      const own = process.cpuUsage(cpu);
      const cores = os.cpus().length;
      const machine = stat !== undefined && after !== undefined && after.total > stat.total ? ((after.busy - stat.busy) / (after.total - stat.total)) * cores : Number.NaN;
      const r = (v: number) => Math.round(v * 100) / 100;
      return {
        loadAverageBefore: r(loadBefore),
        loadAverageAfter: r(os.loadavg()[0]!),
        machineBusyCores: r(machine),
        benchProcessCores: r((own.user + own.system) / 1e6 / seconds),
      };
    },
  };
}

export function describeLoad(load: MachineLoad): string {
  return `machine load: 1-min load average ${load.loadAverageBefore} before, ${load.loadAverageAfter} after; ` +
    `busy cores during the run ${load.machineBusyCores} (this process ${load.benchProcessCores})`;
}

/** A warning line when the 1-minute load average is already high (it lags: it also counts runs that just ended). */
export function busyWarning(): string | undefined {
  const load = os.loadavg()[0]!;
  return load > 0.7 ? `WARNING: 1-min load average is ${load.toFixed(2)} before the start: other processes compete for the ${os.cpus().length} cores, expect noisy tails` : undefined;
}

/**
 * A warning line when other processes keep the machine busy right now: busy cores over one
 * second from /proc/stat, while this process only waits. Unlike the load average it does not lag.
 */
export async function busyNowWarning(): Promise<string | undefined> {
  const before = procStat();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = procStat();
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  const busy = ((after.busy - before.busy) / (after.total - before.total)) * os.cpus().length;
  return busy > 0.3
    ? `WARNING: other processes kept ${busy.toFixed(2)} of ${os.cpus().length} cores busy just before the start: expect noisy tails`
    : undefined;
}
