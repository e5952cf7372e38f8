/**
 * A real controller (controller.ts, SQLite store in a temp dir) against real hubs (hubServer.ts over
 * a throwaway PostgreSQL database), over real sockets, from enrolment on:
 * - enrolled with `postern enrol`'s function, linked, a revocation written for the hubs is enforced
 *   at the door within a second, and the hub holds the controller's audit chain hash for hash;
 * - a standalone controller enrolled later uploads its whole chain from seq 1 and its links open;
 * - a revocation made while it was cut off is in force before the link reports live;
 * - back after a simulated week with 100,000 events queued, it uploads all of them once, in order.
 */
import { cp, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SyncStatus } from '../../controller/sync/syncLink.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { CHAIN, ControllerSite, doorsLocked, expectSameChain, hubChain, hubDatabase, hubHttpUrl, hubSeq, settledChains, startHub, until, type HubDatabaseFixture } from './hubSite.ts';

const pgUp = await postgresAvailable();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function database(): Promise<HubDatabaseFixture> {
  const fixture = await hubDatabase();
  cleanups.push(() => fixture.close());
  return fixture;
}

async function hub(databaseUrl: string, port = 0): Promise<Hub> {
  const started = await startHub(databaseUrl, { port });
  cleanups.push(() => started.stop());
  return started;
}

async function controllerSite(): Promise<ControllerSite> {
  const site = await ControllerSite.create();
  cleanups.push(() => site.stop());
  return site;
}

/** Waits until the hub holds every event the controller has appended, and the link says so too. */
async function uploaded(site: ControllerSite, fixture: HubDatabaseFixture, controllerId: string, ms = 15_000): Promise<number> {
  await doorsLocked(site);
  await until(async () => site.running.syncStatus?.outboxDepth === 0 && (await hubSeq(fixture.admin, controllerId)) === site.head, ms, `the hub to hold seq ${site.head}`);
  return site.head;
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('a real controller and real hubs', pgUp), () => {
  it('enrols with postern enrol, goes live, enforces a revocation written for the hubs within 1 s, and the hub holds its audit chain hash for hash', async () => {
    const fixture = await database();
    await fixture.admin.addSite('lisbon', 'Lisbon office');
    const { controllerId, code } = await fixture.admin.addController('lisbon', 'front desk');
    // Two hub processes on one database: the controller links to A; B serves the same site.
    const hubA = await hub(fixture.db.url);
    const hubB = await hub(fixture.db.url);
    expect(hubB.address().port).not.toBe(hubA.address().port);

    const site = await controllerSite();
    const printed = await site.enrol(hubHttpUrl(hubA), code);
    const credentialFile = path.join(site.dataDir, `hub-credential.${CHAIN}`);
    expect((await stat(credentialFile)).mode & 0o777).toBe(0o600);
    expect(printed).toContain(`controller ${controllerId} of site lisbon`);
    expect(printed).not.toContain(code);
    const { viewer } = await makeTokens(site.dataDir, [{ name: 'viewer', role: 'viewer' }]);

    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    const client = await ApiClient.connect(site.running.apiUrl!, viewer!);
    try {
      expect(await client.call('sync.status')).toMatchObject({ state: 'live', siteId: 'lisbon', controllerId, lastError: null, auditProblem: null });
    } finally {
      client.socket.close();
    }
    const [enrolled] = (await fixture.admin.status('lisbon'))[0]!.controllers;
    expect(enrolled).toMatchObject({ controllerId, chain: CHAIN, revokedAt: null, problem: null });
    expect(enrolled!.enrolledAt).not.toBeNull();

    const visitor = await site.issue();
    const other = await site.issue('Other');
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });

    const revokedAt = Date.now();
    const { cursor } = await fixture.admin.revokeSubject('lisbon', 0, visitor.id, 'reported lost');
    await until(() => (site.running.syncStatus?.cursor ?? 0) >= cursor, 1000, 'the revocation at the controller within 1 s');
    const denied = await site.scan(visitor.code);
    const tookMs = Date.now() - revokedAt;
    expect(denied).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(tookMs).toBeLessThan(1000);
    // Only that code: the other link of the same issuer still opens.
    expect(await site.scan(other.code)).toMatchObject({ verdict: 'grant' });

    const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    // The hub's copy: every seq 1..head once, the same hashes and links as the controller's store.
    const head = expectSameChain(held, trail);
    const status = (await fixture.admin.status('lisbon'))[0]!.controllers[0]!;
    expect(status).toMatchObject({ auditSeq: head, problem: null, problemSeq: null });
    expect(status.auditSeq).toBe(site.head);
    expect(status.lastSeenAt).not.toBeNull();
    // The chain holds the door's decisions and the hub's revocation as the controller recorded them.
    expect(trail.filter((e) => e.type === 'decision').map((e) => e.verdict)).toEqual(['grant', 'deny', 'grant']);
    expect(trail.some((e) => e.actor === 'hub' && e.subject === visitor.id)).toBe(true);
  });

  it('a standalone controller with links and scans, enrolled later, uploads its whole chain from seq 1 and its links still open', async () => {
    const site = await controllerSite();
    await site.start();
    expect(site.running.syncStatus).toBeUndefined();
    const first = await site.issue('First');
    const second = await site.issue('Second');
    expect(await site.scan(first.code)).toMatchObject({ verdict: 'grant' });
    expect(await site.scan(second.code)).toMatchObject({ verdict: 'grant' });
    expect(await site.scan('not a postern code')).toMatchObject({ verdict: 'deny' });
    const standaloneHead = site.head;
    await site.stop();

    const fixture = await database();
    await fixture.admin.addSite('porto');
    const { controllerId, code } = await fixture.admin.addController('porto', 'desk');
    const hubA = await hub(fixture.db.url);
    await site.enrol(hubHttpUrl(hubA), code);
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    expect(await site.scan(first.code)).toMatchObject({ verdict: 'grant' });
    expect(await site.scan(second.code)).toMatchObject({ verdict: 'grant' });

    const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    const head = expectSameChain(held, trail);
    expect(head).toBeGreaterThan(standaloneHead + 2);
    expect(held[0]!.seq).toBe(1);
    // seq 1 is the standalone controller's first start, made before there was any hub.
    expect(trail[0]).toMatchObject({ seq: 1, type: 'system', reason: 'started' });
    expect(trail.slice(0, standaloneHead).filter((e) => e.type === 'decision').map((e) => e.verdict)).toEqual(['grant', 'grant', 'deny']);
    expect((await fixture.admin.status('porto'))[0]!.controllers[0]).toMatchObject({ auditSeq: head, problem: null });
  });

  it('a revocation made while the hub was down is in force before the link reports live again', async () => {
    const fixture = await database();
    await fixture.admin.addSite('braga');
    const { controllerId, code } = await fixture.admin.addController('braga', 'desk');
    let hubA = await hub(fixture.db.url);
    const port = hubA.address().port;
    const site = await controllerSite();
    await site.enrol(hubHttpUrl(hubA), code);
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    const visitor = await site.issue();
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });

    await hubA.stop();
    await until(() => site.running.syncStatus?.state !== 'live', 5000, 'the link down');
    const { cursor } = await fixture.admin.revokeSubject('braga', 0, visitor.id, 'revoked while the controller was cut off');
    // It cannot know yet: it decides from its store.
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });

    // The moment the link reports live, a scan of that code: the revocation must already be in the store.
    const statuses: SyncStatus[] = [];
    let scanAtLive: ReturnType<ControllerSite['scan']> | undefined;
    const off = site.internals.sync!.onStatus((status) => {
      statuses.push(status);
      if (status.state === 'live' && scanAtLive === undefined) scanAtLive = site.scan(visitor.code);
    });
    cleanups.push(off);
    hubA = await hub(fixture.db.url, port);
    await until(() => scanAtLive, 10_000, 'the link live again');
    expect(await scanAtLive).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    const firstLive = statuses.find((s) => s.state === 'live')!;
    expect(firstLive.cursor).toBe(cursor);
    expect(statuses.filter((s) => s.state === 'syncing' || s.state === 'connecting').length).toBeGreaterThan(0);
    const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    expectSameChain(held, trail);
  });

  it('1,200 revocations made while it was cut off all arrive (more than one frame of changes) before the link reports live', async () => {
    const fixture = await database();
    await fixture.admin.addSite('aveiro');
    const { code } = await fixture.admin.addController('aveiro', 'desk');
    let hubA = await hub(fixture.db.url);
    const port = hubA.address().port;
    const site = await controllerSite();
    await site.enrol(hubHttpUrl(hubA), code);
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    const first = await site.issue('First');
    const last = await site.issue('Last');
    const spared = await site.issue('Spared');
    // A first change, so that the controller asks from a cursor (from 0 it would get a snapshot).
    const { cursor: before } = await fixture.admin.revokeSubject('aveiro', 0, '1', 'first');
    await until(() => site.running.syncStatus?.cursor === before, 5000, 'the first change applied');
    await hubA.stop();
    await until(() => site.running.syncStatus?.state !== 'live', 5000, 'the link down');

    const subjects = [first.id, ...Array.from({ length: 1198 }, (_, i) => String(9_000_000 + i)), last.id];
    let cursor = 0;
    for (let i = 0; i < subjects.length; i += 25) {
      const made = await Promise.all(subjects.slice(i, i + 25).map((subject) => fixture.admin.revokeSubject('aveiro', 0, subject, 'offline batch')));
      cursor = Math.max(cursor, ...made.map((m) => m.cursor));
    }
    const statuses: SyncStatus[] = [];
    const decisions: Array<ReturnType<ControllerSite['scan']>> = [];
    cleanups.push(
      site.internals.sync!.onStatus((status) => {
        statuses.push(status);
        if (status.state === 'live' && decisions.length === 0) decisions.push(site.scan(last.code));
      }),
    );
    hubA = await hub(fixture.db.url, port);
    await until(() => decisions.length > 0, 20_000, 'live again');
    // The last of 1,200 changes was in the store when the link said live; the first of them too.
    expect(await decisions[0]).toMatchObject({ verdict: 'deny', reason: 'revoked', subject: last.id });
    expect(await site.scan(first.code)).toMatchObject({ verdict: 'deny', reason: 'revoked', subject: first.id });
    expect(statuses.find((s) => s.state === 'live')).toMatchObject({ cursor, lag: 0 });
    expect(await site.scan(spared.code)).toMatchObject({ verdict: 'grant', subject: spared.id });
    // Each change applied once: one audit event per revocation.
    const applied = (await site.trail()).filter((e) => e.reason === 'hub.revoke' && Number(e.data?.cursor) > before);
    expect(applied.length).toBe(subjects.length);
    expect(new Set(applied.map((e) => e.subject)).size).toBe(subjects.length);
  }, 90_000);

  it('a rotated credential ends the running link once the new code is used, the restarted controller continues its chain on it; a revoked controller is refused and keeps deciding', async () => {
    const fixture = await database();
    await fixture.admin.addSite('evora');
    const { controllerId, code } = await fixture.admin.addController('evora', 'desk');
    const hubA = await hub(fixture.db.url);
    const site = await controllerSite();
    await site.enrol(hubHttpUrl(hubA), code);
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    const visitor = await site.issue();
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    await uploaded(site, fixture, controllerId);

    const rotated = await fixture.admin.rotateController(controllerId);
    // The old credential works until the new code is used.
    expect(site.running.syncStatus).toMatchObject({ state: 'live' });
    await site.enrol(hubHttpUrl(hubA), rotated.code);
    await until(() => site.running.syncStatus?.state !== 'live', 5000, 'the old link closed');
    await until(() => /401/.test(site.running.syncStatus?.lastError ?? ''), 5000, 'the old credential refused');
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });

    await site.stop();
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'live with the new credential');
    expect(site.running.syncStatus).toMatchObject({ controllerId, auditProblem: null });
    const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    expectSameChain(held, trail);

    expect(await fixture.admin.revokeController(controllerId)).toBe(true);
    await until(() => site.running.syncStatus?.state !== 'live', 5000, 'the link closed by the revocation');
    await until(() => (site.running.syncStatus?.attempts ?? 0) >= 2 && /401/.test(site.running.syncStatus?.lastError ?? ''), 5000, 'refused again and again');
    expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    const status = (await fixture.admin.status('evora'))[0]!.controllers[0]!;
    expect(status.revokedAt).not.toBeNull();
    expect(status.auditSeq).toBeLessThan(site.head);
  });

  it('a controller put back on an old copy of its data directory cannot upload a rewritten chain: the hub stores nothing of it and flags it', async () => {
    const fixture = await database();
    await fixture.admin.addSite('sintra');
    const { controllerId, code } = await fixture.admin.addController('sintra', 'desk');
    const hubA = await hub(fixture.db.url);
    const site = await controllerSite();
    await site.enrol(hubHttpUrl(hubA), code);
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    const visitor = await site.issue();
    await uploaded(site, fixture, controllerId);
    await site.stop();
    // The copy an operator might restore: the data directory as it stood then.
    const copy = `${site.dataDir}.copy`;
    await cp(site.dataDir, copy, { recursive: true });
    cleanups.push(() => rm(copy, { recursive: true, force: true }));

    await site.start({ hubUrl: hubHttpUrl(hubA) });
    for (let i = 0; i < 3; i++) expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    const { trail, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    const hubHead = expectSameChain(held, trail);
    await site.stop();

    // Put back: its chain is shorter than the hub's, and grows again with other events at the same seqs.
    await rm(site.dataDir, { recursive: true });
    await cp(copy, site.dataDir, { recursive: true });
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    // Its 'started' event is the first that differs from what the hub holds.
    const firstRewritten = site.head;
    expect(firstRewritten).toBeLessThan(hubHead);
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    expect(site.running.syncStatus!.auditAcked).toBe(hubHead);
    // It goes on deciding; its chain grows past the hub's head.
    while (site.head <= hubHead) expect(await site.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    await until(() => site.running.syncStatus?.auditProblem !== null, 10_000, 'the hub to refuse the rewritten chain');
    // Flagged where the chains part (a fork at the first rewritten seq, seen at hello), or at the
    // latest where the rewritten chain would go past the hub's head (a broken link).
    const [, problem, seq] = /^(fork|broken-link) at seq (\d+)$/.exec(site.running.syncStatus!.auditProblem!) ?? [];
    expect(problem).toBeDefined();
    expect(Number(seq)).toBeGreaterThanOrEqual(firstRewritten);
    expect(Number(seq)).toBeLessThanOrEqual(hubHead + 1);
    const status = (await fixture.admin.status('sintra'))[0]!.controllers[0]!;
    expect(status).toMatchObject({ auditSeq: hubHead, problem, problemSeq: Number(seq) });
    // Nothing of the rewritten chain is stored: the hub's copy is still the original one.
    await doorsLocked(site);
    expect(await hubChain(fixture.db.url, controllerId)).toEqual(held);
  });

  it('back after a simulated week with 100,000 events queued, uploads every one once and in order', async () => {
    const fixture = await database();
    await fixture.admin.addSite('faro');
    const { controllerId, code } = await fixture.admin.addController('faro', 'desk');
    const hubA = await hub(fixture.db.url);
    const site = await controllerSite();
    await site.enrol(hubHttpUrl(hubA), code);
    const DAY = 24 * 3600 * 1000;
    // Its last day online was eight days ago (its own clock says so; the hub's is today).
    const eightDaysAgo = Date.now() - 8 * DAY;
    const offset = Date.now() - eightDaysAgo;
    await site.start({ hubUrl: hubHttpUrl(hubA), clock: () => Date.now() - offset });
    // The real hub's pongs tell it how far behind it is.
    await until(() => site.running.syncStatus?.clockAlarm === true, 10_000, 'the clock alarm (8 days behind the hub)');
    expect(site.running.syncStatus!.clockOffsetMs).toBeGreaterThan(offset - 5000);
    await uploaded(site, fixture, controllerId);
    await site.stop();

    // The week offline: 100,000 events through the controller's own audit trail over its store,
    // stamped from a week ago on (the store is the controller's; it is not running meanwhile).
    const QUEUED = 100_000;
    const weekAgo = Date.now() - 7 * DAY;
    let tick = 0;
    const store = openStore({ dataDir: site.dataDir });
    await store.start();
    // Its head as it stopped: the week's events continue from there.
    const before = (await store.lastAudit(CHAIN))!.seq;
    const trail = new AuditTrail({ store, controllerId: CHAIN, clock: () => weekAgo + Math.floor((tick++ * 6 * DAY) / QUEUED) });
    await trail.start();
    const appendStarted = Date.now();
    for (let i = 0; i < QUEUED; i += 5000) {
      const chunk: Array<Promise<unknown>> = [];
      for (let j = i; j < i + 5000; j++) chunk.push(trail.append({ type: 'decision', door: 'lab', scanner: 'lab-in', subject: String(1000 + (j % 50)), kind: 'link', issuer: 0, verdict: j % 10 === 0 ? 'deny' : 'grant', reason: j % 10 === 0 ? 'expired' : null }));
      await Promise.all(chunk);
    }
    await trail.stop();
    await store.stop();
    const appendMs = Date.now() - appendStarted;

    const backAt = Date.now();
    await site.start({ hubUrl: hubHttpUrl(hubA) });
    expect(site.head).toBeGreaterThan(before + QUEUED);
    await until(async () => (await hubSeq(fixture.admin, controllerId)) > before + QUEUED && site.running.syncStatus?.outboxDepth === 0, 90_000, 'the week uploaded');
    const uploadMs = Date.now() - backAt;
    const { trail: mine, held } = await settledChains(site, fixture.admin, fixture.db.url, controllerId);
    const head = expectSameChain(held, mine);
    // The queued week, as stamped: a week back, after the controller's last day online and its stop.
    const week = mine.filter((e) => e.at >= weekAgo && e.at < weekAgo + 6 * DAY);
    expect(week.length).toBe(QUEUED);
    expect(week[0]!.seq).toBe(before + 1);
    expect(week.at(-1)!.seq).toBe(before + QUEUED);
    expect((await fixture.admin.status('faro'))[0]!.controllers[0]).toMatchObject({ auditSeq: head, problem: null });
    console.info(`[hubEndToEnd] 100,000 queued events: appended in ${appendMs} ms, uploaded (${head} events in all) in ${uploadMs} ms`);
    expect(uploadMs).toBeLessThan(60_000);
  }, 150_000);
});
