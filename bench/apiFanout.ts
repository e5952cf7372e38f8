/**
 * The integrator API under load:
 * - fan-out: 1,000 clients subscribed to door state on loopback; the time from a door state change
 *   to its arrival at every client, p50/p99 (target p99 under 50 ms);
 * - the decision latency of the core benchmark (1,000 sequential scans, scan → relay command) idle
 *   and with those 1,000 clients connected and receiving every change (target: no worse than 1.5×);
 * - request throughput and latency for a read method (doors.get) and for scanner.read.
 * The clients run in a child process (bench/fanoutClients.ts) so they never share the
 * controller's event loop; on 2 cores that is one core each.
 */
import { Accounts } from '../controller/accounts/accounts.ts';
import { AuditTrail } from '../controller/audit/auditTrail.ts';
import { validateConfig } from '../controller/config/loadConfig.ts';
import { Controller } from '../controller/controller.ts';
import { encodeCredential } from '../controller/credentials/credentialCodec.ts';
import { loadOrCreateSiteKey } from '../controller/issuing/siteKey.ts';
import { openStore } from '../controller/store/openStore.ts';
import type { SimulatedDoorIo } from '../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../drivers/scanners/simulatedScanner.ts';
import { ClientProcess } from './lib/clientProcess.ts';
import { busyWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { BENCH_SCOPE, doorId, scannerId, tempDir, UNLOCK_SECONDS, writeResults } from './lib/site.ts';
import { ms, rounded, summarize } from './lib/stats.ts';

const CLIENTS = new URL('./fanoutClients.ts', import.meta.url);
const DOORS = 64;
const SUBSCRIBERS = 1000;
const CHANGES = 100;
const SEQUENTIAL_SCANS = 1000;
const WARMUP_SCANS = 100;
const REQUEST_CONNECTIONS = 16;
const REQUEST_SECONDS = 5;
const NETWORK_SCANNERS = 16;

const now = () => performance.timeOrigin + performance.now();
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));

function site(dataDir: string) {
  const doors = Array.from({ length: DOORS }, (_, i) => doorId(i));
  const generous = { rate: 100_000, burst: 100_000 };
  return validateConfig({
    site: { id: 'bench-api', name: 'API benchmark', defaultScope: BENCH_SCOPE },
    dataDir,
    logLevel: 'silent',
    api: { port: 0, maxBufferedBytes: 16 * 1024 * 1024, rateLimit: { perConnection: generous, perToken: generous } },
    throttle: { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 },
    scopes: [{ id: BENCH_SCOPE, name: 'every door', doors }],
    doors: doors.map((id) => ({ id, name: id, unlockSeconds: UNLOCK_SECONDS, heldOpenSeconds: 3600 })),
    scanners: [
      ...doors.map((id, i) => ({ id: scannerId(i), door: id, driver: 'simulated' as const, debounceMs: 0 })),
      ...Array.from({ length: NETWORK_SCANNERS }, (_, i) => ({ id: `net-${i}`, door: doorId(i), driver: 'network' as const, debounceMs: 0 })),
    ],
  });
}

async function prepareStore(dataDir: string): Promise<{ siteKey: Buffer; viewer: string; scanners: string[] }> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'bench/admin' });
  await audit.start();
  try {
    const accounts = new Accounts({ store, audit });
    const viewer = (await accounts.createToken({ name: 'viewers', role: 'viewer', scanner: null }, 'bench')).token;
    const scanners: string[] = [];
    for (let i = 0; i < NETWORK_SCANNERS; i++) scanners.push((await accounts.createToken({ name: `net-${i}`, role: 'scanner', scanner: `net-${i}` }, 'bench')).token);
    return { siteKey: await loadOrCreateSiteKey(store), viewer, scanners };
  } finally {
    await audit.stop();
    await store.stop();
  }
}

function linkCode(siteKey: Buffer, subject: number): string {
  const t = Math.floor(Date.now() / 1000);
  return encodeCredential({ kind: 'link', issuer: 0, subject: BigInt(subject), a: t - 60, b: t + 86_400, scope: BENCH_SCOPE }, siteKey);
}

/** The core benchmark's sequential scans: each waits for its door to be secured, then for the relay. */
async function sequentialScans(controller: Controller, siteKey: Buffer, count: number, firstSubject: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const door = doorId(i % DOORS);
    while (controller.doorStatus(door)?.state !== 'secured') await sleep(1);
    const io = controller.doorIo(door) as SimulatedDoorIo;
    const code = linkCode(siteKey, firstSubject + i);
    const relay = new Promise<number>((resolve) => {
      const off = io.onRelay((unlocked) => {
        if (!unlocked) return;
        off();
        resolve(performance.now());
      });
    });
    const started = performance.now();
    (controller.scannerDriver(scannerId(i % DOORS)) as SimulatedScanner).read(code);
    latencies.push((await relay) - started);
  }
  return latencies;
}

/** What the client process reports; each `type` carries its own fields. */
type ClientMessage = { type: string; connections?: number; times?: Array<number | null>; latencies?: number[]; errors?: Record<string, number> };


export async function runApiFanout(): Promise<void> {
  const env = environment();
  console.log(`\n# api-fanout: ${SUBSCRIBERS} subscribed clients, ${DOORS} doors\n${describeEnvironment(env)}\n`);
  const warning = busyWarning();
  if (warning !== undefined) console.log(warning + '\n');

  const dir = await tempDir('postern-bench-api-');
  const { siteKey, viewer, scanners } = await prepareStore(dir.dir);
  const controller = new Controller({ config: site(dir.dir) });
  await controller.start();
  const url = `${controller.apiUrl!.replace(/^http/, 'ws')}/api`;
  const load = watchLoad();
  let clients: ClientProcess<ClientMessage> | undefined;
  try {
    await sequentialScans(controller, siteKey, WARMUP_SCANS, 1);
    const idle = await sequentialScans(controller, siteKey, SEQUENTIAL_SCANS, 10_000);
    console.log(`idle decision latency: p50 ${ms(summarize(idle).p50)} ms, p99 ${ms(summarize(idle).p99)} ms`);

    clients = await ClientProcess.start<ClientMessage>(CLIENTS, 'started');
    const connectStarted = now();
    const ready = await clients.ask({ type: 'subscribers', url, token: viewer, count: SUBSCRIBERS }, 'ready');
    console.log(`${ready.connections} clients connected and subscribed in ${((now() - connectStarted) / 1000).toFixed(1)} s`);

    // Fan-out: one change at a time, each awaited at every client before the next.
    const deliveries: number[] = [];
    const lastArrivals: number[] = [];
    let missing = 0;
    const door = doorId(DOORS - 1);
    for (let change = 1; change <= CHANGES; change++) {
      const arrived = clients.ask({ type: 'expect', change }, 'arrived');
      const t0 = now();
      if (change % 2 === 1) await controller.doors.unlock(door, 3600, 'bench');
      else await controller.doors.lock(door, 'bench');
      const times = (await arrived).times ?? [];
      const delays = times.filter((t): t is number => t !== null).map((t) => t - t0);
      missing += times.length - delays.length;
      deliveries.push(...delays);
      lastArrivals.push(Math.max(...delays));
    }
    const delivery = summarize(deliveries);
    const lastClient = summarize(lastArrivals);
    console.log(`fan-out delivery: p50 ${ms(delivery.p50)} ms, p99 ${ms(delivery.p99)} ms; last client per change p50 ${ms(lastClient.p50)} p99 ${ms(lastClient.p99)} ms; missing ${missing}`);

    const loaded = await sequentialScans(controller, siteKey, SEQUENTIAL_SCANS, 20_000);
    console.log(`decision latency with ${SUBSCRIBERS} subscribers: p50 ${ms(summarize(loaded).p50)} ms, p99 ${ms(summarize(loaded).p99)} ms`);
    await clients.close();
    clients = undefined;

    // Request throughput, closed loop, from the child process.
    const throughput: Record<string, unknown> = {};
    for (const [name, method, tokens, params] of [
      ['doors.get', 'doors.get', Array(REQUEST_CONNECTIONS).fill(viewer), Array.from({ length: DOORS }, (_, i) => ({ door: doorId(i) }))],
      ['scanner.read', 'scanner.read', scanners, scanners.map((_, i) => ({ text: linkCode(siteKey, 50_000 + i) }))],
    ] as const) {
      const requester = await ClientProcess.start<ClientMessage>(CLIENTS, 'started');
      const result = await requester.ask({ type: 'requests', url, tokens, method, params, seconds: REQUEST_SECONDS }, 'requests');
      await requester.close();
      const summary = summarize(result.latencies ?? []);
      throughput[name] = { connections: tokens.length, perSecond: Math.round(summary.count / REQUEST_SECONDS), latency: rounded(summary), errors: result.errors };
      console.log(`${name}: ${Math.round(summary.count / REQUEST_SECONDS)} requests/s over ${tokens.length} connections, p50 ${ms(summary.p50)} ms, p99 ${ms(summary.p99)} ms, errors ${JSON.stringify(result.errors)}`);
    }

    const machine = load.stop();
    const idleSummary = summarize(idle);
    const loadedSummary = summarize(loaded);
    const ratio = loadedSummary.p99 / idleSummary.p99;
    console.log(`\ndecision p99 with clients / idle: ${ratio.toFixed(2)}× (target ≤ 1.5×); fan-out p99 ${ms(delivery.p99)} ms (target < 50 ms)`);
    console.log(describeLoad(machine));
    const file = await writeResults('api-fanout', {
      benchmark: 'api-fanout',
      measuredAt: new Date().toISOString(),
      environment: env,
      config: { doors: DOORS, subscribers: SUBSCRIBERS, changes: CHANGES, sequentialScans: SEQUENTIAL_SCANS, requestConnections: REQUEST_CONNECTIONS, requestSeconds: REQUEST_SECONDS },
      fanout: { delivery: rounded(delivery), lastClientPerChange: rounded(lastClient), missing, targetP99Ms: 50, met: delivery.p99 < 50 },
      decision: { idle: rounded(idleSummary), withSubscribers: rounded(loadedSummary), p99Ratio: Math.round(ratio * 100) / 100, targetRatio: 1.5, met: ratio <= 1.5 },
      throughput,
      load: machine,
    });
    console.log(`results: ${file}`);
  } finally {
    await clients?.close();
    await controller.stop();
    await dir.remove();
  }
}
