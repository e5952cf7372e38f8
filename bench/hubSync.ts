/**
 * `npm run bench -- hubSync`: the hub and its sync links (docs/sync.md), on one throwaway
 * PostgreSQL database, hubs in child processes (bench/hubProcess.ts, run by tsx).
 *
 * 1. revocation → enforcement: 50 controller-side sync links, each a real SyncLink with its own
 *    SQLite store and audit trail (the parts of a controller that take a revocation and that the
 *    verifier asks, store.isRevoked; a whole Controller adds doors, drivers and the API, which do
 *    not take part in this path), 25 on each of two hub processes. A revocation is made through
 *    HubAdmin (this process); enforcement is when store.revoke() has committed in a controller's
 *    store (a hook on the store passed to the SyncLink), checked with isRevoked on every store at
 *    the end. 20 revocations, one at a time. Then the same with both hubs switched to polling each
 *    link's cursor every POLL_MS instead of LISTEN/NOTIFY (hubProcess.ts).
 * 2. catch-up: 100,000 audit events queued in a controller's store (appended through its audit
 *    trail while offline), uploaded at SyncLink.start(): until the hub holds the last one.
 * 3. snapshot: 1,000,000 revocations at the hub (INSERT ... generate_series), a new controller
 *    (empty SQLite store) from SyncLink.start() until live.
 * 4. one hub process: HELD controllers holding open links (raw ws clients: hello, then a ping
 *    every 5 s, as the SyncLink does), then INGEST_LINKS of them uploading audit chains as fast as
 *    the acks come (one batch of 500 in flight per link, as the SyncLink does): events/s stored.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import WebSocket from 'ws';

import { hashEvent } from '../controller/audit/auditChain.ts';
import { AuditTrail } from '../controller/audit/auditTrail.ts';
import { HubAdmin } from '../controller/hub/hubAdmin.ts';
import { createLogger } from '../controller/logger.ts';
import { openStore } from '../controller/store/openStore.ts';
import type { AuditEvent, Store } from '../controller/store/storeTypes.ts';
import { SyncLink, type SyncStatus } from '../controller/sync/syncLink.ts';
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad, type MachineLoad } from './lib/environment.ts';
import { createBenchDatabase, postgresVersion, type BenchDatabase } from './lib/postgres.ts';
import { tempDir, writeResults } from './lib/site.ts';
import { mb, rounded, summarize, table, type LatencySummary } from './lib/stats.ts';

const CONTROLLERS = 50;
const REVOCATIONS = 20;
const POLL_MS = 250;
const QUEUED_EVENTS = 100_000;
const SNAPSHOT_REVOCATIONS = 1_000_000;
const HELD = Number(process.env.POSTERN_BENCH_HUB_HELD ?? 3000);
const HOLD_SECONDS = 20;
const INGEST_LINKS = 20;
const INGEST_EVENTS_PER_LINK = 10_000;
const TARGET_ENFORCE_MS = 1000;
const TARGET_CATCH_UP_MS = 30_000;
const TARGET_SNAPSHOT_MS = 60_000;

/** Node options for the hub processes (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof), for profiling; unset in the measured runs. */
const HUB_NODE_ARGS = (process.env.POSTERN_BENCH_HUB_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const HUB_SCRIPT = fileURLToPath(new URL('./hubProcess.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const log = createLogger('silent');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(check: () => T | Promise<T>, ms: number, what: string, everyMs = 20): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Hub processes

interface HubProcess {
  port: number;
  url: string;
  child: ChildProcess;
  /** CPU seconds (user + system) used so far. */
  cpuSeconds(): number;
  /** Resident now and at its peak (VmHWM), bytes. */
  memory(): { rss: number; peak: number };
  stop(): Promise<void>;
}

async function startHubProcess(databaseUrl: string, pollMs = 0): Promise<HubProcess> {
  const child = spawn(process.execPath, [...HUB_NODE_ARGS, '--import', 'tsx', HUB_SCRIPT], {
    cwd: ROOT,
    env: { ...process.env, POSTERN_BENCH_HUB_DB: databaseUrl, POSTERN_BENCH_HUB_POLL_MS: String(pollMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /HUB_READY (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`hub process exited with ${code}`)));
  });
  const ticks = 100; // USER_HZ on Linux
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    child,
    cpuSeconds() {
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    },
    memory() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), peak: kb('VmHWM') };
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

async function enrol(hub: HubProcess, code: string): Promise<{ controllerId: string; credential: string }> {
  const res = await fetch(`${hub.url}/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
  if (res.status !== 200) throw new Error(`enrolment answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { controllerId: string; credential: string };
}

async function enrolMany(admin: HubAdmin, hub: HubProcess, siteId: string, count: number, concurrency = 16): Promise<Array<{ controllerId: string; credential: string }>> {
  const out: Array<{ controllerId: string; credential: string }> = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const { code } = await admin.addController(siteId, `${siteId} ${i}`);
        out[i] = await enrol(hub, code);
      }
    }),
  );
  return out;
}

// ---------------------------------------------------------------------------------------------
// Controller side: a SyncLink over its own SQLite store, with a hook on revocations

interface BenchController {
  store: Store;
  audit: AuditTrail;
  link: SyncLink | undefined;
  credentialFile: string;
  /** subject → performance.now() when its revoke() committed here. */
  revokedAt: Map<string, number>;
  /** subject → performance.now() when revoke() was called (the change frame arrived and was parsed). */
  revokeCalledAt: Map<string, number>;
  /** Each queryAudit (an upload batch read from the store): when it began and how long it took. */
  reads: Array<{ at: number; ms: number }>;
  /** Each revokeMany (a snapshot chunk): rows and ms. */
  chunks: Array<{ rows: number; ms: number }>;
  connect(hubUrl: string): Promise<void>;
  status(): SyncStatus | undefined;
  stop(): Promise<void>;
}

/** The store with revoke and revokeMany timed; every other method called on the store itself. */
function hooked(store: Store, c: Pick<BenchController, 'revokedAt' | 'revokeCalledAt' | 'reads' | 'chunks'>): Store {
  const overrides: Partial<Store> = {
    queryAudit: async (query) => {
      const at = performance.now();
      const events = await store.queryAudit(query);
      c.reads.push({ at, ms: performance.now() - at });
      return events;
    },
    revoke: async (issuer, subject, reason) => {
      if (!c.revokeCalledAt.has(subject)) c.revokeCalledAt.set(subject, performance.now());
      const fresh = await store.revoke(issuer, subject, reason);
      if (!c.revokedAt.has(subject)) c.revokedAt.set(subject, performance.now());
      return fresh;
    },
    revokeMany: async (items) => {
      const t0 = performance.now();
      const n = await store.revokeMany(items);
      c.chunks.push({ rows: items.length, ms: performance.now() - t0 });
      return n;
    },
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function benchController(chain: string, credential: string, cleanups: Array<() => Promise<void>>): Promise<BenchController> {
  const dir = await tempDir('postern-bench-hub-');
  const store = openStore({ dataDir: dir.dir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: chain });
  await audit.start();
  const credentialFile = path.join(dir.dir, 'hub-credential');
  await writeFile(credentialFile, `${credential}\n`, { mode: 0o600 });
  let stopped = false;
  const c: BenchController = {
    store,
    audit,
    link: undefined,
    credentialFile,
    revokedAt: new Map(),
    revokeCalledAt: new Map(),
    reads: [],
    chunks: [],
    async connect(hubUrl: string) {
      await c.link?.stop();
      c.link = new SyncLink({ hub: { url: hubUrl }, credentialFile, store: hooked(store, c), audit, logger: log });
      await c.link.start();
    },
    status: () => c.link?.status(),
    async stop() {
      if (stopped) return;
      stopped = true;
      await c.link?.stop();
      c.link = undefined;
      await audit.stop();
      await store.stop();
      await dir.remove();
    },
  };
  cleanups.push(() => c.stop());
  return c;
}

// ---------------------------------------------------------------------------------------------
// 1. revocation → enforcement

interface EnforceResult {
  variant: string;
  /** One sample per (revocation, controller): admin call start → committed in that store. */
  perController: LatencySummary;
  /** One per revocation: until the last of the 50 had it. */
  allControllers: LatencySummary;
  /** The admin's revokeSubject (commit at the hub's database). */
  adminCommit: LatencySummary;
  /** Admin call start → the change frame handled at the controller (its store.revoke() called). */
  arrived: LatencySummary;
  /** store.revoke() called → committed (the controller's SQLite write, fsync'd). */
  localCommit: LatencySummary;
  /** Admin call start → the `changes` frame at a bare WebSocket client (one per hub, no store): the hub's path alone. */
  pushOnly: LatencySummary;
  enforcedEverywhere: boolean;
  hubCpuCoresDuring: number;
  hubIdleCpuCores: number;
  load: MachineLoad;
}

async function measureEnforcement(variant: string, admin: HubAdmin, hubs: HubProcess[], controllers: BenchController[], subjectBase: number, pushed: Map<string, number[]>): Promise<EnforceResult> {
  // Idle cost of the hubs for 5 s with every link open (heartbeats; polling in the polling variant).
  const idle0 = hubs.reduce((a, h) => a + h.cpuSeconds(), 0);
  await sleep(5000);
  const hubIdleCpuCores = (hubs.reduce((a, h) => a + h.cpuSeconds(), 0) - idle0) / 5;
  const load = watchLoad();
  const cpu0 = hubs.reduce((a, h) => a + h.cpuSeconds(), 0);
  const t0All = performance.now();
  const per: number[] = [];
  const arrived: number[] = [];
  const localCommit: number[] = [];
  const pushOnly: number[] = [];
  const all: number[] = [];
  const commits: number[] = [];
  for (let r = 0; r < REVOCATIONS; r++) {
    const subject = String(subjectBase + r);
    const t0 = performance.now();
    await admin.revokeSubject('fleet', 0, subject, 'bench');
    commits.push(performance.now() - t0);
    await until(() => controllers.every((c) => c.revokedAt.has(subject)) && (pushed.get(subject)?.length ?? 0) >= hubs.length, 10_000, `revocation ${subject} on every controller`, 2);
    for (const at of pushed.get(subject)!) pushOnly.push(at - t0);
    const times = controllers.map((c) => c.revokedAt.get(subject)! - t0);
    per.push(...times);
    for (const c of controllers) {
      arrived.push(c.revokeCalledAt.get(subject)! - t0);
      localCommit.push(c.revokedAt.get(subject)! - c.revokeCalledAt.get(subject)!);
    }
    all.push(Math.max(...times));
    // Spaced out: each revocation alone on the links, as an operator makes them.
    await sleep(100 + Math.random() * 150);
  }
  const seconds = (performance.now() - t0All) / 1000;
  const hubCpuCoresDuring = (hubs.reduce((a, h) => a + h.cpuSeconds(), 0) - cpu0) / seconds;
  let enforcedEverywhere = true;
  for (const c of controllers) {
    for (let r = 0; r < REVOCATIONS; r++) if (!(await c.store.isRevoked(0, String(subjectBase + r)))) enforcedEverywhere = false;
  }
  return {
    variant,
    perController: rounded(summarize(per)),
    allControllers: rounded(summarize(all)),
    adminCommit: rounded(summarize(commits)),
    arrived: rounded(summarize(arrived)),
    localCommit: rounded(summarize(localCommit)),
    pushOnly: rounded(summarize(pushOnly)),
    enforcedEverywhere,
    hubCpuCoresDuring: Math.round(hubCpuCoresDuring * 100) / 100,
    hubIdleCpuCores: Math.round(hubIdleCpuCores * 100) / 100,
    load: load.stop(),
  };
}

async function scenarioEnforcement(db: BenchDatabase, cleanups: Array<() => Promise<void>>): Promise<EnforceResult[]> {
  let hubs = [await startHubProcess(db.url), await startHubProcess(db.url)];
  cleanups.push(async () => {
    for (const h of hubs) await h.stop();
  });
  const admin = await HubAdmin.open(db.url);
  cleanups.push(() => admin.close());
  await admin.addSite('fleet');
  const enrolled = await enrolMany(admin, hubs[0]!, 'fleet', CONTROLLERS + 2);
  // Two bare clients, one per hub: when the hub's `changes` frame arrives, without a controller's work.
  const pushed = new Map<string, number[]>();
  const onChange = (subject: string) => pushed.set(subject, [...(pushed.get(subject) ?? []), performance.now()]);
  let raws: RawLink[] = [];
  const openRaws = async () => {
    raws = await Promise.all(hubs.map((h, i) => openRaw(h, enrolled[CONTROLLERS + i]!.credential, `fleet-raw-${i}`, onChange)));
  };
  cleanups.push(async () => {
    for (const r of raws) r.ws.terminate();
  });
  const controllers: BenchController[] = [];
  for (let i = 0; i < CONTROLLERS; i++) controllers.push(await benchController(`fleet-${i}`, enrolled[i]!.credential, cleanups));
  const connectAll = async () => {
    const started = performance.now();
    await Promise.all(controllers.map((c, i) => c.connect(hubs[i % 2]!.url)));
    await until(() => controllers.every((c) => c.status()?.state === 'live'), 60_000, 'every link live', 50);
    return performance.now() - started;
  };
  // The hubs' path alone first: only the two bare clients connected, no controller at work.
  await openRaws();
  const notifyBare = await measureEnforcement('LISTEN/NOTIFY, bare clients only', admin, hubs, [], 4000, pushed);
  const liveMs = await connectAll();
  console.log(`  ${CONTROLLERS} links live on two hubs in ${(liveMs / 1000).toFixed(1)} s`);
  const notify = await measureEnforcement('LISTEN/NOTIFY', admin, hubs, controllers, 5000, pushed);
  console.log(`  NOTIFY: p50 ${notify.perController.p50.toFixed(1)} ms, p99 ${notify.perController.p99.toFixed(1)} ms`);

  // The same links on two hubs that poll instead.
  for (const c of controllers) await c.link?.stop();
  for (const h of hubs) await h.stop();
  for (const r of raws) r.ws.terminate();
  hubs = [await startHubProcess(db.url, POLL_MS), await startHubProcess(db.url, POLL_MS)];
  await openRaws();
  const pollingBare = await measureEnforcement(`cursor polling every ${POLL_MS} ms, bare clients only`, admin, hubs, [], 7000, pushed);
  await connectAll();
  const polling = await measureEnforcement(`cursor polling every ${POLL_MS} ms`, admin, hubs, controllers, 6000, pushed);
  console.log(`  polling: p50 ${polling.perController.p50.toFixed(1)} ms, p99 ${polling.perController.p99.toFixed(1)} ms`);
  for (const r of raws) r.ws.terminate();
  for (const h of hubs) await h.stop();
  await Promise.all(controllers.map((c) => c.stop()));
  return [notifyBare, notify, pollingBare, polling];
}

// ---------------------------------------------------------------------------------------------
// 2. catch-up of 100,000 queued audit events

interface CatchUpResult {
  events: number;
  batches: number;
  /** From one batch read to the next (read, send, the hub's check and insert, the ack). */
  batchRoundTripMs: LatencySummary;
  /** The controller's read of a batch from its store. */
  batchReadMs: LatencySummary;
  appendMs: number;
  uploadMs: number;
  eventsPerSecond: number;
  hubCpuCores: number;
  load: MachineLoad;
}

async function scenarioCatchUp(db: BenchDatabase, admin: HubAdmin, hub: HubProcess, cleanups: Array<() => Promise<void>>): Promise<CatchUpResult> {
  await admin.addSite('backlog');
  const { controllerId, credential } = (await enrolMany(admin, hub, 'backlog', 1))[0]!;
  const c = await benchController('backlog', credential, cleanups);
  const appendStarted = performance.now();
  for (let i = 0; i < QUEUED_EVENTS; i += 5000) {
    const chunk: Array<Promise<unknown>> = [];
    for (let j = i; j < i + 5000; j++) chunk.push(c.audit.append({ type: 'decision', door: 'lab', scanner: 'lab-in', subject: String(1000 + (j % 50)), kind: 'link', issuer: 0, verdict: j % 10 === 0 ? 'deny' : 'grant', reason: j % 10 === 0 ? 'expired' : null }));
    await Promise.all(chunk);
  }
  const appendMs = performance.now() - appendStarted;
  const head = c.audit.head.seq;
  const load = watchLoad();
  const cpu0 = hub.cpuSeconds();
  const started = performance.now();
  await c.connect(hub.url);
  await until(async () => ((await admin.audit.head(controllerId))?.seq ?? 0) >= head, 120_000, 'the backlog at the hub', 50);
  const uploadMs = performance.now() - started;
  const hubCpuCores = (hub.cpuSeconds() - cpu0) / (uploadMs / 1000);
  const reads = c.reads;
  await c.stop();
  return {
    batches: reads.length,
    batchRoundTripMs: rounded(summarize(reads.slice(1).map((r, i) => r.at - reads[i]!.at))),
    batchReadMs: rounded(summarize(reads.map((r) => r.ms))),
    events: head, appendMs: Math.round(appendMs), uploadMs: Math.round(uploadMs), eventsPerSecond: Math.round(head / (uploadMs / 1000)), hubCpuCores: Math.round(hubCpuCores * 100) / 100, load: load.stop() };
}

// ---------------------------------------------------------------------------------------------
// 3. a 1,000,000-revocation snapshot into a new controller

interface SnapshotResult {
  revocations: number;
  fillMs: number;
  loadMs: number;
  chunks: number;
  /** Time inside the controller's revokeMany (SQLite transactions), summed. */
  applyMs: number;
  chunkMs: LatencySummary;
  enforcedSample: boolean;
  hubPeakRssMb: number;
  hubRssBeforeMb: number;
  benchRssMb: number;
  hubCpuCores: number;
  load: MachineLoad;
}

async function scenarioSnapshot(db: BenchDatabase, admin: HubAdmin, hub: HubProcess, cleanups: Array<() => Promise<void>>): Promise<SnapshotResult> {
  await admin.addSite('huge');
  const fillStarted = performance.now();
  const client = await db.client();
  await client.query(`INSERT INTO hub_revocations (site_id, issuer, subject, revoked_at, reason) SELECT 'huge', n % 4, (10000000 + n)::text, 1764633600000, CASE WHEN n % 3 = 0 THEN 'lost' ELSE NULL END FROM generate_series(1, ${SNAPSHOT_REVOCATIONS - 1}) n`);
  await client.query('ANALYZE hub_revocations');
  await admin.revokeSubject('huge', 0, '7', 'the last one');
  const fillMs = performance.now() - fillStarted;
  const { credential } = (await enrolMany(admin, hub, 'huge', 1))[0]!;
  const c = await benchController('huge', credential, cleanups);
  const hubRssBefore = hub.memory().rss;
  const load = watchLoad();
  const cpu0 = hub.cpuSeconds();
  const started = performance.now();
  await c.connect(hub.url);
  await until(() => c.status()?.state === 'live', 300_000, 'the snapshot applied', 50);
  const loadMs = performance.now() - started;
  const hubCpuCores = (hub.cpuSeconds() - cpu0) / (loadMs / 1000);
  const loadDone = load.stop();
  let enforcedSample = await c.store.isRevoked(0, '7');
  for (const n of [1, 2, 3, 250_000, 500_001, 999_999]) enforcedSample &&= await c.store.isRevoked(n % 4, String(10_000_000 + n));
  const rows = c.chunks.reduce((a, ch) => a + ch.rows, 0);
  if (rows !== SNAPSHOT_REVOCATIONS) throw new Error(`the snapshot held ${rows} revocations, not ${SNAPSHOT_REVOCATIONS}`);
  const result: SnapshotResult = {
    revocations: rows,
    fillMs: Math.round(fillMs),
    loadMs: Math.round(loadMs),
    chunks: c.chunks.length,
    applyMs: Math.round(c.chunks.reduce((a, ch) => a + ch.ms, 0)),
    chunkMs: rounded(summarize(c.chunks.map((ch) => ch.ms))),
    enforcedSample,
    hubPeakRssMb: Number(mb(hub.memory().peak)),
    hubRssBeforeMb: Number(mb(hubRssBefore)),
    benchRssMb: Number(mb(process.memoryUsage().rss)),
    hubCpuCores: Math.round(hubCpuCores * 100) / 100,
    load: loadDone,
  };
  await c.stop();
  return result;
}

// ---------------------------------------------------------------------------------------------
// 4. one hub process: links held, audit ingested

interface RawLink {
  ws: WebSocket;
  rtts: number[];
  acked: number;
  waiter: (() => void) | undefined;
}

function openRaw(hub: HubProcess, credential: string, chain: string, onChange?: (subject: string) => void): Promise<RawLink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${hub.port}/sync`, { headers: { authorization: `Bearer ${credential}` } });
    const link: RawLink = { ws, rtts: [], acked: 0, waiter: undefined };
    const sent = new Map<number, number>();
    let pingId = 0;
    let timer: NodeJS.Timeout | undefined;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { type: string; id?: number; seq?: number; items?: Array<{ subject: string }> };
      if (frame.type === 'changes') {
        for (const item of frame.items ?? []) onChange?.(item.subject);
      } else if (frame.type === 'synced') {
        // A ping every 5 s as the SyncLink does, the first at a random point of the period.
        const ping = () => {
          const id = ++pingId;
          sent.set(id, performance.now());
          ws.send(JSON.stringify({ type: 'ping', id, time: Date.now() }));
        };
        timer = setTimeout(() => {
          ping();
          timer = setInterval(ping, 5000);
        }, Math.random() * 5000);
        resolve(link);
      } else if (frame.type === 'pong' && typeof frame.id === 'number') {
        const at = sent.get(frame.id);
        if (at !== undefined) link.rtts.push(performance.now() - at);
        sent.delete(frame.id);
      } else if (frame.type === 'auditAck') {
        link.acked = frame.seq ?? 0;
        link.waiter?.();
      } else if (frame.type === 'error' || frame.type === 'auditRejected') {
        reject(new Error(`hub said ${data.toString()}`));
      }
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', cursor: 0, chain, time: Date.now() })));
    ws.on('error', reject);
    ws.on('close', () => clearInterval(timer));
  });
}

function chainEvents(chain: string, count: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = '0'.repeat(64);
  const at0 = Date.now() - count;
  for (let seq = 1; seq <= count; seq++) {
    const fields = { controllerId: chain, seq, at: at0 + seq, type: 'decision', door: 'front', scanner: 'front-in', subject: String(1000 + (seq % 97)), kind: 'link', issuer: 0, verdict: 'grant', reason: null, actor: null, data: null };
    const hash = hashEvent(prev, fields);
    events.push({ ...fields, prevHash: prev, hash });
    prev = hash;
  }
  return events;
}

interface HubProcessResult {
  held: number;
  enrolMs: number;
  connectMs: number;
  hubRssIdleMb: number;
  hubCpuCoresHolding: number;
  pongRtt: LatencySummary;
  ingestLinks: number;
  ingestEvents: number;
  ingestMs: number;
  ingestEventsPerSecond: number;
  hubCpuCoresIngest: number;
  pongRttIngest: LatencySummary;
  storedAtHub: number;
  loadHolding: MachineLoad;
  loadIngest: MachineLoad;
}

async function scenarioOneHub(db: BenchDatabase, admin: HubAdmin, cleanups: Array<() => Promise<void>>): Promise<HubProcessResult> {
  const hub = await startHubProcess(db.url);
  cleanups.push(() => hub.stop());
  await admin.addSite('crowd');
  const enrolStarted = performance.now();
  const enrolled = await enrolMany(admin, hub, 'crowd', HELD);
  const enrolMs = performance.now() - enrolStarted;
  const connectStarted = performance.now();
  const links: RawLink[] = [];
  for (let i = 0; i < HELD; i += 50) {
    links.push(...(await Promise.all(enrolled.slice(i, i + 50).map((e, j) => openRaw(hub, e.credential, `crowd-${i + j}`)))));
  }
  cleanups.push(async () => {
    for (const l of links) l.ws.terminate();
  });
  const connectMs = performance.now() - connectStarted;
  console.log(`  ${HELD} links open in ${(connectMs / 1000).toFixed(1)} s (enrolled in ${(enrolMs / 1000).toFixed(1)} s)`);
  await sleep(5000);
  for (const l of links) l.rtts.length = 0;
  const loadHolding = watchLoad();
  const cpu0 = hub.cpuSeconds();
  await sleep(HOLD_SECONDS * 1000);
  const hubCpuCoresHolding = (hub.cpuSeconds() - cpu0) / HOLD_SECONDS;
  const holding = loadHolding.stop();
  const pongRtt = rounded(summarize(links.flatMap((l) => l.rtts)));
  const hubRssIdle = hub.memory().rss;
  for (const l of links) l.rtts.length = 0;

  // Ingest: INGEST_LINKS of the held links upload chains, one batch of 500 in flight each.
  const chains = Array.from({ length: INGEST_LINKS }, (_, i) => chainEvents(`crowd-${i}`, INGEST_EVENTS_PER_LINK));
  const loadIngest = watchLoad();
  const cpu1 = hub.cpuSeconds();
  const ingestStarted = performance.now();
  await Promise.all(
    chains.map(async (events, i) => {
      const link = links[i]!;
      for (let from = 0; from < events.length; from += 500) {
        const batch = events.slice(from, from + 500);
        const last = batch.at(-1)!.seq;
        const acked = new Promise<void>((resolve) => (link.waiter = () => link.acked >= last && resolve()));
        link.ws.send(JSON.stringify({ type: 'audit', events: batch }));
        await acked;
      }
    }),
  );
  const ingestMs = performance.now() - ingestStarted;
  const hubCpuCoresIngest = (hub.cpuSeconds() - cpu1) / (ingestMs / 1000);
  const ingest = loadIngest.stop();
  const client = await db.client();
  const stored = Number((await client.query(`SELECT count(*)::int AS n FROM hub_audit_events e JOIN hub_controllers c ON c.id = e.controller_id WHERE c.site_id = 'crowd'`)).rows[0].n);
  const ingestEvents = INGEST_LINKS * INGEST_EVENTS_PER_LINK;
  for (const l of links) l.ws.terminate();
  await hub.stop();
  return {
    held: HELD,
    enrolMs: Math.round(enrolMs),
    connectMs: Math.round(connectMs),
    hubRssIdleMb: Number(mb(hubRssIdle)),
    hubCpuCoresHolding: Math.round(hubCpuCoresHolding * 1000) / 1000,
    pongRtt,
    ingestLinks: INGEST_LINKS,
    ingestEvents,
    ingestMs: Math.round(ingestMs),
    ingestEventsPerSecond: Math.round(ingestEvents / (ingestMs / 1000)),
    hubCpuCoresIngest: Math.round(hubCpuCoresIngest * 100) / 100,
    pongRttIngest: rounded(summarize(links.flatMap((l) => l.rtts))),
    storedAtHub: stored,
    loadHolding: holding,
    loadIngest: ingest,
  };
}

// ---------------------------------------------------------------------------------------------

export async function runHubSync(): Promise<void> {
  const pgVersion = await postgresVersion();
  const env = environment(pgVersion);
  console.log(`\n## hubSync: the hub and its sync links\n\n${describeEnvironment(env)}`);
  const busy = await busyNowWarning();
  if (busy) console.log(busy);
  const db = await createBenchDatabase();
  const cleanups: Array<() => Promise<void>> = [];
  const startedAt = new Date().toISOString();
  try {
    console.log('\n1. revocation → enforcement, 50 controllers on two hubs');
    const enforcement = await scenarioEnforcement(db, cleanups);
    console.log(
      '\n' +
        table(
          ['variant', 'enforced: samples', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'all 50: p99 ms', 'bare client p50 ms', 'bare client p99 ms', 'hub CPU idle', 'hub CPU during'],
          enforcement.map((e) => {
            const f = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
            return [e.variant, e.perController.count, f(e.perController.p50), f(e.perController.p90), f(e.perController.p99), f(e.perController.max), f(e.allControllers.p99), f(e.pushOnly.p50), f(e.pushOnly.p99), e.hubIdleCpuCores.toFixed(2), e.hubCpuCoresDuring.toFixed(2)];
          }),
        ),
    );
    for (const e of enforcement) {
      console.log(
        `  ${e.variant}: enforced on every store ${e.enforcedEverywhere}; admin commit p50 ${e.adminCommit.p50.toFixed(1)} p99 ${e.adminCommit.p99.toFixed(1)} ms; ` +
          `frame handled at the controller p50 ${e.arrived.p50.toFixed(1)} p99 ${e.arrived.p99.toFixed(1)} ms; local commit p50 ${e.localCommit.p50.toFixed(1)} p99 ${e.localCommit.p99.toFixed(1)} ms; ${describeLoad(e.load)}`,
      );
    }

    const hub = await startHubProcess(db.url);
    cleanups.push(() => hub.stop());
    const admin = await HubAdmin.open(db.url);
    cleanups.push(() => admin.close());

    console.log(`\n2. catch-up: ${QUEUED_EVENTS.toLocaleString('en')} queued audit events, one controller`);
    const catchUp = await scenarioCatchUp(db, admin, hub, cleanups);
    console.log(
      `  uploaded in ${(catchUp.uploadMs / 1000).toFixed(1)} s (${catchUp.eventsPerSecond} events/s; target < ${TARGET_CATCH_UP_MS / 1000} s); ${catchUp.batches} batches, one in flight: round trip p50 ${catchUp.batchRoundTripMs.p50.toFixed(1)} p99 ${catchUp.batchRoundTripMs.p99.toFixed(1)} ms, of it the controller's read p50 ${catchUp.batchReadMs.p50.toFixed(1)} ms; ` +
        `appended offline in ${(catchUp.appendMs / 1000).toFixed(1)} s; hub CPU ${catchUp.hubCpuCores} cores; ${describeLoad(catchUp.load)}`,
    );

    console.log(`\n3. snapshot: ${SNAPSHOT_REVOCATIONS.toLocaleString('en')} revocations into a new controller`);
    const snapshot = await scenarioSnapshot(db, admin, hub, cleanups);
    console.log(
      `  live after ${(snapshot.loadMs / 1000).toFixed(1)} s (target < ${TARGET_SNAPSHOT_MS / 1000} s): ${snapshot.chunks} chunks, ${(snapshot.applyMs / 1000).toFixed(1)} s of it in the controller's revokeMany (chunk p50 ${snapshot.chunkMs.p50.toFixed(0)} ms, max ${snapshot.chunkMs.max.toFixed(0)} ms); ` +
        `hub RSS ${snapshot.hubRssBeforeMb} MB before, peak ${snapshot.hubPeakRssMb} MB; hub CPU ${snapshot.hubCpuCores} cores; sample enforced ${snapshot.enforcedSample}; filled in ${(snapshot.fillMs / 1000).toFixed(1)} s; ${describeLoad(snapshot.load)}`,
    );
    await hub.stop();

    console.log(`\n4. one hub process: ${HELD} links held, then ${INGEST_LINKS} of them uploading`);
    const oneHub = await scenarioOneHub(db, admin, cleanups);
    console.log(
      `  holding: hub CPU ${oneHub.hubCpuCoresHolding} cores, RSS ${oneHub.hubRssIdleMb} MB, pong RTT p50 ${oneHub.pongRtt.p50.toFixed(2)} ms p99 ${oneHub.pongRtt.p99.toFixed(2)} ms (${oneHub.pongRtt.count} pings); ${describeLoad(oneHub.loadHolding)}\n` +
        `  ingest: ${oneHub.ingestEvents} events in ${(oneHub.ingestMs / 1000).toFixed(1)} s = ${oneHub.ingestEventsPerSecond} events/s (stored ${oneHub.storedAtHub}); hub CPU ${oneHub.hubCpuCoresIngest} cores; pong RTT meanwhile p50 ${oneHub.pongRttIngest.p50.toFixed(2)} ms p99 ${oneHub.pongRttIngest.p99.toFixed(2)} ms; ${describeLoad(oneHub.loadIngest)}`,
    );

    const file = await writeResults('hubSync', {
      startedAt,
      environment: env,
      targets: { enforceP99Ms: TARGET_ENFORCE_MS, catchUpMs: TARGET_CATCH_UP_MS, snapshotMs: TARGET_SNAPSHOT_MS },
      enforcement,
      catchUp,
      snapshot,
      oneHub,
    });
    console.log(`\nresults: ${file}`);
  } finally {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await db.drop();
  }
}
