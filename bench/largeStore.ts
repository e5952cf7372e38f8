/**
 * A large store: `large-store` is 1,000,000 rotating credentials and 1,000,000 revocations (SQLite
 * and PostgreSQL), `large-store-10m` 10,000,000 credentials and 1,000,000 revocations (SQLite).
 *
 * Fill: SQLite — the store is opened once with openStore() so its migrations make the tables, then
 * stopped, and the rows go in with raw better-sqlite3 prepared statements in one transaction on
 * the file. PostgreSQL (throwaway database) — migrations the same way, then INSERT ... SELECT FROM
 * generate_series, under a 60 s statement timeout (PostgreSQL is skipped when it is slower).
 *
 * Measure: in a fresh child process (bench/startProbe.ts), so the memory is the controller's alone:
 * process start → controller.start() resolved, controller.start() alone, resident memory after
 * start and after 20,000 decisions through the controller (and its peak meanwhile), then
 * Verifier.verify latency and throughput for the same mix (valid links, revoked links, rotating
 * codes of random credentials among all of them). A rotating code's single use is claimed in
 * memory (credentials/replayGuard.ts); its grant's record is what makes it durable. An empty
 * store is probed first for comparison.
 *
 * On SQLite the burst runs again in a probe started with each of MEMORY_VARIANTS' node options
 * (V8's heap growth), to measure the memory fix proposed in BENCHMARKS.md and what it costs.
 *
 * The start measured is a start on a warm page cache (the file was just written, fsync'd and
 * checked).
 * POSTERN_BENCH_PROBE_NODE_ARGS (space-separated) adds node options to the probe, for memory
 * experiments (e.g. --max-semi-space-size=16); the measured runs leave it unset.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import Sqlite from 'better-sqlite3';

import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { createBenchDatabase, postgresServer, postgresVersion, type BenchDatabase } from './lib/postgres.ts';
import { BENCH_SCOPE, tempDir, writeResults } from './lib/site.ts';
import { mb, table } from './lib/stats.ts';
import { benchSecretText, CREDENTIAL_BASE, REVOKED_BASE, type ProbeJob, type ProbeResult } from './lib/largeStoreData.ts';

export interface Size {
  /** Results file name and label. */
  name: string;
  label: string;
  credentials: number;
  revocations: number;
  postgres: boolean;
}

const SIZE_1M: Size = { name: 'large-store', label: '1M + 1M', credentials: 1_000_000, revocations: 1_000_000, postgres: true };
const SIZE_10M: Size = { name: 'large-store-10m', label: '10M + 1M', credentials: 10_000_000, revocations: 1_000_000, postgres: false };
const DECISIONS = 20_000;
const VERIFICATIONS = 20_000;
const PG_FILL_TIMEOUT_S = 60;
const SEED = 20_260_101;
const TARGET_START_MS = 2000;
const TARGET_RSS_AFTER_START_BYTES = 150 * 1024 * 1024;
const TARGET_RSS_AFTER_BURST_BYTES = 200 * 1024 * 1024;
const TARGET_VERIFY_P99_US = 500;
/**
 * V8 options beside the controller's own heap tuning (controller/heapTuning.ts: the old generation
 * grows to 1.5x what survived the last full GC), for memory after a burst (BENCHMARKS.md,
 * large-store): the same burst again in a probe started with each (no verifier runs).
 * --heap-growing-percent=0: V8's default growth (up to 4x), i.e. without the tuning;
 * --optimize-for-size: V8's memory-saving mode.
 */
const MEMORY_VARIANTS: ReadonlyArray<readonly string[]> = [['--heap-growing-percent=0'], ['--optimize-for-size']];
const EXTRA_NODE_ARGS = (process.env.POSTERN_BENCH_PROBE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

const PROBE = fileURLToPath(new URL('./startProbe.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** The probe as the controller ships: the tsc build in dist/ (npm run bench builds it first), run by plain node. */
const PROBE_BUILD = fileURLToPath(new URL('../dist/bench/startProbe.js', import.meta.url));
const PROBE_RUNTIME: string = existsSync(PROBE_BUILD) ? 'node, dist/ build' : 'tsx (no dist/ build found)';

interface ProbeRun extends ProbeResult {
  /** Measured by the parent: spawn() to the probe's result line (includes node's own boot and exit of nothing). */
  spawnToResultMs: number;
}

export function runProbe(job: ProbeJob, nodeArgs: readonly string[] = EXTRA_NODE_ARGS): Promise<ProbeRun> {
  return new Promise((resolve, reject) => {
    const spawned = performance.now();
    // --expose-gc only lets the probe force one full GC after its measurements; it changes nothing else.
    const args = existsSync(PROBE_BUILD) ? [...nodeArgs, '--expose-gc', PROBE_BUILD] : [...nodeArgs, '--expose-gc', '--import', 'tsx', PROBE];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, POSTERN_PROBE: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let result: ProbeRun | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('PROBE_RESULT '));
      if (line !== undefined && result === undefined) {
        result = { ...(JSON.parse(line.slice('PROBE_RESULT '.length)) as ProbeResult), spawnToResultMs: performance.now() - spawned };
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && result !== undefined) resolve(result);
      else reject(new Error(`probe exited with ${code}: ${out.slice(-2000)}`));
    });
  });
}

/**
 * What a process costs before any Postern code is loaded: plain node, and node with the tsx loader
 * (how `npm start` and the bin run the controller). Same measurement as the probe: RSS right away.
 */
function runBaseline(loader: boolean): Promise<{ rss: number; readyMs: number }> {
  const code = 'process.stdout.write("PROBE_RESULT " + JSON.stringify({ rss: process.memoryUsage().rss, readyMs: performance.now() }) + "\\n")';
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(loader ? ['--import', 'tsx'] : []), '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      const line = out.split('\n').find((l) => l.startsWith('PROBE_RESULT '));
      if (exitCode === 0 && line !== undefined) resolve(JSON.parse(line.slice('PROBE_RESULT '.length)) as { rss: number; readyMs: number });
      else reject(new Error(`baseline process exited with ${exitCode}: ${out}`));
    });
  });
}

/** Runs the migrations and makes the site key, as a first controller start would. */
export async function migrate(dataDir: string, databaseUrl?: string): Promise<void> {
  const store = openStore({ dataDir, databaseUrl });
  await store.start();
  try {
    await loadOrCreateSiteKey(store);
  } finally {
    await store.stop();
  }
}

export async function fillSqlite(dataDir: string, size: Size): Promise<{ seconds: number; bytes: number; file: string }> {
  await migrate(dataDir);
  const file = path.join(dataDir, 'postern.sqlite');
  const t0 = performance.now();
  const db = new Sqlite(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const now = Date.now();
  const insertCredential = db.prepare(
    'INSERT INTO credentials (id, name, scope, secret, created_at, created_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)',
  );
  const insertRevocation = db.prepare('INSERT INTO revocations (issuer, subject, revoked_at, reason) VALUES (0, ?, ?, NULL)');
  // One transaction per million rows: the same file, and the progress shows.
  const CHUNK = 1_000_000;
  for (let from = 0; from < size.credentials; from += CHUNK) {
    db.transaction(() => {
      for (let i = from; i < Math.min(size.credentials, from + CHUNK); i++) {
        const id = (CREDENTIAL_BASE + BigInt(i)).toString();
        const secret = createHash('sha256').update(benchSecretText(id), 'utf8').digest();
        insertCredential.run(id, `bench credential ${i}`, BENCH_SCOPE, secret, now, 'bench');
      }
    })();
    if (size.credentials > CHUNK) console.log(`  ${Math.min(size.credentials, from + CHUNK).toLocaleString('en')} credentials, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  for (let from = 0; from < size.revocations; from += CHUNK) {
    db.transaction(() => {
      for (let i = from; i < Math.min(size.revocations, from + CHUNK); i++) insertRevocation.run((REVOKED_BASE + BigInt(i)).toString(), now);
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const seconds = (performance.now() - t0) / 1000;
  // Filled with synchronous = OFF: without this, the kernel writes the file back (a GB at 10M)
  // during the probe, and every fsync of the measured run (audit) waits behind it.
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { seconds, bytes: statSync(file).size, file };
}

async function fillPostgres(database: BenchDatabase, dataDir: string, size: Size): Promise<{ seconds: number; bytes: number }> {
  await migrate(dataDir, database.url);
  const client = await database.client();
  const t0 = performance.now();
  await client.query(`SET statement_timeout = '${PG_FILL_TIMEOUT_S}s'`);
  const now = Date.now();
  await client.query(
    `INSERT INTO credentials (id, name, scope, secret, created_at, created_by, revoked_at)
     SELECT (${CREDENTIAL_BASE} + g)::text, 'bench credential ' || g, ${BENCH_SCOPE},
            sha256(convert_to('${benchSecretText('')}' || (${CREDENTIAL_BASE} + g)::text, 'UTF8')),
            ${now}, 'bench', NULL
     FROM generate_series(0, ${size.credentials - 1}) AS g`,
  );
  const remaining = Math.max(1, Math.floor(PG_FILL_TIMEOUT_S - (performance.now() - t0) / 1000));
  await client.query(`SET statement_timeout = '${remaining}s'`);
  await client.query(
    `INSERT INTO revocations (issuer, subject, revoked_at, reason)
     SELECT 0, (${REVOKED_BASE} + g)::text, ${now}, NULL FROM generate_series(0, ${size.revocations - 1}) AS g`,
  );
  await client.query('SET statement_timeout = 0');
  // What autovacuum would do soon after such a load: statistics for the planner.
  await client.query('ANALYZE credentials');
  await client.query('ANALYZE revocations');
  const seconds = (performance.now() - t0) / 1000;
  const dbSize = await client.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
  return { seconds, bytes: Number(dbSize.rows[0]?.bytes ?? 0) };
}

/** PRAGMA quick_check alone on the filled file, warm page cache: the part of a SQLite start that grows with the data. */
function quickCheckSeconds(file: string): number {
  const db = new Sqlite(file, { readonly: true });
  try {
    const t0 = performance.now();
    db.pragma('quick_check');
    return (performance.now() - t0) / 1000;
  } finally {
    db.close();
  }
}

interface StoreReport {
  store: 'sqlite' | 'postgres';
  fill?: { seconds: number; bytes: number; quickCheckSeconds?: number };
  empty: ProbeRun;
  large?: ProbeRun;
  /** The same burst (no verifier runs) with each of MEMORY_VARIANTS' node options. */
  variants?: Array<{ nodeArgs: readonly string[]; run: ProbeRun }>;
  skipped?: string;
}

export function job(size: Size, dataDir: string, databaseUrl: string | undefined, withWork: boolean): ProbeJob {
  return {
    dataDir,
    databaseUrl,
    decisions: withWork ? DECISIONS : 0,
    verifications: withWork ? VERIFICATIONS : 0,
    credentials: size.credentials,
    revocations: size.revocations,
    seed: SEED,
    heapProfile: withWork ? process.env.POSTERN_BENCH_HEAP_PROFILE : undefined,
  };
}

function checkVerdicts(actual: Record<string, number> | undefined, expected: Record<string, number> | undefined): string {
  if (actual === undefined || expected === undefined) return '-';
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  return [...keys].every((k) => actual[k] === expected[k]) ? 'as expected' : `MISMATCH ${JSON.stringify(actual)}`;
}

async function runSqlite(size: Size): Promise<StoreReport> {
  const emptyDir = await tempDir('postern-bench-empty-');
  const largeDir = await tempDir('postern-bench-large-');
  try {
    await migrate(emptyDir.dir);
    console.log('SQLite: empty store probe ...');
    const empty = await runProbe(job(size, emptyDir.dir, undefined, false));
    console.log(`SQLite: filling ${size.credentials.toLocaleString('en')} credentials + ${size.revocations.toLocaleString('en')} revocations ...`);
    const fill = await fillSqlite(largeDir.dir, size);
    const quickCheck = quickCheckSeconds(fill.file);
    console.log(`SQLite: filled in ${fill.seconds.toFixed(1)} s (${mb(fill.bytes)} MB); probing ...`);
    const large = await runProbe(job(size, largeDir.dir, undefined, true));
    const variants: NonNullable<StoreReport['variants']> = [];
    for (const nodeArgs of MEMORY_VARIANTS) {
      console.log(`SQLite: the burst again with node ${nodeArgs.join(' ')} ...`);
      variants.push({ nodeArgs, run: await runProbe({ ...job(size, largeDir.dir, undefined, true), verifications: 0, heapProfile: undefined }, [...EXTRA_NODE_ARGS, ...nodeArgs]) });
    }
    return { store: 'sqlite', fill: { seconds: fill.seconds, bytes: fill.bytes, quickCheckSeconds: quickCheck }, empty, large, variants };
  } finally {
    await emptyDir.remove();
    await largeDir.remove();
  }
}

async function runPostgres(size: Size): Promise<StoreReport | string> {
  const version = await postgresVersion();
  if (version === null) return `skipped: PostgreSQL not reachable at ${postgresServer()}`;
  const scratch = await tempDir('postern-bench-pg-');
  const empty = await createBenchDatabase();
  let emptyRun: ProbeRun;
  try {
    await migrate(scratch.dir, empty.url);
    console.log('PostgreSQL: empty store probe ...');
    emptyRun = await runProbe(job(size, scratch.dir, empty.url, false));
  } finally {
    await empty.drop();
  }
  const database = await createBenchDatabase();
  try {
    console.log(`PostgreSQL: filling (INSERT ... SELECT FROM generate_series, at most ${PG_FILL_TIMEOUT_S} s) ...`);
    let fill: { seconds: number; bytes: number };
    try {
      fill = await fillPostgres(database, scratch.dir, size);
    } catch (error) {
      const message = (error as Error).message;
      if (/statement timeout/i.test(message)) return `skipped: filling took longer than ${PG_FILL_TIMEOUT_S} s`;
      throw error;
    }
    console.log(`PostgreSQL: filled in ${fill.seconds.toFixed(1)} s (${mb(fill.bytes)} MB); probing ...`);
    const large = await runProbe(job(size, scratch.dir, database.url, true));
    return { store: 'postgres', fill, empty: emptyRun, large };
  } finally {
    await database.drop();
    await scratch.remove();
  }
}

const seconds = (msValue: number) => (msValue / 1000).toFixed(3);

export const runLargeStore = (): Promise<void> => runLargeStoreOf(SIZE_1M);
export const runLargeStore10m = (): Promise<void> => runLargeStoreOf(SIZE_10M);

async function runLargeStoreOf(size: Size): Promise<void> {
  const pgVersion = size.postgres ? await postgresVersion() : undefined;
  const env = environment(pgVersion);
  console.log(`\n# ${size.name}: ${size.credentials.toLocaleString('en')} rotating credentials, ${size.revocations.toLocaleString('en')} revocations\n${describeEnvironment(env)}\n`);
  console.log(`probe runtime: ${PROBE_RUNTIME}${EXTRA_NODE_ARGS.length > 0 ? `, node options ${EXTRA_NODE_ARGS.join(' ')}` : ''}`);

  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');
  const load = watchLoad();
  const baseline = { node: await runBaseline(false), nodeWithTsx: await runBaseline(true) };
  const reports: StoreReport[] = [await runSqlite(size)];
  let pgSkipped: string | undefined = size.postgres ? undefined : 'not measured at this size';
  if (size.postgres) {
    const pg = await runPostgres(size);
    if (typeof pg === 'string') {
      pgSkipped = pg;
      console.log(`PostgreSQL: ${pg}`);
    } else reports.push(pg);
  }
  const machine = load.stop();

  console.log(describeLoad(machine));
  console.log('\n' + table(
    ['store', 'fill s', 'size MB', 'quick_check alone s'],
    reports.map((r) => [r.store, r.fill ? r.fill.seconds.toFixed(1) : '-', r.fill ? mb(r.fill.bytes) : '-', r.fill?.quickCheckSeconds?.toFixed(3) ?? '-']),
  ));

  const startRows: string[][] = [
    ['node alone (no Postern code)', seconds(baseline.node.readyMs), '-', '-', '-', mb(baseline.node.rss), '-', '-', '-'],
    ['node + tsx loader (no Postern code)', seconds(baseline.nodeWithTsx.readyMs), '-', '-', '-', mb(baseline.nodeWithTsx.rss), '-', '-', '-'],
  ];
  for (const r of reports) {
    for (const [label, p] of [['empty', r.empty], [size.label, r.large]] as const) {
      if (p === undefined) continue;
      startRows.push([
        `${r.store}, ${label}`,
        seconds(p.processStartToStartedMs),
        seconds(p.startMs),
        seconds(p.importsDoneMs),
        seconds(p.spawnToResultMs),
        mb(p.rssAfterStart),
        p.peaksDuringDecisions === undefined ? '-' : mb(p.peaksDuringDecisions.rss),
        p.rssAfterDecisions === undefined ? '-' : mb(p.rssAfterDecisions),
        mb(p.heapUsedAfterStart),
      ]);
    }
  }
  const memoryRows = reports
    .flatMap((r) => [
      [r.store, r.large],
      ...(r.variants ?? []).map((v) => [`${r.store}, node ${v.nodeArgs.join(' ')}`, v.run] as const),
    ] as const)
    .filter(([, p]) => p?.heapUsedAfterDecisions !== undefined)
    .map(([label, probe]) => {
      const p = probe!;
      return [
        label,
        mb(p.rssAfterDecisions ?? 0),
        mb(p.peaksDuringDecisions?.heapTotal ?? 0),
        mb(p.peaksDuringDecisions?.heapUsed ?? 0),
        mb(p.heapTotalAfterDecisions ?? 0),
        mb(p.heapUsedAfterDecisions ?? 0),
        p.rssAfterIdle === undefined ? '-' : mb(p.rssAfterIdle),
        p.heapTotalAfterIdle === undefined ? '-' : mb(p.heapTotalAfterIdle),
        p.heapUsedAfterGc === undefined ? '-' : mb(p.heapUsedAfterGc),
        p.rssAfterGc === undefined ? '-' : mb(p.rssAfterGc),
      ];
    });

  console.log('\n' + table(
    ['store', 'process start → started s', 'start() s', 'imports s', 'spawn → result (parent) s', 'RSS after start MB', `RSS peak during ${DECISIONS.toLocaleString('en')} decisions MB`, 'RSS after them MB', 'heap used after start MB'],
    startRows,
  ));

  console.log('\n' + table(
    [`after ${DECISIONS.toLocaleString('en')} decisions`, 'RSS MB', 'V8 heap total peak MB', 'heap used peak MB', 'heap total after MB', 'heap used after MB', 'RSS after 10 s idle MB', 'heap total after 10 s idle MB', 'heap used after full GC MB', 'RSS after full GC MB'],
    memoryRows,
  ));

  const throughputRows: string[][] = [];
  for (const r of reports) {
    const p = r.large;
    if (p === undefined) continue;
    if (p.decisions) {
      throughputRows.push([`${r.store}: decisions via controller (64 scanners × 4 in flight, audited)`, String(p.decisions.count), p.decisions.perSecond.toFixed(0), checkVerdicts(p.decisions.verdicts, p.decisions.expected)]);
    }
    for (const v of r.variants ?? []) {
      const o = v.run.decisions;
      if (o) throughputRows.push([`${r.store}: the same, node ${v.nodeArgs.join(' ')}`, String(o.count), o.perSecond.toFixed(0), checkVerdicts(o.verdicts, o.expected)]);
    }
    if (p.verifier) {
      throughputRows.push([`${r.store}: Verifier.verify, 1 at a time`, String(p.verifier.sequential.count), p.verifier.sequential.perSecond.toFixed(0), checkVerdicts(p.verifier.sequential.outcomes, p.verifier.expected)]);
      throughputRows.push([`${r.store}: Verifier.verify, 16 at once`, String(p.verifier.concurrent16.count), p.verifier.concurrent16.perSecond.toFixed(0), checkVerdicts(p.verifier.concurrent16.outcomes, p.verifier.expected)]);
    }
  }
  console.log('\n' + table(['path (mix: ⅓ valid link, ⅓ revoked link, ⅓ rotating)', 'count', 'per second', 'outcomes'], throughputRows));

  const kindRows: string[][] = [];
  for (const r of reports) {
    for (const [kind, k] of Object.entries(r.large?.verifier?.sequential.byKind ?? {})) {
      kindRows.push([`${r.store}: ${kind}`, String(k.count), k.p50Us.toFixed(1), k.p99Us.toFixed(1), k.maxUs.toFixed(1), k.p99Us < TARGET_VERIFY_P99_US ? 'met' : 'NOT MET']);
    }
  }
  console.log('\n' + table([`Verifier.verify, 1 at a time (${size.label})`, 'count', 'p50 µs', 'p99 µs', 'max µs', `p99 < ${TARGET_VERIFY_P99_US} µs`], kindRows));

  const targets = reports
    .filter((r) => r.large !== undefined)
    .map((r) => {
      const p = r.large!;
      const byKind = p.verifier?.sequential.byKind ?? {};
      return {
        store: r.store,
        startMet: p.processStartToStartedMs < TARGET_START_MS,
        startMs: Math.round(p.processStartToStartedMs),
        rssAfterStartMet: p.rssAfterStart < TARGET_RSS_AFTER_START_BYTES,
        rssAfterStartMB: Number(mb(p.rssAfterStart)),
        rssAfterDecisionsMet: p.rssAfterDecisions !== undefined && p.rssAfterDecisions < TARGET_RSS_AFTER_BURST_BYTES,
        rssAfterDecisionsMB: p.rssAfterDecisions === undefined ? null : Number(mb(p.rssAfterDecisions)),
        rssAfterDecisionsWithMB: Object.fromEntries((r.variants ?? []).map((v) => [v.nodeArgs.join(' '), v.run.rssAfterDecisions === undefined ? null : Number(mb(v.run.rssAfterDecisions))])),
        verifyP99Us: Object.fromEntries(Object.entries(byKind).map(([kind, k]) => [kind, k.p99Us])),
        verifyP99Met: Object.fromEntries(Object.entries(byKind).map(([kind, k]) => [kind, k.p99Us < TARGET_VERIFY_P99_US])),
      };
    });
  console.log('');
  const verdict = (met: boolean) => (met ? 'MET' : 'NOT MET');
  for (const t of targets) {
    console.log(
      `target (${t.store}, ${size.label}): start < 2 s from process start: ${verdict(t.startMet)} (${seconds(t.startMs)} s); ` +
        `RSS < 150 MB after start: ${verdict(t.rssAfterStartMet)} (${t.rssAfterStartMB} MB); ` +
        `RSS < 200 MB after ${DECISIONS.toLocaleString('en')} decisions: ${verdict(t.rssAfterDecisionsMet)} (${t.rssAfterDecisionsMB} MB` +
        Object.entries(t.rssAfterDecisionsWithMB).map(([args, rss]) => `; ${rss} MB with node ${args}`).join('') + '); ' +
        `verify p99 < 0.5 ms: ${Object.entries(t.verifyP99Us).map(([kind, us]) => `${kind} ${verdict(us < TARGET_VERIFY_P99_US)} (${(us / 1000).toFixed(3)} ms)`).join(', ')}`,
    );
  }

  const file = await writeResults(size.name, {
    benchmark: size.name,
    probeRuntime: PROBE_RUNTIME,
    probeNodeOptions: EXTRA_NODE_ARGS,
    measuredAt: new Date().toISOString(),
    environment: env,
    config: { credentials: size.credentials, revocations: size.revocations, decisions: DECISIONS, verifications: VERIFICATIONS, doors: 64, seed: SEED },
    targets: {
      startMs: TARGET_START_MS,
      rssAfterStartBytes: TARGET_RSS_AFTER_START_BYTES,
      rssAfterBurstBytes: TARGET_RSS_AFTER_BURST_BYTES,
      verifyP99Us: TARGET_VERIFY_P99_US,
      results: targets,
    },
    postgres: pgSkipped ?? 'measured',
    baseline,
    load: machine,
    results: reports,
  });
  console.log(`results: ${file}`);
}
