/**
 * A flood from the weakest role, against the controller as it is installed: `postern start` from
 * the build (dist/), in its own process, on SQLite with 20,000 events in its audit chain, 16
 * doors (relock after 0.2 s) and the default API limits. Scans arrive at 50/s through the API's
 * network scanners (`scanner.read`, one door after another, each door every 0.32 s), for 10 s
 * idle and then 10 s while ten connections of one viewer token flood audit.query { limit: 1000 }
 * (a batch of 50 first, then one query after another: bench/floodClients.ts, its own process) and
 * 100 more clients are subscribed to every topic.
 *
 * Measured: scan → answer of each scan's `scanner.read` (the verdict comes after the relay, so this
 * is scan → relay plus one loopback round trip), how late each relock fires (the door's `since`
 * when its relay goes off − when it went on − 0.2 s, both on the controller's clock, from a door
 * subscription), the controller process's RSS (VmRSS, every 100 ms) and its CPU time per phase,
 * and each phase's ten slowest scans with when they were sent (one stall or many), the full
 * (mark-compact) collections the controller made in each phase, and how many scans took over
 * 10 ms end to end against how many of them did inside the controller's own scan → relay (its
 * postern_scan_to_relay_seconds): the rest of such a scan's time went to the hops around the
 * decision. Targets (issue 13): p99 within 1.5× of idle, timers on time, RSS under 300 MB. The
 * disk under the store is watched for fsync stalls (bench/lib/diskStalls.ts): every grant waits
 * for one, so a stall of the disk holds every scan meanwhile, in either phase; each phase reports
 * its stalls, the scans that overlapped one, and its p99 without those. FLOOD_HOSTILE=1: flooders
 * that send again at once after a refusal instead of waiting its retryAfterMs.
 * FLOOD_PHASE_SECONDS=30: longer phases (1,500 scans each instead of 500), so that one stall is
 * not the whole p99.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { Accounts } from '../controller/accounts/accounts.ts';
import { AuditTrail } from '../controller/audit/auditTrail.ts';
import { encodeCredential } from '../controller/credentials/credentialCodec.ts';
import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import { ClientProcess } from './lib/clientProcess.ts';
import { DiskStallWatch, overlapsStall, stallsBetween, type DiskStall } from './lib/diskStalls.ts';
import { busyWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { BENCH_SCOPE, doorId, tempDir, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, mb, rounded, sleep, summarize, table } from './lib/stats.ts';

const DOORS = 16;
// Each door is scanned every DOORS / SCANS_PER_SECOND = 0.32 s: it has relocked by then.
const UNLOCK_SECONDS = 0.2;
const SCANS_PER_SECOND = 50;
const PHASE_SECONDS = Number(process.env.FLOOD_PHASE_SECONDS ?? 10);
const FLOODERS = Number(process.env.FLOOD_FLOODERS ?? 10);
const BATCH = 50;
const SUBSCRIBERS = Number(process.env.FLOOD_SUBSCRIBERS ?? 100);
const AUDIT_EVENTS = 20_000;
const SCAN_CONNECTIONS = 4;
const HOSTILE = process.env.FLOOD_HOSTILE === '1';
const SITE_ID = 'bench-flood';
const BIN = fileURLToPath(new URL('../dist/controller/bin/postern.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function siteFile(dataDir: string, port: number): string {
  const doors = Array.from({ length: DOORS }, (_, i) => doorId(i));
  const file = path.join(dataDir, 'site.json');
  writeFileSync(
    file,
    JSON.stringify({
      site: { id: SITE_ID, name: 'Flood benchmark', defaultScope: BENCH_SCOPE },
      dataDir,
      logLevel: 'warn',
      // The default rate limits and read budget: they are what is measured.
      api: { port, host: '127.0.0.1' },
      web: { enabled: false },
      throttle: { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 },
      scopes: [{ id: BENCH_SCOPE, name: 'every door', doors }],
      doors: doors.map((id) => ({ id, name: id, unlockSeconds: UNLOCK_SECONDS, heldOpenSeconds: 3600, io: { driver: 'simulated' } })),
      scanners: doors.map((id, i) => ({ id: `net-${i}`, door: id, driver: 'network', debounceMs: 0 })),
    }),
  );
  return file;
}

async function prepareStore(dataDir: string): Promise<{ siteKey: Buffer; viewer: string; integrator: string }> {
  const store = openStore({ dataDir });
  await store.start();
  const admin = new AuditTrail({ store, controllerId: `${SITE_ID}/admin` });
  await admin.start();
  // The controller's own chain, as a busy site's would be after a few days.
  const chain = new AuditTrail({ store, controllerId: SITE_ID });
  await chain.start();
  try {
    for (let i = 0; i < AUDIT_EVENTS; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => chain.append({ type: 'decision', door: doorId((i + j) % DOORS), scanner: `net-${(i + j) % DOORS}`, kind: 'link', issuer: 0, subject: String(1000 + i + j), verdict: 'grant', reason: null })));
    }
    const accounts = new Accounts({ store, audit: admin });
    const viewer = (await accounts.createToken({ name: 'wall-display', role: 'viewer', scanner: null }, 'bench')).token;
    const integrator = (await accounts.createToken({ name: 'readers', role: 'integrator', scanner: null }, 'bench')).token;
    return { siteKey: await loadOrCreateSiteKey(store), viewer, integrator };
  } finally {
    await chain.stop();
    await admin.stop();
    await store.stop();
  }
}

/** A JSON-RPC client for the bench's own calls: scans and the door subscription. */
class Client {
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: { result?: unknown; error?: unknown }) => void>();
  readonly doorEvents: Array<{ id: string; relayUnlocked: boolean; since: number }> = [];

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; method?: string; params?: { topic: string; data: { id: string; relayUnlocked: boolean; since: number } } };
      if (message.method === 'event' && message.params?.topic === 'door') this.doorEvents.push(message.params.data);
      else if (typeof message.id === 'number') this.waiting.get(message.id)?.(message as { result?: unknown });
    });
  }

  static async connect(url: string, token: string): Promise<Client> {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    await once(socket, 'open');
    return new Client(socket);
  }

  call(method: string, params: unknown): Promise<{ result?: unknown; error?: unknown }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, (answer) => {
        this.waiting.delete(id);
        resolve(answer);
      });
      this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

interface Phase {
  /** Each granted scan's latency (scan → answer) with when it was sent, in seconds from the phase's start. */
  timeline: Array<{ at: number; ms: number }>;
  /** performance.now() when the first scan was due and when the last was answered. */
  start: number;
  end: number;
  refused: number;
  timerLateness: number[];
  rssMax: number;
  /** The controller's CPU time during the phase ÷ the phase's wall time (1 = one core busy). */
  controllerCores: number;
}

/** CPU seconds the process has used, user and system (/proc/<pid>/stat, in clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may hold spaces: fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** What the controller's own /metrics have counted so far, for the difference over a phase. */
interface ControllerCounts {
  /**
   * Full (mark-compact) collections (prom-client's nodejs_gc_duration_seconds): each one held the
   * scans of the next tens of milliseconds on 2 cores, so a phase's count says how much of its
   * tail they may be.
   */
  fullCollections: number;
  /** Grants decided, and those whose scan → relay inside the controller took longer than 10 ms. */
  grants: number;
  grantsOver10ms: number;
}

async function controllerCounts(port: number, token: string): Promise<ControllerCounts> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const lines = text.split('\n');
  const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));
  const sum = (match: (line: string) => boolean) => lines.filter(match).reduce((total, line) => total + value(line), 0);
  // postern_scan_to_relay_seconds is kept per door: the grants' series are summed over the doors.
  const grant = (line: string, series: string) => line.startsWith(`postern_scan_to_relay_seconds_${series}{`) && line.includes('verdict="grant"');
  const grants = sum((l) => grant(l, 'count'));
  return {
    fullCollections: sum((l) => l.startsWith('nodejs_gc_duration_seconds_count{') && l.includes('kind="major"')),
    grants,
    grantsOver10ms: grants - sum((l) => grant(l, 'bucket') && l.includes('le="0.01"')),
  };
}

function countsBetween(before: ControllerCounts, after: ControllerCounts): ControllerCounts {
  return { fullCollections: after.fullCollections - before.fullCollections, grants: after.grants - before.grants, grantsOver10ms: after.grantsOver10ms - before.grantsOver10ms };
}

function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/** The ten slowest scans of a phase, in the order sent: `ms at s` (seconds into the phase). */
function slowest(timeline: Phase['timeline']): string {
  const ten = [...timeline].sort((a, b) => b.ms - a.ms).slice(0, 10);
  return ten
    .sort((a, b) => a.at - b.at)
    .map((s) => `${s.ms.toFixed(1)} ms at ${s.at.toFixed(2)} s`)
    .join(', ');
}

/** A phase's disk stalls and what they did to its scans. */
function stallsOf(phase: Phase, stalls: readonly DiskStall[]) {
  const during = stallsBetween(stalls, phase.start, phase.end);
  const hit = (s: Phase['timeline'][number]) => overlapsStall(during, phase.start + s.at * 1000, phase.start + s.at * 1000 + s.ms);
  return {
    stalls: during.map((s) => ({ at: Math.round(s.start - phase.start) / 1000, ms: Math.round(s.ms * 10) / 10 })),
    scansDuringStall: phase.timeline.filter(hit).length,
    /** The phase's scans that overlapped no stall. */
    withoutStalls: summarize(phase.timeline.filter((s) => !hit(s)).map((s) => s.ms)),
  };
}

function describeStalls(stalls: ReturnType<typeof stallsOf>['stalls']): string {
  return stalls.length === 0 ? 'none' : stalls.map((s) => `${s.ms.toFixed(0)} ms at ${s.at.toFixed(2)} s`).join(', ');
}

/** Relock lateness from the door events: relay off − relay on − unlockSeconds, per door, in order. */
function lateness(events: Client['doorEvents'], from: number): number[] {
  const on = new Map<string, number>();
  const late: number[] = [];
  for (const e of events.slice(from)) {
    if (e.relayUnlocked) on.set(e.id, e.since);
    else if (on.has(e.id)) {
      late.push(e.since - on.get(e.id)! - UNLOCK_SECONDS * 1000);
      on.delete(e.id);
    }
  }
  return late;
}

async function scanPhase(scanners: Client[], watcher: Client, pid: number, siteKey: Buffer, firstSubject: number): Promise<Phase> {
  const firstEvent = watcher.doorEvents.length;
  let rssMax = 0;
  const rss = setInterval(() => (rssMax = Math.max(rssMax, rssOf(pid))), 100);
  const cpuStart = cpuSecondsOf(pid);
  const wallStart = performance.now();
  const t = Math.floor(Date.now() / 1000);
  const interval = 1000 / SCANS_PER_SECOND;
  const start = performance.now();
  const timeline: Phase['timeline'] = [];
  let refused = 0;
  const pending: Array<Promise<void>> = [];
  for (let sent = 0; sent < SCANS_PER_SECOND * PHASE_SECONDS; sent++) {
    const wait = start + sent * interval - performance.now();
    if (wait > 0) await sleep(wait);
    const code = encodeCredential({ kind: 'link', issuer: 0, subject: BigInt(firstSubject + sent), a: t - 60, b: t + 86_400, scope: BENCH_SCOPE }, siteKey);
    const sentAt = performance.now();
    pending.push(
      scanners[sent % scanners.length]!.call('scanner.read', { scanner: `net-${sent % DOORS}`, text: code }).then((answer) => {
        if ((answer.result as { verdict?: string } | undefined)?.verdict === 'grant') {
          timeline.push({ at: (sentAt - start) / 1000, ms: performance.now() - sentAt });
        } else refused++;
      }),
    );
  }
  await Promise.all(pending);
  const end = performance.now();
  await sleep(UNLOCK_SECONDS * 1000 + 500);
  clearInterval(rss);
  const controllerCores = (cpuSecondsOf(pid) - cpuStart) / ((performance.now() - wallStart) / 1000);
  return { timeline, start, end, refused, timerLateness: lateness(watcher.doorEvents, firstEvent), rssMax, controllerCores };
}

interface ClientReply {
  type: string;
  counts?: { batches: number; answered: number; refused: number; events: number; notifications: number; dropped: number };
}


export async function runViewerFlood(): Promise<void> {
  const env = environment();
  console.log(`\n# viewer-flood${HOSTILE ? ' (hostile)' : ''}: ${FLOODERS} viewer connections flooding audit.query {limit: 1000}, ${SUBSCRIBERS} subscribers, ${SCANS_PER_SECOND} scans/s, against postern start (dist/)\n${describeEnvironment(env)}\n`);
  const warning = busyWarning();
  if (warning !== undefined) console.log(warning + '\n');
  const dir = await tempDir('postern-bench-flood-');
  const { siteKey, viewer, integrator } = await prepareStore(dir.dir);
  const port = await freePort();
  const disk = new DiskStallWatch(dir.dir);
  let stalls: DiskStall[] | undefined;
  const controller = spawn(process.execPath, [BIN, 'start', '--config', siteFile(dir.dir, port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `ws://127.0.0.1:${port}/api`;
  const clients: Client[] = [];
  try {
    for (let i = 0; ; i++) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ready) break;
      if (i > 300) throw new Error('the controller did not get ready in 30 s');
      await sleep(100);
    }
    const load = watchLoad();
    for (let i = 0; i < SCAN_CONNECTIONS; i++) clients.push(await Client.connect(url, integrator));
    const watcher = await Client.connect(url, viewer);
    clients.push(watcher);
    await watcher.call('subscribe', { topics: ['door'] });
    const scanners = clients.slice(0, SCAN_CONNECTIONS);
    await scanPhase(scanners, watcher, controller.pid!, siteKey, 1_000_000); // warm-up
    const beforeIdle = await controllerCounts(port, viewer);
    const idle = await scanPhase(scanners, watcher, controller.pid!, siteKey, 2_000_000);
    const inIdle = countsBetween(beforeIdle, await controllerCounts(port, viewer));
    const flood = await ClientProcess.start<ClientReply>(new URL('./floodClients.ts', import.meta.url), 'ready');
    await flood.ask({ type: 'start', url, token: viewer, subscribers: SUBSCRIBERS, flooders: FLOODERS, batch: BATCH, polite: !HOSTILE }, 'started');
    const beforeFlood = await controllerCounts(port, viewer);
    const flooded = await scanPhase(scanners, watcher, controller.pid!, siteKey, 3_000_000);
    const inFlood = countsBetween(beforeFlood, await controllerCounts(port, viewer));
    const counts = (await flood.ask({ type: 'stop' }, 'stopped')).counts!;
    const machine = load.stop();
    stalls = await disk.stop();

    const idleScans = summarize(idle.timeline.map((s) => s.ms));
    const floodScans = summarize(flooded.timeline.map((s) => s.ms));
    console.log(table(LATENCY_HEADERS, [latencyRow('scan → answer, idle', idleScans), latencyRow('scan → answer, flood', floodScans), latencyRow('relock lateness, idle', summarize(idle.timerLateness)), latencyRow('relock lateness, flood', summarize(flooded.timerLateness))]));
    const ratio = floodScans.p99 / idleScans.p99;
    console.log(`controller RSS max: idle ${mb(idle.rssMax)}, flood ${mb(flooded.rssMax)} (target < 300 MB)`);
    console.log(`controller CPU: idle ${idle.controllerCores.toFixed(2)} cores, flood ${flooded.controllerCores.toFixed(2)} cores`);
    console.log(`scans not granted: idle ${idle.refused}, flood ${flooded.refused}`);
    console.log(`controller full (mark-compact) collections: idle ${inIdle.fullCollections}, flood ${inFlood.fullCollections}`);
    // Over 10 ms end to end but not inside the decision: the time went to the hops around it (the
    // scan's message waiting for the main thread, the answer's way back), not to deciding.
    const over10 = (scans: Phase['timeline']) => scans.filter((s) => s.ms > 10).length;
    console.log(
      `scans over 10 ms: end to end idle ${over10(idle.timeline)}, flood ${over10(flooded.timeline)}; ` +
        `inside the controller's scan → relay (postern_scan_to_relay_seconds) idle ${inIdle.grantsOver10ms} of ${inIdle.grants}, flood ${inFlood.grantsOver10ms} of ${inFlood.grants}`,
    );
    console.log(`flood: ${counts.answered} queries answered (${counts.events} events), ${counts.refused} refused; ${counts.notifications} notifications to subscribers; ${counts.dropped} connections closed`);
    console.log(`scan p99 flood / idle: ${ratio.toFixed(2)}× (target ≤ 1.5×)`);
    // A p99 of 500 scans is their 5th slowest: whether those come together (one stall) or apart.
    for (const [name, phase] of [['idle', idle], ['flood', flooded]] as const) console.log(`slowest scans, ${name}: ${slowest(phase.timeline)}`);
    const idleDisk = stallsOf(idle, stalls);
    const floodDisk = stallsOf(flooded, stalls);
    console.log(`disk stalls (a 1 KiB fdatasync over 10 ms, probed every 50 ms): idle ${describeStalls(idleDisk.stalls)}; flood ${describeStalls(floodDisk.stalls)}`);
    const ratioWithoutStalls = floodDisk.withoutStalls.p99 / idleDisk.withoutStalls.p99;
    console.log(
      `scans overlapping a disk stall: idle ${idleDisk.scansDuringStall}, flood ${floodDisk.scansDuringStall}; p99 without them: idle ${idleDisk.withoutStalls.p99.toFixed(3)} ms, ` +
        `flood ${floodDisk.withoutStalls.p99.toFixed(3)} ms, ratio ${ratioWithoutStalls.toFixed(2)}× (the target is on the ratio with them)`,
    );
    console.log(describeLoad(machine));
    const file = await writeResults(HOSTILE ? 'viewer-flood-hostile' : 'viewer-flood', {
      benchmark: 'viewer-flood',
      measuredAt: new Date().toISOString(),
      environment: env,
      config: { hostile: HOSTILE, doors: DOORS, unlockSeconds: UNLOCK_SECONDS, scansPerSecond: SCANS_PER_SECOND, phaseSeconds: PHASE_SECONDS, flooders: FLOODERS, batch: BATCH, subscribers: SUBSCRIBERS, auditEvents: AUDIT_EVENTS },
      idle: { scan: rounded(idleScans), slowest: slowest(idle.timeline), disk: { ...idleDisk, withoutStalls: rounded(idleDisk.withoutStalls) }, timerLateness: rounded(summarize(idle.timerLateness)), rssMax: idle.rssMax, controllerCores: idle.controllerCores, notGranted: idle.refused, fullCollections: inIdle.fullCollections, scansOver10ms: over10(idle.timeline), decisionsOver10ms: inIdle.grantsOver10ms },
      flood: { scan: rounded(floodScans), slowest: slowest(flooded.timeline), disk: { ...floodDisk, withoutStalls: rounded(floodDisk.withoutStalls) }, timerLateness: rounded(summarize(flooded.timerLateness)), rssMax: flooded.rssMax, controllerCores: flooded.controllerCores, notGranted: flooded.refused, fullCollections: inFlood.fullCollections, scansOver10ms: over10(flooded.timeline), decisionsOver10ms: inFlood.grantsOver10ms, clients: counts },
      p99Ratio: Math.round(ratio * 100) / 100,
      p99RatioWithoutDiskStalls: Math.round(ratioWithoutStalls * 100) / 100,
      met: { ratio: ratio <= 1.5, rss: flooded.rssMax < 300 * 1024 * 1024 },
      load: machine,
    });
    console.log(`results: ${file}`);
  } finally {
    for (const c of clients) c.close();
    controller.kill('SIGTERM');
    if (controller.exitCode === null) await once(controller, 'exit');
    if (stalls === undefined) await disk.stop();
    await dir.remove();
  }
}
