/**
 * A flood from the weakest role: 10 connections of one viewer token each send a batch of 50
 * audit.query { limit: 1000 }, then one query after another as fast as they are answered, and
 * connect again when dropped (bench/floodClients.ts), while 100 clients are subscribed to
 * every topic, and scans arrive at 50/s. Against the default rate limits, on SQLite, with 20,000
 * events in the audit trail so that every query has 1,000 rows to read.
 *
 * Measured, idle and under the flood, in one run: scan → relay (Decision.latencyMs) p50/p99, how
 * late the doors' relock timers fire (relay off − relay on − unlockSeconds), the event loop's delay,
 * and the controller's RSS. Targets (issue 13): decision p99 within 1.5× of idle, timers on time,
 * RSS under 300 MB.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Accounts } from '../controller/accounts/accounts.ts';
import { AuditTrail } from '../controller/audit/auditTrail.ts';
import { validateConfig } from '../controller/config/loadConfig.ts';
import { Controller } from '../controller/controller.ts';
import { encodeCredential } from '../controller/credentials/credentialCodec.ts';
import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import type { SimulatedDoorIo } from '../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../drivers/scanners/simulatedScanner.ts';
import { busyWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { watchLoop } from './lib/loopDelay.ts';
import { BENCH_SCOPE, doorId, scannerId, tempDir, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, mb, ms, rounded, sleep, summarize, table } from './lib/stats.ts';

const DOORS = 16;
// Each door is scanned every DOORS / SCANS_PER_SECOND = 0.32 s: it has relocked by then.
const UNLOCK_SECONDS = 0.2;
const SCANS_PER_SECOND = 50;
const PHASE_SECONDS = 10;
const FLOODERS = Number(process.env.FLOOD_FLOODERS ?? 10);
const BATCH = 50;
const SUBSCRIBERS = Number(process.env.FLOOD_SUBSCRIBERS ?? 100);
const AUDIT_EVENTS = 20_000;
/** FLOOD_HOSTILE=1: flooders that ignore refusals and reconnect when dropped; else they wait each refusal's retryAfterMs. */
const HOSTILE = process.env.FLOOD_HOSTILE === '1';

function site(dataDir: string) {
  const doors = Array.from({ length: DOORS }, (_, i) => doorId(i));
  return validateConfig({
    site: { id: 'bench-flood', name: 'Flood benchmark', defaultScope: BENCH_SCOPE },
    dataDir,
    logLevel: 'silent',
    // The default rate limits: they are what is measured.
    api: { port: 0, maxBufferedBytes: 16 * 1024 * 1024 },
    throttle: { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 },
    scopes: [{ id: BENCH_SCOPE, name: 'every door', doors }],
    doors: doors.map((id) => ({ id, name: id, unlockSeconds: UNLOCK_SECONDS, heldOpenSeconds: 3600 })),
    scanners: doors.map((id, i) => ({ id: scannerId(i), door: id, driver: 'simulated' as const, debounceMs: 0 })),
  });
}

async function prepareStore(dataDir: string): Promise<{ siteKey: Buffer; viewer: string }> {
  const store = openStore({ dataDir });
  await store.start();
  const admin = new AuditTrail({ store, controllerId: 'bench-flood/admin' });
  await admin.start();
  // The controller's own chain, as a busy site's would be after a few days.
  const chain = new AuditTrail({ store, controllerId: 'bench-flood' });
  await chain.start();
  try {
    for (let i = 0; i < AUDIT_EVENTS; i += 1000) {
      await Promise.all(Array.from({ length: 1000 }, (_, j) => chain.append({ type: 'decision', door: doorId((i + j) % DOORS), scanner: scannerId((i + j) % DOORS), kind: 'link', issuer: 0, subject: String(1000 + i + j), verdict: 'grant', reason: null })));
    }
    const viewer = (await new Accounts({ store, audit: admin }).createToken({ name: 'wall-display', role: 'viewer', scanner: null }, 'bench')).token;
    return { siteKey: await loadOrCreateSiteKey(store), viewer };
  } finally {
    await chain.stop();
    await admin.stop();
    await store.stop();
  }
}

interface Phase {
  decisions: number[];
  timerLateness: number[];
  loop: ReturnType<ReturnType<typeof watchLoop>['stop']>;
  rssMax: number;
  sent: number;
}

/** Scans at SCANS_PER_SECOND for PHASE_SECONDS, round the doors, open loop. */
async function scanPhase(controller: Controller, siteKey: Buffer, firstSubject: number): Promise<Phase> {
  const decisions: number[] = [];
  const timerLateness: number[] = [];
  const offDecision = controller.onDecision((d) => d.verdict === 'grant' && decisions.push(d.latencyMs));
  const relayOn = new Map<string, number>();
  const offRelays = Array.from({ length: DOORS }, (_, i) => {
    const door = doorId(i);
    return (controller.doorIo(door) as SimulatedDoorIo).onRelay((unlocked) => {
      const at = performance.now();
      if (unlocked) relayOn.set(door, at);
      else if (relayOn.has(door)) timerLateness.push(at - relayOn.get(door)! - UNLOCK_SECONDS * 1000);
    });
  });
  let rssMax = 0;
  const rss = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 100);
  const loop = watchLoop();
  const t = Math.floor(Date.now() / 1000);
  const interval = 1000 / SCANS_PER_SECOND;
  const start = performance.now();
  let sent = 0;
  while (sent < SCANS_PER_SECOND * PHASE_SECONDS) {
    const due = start + sent * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const code = encodeCredential({ kind: 'link', issuer: 0, subject: BigInt(firstSubject + sent), a: t - 60, b: t + 86_400, scope: BENCH_SCOPE }, siteKey);
    (controller.scannerDriver(scannerId(sent % DOORS)) as SimulatedScanner).read(code);
    sent++;
  }
  await sleep(UNLOCK_SECONDS * 1000 + 500);
  clearInterval(rss);
  offDecision();
  for (const off of offRelays) off();
  return { decisions, timerLateness, loop: loop.stop(), rssMax, sent };
}

/** What the client process answers; each `type` carries its own fields. */
interface ClientReply {
  type: string;
  counts?: { batches: number; answered: number; refused: number; events: number; notifications: number; dropped: number };
}

class FloodClients {
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<FloodClients> {
    const child = fork(fileURLToPath(new URL('./floodClients.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await FloodClients.next(child, 'ready');
    return new FloodClients(child);
  }

  private static async next(child: ChildProcess, type: string): Promise<ClientReply> {
    for (;;) {
      const [message] = (await once(child, 'message')) as [ClientReply];
      if (message.type === type) return message;
    }
  }

  async ask(command: Record<string, unknown>, answer: string): Promise<ClientReply> {
    const reply = FloodClients.next(this.child, answer);
    this.child.send(command);
    return reply;
  }
}

export async function runViewerFlood(): Promise<void> {
  const env = environment();
  console.log(`\n# viewer-flood${HOSTILE ? ' (hostile)' : ''}: ${FLOODERS} viewer connections flooding batches of ${BATCH} audit.query {limit: 1000}, ${SUBSCRIBERS} subscribers, ${SCANS_PER_SECOND} scans/s\n${describeEnvironment(env)}\n`);
  const warning = busyWarning();
  if (warning !== undefined) console.log(warning + '\n');
  const dir = await tempDir('postern-bench-flood-');
  const { siteKey, viewer } = await prepareStore(dir.dir);
  const controller = new Controller({ config: site(dir.dir) });
  await controller.start();
  const url = `${controller.apiUrl!.replace(/^http/, 'ws')}/api`;
  const load = watchLoad();
  try {
    await scanPhase(controller, siteKey, 1_000_000); // warm-up
    const idle = await scanPhase(controller, siteKey, 2_000_000);
    const clients = await FloodClients.start();
    await clients.ask({ type: 'start', url, token: viewer, subscribers: SUBSCRIBERS, flooders: FLOODERS, batch: BATCH, polite: !HOSTILE }, 'started');
    const flood = await scanPhase(controller, siteKey, 3_000_000);
    const counts = (await clients.ask({ type: 'stop' }, 'stopped')).counts!;
    const machine = load.stop();

    const rows = [latencyRow('scan → relay, idle', summarize(idle.decisions)), latencyRow('scan → relay, flood', summarize(flood.decisions)), latencyRow('relock timer lateness, idle', summarize(idle.timerLateness)), latencyRow('relock timer lateness, flood', summarize(flood.timerLateness))];
    console.log(table(LATENCY_HEADERS, rows));
    const ratio = summarize(flood.decisions).p99 / summarize(idle.decisions).p99;
    console.log(`event loop lag p99: idle ${ms(idle.loop.lag.p99)} ms, flood ${ms(flood.loop.lag.p99)} ms (max ${ms(flood.loop.lag.max)} ms)`);
    console.log(`RSS max: idle ${mb(idle.rssMax)}, flood ${mb(flood.rssMax)} (target < 300 MB)`);
    console.log(`flood: ${counts.batches} connections flooded, ${counts.answered} queries answered (${counts.events} events), ${counts.refused} refused by the rate limit; ${counts.notifications} notifications to subscribers; ${counts.dropped} connections dropped`);
    console.log(`decision p99 flood / idle: ${ratio.toFixed(2)}× (target ≤ 1.5×)`);
    console.log(describeLoad(machine));
    const file = await writeResults(HOSTILE ? 'viewer-flood-hostile' : 'viewer-flood', {
      benchmark: 'viewer-flood',
      measuredAt: new Date().toISOString(),
      environment: env,
      config: { hostile: HOSTILE, doors: DOORS, unlockSeconds: UNLOCK_SECONDS, scansPerSecond: SCANS_PER_SECOND, phaseSeconds: PHASE_SECONDS, flooders: FLOODERS, batch: BATCH, subscribers: SUBSCRIBERS, auditEvents: AUDIT_EVENTS },
      idle: { decision: rounded(summarize(idle.decisions)), timerLateness: rounded(summarize(idle.timerLateness)), loop: idle.loop, rssMax: idle.rssMax, sent: idle.sent },
      flood: { decision: rounded(summarize(flood.decisions)), timerLateness: rounded(summarize(flood.timerLateness)), loop: flood.loop, rssMax: flood.rssMax, sent: flood.sent, clients: counts },
      p99Ratio: Math.round(ratio * 100) / 100,
      met: { ratio: ratio <= 1.5, rss: flood.rssMax < 300 * 1024 * 1024 },
      load: machine,
    });
    console.log(`results: ${file}`);
  } finally {
    await controller.stop();
    await dir.remove();
  }
}
