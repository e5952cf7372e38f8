/**
 * A real controller and real hubs (PostgreSQL), with faults between them: the hub stopped and a
 * new hub process in its place, a hub stopped while an audit batch is being stored, PostgreSQL
 * gone from under the hub, the network cut (sockets closed) and blackholed (nothing forwarded,
 * sockets open), and the controller moved from one hub to another. Every time: the controller
 * keeps deciding from its store, and afterwards the hub holds its chain 1..N exactly once, hash
 * for hash.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditStore } from '../../controller/hub/auditStore.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import type { SyncStatus, SyncTiming } from '../../controller/sync/syncLink.ts';
import { adminUrl, databaseUrlThrough, postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { startTcpProxy } from '../support/tcpProxy.ts';
import { startHubProxy, type HubProxy } from './hubProxy.ts';
import { CHAIN, ControllerSite, FAST, expectSameChain, hubDatabase, doorsLocked, hubHttpUrl, hubSeq, settledChains, startHub, until, type HubDatabaseFixture } from './hubSite.ts';

const pgUp = await postgresAvailable();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hub(databaseUrl: string): Promise<Hub> {
  const started = await startHub(databaseUrl);
  cleanups.push(() => started.stop());
  return started;
}

interface Linked {
  fixture: HubDatabaseFixture;
  controllerId: string;
  hubA: Hub;
  proxy: HubProxy;
  site: ControllerSite;
  /** Waits until the hub holds every event the controller appended, and the link says so. */
  uploaded(ms?: number): Promise<number>;
  /** The hub's copy equals the controller's whole chain: 1..N once each, the same hashes. */
  expectWholeChain(): Promise<number>;
}

/**
 * A site on a fresh hub database, a hub, a controller enrolled on it with `postern enrol`'s
 * function and linked through a proxy (the controller's hub.url is the proxy's), live.
 */
async function linkedSite(options: { hubDatabaseUrl?: (url: string) => string; timing?: SyncTiming } = {}): Promise<Linked> {
  const fixture = await hubDatabase();
  cleanups.push(() => fixture.close());
  await fixture.admin.addSite('lisbon');
  const { controllerId, code } = await fixture.admin.addController('lisbon', 'desk');
  const hubA = await hub(options.hubDatabaseUrl?.(fixture.db.url) ?? fixture.db.url);
  const proxy = await startHubProxy(hubA.address().port);
  cleanups.push(() => proxy.close());
  const site = await ControllerSite.create();
  cleanups.push(() => site.stop());
  await site.enrol(hubHttpUrl(hubA), code);
  await site.start({ hubUrl: proxy.url, timing: options.timing });
  await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
  const uploaded = async (ms = 20_000) => {
    await doorsLocked(site);
    await until(async () => site.running.syncStatus?.outboxDepth === 0 && (await hubSeq(fixture.admin, controllerId)) === site.head, ms, `the hub to hold the controller's head (${site.head})`);
    return site.head;
  };
  return {
    fixture,
    controllerId,
    hubA,
    proxy,
    site,
    uploaded,
    async expectWholeChain() {
      const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
      const head = expectSameChain(held, trail);
      expect((await fixture.admin.status('lisbon'))[0]!.controllers[0]).toMatchObject({ auditSeq: head, problem: null });
      return head;
    },
  };
}

/** Scans while the hub is out of reach: a link that opens, a revoked one and garbage, each decided from the store. */
async function decideOffline(site: ControllerSite, open: string, revoked: string, rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    expect(await site.scan(open)).toMatchObject({ verdict: 'grant' });
    expect(await site.scan(revoked)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
  }
}

/**
 * The welcome of a new connection, once the link is live on it: its first `syncing` status with a
 * `live` after it. A `live` alone is not enough: the old connection, until the controller sees it
 * closed, still reports `live` on every pong or ack (CI once found no `syncing` after one).
 */
function reconnected(statuses: readonly SyncStatus[]): SyncStatus | undefined {
  const welcomed = statuses.findIndex((s) => s.state === 'syncing');
  return welcomed >= 0 && statuses.slice(welcomed).some((s) => s.state === 'live') ? statuses[welcomed] : undefined;
}

/** Two links, one revoked at the hub and applied: what the controller decides on while cut off. */
async function twoLinks(linked: Linked): Promise<{ open: string; revoked: string; cursor: number }> {
  const open = await linked.site.issue('Open');
  const gone = await linked.site.issue('Gone');
  const { cursor } = await linked.fixture.admin.revokeSubject('lisbon', 0, gone.id, 'lost');
  await until(() => (linked.site.running.syncStatus?.cursor ?? 0) >= cursor, 5000, 'the revocation applied');
  return { open: open.code, revoked: gone.code, cursor };
}

/** The events of the chain that are decisions, as verdicts. */
function verdicts(trail: AuditEvent[]): string[] {
  return trail.filter((e) => e.type === 'decision').map((e) => `${e.verdict}${e.reason ? `:${e.reason}` : ''}`);
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('a real controller and real hubs, with faults', pgUp), () => {
  it('hub stopped: the controller keeps deciding; a new hub process takes the queued events with no duplicate and no gap', async () => {
    const linked = await linkedSite();
    const { site, proxy } = linked;
    const { open, revoked, cursor } = await twoLinks(linked);
    const ackedBefore = await linked.uploaded();

    await linked.hubA.stop();
    await until(() => site.running.syncStatus?.state !== 'live', 5000, 'the link down');
    await decideOffline(site, open, revoked);
    expect(site.running.syncStatus!.outboxDepth).toBeGreaterThanOrEqual(6);
    expect(await hubSeq(linked.fixture.admin, linked.controllerId)).toBe(ackedBefore);

    const hubB = await hub(linked.fixture.db.url);
    const hellos = proxy.hellos.length;
    proxy.switchTo(hubB.address().port);
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'live on the new hub');
    // It asked the new hub from where it stood: the cursor of the revocation, its own chain.
    expect(proxy.hellos.slice(hellos).at(-1)).toMatchObject({ type: 'hello', cursor, chain: CHAIN });
    const compared = await linked.expectWholeChain();
    expect(compared).toBeGreaterThan(ackedBefore + 6);
    expect(verdicts(await site.trail()).slice(-6)).toEqual(['grant', 'deny:revoked', 'grant', 'deny:revoked', 'grant', 'deny:revoked']);
  });

  it('hub stopped while an audit batch is being stored, then started again: the hub holds 1..N exactly once', async () => {
    const linked = await linkedSite();
    const { site, proxy } = linked;
    const base = await linked.uploaded();
    const N = 3000;

    // The hub is stopped from inside the store of the batch that passes base + 1000: mid-batch, mid-transaction.
    const receive = AuditStore.prototype.receive;
    let stopping: Promise<void> | undefined;
    let storingWhenStopped: number[] = [];
    vi.spyOn(AuditStore.prototype, 'receive').mockImplementation(function (this: AuditStore, controllerId: string, events: readonly AuditEvent[]) {
      const result = receive.call(this, controllerId, events);
      if (stopping === undefined && events[0]!.seq > base + 1000) {
        storingWhenStopped = [events[0]!.seq, events.at(-1)!.seq];
        stopping = linked.hubA.stop();
      }
      return result;
    });

    const appended: Array<Promise<AuditEvent>> = [];
    for (let i = 0; i < N; i++) appended.push(site.internals.audit.append({ type: 'decision', door: 'lab', scanner: 'lab-in', subject: String(5000 + i), kind: 'link', issuer: 0, verdict: 'grant' }));
    await Promise.all(appended);
    await until(() => stopping !== undefined, 20_000, 'a batch past base + 1000 at the hub');
    await stopping;
    const heldAtStop = await hubSeq(linked.fixture.admin, linked.controllerId);
    expect(storingWhenStopped[1]! - storingWhenStopped[0]!).toBeGreaterThan(0);
    // Stopped in the middle: the hub holds part of the 3,000 (the batch being stored either committed or not).
    expect(heldAtStop).toBeGreaterThan(base + 1000 - 1);
    expect(heldAtStop).toBeLessThan(base + N);
    expect([storingWhenStopped[0]! - 1, storingWhenStopped[1]!]).toContain(heldAtStop);

    vi.restoreAllMocks();
    const hubB = await hub(linked.fixture.db.url);
    proxy.switchTo(hubB.address().port);
    const compared = await linked.expectWholeChain();
    expect(compared).toBeGreaterThanOrEqual(base + N);
  });

  it('PostgreSQL cut from under the hub: the controller keeps deciding; on recovery everything uploads once and a revocation made meanwhile is in force', async () => {
    const pgProxy = await startTcpProxy('127.0.0.1', Number(new URL(adminUrl).port || 5432));
    cleanups.push(() => pgProxy.close());
    const linked = await linkedSite({ hubDatabaseUrl: (url) => databaseUrlThrough(url, pgProxy.port) });
    const { site } = linked;
    const { open, revoked } = await twoLinks(linked);
    const later = await site.issue('Later');
    const before = await linked.uploaded();

    pgProxy.cut();
    // The next batch finds no database: the hub closes the link, and refuses new ones (503) while it has none.
    await decideOffline(site, open, revoked);
    await until(() => site.running.syncStatus?.state !== 'live', 10_000, 'the link down while the hub has no database');
    expect(site.running.syncStatus!.outboxDepth).toBeGreaterThan(0);
    // Written straight to PostgreSQL while the hub cannot see it (its change feed is cut too).
    const { cursor } = await linked.fixture.admin.revokeSubject('lisbon', 0, later.id, 'revoked during the outage');
    await decideOffline(site, open, revoked);
    expect(await hubSeq(linked.fixture.admin, linked.controllerId)).toBe(before);

    pgProxy.restore();
    await until(() => site.running.syncStatus?.state === 'live' && site.running.syncStatus.cursor >= cursor, 30_000, 'live again with the revocation');
    expect(await site.scan(later.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    const compared = await linked.expectWholeChain();
    expect(compared).toBeGreaterThan(before + 12);
  });

  it('PostgreSQL cut from under the hub while the link stays live: a revocation written meanwhile reaches the controller once the hub has its database again, without a reconnect', async () => {
    const pgProxy = await startTcpProxy('127.0.0.1', Number(new URL(adminUrl).port || 5432));
    cleanups.push(() => pgProxy.close());
    const linked = await linkedSite({ hubDatabaseUrl: (url) => databaseUrlThrough(url, pgProxy.port) });
    const { site, proxy } = linked;
    const visitor = await site.issue();
    await linked.uploaded();
    const connections = proxy.accepted;

    // No scan, so no audit batch: pings need no database, and the link stays live through the cut.
    pgProxy.cut();
    const { cursor } = await linked.fixture.admin.revokeSubject('lisbon', 0, visitor.id, 'revoked while the hub had no database');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(site.running.syncStatus).toMatchObject({ state: 'live' });
    expect(site.running.syncStatus!.cursor).toBeLessThan(cursor);
    pgProxy.restore();
    // The hub's change feed listens again (1 s, then 2 s ... between tries) and looks for what it missed.
    await until(() => (site.running.syncStatus?.cursor ?? 0) >= cursor, 20_000, 'the revocation pushed after the database came back');
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(proxy.accepted).toBe(connections);
    expect(site.running.syncStatus).toMatchObject({ state: 'live', attempts: 0 });
    await linked.expectWholeChain();
  });

  it('network cut (sockets closed): noticed at once, the controller keeps deciding, and on recovery uploads with no duplicate and no gap', async () => {
    const linked = await linkedSite();
    const { site, proxy } = linked;
    const { open, revoked, cursor } = await twoLinks(linked);
    const before = await linked.uploaded();

    proxy.cut();
    await until(() => site.running.syncStatus?.state !== 'live', 2000, 'the cut noticed (well before any silence timer)');
    await decideOffline(site, open, revoked);
    await until(() => (site.running.syncStatus?.attempts ?? 0) >= 2, 5000, 'retries refused');
    expect(site.running.syncStatus!.state).not.toBe('live');
    expect(await hubSeq(linked.fixture.admin, linked.controllerId)).toBe(before);

    const hellos = proxy.hellos.length;
    proxy.restore();
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'live again');
    expect(proxy.hellos.slice(hellos)[0]).toMatchObject({ cursor, chain: CHAIN });
    expect(await linked.expectWholeChain()).toBeGreaterThan(before + 6);
  });

  it('network blackholed (nothing forwarded, sockets open): noticed by heartbeat silence, the controller keeps deciding, and on recovery uploads with no duplicate and no gap', async () => {
    // A ping every 200 ms; 1 s without a word from the hub drops the link (docs/sync.md: 5 s and 15 s).
    const timing: SyncTiming = { ...FAST, heartbeatMs: 200, silenceMs: 1000 };
    const linked = await linkedSite({ timing });
    const { site, proxy } = linked;
    const { open, revoked, cursor } = await twoLinks(linked);
    const before = await linked.uploaded();

    const statuses: SyncStatus[] = [];
    cleanups.push(site.internals.sync!.onStatus((status) => statuses.push(status)));
    const accepted = proxy.accepted;
    const blackholedAt = Date.now();
    proxy.blackhole();
    await decideOffline(site, open, revoked);
    await until(() => site.running.syncStatus?.state === 'backoff', 5000, 'the silence noticed');
    const noticedMs = Date.now() - blackholedAt;
    // Not at once, as a closed socket is (the cut test): a second after the last pong, which came within the 200 ms before.
    expect(noticedMs).toBeGreaterThanOrEqual(700);
    expect(statuses.find((s) => s.state === 'backoff')?.lastError).toBe('hub silent for 1 s');
    // It keeps trying: new connections reach the proxy, and go silent too.
    await until(() => proxy.accepted >= accepted + 2, 10_000, 'reconnection attempts into the blackhole');
    await decideOffline(site, open, revoked, 1);
    expect(site.running.syncStatus!.state).not.toBe('live');
    expect(await hubSeq(linked.fixture.admin, linked.controllerId)).toBe(before);

    const hellos = proxy.hellos.length;
    proxy.restore();
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'live again');
    expect(proxy.hellos.slice(hellos).at(-1)).toMatchObject({ cursor, chain: CHAIN });
    expect(await linked.expectWholeChain()).toBeGreaterThan(before + 8);
    console.info(`[hubFaults] blackhole noticed after ${noticedMs} ms (silence setting 1000 ms, heartbeat 200 ms)`);
  });

  it('moved from hub A to hub B and back (the proxy switches backends): continues from its cursor and from the acked seq, no duplicate, no gap', async () => {
    const linked = await linkedSite();
    const { site, proxy, fixture } = linked;
    const { open, revoked, cursor } = await twoLinks(linked);
    expect(await site.scan(open)).toMatchObject({ verdict: 'grant' });
    const ackedOnA = await linked.uploaded();
    const hubB = await hub(fixture.db.url);

    const statuses: SyncStatus[] = [];
    cleanups.push(site.internals.sync!.onStatus((status) => statuses.push(status)));
    const hellos = proxy.hellos.length;
    proxy.switchTo(hubB.address().port);
    await until(() => reconnected(statuses) !== undefined, 10_000, 'live on hub B');
    // Hub B welcomed it with what A had stored: the upload continues from there, not from 0.
    expect(reconnected(statuses)!.auditAcked).toBe(ackedOnA);
    expect(proxy.hellos.slice(hellos)).toEqual([expect.objectContaining({ type: 'hello', cursor, chain: CHAIN })]);

    // A revocation pushed by B, decisions uploaded to B.
    const third = await site.issue('Third');
    const { cursor: cursorB } = await fixture.admin.revokeSubject('lisbon', 0, third.id, 'through B');
    await until(() => (site.running.syncStatus?.cursor ?? 0) >= cursorB, 5000, 'the revocation through B');
    expect(await site.scan(third.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    await decideOffline(site, open, revoked, 1);
    const ackedOnB = await linked.uploaded();
    expect(ackedOnB).toBeGreaterThan(ackedOnA);

    // And back to A, which hears of what B stored through the database.
    const back = proxy.hellos.length;
    statuses.length = 0;
    proxy.switchTo(linked.hubA.address().port);
    await until(() => reconnected(statuses) !== undefined, 10_000, 'live on hub A again');
    expect(reconnected(statuses)!.auditAcked).toBe(ackedOnB);
    expect(proxy.hellos.slice(back)).toEqual([expect.objectContaining({ cursor: cursorB })]);
    await decideOffline(site, open, revoked, 1);
    expect(await linked.expectWholeChain()).toBeGreaterThan(ackedOnB);
    // Each revocation was applied once: no snapshot replayed them on the second hub.
    const applied = (await site.trail()).filter((e) => e.actor === 'hub');
    expect(applied.filter((e) => e.reason === 'hub.revoke').map((e) => e.data?.cursor)).toEqual([cursor, cursorB]);
    // Hubs B and A again sent changes after the cursor, no snapshot.
    expect(applied.filter((e) => e.reason === 'sync.snapshot' && e.seq > ackedOnA)).toEqual([]);
  });
});
