/**
 * Scan-to-relay latency: the time from SimulatedScanner.read(text) (performance.now() taken just
 * before the call) to the onRelay(true) callback of that door's SimulatedDoorIo, through the real
 * controller and its decision path (bench/lib/scanHarness.ts):
 *
 *   driver read → scanner actor (machines/scannerMachine.ts, `deciding`) → invoked `decide`
 *   (controller/decision/decide.ts: the Verifier's checks; a rotating code's single use is claimed
 *   in memory) → GRANT to the door actor
 *   (machines/doorMachine.ts, `admitting`) → AuditTrail.record(): the grant's audit event durable,
 *   i.e. committed by the store (SQLite: the writer thread, WAL, synchronous = FULL, group commit;
 *   PostgreSQL: synchronous_commit on), or fsync'd to the audit journal once the store has kept an
 *   event waiting longer than 500 ms → `unlocked` → setRelay(true): the end of the measure.
 *
 * So every measured grant is durable against power loss before its relay moves. Denials are
 * recorded after the verdict (decisionLog.ts) and are not on this path; none happen here.
 *
 * Site: 64 doors (unlockSeconds 0.05), one simulated scanner per door (debounceMs 0), log level
 * silent, a throttle that never locks out, the operator API off. Every scan carries a distinct
 * valid code (a new link subject, or a rotating credential not used before), so nothing is
 * debounced or replayed. A grant only moves the relay of a door that is `secured`, so doors are
 * used in rotation and a door is scanned only while its relay is locked and no scan of its own is
 * in flight: the sequential run waits (unmeasured) for the door to relock (its relock timer,
 * 50 ms), the open loop skips to the next secured door. No LOCK commands are sent, so the audit
 * events are the grants and the doors' own state changes (unlocked, secured), as in normal use.
 *
 * Scenarios, each on SQLite (temp data dir) and PostgreSQL (throwaway database):
 *   warm-up      100 sequential scans (20 % rotating), not reported
 *   sequential   1,000 link scans, each after the previous relay command
 *   open loop    200 scans/s for 10 s, scheduled by time (not waiting for replies), 20 % rotating
 *                codes, reported per kind
 * The audit journal file is watched (stat every 50 ms): a grant journaled instead of stored shows.
 *
 * Before the scenarios, the durable floor of this disk (bench/lib/durableFloor.ts: fdatasync of
 * 1 KiB, a SQLite commit on this thread and through the writer thread) in the same temp directory,
 * so that durable scan-to-relay can be read as a multiple of one fsync; and the writer thread's
 * commit of one audit event at the open loop's rate with nothing else running: no grant at that
 * rate can be faster than its own durable write, so where that floor's p99 is over the target, the
 * target is out of reach on this machine whatever the controller does.
 */
import { statSync } from 'node:fs';
import path from 'node:path';

import { Controller } from '../controller/controller.ts';
import { measureDurableFloor, measureWriterFloorAtRate, durableFloorRows, type DurableFloor, type WriterFloorAtRate } from './lib/durableFloor.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad, type MachineLoad } from './lib/environment.ts';
import { DiskStallWatch, overlapsStall, type DiskStall } from './lib/diskStalls.ts';
import { createBenchDatabase, postgresServer, postgresVersion, type BenchDatabase } from './lib/postgres.ts';
import { GcWatch, Harness, prepareStore, runOpenLoop, type GcReport, type Kind } from './lib/scanHarness.ts';
import { benchSite, tempDir, UNLOCK_SECONDS, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, ms, rounded, sleep, summarize, table, type LatencySummary } from './lib/stats.ts';

const DOORS = 64;
const WARMUP_SCANS = 100;
const SEQUENTIAL_SCANS = 1000;
const OPEN_LOOP_RATE = 200; // scans per second
const OPEN_LOOP_SECONDS = 10;
/** Every ROTATING_EVERY-th scan of the warm-up and the open loop is a rotating code. */
const ROTATING_EVERY = 5;
const ROTATING_CREDENTIALS = 1000;
const TARGET_P99_MS = 2;
/** Scans slower than this are checked against GC pauses. */
const SLOW_MS = 2;
const FLOOR_SAMPLES = 1000;
/** A probe fsync slower than this is a disk stall: one fsync here is ~0.2-0.5 ms at p99. */
const DISK_STALL_MS = 2;

/**
 * The figures before the durable decision path: BENCHMARKS.md as of commit e115040 (measured
 * 2026-11-26 03:30 UTC on the code of that commit: SQLite on the main thread, WAL with
 * synchronous = NORMAL, i.e. not durable against power loss; the decision stored before the relay).
 */
const BEFORE = {
  commit: 'e115040',
  rows: {
    'sqlite: sequential, links': { p50: 0.478, p99: 1.0 },
    'sqlite: 200/s, all': { p50: 0.418, p99: 0.937 },
    'sqlite: 200/s, links': { p50: 0.398, p99: 0.767 },
    'sqlite: 200/s, rotating': { p50: 0.598, p99: 1.485 },
    'postgres: sequential, links': { p50: 1.25, p99: 7.7 },
    'postgres: 200/s, all': { p50: 1.236, p99: 4.647 },
    'postgres: 200/s, links': { p50: 1.184, p99: 4.026 },
    'postgres: 200/s, rotating': { p50: 2.08, p99: 7.213 },
  } as Record<string, { p50: number; p99: number }>,
};

interface OpenLoopResult {
  offered: number;
  sent: number;
  durationSeconds: number;
  all: LatencySummary;
  link: LatencySummary;
  rotating: LatencySummary;
  /** How late each scan was sent after its scheduled time (timer granularity). */
  sendLag: LatencySummary;
  /** Each measured scan's interval, for attributing slow ones to disk stalls. */
  intervals: Array<{ t0: number; t1: number }>;
  skippedDoorsBusy: number;
  failures: Record<string, number>;
  gc: GcReport;
}

interface StoreResult {
  store: 'sqlite' | 'postgres';
  location: string;
  sequential: { link: LatencySummary; waitsForRelock: number; failures: Record<string, number>; gc: GcReport; intervals: Array<{ t0: number; t1: number }> };
  openLoop: OpenLoopResult;
  /** The largest the audit journal file was seen (bytes): 0 means every grant was durable in the store. */
  journalMaxBytes: number;
  /** The machine while the scenarios ran (warm-up to the end of the open loop). */
  load: MachineLoad;
  /** The disk's fsync stalls over DISK_STALL_MS seen meanwhile (bench/lib/diskStalls.ts). */
  diskStalls: DiskStall[];
}

function count(failures: Record<string, number>, reason: string): void {
  failures[reason] = (failures[reason] ?? 0) + 1;
}

async function sequential(harness: Harness, scans: number, kindOf: (n: number) => Kind) {
  const samples: number[] = [];
  const intervals: Array<{ t0: number; t1: number }> = [];
  const failures: Record<string, number> = {};
  const gc = new GcWatch(SLOW_MS);
  let waits = 0;
  for (let n = 0; n < scans; n++) {
    const i = harness.nextDoorInRotation();
    if (!harness.available(i)) {
      waits++;
      await harness.waitSecured(i);
    }
    const result = await harness.scan(i, kindOf(n));
    if (result.t1 !== undefined) {
      samples.push(result.t1 - result.t0);
      intervals.push({ t0: result.t0, t1: result.t1 });
    } else count(failures, result.failure ?? 'unknown');
  }
  return { samples, failures, waits, gc: gc.report(intervals), intervals };
}

async function openLoop(harness: Harness): Promise<OpenLoopResult> {
  const gc = new GcWatch(SLOW_MS);
  const run = await runOpenLoop(harness, {
    rate: OPEN_LOOP_RATE,
    seconds: OPEN_LOOP_SECONDS,
    kindOf: (n) => (n % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link'),
  });
  const byKind: Record<Kind, number[]> = { link: [], rotating: [] };
  const intervals: Array<{ t0: number; t1: number }> = [];
  const failures: Record<string, number> = {};
  for (const scan of run.scans) {
    if (scan.t1 !== undefined) {
      byKind[scan.kind].push(scan.t1 - scan.t0);
      intervals.push({ t0: scan.t0, t1: scan.t1 });
    } else count(failures, `${scan.kind}: ${scan.failure ?? 'unknown'}`);
  }
  return {
    offered: run.offered,
    sent: run.scans.length,
    durationSeconds: Math.round((run.end - run.start) / 10) / 100,
    all: summarize([...byKind.link, ...byKind.rotating]),
    link: summarize(byKind.link),
    rotating: summarize(byKind.rotating),
    sendLag: summarize(run.scans.map((s) => s.t0 - s.scheduled)),
    intervals,
    skippedDoorsBusy: run.skippedDoorsBusy,
    failures,
    gc: gc.report(intervals),
  };
}

/** Watches the audit journal file's size: it only grows when the store kept an event waiting past the bound. */
function watchJournal(file: string): { stop(): number } {
  let max = 0;
  const look = () => {
    try {
      max = Math.max(max, statSync(file).size);
    } catch {
      // not made yet: nothing was ever journaled
    }
  };
  const timer = setInterval(look, 50);
  return {
    stop() {
      clearInterval(timer);
      look();
      return max;
    },
  };
}

async function runOnStore(store: 'sqlite' | 'postgres', database: BenchDatabase | undefined): Promise<StoreResult> {
  const temp = await tempDir(`postern-bench-latency-${store}-`);
  try {
    const config = benchSite(temp.dir, DOORS);
    const databaseUrl = database?.url;

    // The site key and the rotating credentials, made before the controller starts.
    const { siteKey, credentials } = await prepareStore(temp.dir, databaseUrl, ROTATING_CREDENTIALS);

    const controller = new Controller({ config, databaseUrl });
    await controller.start();
    const harness = new Harness(controller, DOORS, siteKey, credentials);
    const journal = watchJournal(path.join(temp.dir, `audit-journal.${config.site.id}.ndjson`));
    // PostgreSQL's files are not in temp.dir, but on this machine they are on the same disk.
    const disk = new DiskStallWatch(temp.dir, { thresholdMs: DISK_STALL_MS });
    let diskStalls: DiskStall[] | undefined;
    try {
      const load = watchLoad();
      const mixed = (n: number): Kind => (n % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link');
      const warm = await sequential(harness, WARMUP_SCANS, mixed);
      if (Object.keys(warm.failures).length > 0) throw new Error(`warm-up failed: ${JSON.stringify(warm.failures)}`);

      const seq = await sequential(harness, SEQUENTIAL_SCANS, () => 'link');
      // Let every door relock before the open loop starts.
      await harness.waitAllSecured();
      const open = await openLoop(harness);
      const machine = load.stop();
      diskStalls = await disk.stop();
      console.log(`${store}: ${describeLoad(machine)}`);
      await sleep(UNLOCK_SECONDS * 1000 * 4);
      if (harness.unsolicitedRelays > 0) console.warn(`${store}: ${harness.unsolicitedRelays} relay commands matched no scan`);
      return {
        store,
        location: store === 'sqlite' ? `${temp.dir}/postern.sqlite` : `${postgresServer()}/${database?.name}`,
        sequential: { link: summarize(seq.samples), waitsForRelock: seq.waits, failures: seq.failures, gc: seq.gc, intervals: seq.intervals },
        openLoop: open,
        journalMaxBytes: journal.stop(),
        load: machine,
        diskStalls,
      };
    } finally {
      if (diskStalls === undefined) await disk.stop();
      harness.close();
      await controller.stop();
    }
  } finally {
    await temp.remove();
  }
}

function roundResult({ sequential: { intervals: _s, ...sequential }, openLoop: { intervals: _o, ...openLoop }, ...result }: StoreResult) {
  return {
    ...result,
    diskStalls: result.diskStalls.map((s) => ({ start: Math.round(s.start), ms: Math.round(s.ms * 100) / 100 })),
    sequential: { ...sequential, link: rounded(sequential.link) },
    openLoop: {
      ...openLoop,
      all: rounded(openLoop.all),
      link: rounded(openLoop.link),
      rotating: rounded(openLoop.rotating),
      sendLag: rounded(openLoop.sendLag),
    },
  };
}

export async function runDecisionLatency(): Promise<void> {
  const name = 'latency';
  const pgVersion = await postgresVersion();
  const env = environment(pgVersion);
  console.log(`\n# ${name}: scan → relay command, ${DOORS} doors\n${describeEnvironment(env)}\n`);
  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');

  console.log(`durable floor: ${FLOOR_SAMPLES} writes of each kind ...`);
  const floorDir = await tempDir('postern-bench-floor-');
  let floor: DurableFloor;
  try {
    floor = await measureDurableFloor(floorDir.dir, FLOOR_SAMPLES);
  } finally {
    await floorDir.remove();
  }
  console.log(`durable floor at ${OPEN_LOOP_RATE}/s: the writer thread alone, ${OPEN_LOOP_SECONDS} s ...`);
  const rateDir = await tempDir('postern-bench-floor-rate-');
  let floorAtRate: WriterFloorAtRate;
  try {
    floorAtRate = await measureWriterFloorAtRate(rateDir.dir, OPEN_LOOP_RATE, OPEN_LOOP_SECONDS);
  } finally {
    await rateDir.remove();
  }

  const results: StoreResult[] = [];
  console.log('SQLite ...');
  results.push(await runOnStore('sqlite', undefined));

  if (pgVersion === null) {
    console.log(`PostgreSQL: skipped, not reachable at ${postgresServer()} (set POSTERN_BENCH_PG_URL or start it)`);
  } else {
    console.log(`PostgreSQL ${pgVersion} ...`);
    const database = await createBenchDatabase();
    try {
      results.push(await runOnStore('postgres', database));
    } finally {
      await database.drop();
    }
  }

  const rows: string[][] = [];
  for (const r of results) {
    rows.push(latencyRow(`${r.store}: sequential, links`, r.sequential.link));
    rows.push(latencyRow(`${r.store}: ${OPEN_LOOP_RATE}/s, all`, r.openLoop.all));
    rows.push(latencyRow(`${r.store}: ${OPEN_LOOP_RATE}/s, links`, r.openLoop.link));
    rows.push(latencyRow(`${r.store}: ${OPEN_LOOP_RATE}/s, rotating`, r.openLoop.rotating));
  }
  console.log('\n' + table(LATENCY_HEADERS, rows));

  console.log(`\ndurable floor on this disk (${floor.directory.replace(/[^/]+$/, '')}), one at a time:`);
  console.log(table(LATENCY_HEADERS, [
    ...durableFloorRows(floor).map(([label, s]) => latencyRow(label, s)),
    latencyRow(`writer thread: one audit event at ${OPEN_LOOP_RATE}/s, alone (${floorAtRate.batches} commits)`, floorAtRate.commit),
  ]));

  const fsync = floor.fdatasyncAppend;
  const comparison: string[][] = [];
  for (const r of results) {
    for (const [label, s] of [
      [`${r.store}: sequential, links`, r.sequential.link],
      [`${r.store}: ${OPEN_LOOP_RATE}/s, all`, r.openLoop.all],
      [`${r.store}: ${OPEN_LOOP_RATE}/s, links`, r.openLoop.link],
      [`${r.store}: ${OPEN_LOOP_RATE}/s, rotating`, r.openLoop.rotating],
    ] as const) {
      const before = BEFORE.rows[label];
      comparison.push([
        label,
        before ? ms(before.p50) : '-',
        before ? ms(before.p99) : '-',
        ms(s.p50),
        ms(s.p99),
        before ? `${(s.p99 / before.p99).toFixed(2)}×` : '-',
        `${(s.p50 / fsync.p50).toFixed(1)}×`,
        `${(s.p99 / fsync.p99).toFixed(1)}×`,
      ]);
    }
  }
  console.log('\n' + table(
    ['scan → relay', `before (${BEFORE.commit}, not durable) p50 ms`, 'before p99 ms', 'durable p50 ms', 'durable p99 ms', 'p99 durable ÷ before', 'p50 ÷ fdatasync p50', 'p99 ÷ fdatasync p99'],
    comparison,
  ));

  console.log('\n' + table(
    ['store', 'open loop sent/offered', 'seconds', 'send lag p99 ms', 'send lag max ms', 'skipped (no free door)', 'failures', 'sequential: waits for relock', 'journal max bytes'],
    results.map((r) => [
      r.store,
      `${r.openLoop.sent}/${r.openLoop.offered}`,
      r.openLoop.durationSeconds.toFixed(2),
      ms(r.openLoop.sendLag.p99),
      ms(r.openLoop.sendLag.max),
      String(r.openLoop.skippedDoorsBusy),
      JSON.stringify({ ...r.sequential.failures, ...r.openLoop.failures }),
      String(r.sequential.waitsForRelock),
      String(r.journalMaxBytes),
    ]),
  ));

  console.log('\n' + table(
    ['scenario', 'GC pauses', 'GC total ms', 'GC max ms', `scans > ${SLOW_MS} ms`, '… overlapping a GC pause', `… a disk stall (fsync > ${DISK_STALL_MS} ms)`],
    results.flatMap((r) =>
      (
        [
          [`${r.store}: sequential`, r.sequential.gc, r.sequential.intervals],
          [`${r.store}: ${OPEN_LOOP_RATE}/s`, r.openLoop.gc, r.openLoop.intervals],
        ] as const
      ).map(([label, g, intervals]) => {
        const duringStall = intervals.filter((s) => s.t1 - s.t0 > SLOW_MS && overlapsStall(r.diskStalls, s.t0, s.t1)).length;
        return [label, String(g.pauses), ms(g.totalMs, 1), ms(g.maxMs, 2), String(g.slowScans), String(g.slowScansDuringGc), String(duringStall)];
      }),
    ),
  ));
  for (const r of results) {
    const longest = Math.max(0, ...r.diskStalls.map((s) => s.ms));
    console.log(`${r.store}: ${r.diskStalls.length} disk stalls over ${DISK_STALL_MS} ms (a 1 KiB fdatasync probed every 50 ms), the longest ${ms(longest, 1)} ms`);
  }

  const sqlite = results.find((r) => r.store === 'sqlite');
  const met = sqlite !== undefined && sqlite.openLoop.all.p99 < TARGET_P99_MS && Object.keys(sqlite.openLoop.failures).length === 0;
  const floorP99 = floorAtRate.commit.p99;
  console.log(
    `\ntarget: p99 < ${TARGET_P99_MS} ms on SQLite at ${OPEN_LOOP_RATE} scans/s: ${met ? 'MET' : 'NOT MET'} (p99 ${ms(sqlite?.openLoop.all.p99 ?? Number.NaN)} ms); ` +
      `the durable write alone at that rate: p99 ${ms(floorP99)} ms` +
      (floorP99 >= TARGET_P99_MS ? ', itself over the target: out of reach on this machine' : `, ${ms(TARGET_P99_MS - floorP99)} ms left for the rest of the path at p99`),
  );

  const file = await writeResults(name, {
    benchmark: name,
    measuredAt: new Date().toISOString(),
    environment: env,
    config: {
      doors: DOORS,
      unlockSeconds: UNLOCK_SECONDS,
      warmupScans: WARMUP_SCANS,
      sequentialScans: SEQUENTIAL_SCANS,
      openLoopRate: OPEN_LOOP_RATE,
      openLoopSeconds: OPEN_LOOP_SECONDS,
      rotatingFraction: 1 / ROTATING_EVERY,
      doorPolicy: 'rotation; a door is scanned only while secured with no scan in flight (sequential waits for relock, open loop skips to the next secured door)',
    },
    target: { p99Ms: TARGET_P99_MS, store: 'sqlite', rate: OPEN_LOOP_RATE, met },
    durableFloor: floor,
    durableFloorAtRate: floorAtRate,
    before: BEFORE,
    results: results.map(roundResult),
  });
  console.log(`results: ${file}`);
}
