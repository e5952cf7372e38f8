/**
 * Scan-to-relay latency: the time from SimulatedScanner.read(text) (performance.now() taken just
 * before the call) to the onRelay(true) callback of that door's SimulatedDoorIo, through the real
 * controller: scanner actor, site actor, decision service, verifier, store, audit trail, door actor.
 *
 * Site: 64 doors (unlockSeconds 0.05), one simulated scanner per door (debounceMs 0), log level
 * silent, a throttle that never locks out. Every scan carries a distinct valid code (a new link
 * subject, or a rotating credential not used before), so nothing is debounced or replayed.
 *
 * A grant only moves the relay of a door that is `secured` (the door machine commands the relay
 * only when it changes). Doors are used in rotation, and a door is scanned only while its relay is
 * locked (SimulatedDoorIo.relayUnlocked === false; no door is ever opened here, so that means
 * `secured`) and no scan of its own is in flight: the sequential run waits for the door to relock
 * (its relock timer, 50 ms; that wait is not measured), the open-loop run skips to the next
 * secured door. No LOCK commands are sent, so the only audit events are the decisions and the
 * doors' own state changes (unlocked, secured), as in normal operation. The operator API is off.
 *
 * Scenarios, each on SQLite (temp data dir) and PostgreSQL (throwaway database):
 *   warm-up      100 sequential scans (20 % rotating), not reported
 *   sequential   1,000 link scans, each after the previous relay command
 *   open loop    200 scans/s for 10 s, scheduled by time (not waiting for replies), 20 % rotating
 *                codes (these also write a replay mark), reported per kind
 */
import { randomBytes } from 'node:crypto';
import { performance, PerformanceObserver } from 'node:perf_hooks';

import { Controller } from '../controller/controller.ts';
import { encodeCredential, timeStep } from '../controller/credentials/credentialCodec.ts';
import type { Decision } from '../controller/decision/decisionLog.ts';
import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import type { SimulatedDoorIo } from '../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../drivers/scanners/simulatedScanner.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad, type MachineLoad } from './lib/environment.ts';
import { createBenchDatabase, postgresServer, postgresVersion, type BenchDatabase } from './lib/postgres.ts';
import { BENCH_SCOPE, benchSite, doorId, scannerId, tempDir, UNLOCK_SECONDS, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, ms, rounded, sleep, summarize, table, type LatencySummary } from './lib/stats.ts';

const DOORS = 64;
const WARMUP_SCANS = 100;
const SEQUENTIAL_SCANS = 1000;
const OPEN_LOOP_RATE = 200; // scans per second
const OPEN_LOOP_SECONDS = 10;
/** Every ROTATING_EVERY-th scan of the warm-up and the open loop is a rotating code. */
const ROTATING_EVERY = 5;
const ROTATING_CREDENTIALS = 1000;
/** A scan whose relay command has not come after this is counted as lost. */
const SCAN_TIMEOUT_MS = 5000;
const TARGET_P99_MS = 2;

type Kind = 'link' | 'rotating';

interface ScanResult {
  t0: number;
  t1?: number;
  failure?: string;
}

interface InFlight {
  t0: number;
  kind: Kind;
  done: (result: ScanResult) => void;
}

/** Garbage-collection pauses seen while a scenario ran, and how many slow scans overlapped one. */
interface GcReport {
  pauses: number;
  totalMs: number;
  maxMs: number;
  /** Scans slower than SLOW_MS. */
  slowScans: number;
  /** Of those, how many had a GC pause inside their scan-to-relay interval. */
  slowScansDuringGc: number;
}

const SLOW_MS = 2;

/** Watches GC pauses (performance entries of type 'gc') for attribution of slow scans. */
class GcWatch {
  private readonly pauses: Array<{ start: number; end: number }> = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.pauses.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  report(intervals: ReadonlyArray<{ t0: number; t1: number }>): GcReport {
    this.observer.disconnect();
    const slow = intervals.filter((s) => s.t1 - s.t0 > SLOW_MS);
    const overlaps = slow.filter((s) => this.pauses.some((p) => p.start < s.t1 && p.end > s.t0)).length;
    const durations = this.pauses.map((p) => p.end - p.start);
    const r = (v: number) => Math.round(v * 1000) / 1000;
    return {
      pauses: durations.length,
      totalMs: r(durations.reduce((a, b) => a + b, 0)),
      maxMs: r(Math.max(0, ...durations)),
      slowScans: slow.length,
      slowScansDuringGc: overlaps,
    };
  }
}

interface OpenLoopResult {
  offered: number;
  sent: number;
  durationSeconds: number;
  all: LatencySummary;
  link: LatencySummary;
  rotating: LatencySummary;
  /** How late each scan was sent after its scheduled time (timer granularity). */
  sendLag: LatencySummary;
  skippedDoorsBusy: number;
  failures: Record<string, number>;
  gc: GcReport;
}

interface StoreResult {
  store: 'sqlite' | 'postgres';
  location: string;
  sequential: { link: LatencySummary; waitsForRelock: number; failures: Record<string, number>; gc: GcReport };
  openLoop: OpenLoopResult;
  /** The machine while the scenarios ran (warm-up to the end of the open loop). */
  load: MachineLoad;
}

/** Drives one running controller: knows which door has a scan in flight and matches the relay command to it. */
class Harness {
  private readonly inFlight: Array<InFlight | undefined> = new Array(DOORS).fill(undefined);
  private readonly scanners: SimulatedScanner[] = [];
  private readonly ios: SimulatedDoorIo[] = [];
  private readonly doorIndex = new Map<string, number>();
  private readonly cleanups: Array<() => void> = [];
  private linkSubject = 1_000_000_000n;
  private rotatingNext = 0;
  unsolicitedRelays = 0;
  private cursor = 0;

  constructor(
    controller: Controller,
    private readonly siteKey: Buffer,
    private readonly credentials: ReadonlyArray<{ subject: bigint; secret: Buffer }>,
  ) {
    for (let i = 0; i < DOORS; i++) {
      const id = doorId(i);
      this.doorIndex.set(id, i);
      const scanner = controller.scannerDriver(scannerId(i)) as SimulatedScanner | undefined;
      const io = controller.doorIo(id) as SimulatedDoorIo | undefined;
      if (scanner === undefined || io === undefined) throw new Error(`door ${id} has no simulated scanner or door I/O`);
      this.scanners.push(scanner);
      this.ios.push(io);
      this.cleanups.push(
        io.onRelay((unlocked) => {
          if (!unlocked) return;
          const now = performance.now();
          const flight = this.inFlight[i];
          if (flight === undefined) {
            this.unsolicitedRelays++;
            return;
          }
          this.inFlight[i] = undefined;
          flight.done({ t0: flight.t0, t1: now });
        }),
      );
    }
    this.cleanups.push(controller.onDecision((decision) => this.onDecision(decision)));
  }

  close(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  /** A relay command comes before the decision listeners run; a scan still in flight here got no relay command. */
  private onDecision(decision: Decision): void {
    const i = this.doorIndex.get(decision.door);
    if (i === undefined) return;
    const flight = this.inFlight[i];
    if (flight === undefined) return;
    this.inFlight[i] = undefined;
    flight.done({ t0: flight.t0, failure: decision.verdict === 'grant' ? 'grant without relay command' : `deny: ${decision.reason}` });
  }

  /** The door's relay is locked: a grant will command it to unlock (the door is `secured`; no door is ever opened here). */
  secured(i: number): boolean {
    return this.ios[i]!.relayUnlocked === false;
  }

  available(i: number): boolean {
    return this.inFlight[i] === undefined && this.secured(i);
  }

  /** The next door in rotation that can take a scan now, or undefined. */
  nextAvailableDoor(): number | undefined {
    for (let step = 0; step < DOORS; step++) {
      const i = (this.cursor + step) % DOORS;
      if (this.available(i)) {
        this.cursor = (i + 1) % DOORS;
        return i;
      }
    }
    return undefined;
  }

  /** The next door in strict rotation (the caller waits for it to relock). */
  nextDoorInRotation(): number {
    const i = this.cursor;
    this.cursor = (i + 1) % DOORS;
    return i;
  }

  private code(kind: Kind): string {
    const now = Math.floor(Date.now() / 1000);
    if (kind === 'link') {
      const subject = this.linkSubject++;
      return encodeCredential({ kind: 'link', issuer: 0, subject, a: now - 60, b: now + 3600, scope: BENCH_SCOPE }, this.siteKey);
    }
    const credential = this.credentials[this.rotatingNext++];
    if (credential === undefined) throw new Error('out of rotating credentials: raise ROTATING_CREDENTIALS');
    return encodeCredential({ kind: 'rotating', issuer: 0, subject: credential.subject, a: timeStep(now), b: 0, scope: BENCH_SCOPE }, credential.secret);
  }

  /** Scans a code at door i; resolves with its latency or why it failed. */
  scan(i: number, kind: Kind): Promise<ScanResult> {
    if (this.inFlight[i] !== undefined) throw new Error(`door ${doorId(i)} already has a scan in flight`);
    const text = this.code(kind);
    return new Promise((resolve) => {
      const flight: InFlight = {
        t0: 0,
        kind,
        done: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      };
      const timer = setTimeout(() => {
        if (this.inFlight[i] === flight) this.inFlight[i] = undefined;
        resolve({ t0: flight.t0, failure: 'no relay command within 5 s' });
      }, SCAN_TIMEOUT_MS);
      this.inFlight[i] = flight;
      flight.t0 = performance.now();
      this.scanners[i]!.read(text);
    });
  }

  /** Waits (unmeasured) until door i has relocked after its relock timer. */
  async waitSecured(i: number): Promise<void> {
    const deadline = performance.now() + SCAN_TIMEOUT_MS;
    while (!this.secured(i)) {
      if (performance.now() > deadline) throw new Error(`door ${doorId(i)} did not relock`);
      await sleep(1);
    }
  }
}

function count(failures: Record<string, number>, reason: string): void {
  failures[reason] = (failures[reason] ?? 0) + 1;
}

async function sequential(harness: Harness, scans: number, kindOf: (n: number) => Kind) {
  const samples: number[] = [];
  const intervals: Array<{ t0: number; t1: number }> = [];
  const failures: Record<string, number> = {};
  const gc = new GcWatch();
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
  return { samples, failures, waits, gc: gc.report(intervals) };
}

async function openLoop(harness: Harness): Promise<OpenLoopResult> {
  const total = OPEN_LOOP_RATE * OPEN_LOOP_SECONDS;
  const interval = 1000 / OPEN_LOOP_RATE;
  const byKind: Record<Kind, number[]> = { link: [], rotating: [] };
  const lag: number[] = [];
  const intervals: Array<{ t0: number; t1: number }> = [];
  const failures: Record<string, number> = {};
  const gc = new GcWatch();
  const outstanding: Array<Promise<void>> = [];
  let skipped = 0;
  let sent = 0;
  const start = performance.now() + 10;
  let next = 0;

  await new Promise<void>((finish) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        const scheduled = start + next * interval;
        const kind: Kind = next % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link';
        next++;
        const i = harness.nextAvailableDoor();
        if (i === undefined) {
          skipped++;
          continue;
        }
        lag.push(performance.now() - scheduled);
        sent++;
        outstanding.push(
          harness.scan(i, kind).then((result) => {
            if (result.t1 !== undefined) {
              byKind[kind].push(result.t1 - result.t0);
              intervals.push({ t0: result.t0, t1: result.t1 });
            } else count(failures, `${kind}: ${result.failure ?? 'unknown'}`);
          }),
        );
      }
      if (next >= total) {
        finish();
        return;
      }
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  const end = performance.now();
  await Promise.all(outstanding);
  return {
    offered: total,
    sent,
    durationSeconds: Math.round((end - start) / 10) / 100,
    all: summarize([...byKind.link, ...byKind.rotating]),
    link: summarize(byKind.link),
    rotating: summarize(byKind.rotating),
    sendLag: summarize(lag),
    skippedDoorsBusy: skipped,
    failures,
    gc: gc.report(intervals),
  };
}

async function runOnStore(store: 'sqlite' | 'postgres', database: BenchDatabase | undefined): Promise<StoreResult> {
  const temp = await tempDir(`postern-bench-latency-${store}-`);
  try {
    const config = benchSite(temp.dir, DOORS);
    const databaseUrl = database?.url;

    // The site key and the rotating credentials, made before the controller starts.
    const setup = openStore({ databaseUrl, dataDir: temp.dir });
    await setup.start();
    let siteKey: Buffer;
    const credentials: Array<{ subject: bigint; secret: Buffer }> = [];
    try {
      siteKey = await loadOrCreateSiteKey(setup);
      for (let n = 0; n < ROTATING_CREDENTIALS; n++) {
        const subject = 2_000_000_000n + BigInt(n);
        const secret = randomBytes(32);
        await setup.createCredential({ id: subject.toString(), name: `bench ${n}`, scope: BENCH_SCOPE, createdBy: 'bench', secret });
        credentials.push({ subject, secret });
      }
    } finally {
      await setup.stop();
    }

    const controller = new Controller({ config, databaseUrl });
    await controller.start();
    const harness = new Harness(controller, siteKey, credentials);
    try {
      const load = watchLoad();
      const mixed = (n: number): Kind => (n % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link');
      const warm = await sequential(harness, WARMUP_SCANS, mixed);
      if (Object.keys(warm.failures).length > 0) throw new Error(`warm-up failed: ${JSON.stringify(warm.failures)}`);

      const seq = await sequential(harness, SEQUENTIAL_SCANS, () => 'link');
      // Let every door relock before the open loop starts.
      for (let i = 0; i < DOORS; i++) await harness.waitSecured(i);
      const open = await openLoop(harness);
      const machine = load.stop();
      console.log(`${store}: ${describeLoad(machine)}`);
      await sleep(UNLOCK_SECONDS * 1000 * 4);
      if (harness.unsolicitedRelays > 0) console.warn(`${store}: ${harness.unsolicitedRelays} relay commands matched no scan`);
      return {
        store,
        location: store === 'sqlite' ? `${temp.dir}/postern.sqlite` : `${postgresServer()}/${database?.name}`,
        sequential: { link: summarize(seq.samples), waitsForRelock: seq.waits, failures: seq.failures, gc: seq.gc },
        openLoop: open,
        load: machine,
      };
    } finally {
      harness.close();
      await controller.stop();
    }
  } finally {
    await temp.remove();
  }
}

function roundResult(result: StoreResult) {
  return {
    ...result,
    sequential: { ...result.sequential, link: rounded(result.sequential.link) },
    openLoop: {
      ...result.openLoop,
      all: rounded(result.openLoop.all),
      link: rounded(result.openLoop.link),
      rotating: rounded(result.openLoop.rotating),
      sendLag: rounded(result.openLoop.sendLag),
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

  console.log('\n' + table(
    ['store', 'open loop sent/offered', 'seconds', 'send lag p99 ms', 'send lag max ms', 'skipped (no free door)', 'failures', 'sequential: waits for relock'],
    results.map((r) => [
      r.store,
      `${r.openLoop.sent}/${r.openLoop.offered}`,
      r.openLoop.durationSeconds.toFixed(2),
      ms(r.openLoop.sendLag.p99),
      ms(r.openLoop.sendLag.max),
      String(r.openLoop.skippedDoorsBusy),
      JSON.stringify({ ...r.sequential.failures, ...r.openLoop.failures }),
      String(r.sequential.waitsForRelock),
    ]),
  ));

  console.log('\n' + table(
    ['scenario', 'GC pauses', 'GC total ms', 'GC max ms', `scans > ${SLOW_MS} ms`, '… overlapping a GC pause'],
    results.flatMap((r) =>
      [
        [`${r.store}: sequential`, r.sequential.gc],
        [`${r.store}: ${OPEN_LOOP_RATE}/s`, r.openLoop.gc],
      ].map(([label, gc]) => {
        const g = gc as GcReport;
        return [label as string, String(g.pauses), ms(g.totalMs, 1), ms(g.maxMs, 2), String(g.slowScans), String(g.slowScansDuringGc)];
      }),
    ),
  ));

  const sqlite = results.find((r) => r.store === 'sqlite');
  const met = sqlite !== undefined && sqlite.openLoop.all.p99 < TARGET_P99_MS && Object.keys(sqlite.openLoop.failures).length === 0;
  console.log(
    `\ntarget: p99 < ${TARGET_P99_MS} ms on SQLite at ${OPEN_LOOP_RATE} scans/s: ${met ? 'MET' : 'NOT MET'} (p99 ${ms(sqlite?.openLoop.all.p99 ?? Number.NaN)} ms)`,
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
    results: results.map(roundResult),
  });
  console.log(`results: ${file}`);
}
