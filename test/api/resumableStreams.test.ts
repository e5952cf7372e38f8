/**
 * Resumable audit streams: `subscribe` with `after` replays the stored chain, then goes live, with
 * no gap and no duplicate at the seam. Real controllers and real `ws` clients, with a scan load
 * running (network scanner reads through the API, and simulated scanner reads) while clients are
 * killed, while the controller is stopped and started again on the same store, and while a replay
 * of thousands of events runs. Every check compares what the clients got with the store's events
 * (audit.query). On SQLite, and on PostgreSQL when it is reachable.
 */
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import type { SiteConfig } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const SITE = 'test-site';
type Event = Record<string, unknown> & { seq: number };

interface Site {
  config: SiteConfig;
  databaseUrl: string | undefined;
  tokens: Record<string, string>;
  controller: Controller;
  url: string;
  /** Starts a new Controller on the same store (after stop()). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** A site whose chain already holds `seeded` events, written as an earlier run would have. */
async function startSite(seeded: number, databaseUrl?: string): Promise<Site> {
  const dataDir = await tempDir('postern-resume-');
  const config = testSite(dataDir, (input) => {
    input.scanners = [...(input.scanners ?? []), { id: 'net-1', door: 'lab', driver: 'network', debounceMs: 0 }];
    // A load of unknown codes must stay a load of decisions, not of lockouts.
    input.throttle = { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 };
  });
  const tokens = await makeTokens(dataDir, [{ name: 'viewer', role: 'viewer' }, { name: 'integrator', role: 'integrator' }, { name: 'admin', role: 'admin' }], databaseUrl);
  if (seeded > 0) await seed(dataDir, databaseUrl, seeded);
  const site: Site = {
    config,
    databaseUrl,
    tokens,
    controller: undefined as unknown as Controller,
    url: '',
    async restart() {
      site.controller = new Controller({ config, databaseUrl, terminal: new PassThrough() });
      await site.controller.start();
      site.url = site.controller.apiUrl!;
    },
    stop: () => site.controller.stop(),
  };
  await site.restart();
  return site;
}

async function seed(dataDir: string, databaseUrl: string | undefined, count: number): Promise<void> {
  const store = openStore({ dataDir, databaseUrl });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: SITE });
  await audit.start();
  const appended: Array<Promise<unknown>> = [];
  for (let i = 0; i < count; i++) {
    const lab = i % 3 === 0;
    appended.push(
      audit.append({
        type: 'decision',
        door: lab ? 'lab' : 'store',
        scanner: lab ? 'net-1' : 'store-in',
        kind: 'unknown',
        verdict: i % 7 === 0 ? 'grant' : 'deny',
        reason: i % 7 === 0 ? null : 'unknown',
      }),
    );
  }
  await Promise.all(appended);
  await audit.stop();
  await store.stop();
}

/**
 * Reads at the network scanner through the API and at a simulated scanner, until stopped. Survives
 * the controller going away: a read that fails is simply not counted.
 */
function scanLoad(site: Site): { stop(): Promise<void>; reads: () => number } {
  let running = true;
  let reads = 0;
  const viaApi = (async () => {
    while (running) {
      let client: ApiClient | undefined;
      try {
        client = await ApiClient.connect(site.url, site.tokens.integrator);
        while (running && client.socket.readyState === client.socket.OPEN) {
          const answer = await Promise.race([client.request('scanner.read', { scanner: 'net-1', text: `load-${reads}` }), delay(2000)]);
          if ((answer as { result?: unknown } | undefined)?.result) reads++;
          // Under the connection's rate limit (50 a second).
          await delay(25);
        }
      } catch {
        await delay(20);
      } finally {
        client?.socket.terminate();
      }
    }
  })();
  const simulated = (async () => {
    while (running) {
      try {
        (site.controller.scannerDriver('store-in') as SimulatedScanner | undefined)?.read(`sim-${reads}`);
        reads++;
      } catch {
        // the controller is between a stop and a start
      }
      await delay(8);
    }
  })();
  return {
    reads: () => reads,
    async stop() {
      running = false;
      await Promise.all([viaApi, simulated]);
    },
  };
}

/** The audit events a client got, in the order it got them. */
function auditOf(client: ApiClient, subscription?: string): Event[] {
  return client.notifications.filter((n) => n.topic === 'audit' && (subscription === undefined || n.subscription === subscription)).map((n) => n.data as Event);
}

async function head(client: ApiClient): Promise<number> {
  const { events } = await client.call('audit.query', { order: 'desc', limit: 1 });
  return events[0]?.seq ?? 0;
}

/** The store's events with afterSeq < seq <= through, paged as a client would. */
async function stored(client: ApiClient, afterSeq: number, through: number): Promise<Event[]> {
  const all: Event[] = [];
  let next: number | undefined = afterSeq;
  while (next !== undefined && next < through) {
    const page: { events: Event[]; next: { afterSeq: number } | null } = await client.call('audit.query', { afterSeq: next, limit: 1000 });
    all.push(...page.events.filter((e) => e.seq <= through));
    next = page.next?.afterSeq;
  }
  return all;
}

/** Waits until the trail settled (no new event for a while) and answers its head. */
async function settledHead(client: ApiClient): Promise<number> {
  let last = -1;
  for (;;) {
    const now = await head(client);
    if (now === last) return now;
    last = now;
    await delay(400);
  }
}

async function waitFor(check: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** Notification seqs of each subscription run 1, 2, 3 ... */
function expectConsecutive(client: ApiClient, subscription: string): void {
  const seqs = client.notifications.filter((n) => n.subscription === subscription).map((n) => n.seq);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
}

function expectExactly(received: Event[], expected: Event[]): void {
  // Seqs first, for a readable failure; then every field, names included.
  expect(received.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
  expect(received).toEqual(expected);
}

function streamSuite(name: string, databaseUrl: () => Promise<string | undefined>, seeded: number): void {
  describe(name, () => {
    it('a client killed mid-stream resumes with after: the two clients together got every event once, in order', async () => {
      const site = await startSite(200, await databaseUrl());
      const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
      const load = scanLoad(site);
      try {
        const first = await ApiClient.connect(site.url, site.tokens.viewer);
        const a = await first.call('subscribe', { topics: ['audit'], after: 0 });
        expect(a.replayed).toBeGreaterThanOrEqual(200);
        await waitFor(() => auditOf(first).length >= a.replayed + 40, 15_000, 'live events on the first client');
        first.socket.terminate();
        const gotFirst = auditOf(first);
        const lastSeen = gotFirst.at(-1)!.seq;
        await delay(300); // scans go on while nobody listens

        const second = await ApiClient.connect(site.url, site.tokens.viewer);
        const b = await second.call('subscribe', { topics: ['audit'], after: lastSeen });
        expect(b.head).toBeGreaterThan(lastSeen);
        await delay(300);
        await load.stop();
        const through = await settledHead(viewer);
        await waitFor(() => (auditOf(second).at(-1)?.seq ?? 0) >= through, 15_000, 'the second client to reach the head');

        expectExactly([...gotFirst, ...auditOf(second)], await stored(viewer, 0, through));
        expectConsecutive(first, a.subscription);
        expectConsecutive(second, b.subscription);
        second.close();
      } finally {
        await load.stop();
        viewer.close();
        await site.stop();
      }
    }, 60_000);

    it('the controller stopped mid-stream and started again on the same store: the client resumes with after and misses nothing', async () => {
      const site = await startSite(100, await databaseUrl());
      const load = scanLoad(site);
      try {
        const client = await ApiClient.connect(site.url, site.tokens.viewer);
        const closed = new Promise((resolve) => client.socket.once('close', resolve));
        const a = await client.call('subscribe', { topics: ['audit'], after: 0 });
        await waitFor(() => auditOf(client).length >= a.replayed + 30, 15_000, 'live events');
        await site.stop(); // with the load still running
        await closed;
        const gotFirst = auditOf(client);
        expect(gotFirst.at(-1)!.reason).not.toBe('stopped'); // the stop's own event is only in the store

        await site.restart();
        const again = await ApiClient.connect(site.url, site.tokens.viewer);
        const b = await again.call('subscribe', { topics: ['audit'], after: gotFirst.at(-1)!.seq });
        await delay(400);
        await load.stop();
        const through = await settledHead(again);
        await waitFor(() => (auditOf(again).at(-1)?.seq ?? 0) >= through, 15_000, 'the resumed client to reach the head');

        const all = await stored(again, 0, through);
        expect(all.map((e) => e.reason)).toEqual(expect.arrayContaining(['stopped', 'started']));
        expectExactly([...gotFirst, ...auditOf(again)], all);
        expectConsecutive(again, b.subscription);
        again.close();
      } finally {
        await load.stop();
        await site.stop();
      }
    }, 60_000);

    it(`events appended while ${seeded} stored events are replayed arrive once, after them`, async () => {
      const site = await startSite(seeded, await databaseUrl());
      const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
      const load = scanLoad(site);
      try {
        await waitFor(() => load.reads() >= 20, 10_000, 'the load to start');
        const client = await ApiClient.connect(site.url, site.tokens.viewer);
        const before = await head(viewer);
        const answer = await client.call('subscribe', { topics: ['audit', 'door'], after: 0 });
        const atAnswer = await head(viewer);
        expect(answer.replayed).toBeGreaterThanOrEqual(seeded);
        // The load went on during the replay: the seam had live events to hold back and merge.
        expect(atAnswer).toBeGreaterThan(before);
        await delay(300);
        await load.stop();
        const through = await settledHead(viewer);
        await waitFor(() => (auditOf(client).at(-1)?.seq ?? 0) >= through, 30_000, 'the client to reach the head');

        expectExactly(auditOf(client), await stored(viewer, 0, through));
        expectConsecutive(client, answer.subscription);
        client.close();
      } finally {
        await load.stop();
        viewer.close();
        await site.stop();
      }
    }, 90_000);
  });
}

streamSuite('resumable audit streams on SQLite', async () => undefined, 5000);

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('resumable audit streams on PostgreSQL', pgUp), () => {
  // A database per site: each test's chain and controller claim start empty.
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of databases) await db.drop();
  });
  streamSuite('on a PostgreSQL store', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return db.url;
  }, 3000);
});
