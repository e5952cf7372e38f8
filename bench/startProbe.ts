/**
 * The child process of the large-store benchmark (bench/largeStore.ts), so that the memory measured
 * is the controller's alone. Run as `node --import tsx bench/startProbe.ts` with the job in the
 * environment variable POSTERN_PROBE (JSON, see ProbeJob); prints one line `PROBE_RESULT {json}`.
 *
 * 1. start: a Controller on the store (64 doors, one scanner each), timed from the process start
 *    (performance.timeOrigin) and on its own; resident memory after it.
 * 2. decisions: `decisions` scans through the controller's scanners (at most 4 in flight per
 *    scanner), a third each valid links, revoked links (hits in the revocation table) and rotating
 *    codes of random credentials (key lookup, revocation miss, in-memory replay claim); every decision is
 *    written to the audit trail as in production. Memory: its peak during the burst (sampled every
 *    50 ms), right after it, after 10 s of the controller idle (V8's memory reducer starts 8 s after
 *    allocation slows), and after a forced full GC and 1 s (what of the heap was garbage). The
 *    controller stops.
 * 3. verifier: the same mix straight into Verifier.verify (no audit), one at a time and 16 at once,
 *    on a store this probe opens itself after the controller has stopped.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { Controller } from '../controller/controller.ts';
import { tuneHeapForController } from '../controller/heapTuning.ts';
import { encodeCredential, timeStep } from '../controller/credentials/credentialCodec.ts';
import { PartnerDirectory } from '../controller/credentials/partnerDirectory.ts';
import { ScanThrottle } from '../controller/credentials/scanThrottle.ts';
import { ScopeDirectory } from '../controller/credentials/scopeDirectory.ts';
import { ReplayGuard } from '../controller/credentials/replayGuard.ts';
import { Verifier, type Outcome } from '../controller/credentials/verifier.ts';
import type { Decision } from '../controller/decision/decisionLog.ts';
import { LocalHub } from '../controller/decision/localHub.ts';
import { seededRandom } from './lib/random.ts';
import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import type { SimulatedScanner } from '../drivers/scanners/simulatedScanner.ts';
import {
  benchSecretText,
  CREDENTIAL_BASE,
  REVOKED_BASE,
  VALID_LINK_BASE,
  type KindStats,
  type ProbeJob,
  type ProbeResult,
} from './lib/largeStoreData.ts';
import { BENCH_SCOPE, benchSite, scannerId } from './lib/site.ts';

const importsDoneMs = performance.now();
// As `postern start` does (controller/cli/startCommand.ts); the memory variants pass their own.
const heapTuned = tuneHeapForController();
const IDLE_AFTER_BURST_MS = 10_000;

function benchSecret(id: string): Buffer {
  return createHash('sha256').update(benchSecretText(id), 'utf8').digest();
}


type Kind = 'valid-link' | 'revoked-link' | 'rotating';
const KINDS: readonly Kind[] = ['valid-link', 'revoked-link', 'rotating'];
const EXPECTED: Record<Kind, Outcome> = { 'valid-link': 'grant', 'revoked-link': 'revoked', rotating: 'grant' };

/** A scan to make: its text is encoded when it is read, so that a rotating code is of the current time step. */
interface Scan {
  kind: Kind;
  text: () => string;
}

class Workload {
  private readonly next: () => number;
  private readonly usedCredentials = new Set<number>();

  constructor(
    private readonly job: ProbeJob,
    private readonly siteKey: Buffer,
  ) {
    this.next = seededRandom(job.seed);
  }

  private index(limit: number): number {
    return Math.floor(this.next() * limit);
  }

  /**
   * `count` scans, kinds interleaved; rotating codes use credentials not used before in this
   * process. Links are encoded now (valid for a day); a rotating code when it is read (its time
   * step is then the current one: a burst slower than 15 s would otherwise see its last codes
   * `expired`). Encoding is outside every timed interval.
   */
  make(count: number): Scan[] {
    const now = Math.floor(Date.now() / 1000);
    const scans: Scan[] = [];
    for (let n = 0; n < count; n++) {
      const kind = KINDS[n % KINDS.length]!;
      if (kind === 'rotating') {
        let i: number;
        do i = this.index(this.job.credentials);
        while (this.usedCredentials.has(i));
        this.usedCredentials.add(i);
        const subject = CREDENTIAL_BASE + BigInt(i);
        const secret = benchSecret(subject.toString());
        scans.push({
          kind,
          text: () => encodeCredential({ kind: 'rotating', issuer: 0, subject, a: timeStep(Math.floor(Date.now() / 1000)), b: 0, scope: BENCH_SCOPE }, secret),
        });
      } else {
        const subject = kind === 'revoked-link' ? REVOKED_BASE + BigInt(this.index(this.job.revocations)) : VALID_LINK_BASE + BigInt(this.index(1_000_000_000));
        const text = encodeCredential({ kind: 'link', issuer: 0, subject, a: now - 60, b: now + 86_400, scope: BENCH_SCOPE }, this.siteKey);
        scans.push({ kind, text: () => text });
      }
    }
    return scans;
  }

  expected(count: number): Record<string, number> {
    const result: Record<string, number> = {};
    for (let n = 0; n < count; n++) {
      const outcome = EXPECTED[KINDS[n % KINDS.length]!];
      result[outcome] = (result[outcome] ?? 0) + 1;
    }
    return result;
  }
}

function tally(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

function kindStats(samples: number[]): KindStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  const us = (v: number) => Math.round(v * 1000 * 10) / 10;
  return { count: sorted.length, p50Us: us(at(50)), p99Us: us(at(99)), maxUs: us(sorted[sorted.length - 1] ?? Number.NaN) };
}

/** Feeds scans through the controller's scanners, at most `perScanner` in flight on each. */
function decideThroughController(controller: Controller, scans: Scan[], scanners: number, perScanner: number) {
  const verdicts: Record<string, number> = {};
  let fed = 0;
  let decided = 0;
  const drivers = Array.from({ length: scanners }, (_, i) => controller.scannerDriver(scannerId(i)) as SimulatedScanner);
  const index = new Map(drivers.map((_, i) => [scannerId(i), i]));
  return new Promise<{ verdicts: Record<string, number>; seconds: number }>((resolve) => {
    const feed = (i: number) => {
      const scan = scans[fed];
      if (scan === undefined) return;
      fed++;
      drivers[i]!.read(scan.text());
    };
    const off = controller.onDecision((decision: Decision) => {
      tally(verdicts, decision.reason ?? decision.verdict);
      decided++;
      if (decided === scans.length) {
        off();
        resolve({ verdicts, seconds: (performance.now() - started) / 1000 });
        return;
      }
      const i = index.get(decision.scanner);
      if (i !== undefined) feed(i);
    });
    const started = performance.now();
    for (let round = 0; round < perScanner; round++) for (let i = 0; i < scanners; i++) feed(i);
  });
}

/** The highest RSS, V8 heap total and heap used seen while the burst runs (sampled every 50 ms). */
function watchMemory(): { stop(): { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number } } {
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  const look = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
    peak.external = Math.max(peak.external, m.external);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
  };
  const timer = setInterval(look, 50);
  return {
    stop() {
      clearInterval(timer);
      look();
      return peak;
    },
  };
}

/**
 * V8's sampling heap profiler over the burst, counting objects that were collected too (so it shows
 * what is allocated, not only what survives): one sample per 16 KiB allocated on average. Only when
 * the job asks for it (the memory investigation), never in the measured runs.
 */
async function startAllocationSampling(): Promise<{ stop(file: string): Promise<void> }> {
  const { Session } = await import('node:inspector/promises');
  const { writeFile } = await import('node:fs/promises');
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return {
    async stop(file) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      await writeFile(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.env.POSTERN_PROBE ?? '{}') as ProbeJob;
  const config = benchSite(job.dataDir, 64);

  const startCalled = performance.now();
  const controller = new Controller({ config, databaseUrl: job.databaseUrl });
  await controller.start();
  const started = performance.now();
  const afterStart = process.memoryUsage();
  const result: ProbeResult = {
    importsDoneMs,
    processStartToStartedMs: started,
    startMs: started - startCalled,
    rssAfterStart: afterStart.rss,
    heapUsedAfterStart: afterStart.heapUsed,
    rssAtEnd: 0,
    heapTuned,
  };

  let siteKey: Buffer | undefined;
  if (job.decisions > 0 || job.verifications > 0) {
    // The site key is read from a short-lived store so the probe needs nothing private of the controller.
    const keyStore = openStore({ databaseUrl: job.databaseUrl, dataDir: job.dataDir, quickCheck: false });
    await keyStore.start();
    siteKey = await loadOrCreateSiteKey(keyStore);
    await keyStore.stop();
  }
  const workload = siteKey === undefined ? undefined : new Workload(job, siteKey);

  if (workload !== undefined && job.decisions > 0) {
    const scans = workload.make(job.decisions);
    const peaks = watchMemory();
    const profiling = job.heapProfile === undefined ? undefined : await startAllocationSampling();
    const run = await decideThroughController(controller, scans, config.scanners.length, 4);
    if (profiling !== undefined && job.heapProfile !== undefined) await profiling.stop(job.heapProfile);
    result.peaksDuringDecisions = peaks.stop();
    const after = process.memoryUsage();
    result.decisions = {
      count: scans.length,
      seconds: run.seconds,
      perSecond: scans.length / run.seconds,
      verdicts: run.verdicts,
      expected: workload.expected(scans.length),
    };
    result.rssAfterDecisions = after.rss;
    result.heapUsedAfterDecisions = after.heapUsed;
    result.heapTotalAfterDecisions = after.heapTotal;
    // The controller left idle (running, no scans) for IDLE_AFTER_BURST_MS: V8's memory reducer
    // starts 8 s after the allocation rate drops, collects and gives pages back.
    await new Promise((resolve) => setTimeout(resolve, IDLE_AFTER_BURST_MS));
    const idle = process.memoryUsage();
    result.rssAfterIdle = idle.rss;
    result.heapTotalAfterIdle = idle.heapTotal;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc !== undefined) {
      gc();
      // Sweeping and unmapping freed pages finish on background threads.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const collected = process.memoryUsage();
      result.heapUsedAfterGc = collected.heapUsed;
      result.rssAfterGc = collected.rss;
    }
  }
  await controller.stop();

  if (workload !== undefined && siteKey !== undefined && job.verifications > 0) {
    const store = openStore({ databaseUrl: job.databaseUrl, dataDir: job.dataDir, quickCheck: false });
    await store.start();
    try {
      const verifier = new Verifier({
        siteKey,
        store,
        replay: new ReplayGuard(),
        partners: new PartnerDirectory(store),
        scopes: new ScopeDirectory(config.scopes, store),
        throttle: new ScanThrottle({ maxFailures: 1_000_000, windowMs: 1000, lockoutMs: 1, maxLockoutMs: 1 }),
        onlineLinks: new LocalHub(store),
        siteDefaultScope: config.site.defaultScope,
      });
      const context = (text: string, n: number) => ({ text, door: config.doors[n % config.doors.length]!.id, scanner: 'probe', now: Date.now() });

      const sequentialScans = workload.make(job.verifications);
      const samples: Record<string, number[]> = { 'valid-link': [], 'revoked-link': [], rotating: [] };
      const outcomes: Record<string, number> = {};
      const t0 = performance.now();
      for (let n = 0; n < sequentialScans.length; n++) {
        const scan = sequentialScans[n]!;
        const text = scan.text();
        const s = performance.now();
        const verification = await verifier.verify(context(text, n));
        samples[scan.kind]!.push(performance.now() - s);
        tally(outcomes, verification.outcome);
      }
      const sequentialSeconds = (performance.now() - t0) / 1000;

      const concurrentScans = workload.make(job.verifications);
      const concurrentOutcomes: Record<string, number> = {};
      let cursor = 0;
      const t1 = performance.now();
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          for (;;) {
            const n = cursor++;
            const scan = concurrentScans[n];
            if (scan === undefined) return;
            tally(concurrentOutcomes, (await verifier.verify(context(scan.text(), n))).outcome);
          }
        }),
      );
      const concurrentSeconds = (performance.now() - t1) / 1000;
      result.verifier = {
        sequential: {
          count: sequentialScans.length,
          seconds: sequentialSeconds,
          perSecond: sequentialScans.length / sequentialSeconds,
          byKind: Object.fromEntries(Object.entries(samples).map(([kind, values]) => [kind, kindStats(values)])),
          outcomes,
        },
        concurrent16: { count: concurrentScans.length, seconds: concurrentSeconds, perSecond: concurrentScans.length / concurrentSeconds, outcomes: concurrentOutcomes },
        expected: workload.expected(job.verifications),
      };
    } finally {
      await store.stop();
    }
  }
  result.rssAtEnd = process.memoryUsage().rss;
  process.stdout.write(`PROBE_RESULT ${JSON.stringify(result)}\n`);
}

await main();
