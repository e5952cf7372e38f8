/**
 * Drives a running benchmark controller (bench/lib/site.ts) scan by scan and times each scan from
 * SimulatedScanner.read(text) (performance.now() just before the call) to the onRelay(true) callback
 * of its door's SimulatedDoorIo: the whole decision path, read → relay command.
 *
 * A grant only moves the relay of a door that is `secured` (the door machine commands the relay
 * only when it changes), so a door is scanned only while its relay is locked and no scan of its
 * own is in flight (no door is ever opened here, so a locked relay means `secured`).
 * Used by decisionLatency.ts and lockedStore.ts.
 */
import { randomBytes } from 'node:crypto';
import { performance, PerformanceObserver } from 'node:perf_hooks';

import type { Controller } from '../../controller/controller.ts';
import { encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { BENCH_SCOPE, doorId, scannerId } from './site.ts';
import { sleep } from './stats.ts';

export type Kind = 'link' | 'rotating';

export interface ScanResult {
  t0: number;
  t1?: number;
  failure?: string;
}

interface InFlight {
  t0: number;
  kind: Kind;
  done: (result: ScanResult) => void;
}

export interface RotatingCredential {
  subject: bigint;
  secret: Buffer;
}

/** The site key and `count` rotating credentials, made on the store before the controller starts. */
export async function prepareStore(dataDir: string, databaseUrl: string | undefined, count: number): Promise<{ siteKey: Buffer; credentials: RotatingCredential[] }> {
  const setup = openStore({ databaseUrl, dataDir, quickCheck: false });
  await setup.start();
  try {
    const siteKey = await loadOrCreateSiteKey(setup);
    const credentials: RotatingCredential[] = [];
    for (let n = 0; n < count; n++) {
      const subject = 2_000_000_000n + BigInt(n);
      const secret = randomBytes(32);
      await setup.createCredential({ id: subject.toString(), name: `bench ${n}`, scope: BENCH_SCOPE, createdBy: 'bench', secret });
      credentials.push({ subject, secret });
    }
    return { siteKey, credentials };
  } finally {
    await setup.stop();
  }
}

/** Drives one running controller: knows which door has a scan in flight and matches the relay command to it. */
export class Harness {
  private readonly inFlight: Array<InFlight | undefined>;
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
    private readonly doors: number,
    private readonly siteKey: Buffer,
    private readonly credentials: readonly RotatingCredential[],
    /** A scan whose relay command has not come after this is counted as lost. */
    private readonly scanTimeoutMs = 5000,
  ) {
    this.inFlight = new Array(doors).fill(undefined);
    for (let i = 0; i < doors; i++) {
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

  /**
   * A grant's relay command comes before its decision is announced (the door moves the relay, then
   * answers the scanner, whose conclusion announces it); a scan still in flight here got none.
   */
  private onDecision(decision: Decision): void {
    const i = this.doorIndex.get(decision.door);
    if (i === undefined) return;
    const flight = this.inFlight[i];
    if (flight === undefined) return;
    this.inFlight[i] = undefined;
    flight.done({ t0: flight.t0, failure: decision.verdict === 'grant' ? 'grant without relay command' : `deny: ${decision.reason}` });
  }

  /** The door's relay is locked: a grant will command it to unlock. */
  secured(i: number): boolean {
    return this.ios[i]!.relayUnlocked === false;
  }

  available(i: number): boolean {
    return this.inFlight[i] === undefined && this.secured(i);
  }

  /** The next door in rotation that can take a scan now, or undefined. */
  nextAvailableDoor(): number | undefined {
    for (let step = 0; step < this.doors; step++) {
      const i = (this.cursor + step) % this.doors;
      if (this.available(i)) {
        this.cursor = (i + 1) % this.doors;
        return i;
      }
    }
    return undefined;
  }

  /** The next door in strict rotation (the caller waits for it to relock). */
  nextDoorInRotation(): number {
    const i = this.cursor;
    this.cursor = (i + 1) % this.doors;
    return i;
  }

  private code(kind: Kind): string {
    const now = Math.floor(Date.now() / 1000);
    if (kind === 'link') {
      const subject = this.linkSubject++;
      return encodeCredential({ kind: 'link', issuer: 0, subject, a: now - 60, b: now + 3600, scope: BENCH_SCOPE }, this.siteKey);
    }
    const credential = this.credentials[this.rotatingNext++];
    if (credential === undefined) throw new Error('out of rotating credentials: make more');
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
        resolve({ t0: flight.t0, failure: `no relay command within ${this.scanTimeoutMs / 1000} s` });
      }, this.scanTimeoutMs);
      this.inFlight[i] = flight;
      flight.t0 = performance.now();
      this.scanners[i]!.read(text);
    });
  }

  /** Waits (unmeasured) until door i has relocked after its relock timer. */
  async waitSecured(i: number): Promise<void> {
    const deadline = performance.now() + this.scanTimeoutMs;
    while (!this.secured(i)) {
      if (performance.now() > deadline) throw new Error(`door ${doorId(i)} did not relock`);
      await sleep(1);
    }
  }

  async waitAllSecured(): Promise<void> {
    for (let i = 0; i < this.doors; i++) await this.waitSecured(i);
  }
}

/** Garbage-collection pauses seen while a scenario ran, and how many slow scans overlapped one. */
export interface GcReport {
  pauses: number;
  totalMs: number;
  maxMs: number;
  /** Scans slower than the threshold. */
  slowScans: number;
  /** Of those, how many had a GC pause inside their scan-to-relay interval. */
  slowScansDuringGc: number;
}

/** Watches GC pauses (performance entries of type 'gc') for attribution of slow scans. */
export class GcWatch {
  private readonly pauses: Array<{ start: number; end: number }> = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.pauses.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });

  constructor(private readonly slowMs: number) {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  report(intervals: ReadonlyArray<{ t0: number; t1: number }>): GcReport {
    this.observer.disconnect();
    const slow = intervals.filter((s) => s.t1 - s.t0 > this.slowMs);
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

/** One scan of an open loop: when it was due and sent, its kind, and its result. */
export interface OpenLoopScan extends ScanResult {
  kind: Kind;
  scheduled: number;
}

export interface OpenLoopRun {
  offered: number;
  /** Scans sent (a scan due while no door was free is skipped, not sent later). */
  scans: OpenLoopScan[];
  skippedDoorsBusy: number;
  /** performance.now() at the first scheduled scan and after the last was due. */
  start: number;
  end: number;
}

/**
 * Open loop: `rate` scans a second for `seconds`, scheduled by time (a timer per due scan, never
 * waiting for replies); each goes to the next free door, and one due while none is free is skipped.
 * Resolves when every scan sent has its result.
 */
export async function runOpenLoop(harness: Harness, options: { rate: number; seconds: number; kindOf: (n: number) => Kind }): Promise<OpenLoopRun> {
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const scans: OpenLoopScan[] = [];
  const outstanding: Array<Promise<void>> = [];
  let skipped = 0;
  const start = performance.now() + 10;
  let next = 0;

  await new Promise<void>((finish) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        const scheduled = start + next * interval;
        const kind = options.kindOf(next);
        next++;
        const i = harness.nextAvailableDoor();
        if (i === undefined) {
          skipped++;
          continue;
        }
        const scan: OpenLoopScan = { kind, scheduled, t0: 0 };
        scans.push(scan);
        outstanding.push(harness.scan(i, kind).then((result) => void Object.assign(scan, result)));
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
  return { offered: total, scans, skippedDoorsBusy: skipped, start, end };
}
