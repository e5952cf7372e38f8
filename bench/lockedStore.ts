/**
 * Another process holds the SQLite store's write lock for 5 s while doors are being opened.
 *
 * A controller runs on SQLite (64 doors, simulated scanners, the latency benchmark's site) and
 * takes scans in an open loop at 50 scans/s for 12 s, every fifth a rotating code (bench/lib/
 * scanHarness.ts: read → relay command). 2 s in, a child process (plain node, better-sqlite3) opens
 * the same database file and runs BEGIN IMMEDIATE: it holds SQLite's write lock, as a backup tool,
 * a `sqlite3` shell or a second program would, for 5 s, then rolls back and exits. It reports when
 * it took and released the lock on the monotonic clock (process.hrtime), the clock of this process.
 *
 * What is measured, by phase (before the lock, while it is held, after it):
 * - this process's event-loop delay: perf_hooks.monitorEventLoopDelay({ resolution: 1 }), one
 *   histogram per phase (switched when the child's messages arrive), lag = histogram - 1 ms;
 * - scan → relay latency per kind. While the lock is held a grant's record cannot be committed:
 *   the audit trail waits at most 500 ms for the store, then writes it (and every later event until
 *   the store takes events again) to the fsync'd journal, and the relay moves. A rotating code's
 *   single use is claimed in memory, so it goes the same way as a link;
 * - the audit journal file (stat every 25 ms, lines counted when it grew): the most it held;
 * - after the lock: how long until the store holds the record of every grant announced before
 *   it ended (Decision.auditSeq, read back every 20 ms with a read-only connection of this
 *   process), and at the end the count for the whole run, which must be all of them; the journal
 *   must be emptied.
 *
 * Then, as a reference for the behaviour before the writer thread, an emulation (not the old
 * controller): the same child holds the lock for 5 s, and this process makes one write to the file
 * with better-sqlite3 on its main thread and busy_timeout = 5000, as the store did before (commit
 * e115040, controller/store/openStore.ts), while a 10 ms interval timer counts the turns missed.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import Sqlite from 'better-sqlite3';

import { Controller } from '../controller/controller.ts';
import type { Decision } from '../controller/decision/decisionLog.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { watchLoop, type LoopDelay } from './lib/loopDelay.ts';
import { Harness, prepareStore, runOpenLoop, type Kind, type OpenLoopScan } from './lib/scanHarness.ts';
import { benchSite, tempDir, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, ms, rounded, sleep, summarize, table, type LatencySummary } from './lib/stats.ts';

const DOORS = 64;
const RATE = 50;
const LOCK_AFTER_MS = 2000;
/** 5 s; POSTERN_BENCH_LOCK_MS changes it (the scans run LOCK_AFTER_MS + the lock + 5 s). */
const LOCK_MS = Number(process.env.POSTERN_BENCH_LOCK_MS ?? 5000);
const SECONDS = (LOCK_AFTER_MS + LOCK_MS + 5000) / 1000;
const ROTATING_EVERY = 5;
/** A scan may wait for the store through the whole lock: count it lost only well after. */
const SCAN_TIMEOUT_MS = 20_000;
const CATCH_UP_TIMEOUT_MS = 30_000;
const TARGET_LAG_P99_MS = 5;

const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;
/** performance.now() of a monotonic time (ms) reported by another process. */
const toPerf = (mono: number) => performance.now() - (monotonicMs() - mono);

/** The child: takes the write lock, says when (monotonic ms), holds it, releases, says when. */
const LOCKER = String.raw`
const Database = require(process.env.SQLITE_MODULE);
const now = () => Number(process.hrtime.bigint()) / 1e6;
const db = new Database(process.env.DB_FILE, { timeout: 10000 });
const asked = now();
db.exec('BEGIN IMMEDIATE');
process.stdout.write('LOCKED ' + asked + ' ' + now() + '\n');
setTimeout(() => {
  db.exec('ROLLBACK');
  process.stdout.write('RELEASED ' + now() + '\n');
  db.close();
}, Number(process.env.HOLD_MS));
`;

interface Locker {
  locked: Promise<{ askedAt: number; at: number }>;
  released: Promise<number>;
  exited: Promise<number | null>;
}

function holdLock(file: string, holdMs: number, onLocked?: () => void, onReleased?: () => void): Locker {
  const child = spawn(process.execPath, ['-e', LOCKER], {
    env: { ...process.env, SQLITE_MODULE: createRequire(import.meta.url).resolve('better-sqlite3'), DB_FILE: file, HOLD_MS: String(holdMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let lockedResolve!: (v: { askedAt: number; at: number }) => void;
  let releasedResolve!: (v: number) => void;
  const locked = new Promise<{ askedAt: number; at: number }>((r) => (lockedResolve = r));
  const released = new Promise<number>((r) => (releasedResolve = r));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    let newline: number;
    while ((newline = out.indexOf('\n')) >= 0) {
      const [word, a, b] = out.slice(0, newline).split(' ');
      out = out.slice(newline + 1);
      if (word === 'LOCKED') {
        onLocked?.();
        lockedResolve({ askedAt: toPerf(Number(a)), at: toPerf(Number(b)) });
      } else if (word === 'RELEASED') {
        onReleased?.();
        releasedResolve(toPerf(Number(a)));
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { locked, released, exited };
}

/** The journal file: the most bytes and lines it held, and whether it ends empty. */
function watchJournal(file: string): { stop(): { maxBytes: number; maxLines: number; endBytes: number } } {
  let maxBytes = 0;
  let maxLines = 0;
  let size = 0;
  const look = () => {
    try {
      size = statSync(file).size;
    } catch {
      size = 0;
      return;
    }
    if (size > maxBytes) {
      maxBytes = size;
      try {
        maxLines = Math.max(maxLines, readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').length);
      } catch {
        // cleared meanwhile
      }
    }
  };
  const timer = setInterval(look, 25);
  return {
    stop() {
      clearInterval(timer);
      look();
      return { maxBytes, maxLines, endBytes: size };
    },
  };
}

type Phase = 'before' | 'during' | 'after';

interface PhaseReport {
  loop: LoopDelay;
  link: LatencySummary;
  rotating: LatencySummary;
  failures: Record<string, number>;
}

/** The emulated old store: one main-thread write with busy_timeout 5000 while the lock is held. */
async function emulateMainThreadWrite(file: string): Promise<{ blockedMs: number; outcome: string; loop: LoopDelay; missedTicks: number; lockHeldMs: number }> {
  const locker = holdLock(file, LOCK_MS);
  const lock = await locker.locked;
  await sleep(100);
  const loop = watchLoop();
  let ticks = 0;
  const t0 = performance.now();
  const ticker = setInterval(() => ticks++, 10);
  // The histogram's first interval is not recorded: let it and the ticker turn before blocking.
  await sleep(50);
  const db = new Sqlite(file, { timeout: 5000 });
  let outcome = 'committed';
  const w0 = performance.now();
  try {
    db.exec('CREATE TABLE IF NOT EXISTS bench_old_store_probe (x)');
  } catch (error) {
    outcome = (error as { code?: string }).code ?? (error as Error).message;
  }
  const blockedMs = performance.now() - w0;
  db.close();
  await sleep(200);
  clearInterval(ticker);
  const elapsed = performance.now() - t0;
  const released = await locker.released;
  await locker.exited;
  return { blockedMs, outcome, loop: loop.stop(), missedTicks: Math.max(0, Math.floor(elapsed / 10) - ticks), lockHeldMs: released - lock.at };
}

export async function runLockedStore(): Promise<void> {
  const name = 'locked-store';
  const env = environment();
  console.log(`\n# ${name}: another process holds the SQLite write lock for ${LOCK_MS / 1000} s; ${RATE} scans/s on ${DOORS} doors\n${describeEnvironment(env)}\n`);
  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');

  const temp = await tempDir('postern-bench-locked-');
  try {
    const config = benchSite(temp.dir, DOORS);
    const file = path.join(temp.dir, 'postern.sqlite');
    const journalFile = path.join(temp.dir, `audit-journal.${config.site.id}.ndjson`);
    const { siteKey, credentials } = await prepareStore(temp.dir, undefined, Math.ceil((RATE * SECONDS) / ROTATING_EVERY) + 100);

    const controller = new Controller({ config });
    await controller.start();
    const harness = new Harness(controller, DOORS, siteKey, credentials, SCAN_TIMEOUT_MS);
    const grants: Array<{ seq: number; at: number }> = [];
    const denials: Record<string, number> = {};
    const offDecision = controller.onDecision((d: Decision) => {
      if (d.verdict === 'grant') grants.push({ seq: d.auditSeq, at: performance.now() });
      else denials[String(d.reason)] = (denials[String(d.reason)] ?? 0) + 1;
    });
    // A few scans first so that the path is warm.
    for (let n = 0; n < 50; n++) {
      const i = harness.nextAvailableDoor();
      if (i !== undefined) await harness.scan(i, n % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link');
    }
    await harness.waitAllSecured();
    grants.length = 0;

    const load = watchLoad();
    const journal = watchJournal(journalFile);
    const loops: Partial<Record<Phase, LoopDelay>> = {};
    let current = watchLoop();
    const whole = watchLoop();
    // Read-only, in this process: in WAL mode it never blocks a writer (nor the lock holder).
    const reader = new Sqlite(file, { readonly: true, fileMustExist: true, timeout: 1000 });
    const inStore = (seqs: readonly number[]) => {
      let found = 0;
      for (let i = 0; i < seqs.length; i += 500) {
        const chunk = seqs.slice(i, i + 500);
        const row = reader
          .prepare(`SELECT count(*) AS n FROM audit_events WHERE controller_id = ? AND verdict = 'grant' AND seq IN (${chunk.map(() => '?').join(',')})`)
          .get(config.site.id, ...chunk) as { n: number };
        found += row.n;
      }
      return found;
    };
    // From the release on: how long until the store holds every grant announced while the lock was held.
    let caughtUp: Promise<{ grants: number; ms: number | null }> | undefined;
    const watchCatchUp = (releasedAt: number) => {
      const seqs = grants.map((g) => g.seq);
      caughtUp = (async () => {
        while (performance.now() - releasedAt < CATCH_UP_TIMEOUT_MS) {
          if (inStore(seqs) === seqs.length) return { grants: seqs.length, ms: performance.now() - releasedAt };
          await sleep(20);
        }
        return { grants: seqs.length, ms: null };
      })();
    };
    let locker: Locker | undefined;
    const lockTimer = setTimeout(() => {
      locker = holdLock(
        file,
        LOCK_MS,
        () => {
          loops.before = current.stop();
          current = watchLoop();
        },
        () => {
          loops.during = current.stop();
          current = watchLoop();
          watchCatchUp(performance.now());
        },
      );
    }, LOCK_AFTER_MS);
    const run = await runOpenLoop(harness, { rate: RATE, seconds: SECONDS, kindOf: (n) => (n % ROTATING_EVERY === ROTATING_EVERY - 1 ? 'rotating' : 'link') });
    clearTimeout(lockTimer);
    loops.after = current.stop();
    const wholeLoop = whole.stop();
    if (locker === undefined) throw new Error('the lock was never taken');
    const lock = await locker.locked;
    const releasedAt = await locker.released;
    const lockExit = await locker.exited;
    const machine = load.stop();
    console.log(describeLoad(machine));

    // Every grant's record in the store, read back while the controller runs.
    const caughtUpAfterRelease = await caughtUp!;
    const seqs = grants.map((g) => g.seq);
    let stored = inStore(seqs);
    while (stored < seqs.length && performance.now() - releasedAt < CATCH_UP_TIMEOUT_MS) {
      await sleep(100);
      stored = inStore(seqs);
    }
    await sleep(500);
    const journalSeen = journal.stop();
    reader.close();
    offDecision();
    harness.close();
    await controller.stop();
    const unsolicited = harness.unsolicitedRelays;

    // Afterwards, with the controller stopped: the main-thread write the store used to make.
    console.log('emulating the main-thread store (busy_timeout 5000) under the same lock ...');
    const emulation = await emulateMainThreadWrite(file);

    const phaseOf = (s: OpenLoopScan): Phase => (s.t0 < lock.at ? 'before' : s.t0 < releasedAt ? 'during' : 'after');
    const phases = {} as Record<Phase, PhaseReport>;
    for (const phase of ['before', 'during', 'after'] as const) {
      const scans = run.scans.filter((s) => phaseOf(s) === phase);
      const failures: Record<string, number> = {};
      const byKind: Record<Kind, number[]> = { link: [], rotating: [] };
      for (const s of scans) {
        if (s.t1 !== undefined) byKind[s.kind].push(s.t1 - s.t0);
        else failures[`${s.kind}: ${s.failure}`] = (failures[`${s.kind}: ${s.failure}`] ?? 0) + 1;
      }
      phases[phase] = { loop: loops[phase]!, link: rounded(summarize(byKind.link)), rotating: rounded(summarize(byKind.rotating)), failures };
    }
    const during = run.scans.filter((s) => phaseOf(s) === 'during' && s.t1 !== undefined).sort((a, b) => a.t0 - b.t0);
    const firstDuring = during.slice(0, 5).map((s) => ({ kind: s.kind, sentAfterLockMs: Math.round(s.t0 - lock.at), latencyMs: Math.round((s.t1! - s.t0) * 1000) / 1000 }));
    const slowLinksDuring = during.filter((s) => s.kind === 'link' && s.t1! - s.t0 > 100).length;
    // Scans sent before the lock ended whose relay moved only after it: they waited for the store.
    const waitedForRelease = run.scans.filter((s) => s.t0 < releasedAt && s.t1 !== undefined && s.t1 >= releasedAt);

    console.log(
      `\nlock: asked ${ms(lock.at - lock.askedAt, 1)} ms before taken; held ${ms(releasedAt - lock.at, 0)} ms ` +
        `(from ${ms((lock.at - run.start) / 1000, 2)} s to ${ms((releasedAt - run.start) / 1000, 2)} s of the run); locker exit code ${lockExit}`,
    );
    console.log('\n' + table(
      ['event loop (this process)', 'seconds', 'histogram p50 ms', 'p99 ms', 'max ms', 'lag p50 ms', 'lag p99 ms', 'lag max ms'],
      [
        ...(['before', 'during', 'after'] as const).map((p) => {
          const l = phases[p].loop;
          return [`${p} the lock`, String(l.seconds), ms(l.raw.p50), ms(l.raw.p99), ms(l.raw.max), ms(l.lag.p50), ms(l.lag.p99), ms(l.lag.max)];
        }),
        ['whole run', String(wholeLoop.seconds), ms(wholeLoop.raw.p50), ms(wholeLoop.raw.p99), ms(wholeLoop.raw.max), ms(wholeLoop.lag.p50), ms(wholeLoop.lag.p99), ms(wholeLoop.lag.max)],
      ],
    ));
    console.log('\n' + table(
      LATENCY_HEADERS,
      (['before', 'during', 'after'] as const).flatMap((p) => [latencyRow(`${p} the lock: links`, phases[p].link), latencyRow(`${p} the lock: rotating`, phases[p].rotating)]),
    ));
    console.log(`\nfailures by phase: ${JSON.stringify(Object.fromEntries((['before', 'during', 'after'] as const).map((p) => [p, phases[p].failures])))}; denials announced: ${JSON.stringify(denials)}`);
    console.log(`first scans after the lock was taken: ${JSON.stringify(firstDuring)}`);
    console.log(`links during the lock slower than 100 ms: ${slowLinksDuring} of ${during.filter((s) => s.kind === 'link').length}`);
    console.log(`scans whose relay moved only after the lock ended: ${waitedForRelease.length} (${JSON.stringify(waitedForRelease.reduce<Record<string, number>>((acc, s) => ((acc[s.kind] = (acc[s.kind] ?? 0) + 1), acc), {}))})`);
    console.log(`audit journal: at most ${journalSeen.maxLines} events (${journalSeen.maxBytes} bytes); ${journalSeen.endBytes === 0 ? 'emptied' : `still ${journalSeen.endBytes} bytes`} after the store caught up`);
    console.log(
      `grants announced before the lock ended: ${caughtUpAfterRelease.grants}; ` +
        (caughtUpAfterRelease.ms === null ? `NOT all in the store within ${CATCH_UP_TIMEOUT_MS / 1000} s` : `all of their records in the store ${ms(caughtUpAfterRelease.ms, 0)} ms after the lock ended`),
    );
    console.log(`grants announced in the whole run: ${seqs.length}; their records in the store at the end: ${stored}${stored === seqs.length ? ' (all)' : ' (MISSING some)'}`);
    if (unsolicited > 0) console.log(`${unsolicited} relay commands matched no scan`);
    console.log(
      `\nemulated old store (one main-thread write, busy_timeout 5000, same lock): blocked the event loop ${ms(emulation.blockedMs, 0)} ms ` +
        `(${emulation.outcome}); loop lag max ${ms(emulation.loop.lag.max, 0)} ms; ${emulation.missedTicks} turns of a 10 ms timer missed`,
    );
    const met = phases.during.loop.lag.p99 < TARGET_LAG_P99_MS;
    console.log(`\nevent-loop lag p99 while the lock is held: ${ms(phases.during.loop.lag.p99)} ms (max ${ms(phases.during.loop.lag.max)} ms): ${met ? 'no freeze' : 'LAGGING'}`);

    const resultsFile = await writeResults(name, {
      benchmark: name,
      measuredAt: new Date().toISOString(),
      environment: env,
      config: { doors: DOORS, rate: RATE, seconds: SECONDS, lockAfterMs: LOCK_AFTER_MS, lockMs: LOCK_MS, rotatingFraction: 1 / ROTATING_EVERY, scanTimeoutMs: SCAN_TIMEOUT_MS },
      load: machine,
      lock: { takenAtS: (lock.at - run.start) / 1000, releasedAtS: (releasedAt - run.start) / 1000, heldMs: releasedAt - lock.at },
      sent: run.scans.length,
      offered: run.offered,
      skippedDoorsBusy: run.skippedDoorsBusy,
      phases,
      wholeLoop,
      firstDuring,
      slowLinksDuring,
      waitedForRelease: waitedForRelease.length,
      denials,
      journal: journalSeen,
      grants: { announced: seqs.length, inStore: stored, announcedBeforeRelease: caughtUpAfterRelease.grants, allOfThoseStoredAfterReleaseMs: caughtUpAfterRelease.ms },
      emulatedOldStore: emulation,
    });
    console.log(`results: ${resultsFile}`);
  } finally {
    await temp.remove();
  }
}
