/**
 * The hub's API (GET /api, docs/hub-api.md) on real hubs over a throwaway PostgreSQL database, with
 * raw `ws` clients as API clients and as controllers (hubHarness.ts TestLink): accounts and tokens,
 * the Origin check, roles, the overview's presence across two hubs, revocations, site.call's routing
 * (only the named site's link, only this hub's), its timeout, and the limits.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAccounts } from '../../controller/hub/hubAccounts.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import { openHubDatabase, type HubDb } from '../../controller/hub/hubDatabase.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { HubApiClient } from './hubApiClient.ts';
import { enrolledController, startHub, TestLink, type Frame } from './hubHarness.ts';

const pgUp = await postgresAvailable();

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // Slow enough for the API's rate limit (20 a second per connection).
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName("the hub's API", pgUp), () => {
  let db: TestDatabase;
  let hubDb: HubDb;
  let admin: HubAdmin;
  let accounts: HubAccounts;
  let hubA: Hub;
  let hubB: Hub;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    hubA = await startHub(db.url, { apiLimits: { loginTimeoutMs: 500 }, siteCallTimeoutMs: 1500 });
    hubB = await startHub(db.url);
    hubDb = await openHubDatabase(db.url);
    admin = new HubAdmin(hubDb);
    accounts = new HubAccounts(hubDb);
    for (const [name, role] of [['ada', 'admin'], ['otto', 'operator'], ['vera', 'viewer'], ['gone', 'viewer']] as const) tokens[name] = (await accounts.add(name, role)).token;
    await accounts.revoke('gone');
  });
  afterAll(async () => {
    await hubA?.stop();
    await hubB?.stop();
    await hubDb?.destroy();
    await db?.drop();
  });

  it('signs in with a bearer token or session.login; refuses a wrong, revoked or absent token', async () => {
    expect(tokens.ada).toMatch(/^ph_acc-[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const byHeader = await HubApiClient.connect(hubA, tokens.ada);
    expect(await byHeader.call('session.whoami')).toEqual({ account: { name: 'ada', role: 'admin' } });
    byHeader.close();

    const wrong = `${tokens.ada!.slice(0, -4)}AAAA`;
    expect(await HubApiClient.status(hubA, { authorization: `Bearer ${wrong}` })).toBe(401);
    expect(await HubApiClient.status(hubA, { authorization: `Bearer ${tokens.gone}` })).toBe(401);
    expect(await HubApiClient.status(hubA, { authorization: 'Bearer nonsense' })).toBe(401);
    expect(await HubApiClient.status(hubA, {}, `/api?token=${tokens.ada}`)).toBe(400);

    const browser = await HubApiClient.connect(hubA);
    expect(await browser.call('session.login', { token: tokens.vera })).toEqual({ account: { name: 'vera', role: 'viewer' } });
    expect(await browser.call('session.whoami')).toEqual({ account: { name: 'vera', role: 'viewer' } });
    browser.close();

    const guesser = await HubApiClient.connect(hubA);
    const refused = await guesser.request('session.login', { token: wrong });
    expect(refused.error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_UNAUTHENTICATED' } });
    expect(refused.error!.message).not.toContain(wrong);
    expect((await guesser.waitClosed()).code).toBe(4401);

    const skipper = await HubApiClient.connect(hubA);
    expect((await skipper.request('sites.list')).error).toMatchObject({ data: { code: 'POSTERN_ERR_UNAUTHENTICATED' } });
    expect((await skipper.waitClosed()).code).toBe(4401);

    const silent = await HubApiClient.connect(hubA);
    expect(await silent.waitClosed(3000)).toEqual({ code: 4401, reason: 'no login' });
  });

  it('an address that failed to sign in too often is refused (429) for a while, even with a good token', async () => {
    const strict = await startHub(db.url, { apiLimits: { failedLogins: { rate: 2, burst: 3 } } });
    try {
      const wrong = `${tokens.ada!.slice(0, -4)}AAAA`;
      expect(await HubApiClient.status(strict, { authorization: `Bearer ${wrong}` })).toBe(401);
      expect(await HubApiClient.status(strict, { authorization: `Bearer ${wrong}` })).toBe(401);
      const guesser = await HubApiClient.connect(strict);
      expect((await guesser.request('session.login', { token: wrong })).error).toMatchObject({ data: { code: 'POSTERN_ERR_UNAUTHENTICATED' } });
      expect(await HubApiClient.status(strict, { authorization: `Bearer ${tokens.ada}` })).toBe(429);
      expect(await HubApiClient.status(strict, {})).toBe(429);
      // Refilled (2 a second): in again.
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(await HubApiClient.status(strict, { authorization: `Bearer ${tokens.ada}` })).toBe(101);
    } finally {
      await strict.stop();
    }
  });

  it("refuses a browser page of another origin (403) and takes the hub's own", async () => {
    const host = `127.0.0.1:${hubA.address().port}`;
    expect(await HubApiClient.status(hubA, { origin: 'https://evil.example', authorization: `Bearer ${tokens.ada}` })).toBe(403);
    expect(await HubApiClient.status(hubA, { origin: `https://${host}`, authorization: `Bearer ${tokens.ada}` })).toBe(403);
    expect(await HubApiClient.status(hubA, { origin: `http://${host}`, authorization: `Bearer ${tokens.ada}` })).toBe(101);
    expect(await HubApiClient.status(hubA, { origin: `http://${host}` })).toBe(101);
    // /sync and /health are as they were.
    expect((await fetch(`http://${host}/health`)).status).toBe(200);
    expect((await fetch(`http://${host}/api`)).status).toBe(426);
    expect(await HubApiClient.status(hubA, { authorization: 'Bearer pc_nothing' }, '/sync')).toBe(401);
  });

  it('roles: a viewer reads only, an operator revokes, an admin manages; every change is in hub_actions', async () => {
    const viewer = await HubApiClient.connect(hubA, tokens.vera);
    const operator = await HubApiClient.connect(hubA, tokens.otto);
    const boss = await HubApiClient.connect(hubA, tokens.ada);
    try {
      for (const [method, params] of [
        ['sites.add', { name: 'Nope' }],
        ['controllers.add', { site: 'x', name: 'y' }],
        ['revocations.create', { site: 'x', subject: '1' }],
        ['accounts.list', {}],
      ] as const) {
        expect((await viewer.request(method, params)).error, method).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
      }
      expect((await operator.request('sites.add', { name: 'Nope' })).error).toMatchObject({ code: -32001 });
      expect(await boss.call('sites.add', { name: 'Roles Office' })).toEqual({ site: { id: 'roles-office', name: 'Roles Office' } });
      expect((await boss.request('sites.add', { name: 'Roles Office' })).error).toMatchObject({ code: -32003, data: { code: 'POSTERN_ERR_CONFLICT' } });
      expect((await boss.request('sites.add', { name: 'x', id: 'bad id!' })).error).toMatchObject({ code: -32602 });
      const added = await boss.call<{ controller: string; enrolmentCode: string; expiresAt: number }>('controllers.add', { site: 'roles-office', name: 'desk' });
      expect(added.enrolmentCode).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
      const rotated = await boss.call<{ enrolmentCode: string }>('controllers.rotate', { site: 'roles-office', controller: added.controller });
      expect(rotated.enrolmentCode).not.toBe(added.enrolmentCode);
      // A controller is named with its own site only.
      await boss.call('sites.add', { name: 'Other', id: 'other' });
      expect((await boss.request('controllers.revoke', { site: 'other', controller: added.controller })).error).toMatchObject({ code: -32002 });
      expect(await boss.call('controllers.revoke', { site: 'roles-office', controller: added.controller })).toEqual({ controller: added.controller, revoked: true });
      expect(await operator.call('revocations.create', { site: 'roles-office', issuer: 0, subject: '42', reason: 'lost' })).toMatchObject({ created: true });
      expect(await viewer.call('revocations.list', { site: 'roles-office', limit: 10 })).toEqual({ revocations: [expect.objectContaining({ issuer: 0, subject: '42', reason: 'lost' })], next: null });
      expect((await viewer.request('revocations.list', { site: 'nowhere' })).error).toMatchObject({ code: -32002 });
      const made = await boss.call<{ token: string }>('accounts.add', { name: 'newbie', role: 'viewer' });
      expect((await accounts.authenticate(made.token))?.name).toBe('newbie');
      const listed = await boss.call<{ accounts: Array<Record<string, unknown>> }>('accounts.list', {});
      expect(listed.accounts.map((a) => a.name)).toEqual(expect.arrayContaining(['ada', 'otto', 'vera', 'gone', 'newbie']));
      expect(JSON.stringify(listed)).not.toMatch(/ph_|token/);
      const { actions } = await viewer.call<{ actions: Array<{ actor: string; action: string; siteId: string | null; detail: Record<string, unknown> }> }>('actions.list', { limit: 50 });
      expect(actions.map((a) => `${a.actor} ${a.action} ${a.siteId ?? '-'}`)).toEqual([
        'account:ada accounts.add -',
        'account:otto revocations.create roles-office',
        'account:ada controllers.revoke roles-office',
        'account:ada sites.add other',
        'account:ada controllers.rotate roles-office',
        'account:ada controllers.add roles-office',
        'account:ada sites.add roles-office',
      ]);
      expect(JSON.stringify(actions)).not.toContain(added.enrolmentCode);
      expect(JSON.stringify(actions)).not.toContain(made.token);
    } finally {
      viewer.close();
      operator.close();
      boss.close();
    }
  });

  it('a token revoked while connected is refused at its next call (1008)', async () => {
    const { token } = await accounts.add('shortlived', 'viewer');
    const client = await HubApiClient.connect(hubA, token);
    expect(await client.call('sites.list')).toHaveProperty('sites');
    await accounts.revoke('shortlived');
    expect((await client.request('sites.list')).error).toMatchObject({ data: { code: 'POSTERN_ERR_UNAUTHENTICATED' } });
    expect(await client.waitClosed()).toEqual({ code: 1008, reason: 'credentials revoked' });
  });

  it('sites.overview: a controller linked to either hub is online on both, and offline once its link closed; revocations.create reaches it', async () => {
    await admin.addSite('lisbon', 'Lisbon');
    const { controllerId, credential } = await enrolledController(admin, hubA, 'lisbon');
    await admin.addController('lisbon', 'not enrolled');
    const onB = await HubApiClient.connect(hubB, tokens.vera);
    const onA = await HubApiClient.connect(hubA, tokens.otto);
    try {
      const overview = async (client: HubApiClient) => (await client.call<{ sites: Array<Record<string, any>> }>('sites.overview')).sites.find((s) => s.id === 'lisbon')!;
      const before = await overview(onB);
      expect(before).toMatchObject({ id: 'lisbon', name: 'Lisbon', online: 0, total: 2, lastEventAt: null, deniedLastHour: 0 });
      expect(before.controllers[0]).toEqual({ id: controllerId, name: 'lisbon desk', online: false, lastSeen: null, clockOffsetMs: null, auditSeq: 0, chainProblem: null });

      const link = await TestLink.open(hubA, credential);
      await link.hello(0, 'lisbon-chain');
      await until(async () => (await overview(onB)).online === 1, 5000, 'the controller online at hub B');
      const live = await overview(onA);
      expect(live.controllers[0]).toMatchObject({ id: controllerId, online: true, auditSeq: 0 });
      expect(live.controllers[0].lastSeen).toBeGreaterThan(Date.now() - 60_000);
      expect(live.controllers[1]).toMatchObject({ online: false });
      expect(Math.abs(live.controllers[0].clockOffsetMs)).toBeLessThan(1000);
      // A controller whose clock runs 10 s ahead: its pings show it, on every hub.
      link.send({ type: 'ping', id: 1, time: Date.now() + 10_000 });
      await until(async () => Math.abs((await overview(onB)).controllers[0].clockOffsetMs - 10_000) < 1000, 5000, 'the clock offset at hub B');
      const listed = await onB.call<{ controllers: Array<Record<string, unknown>> }>('controllers.list', { site: 'lisbon' });
      expect(listed.controllers.find((c) => c.controllerId === controllerId)).toMatchObject({ online: true, name: 'lisbon desk' });

      const from = link.frames.length;
      expect(await onA.call('revocations.create', { site: 'lisbon', issuer: 3, subject: '77', reason: 'stolen' })).toMatchObject({ created: true });
      expect((await link.next('changes', from)).items).toEqual([expect.objectContaining({ issuer: 3, subject: '77', reason: 'stolen' })]);

      link.close();
      await until(async () => (await overview(onB)).online === 0, 5000, 'the controller offline at hub B');

      // A hub that stops takes its links' presence with it: at once, not after the 150 s of a crash.
      const hubC = await startHub(db.url);
      const again = await TestLink.open(hubC, credential);
      await again.hello(0, 'lisbon-chain');
      await until(async () => (await overview(onB)).online === 1, 5000, 'the controller online through hub C');
      await hubC.stop();
      expect((await overview(onB)).online).toBe(0);
    } finally {
      onA.close();
      onB.close();
    }
  });

  it('site.call: only a live link of the named site gets it, on this hub or handed to the hub that holds it; results and errors come back; offline and timeout are errors', async () => {
    await admin.addSite('north');
    await admin.addSite('south');
    const north = await enrolledController(admin, hubA, 'north');
    const south = await enrolledController(admin, hubA, 'south');
    const northLink = await TestLink.open(hubA, north.credential);
    await northLink.hello(0, 'north-chain');
    const southLink = await TestLink.open(hubB, south.credential);
    await southLink.hello(0, 'south-chain');
    const client = await HubApiClient.connect(hubA, tokens.ada);
    const viewer = await HubApiClient.connect(hubA, tokens.vera);
    try {
      // North's link answers its calls: the result, or the controller's own error as it gave it.
      const answering = (frame: Frame) => {
        if (frame.type !== 'call') return;
        if (frame.method === 'doors.list') northLink.send({ type: 'result', id: frame.id, result: { doors: [{ id: 'front' }], account: frame.account } });
        else if (frame.method === 'links.create') northLink.send({ type: 'result', id: frame.id, error: { code: -32602, message: 'name: required', data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'name' } } });
      };
      northLink.ws.on('message', (data) => answering(JSON.parse(data.toString()) as Frame));
      expect(await client.call('site.call', { site: 'north', method: 'doors.list', params: {} })).toEqual({ doors: [{ id: 'front' }], account: { name: 'ada', role: 'admin' } });
      expect((await client.request('site.call', { site: 'north', method: 'links.create', params: {} })).error).toEqual({ code: -32602, message: 'name: required', data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'name' } });
      // A viewer's write is refused at the hub: nothing is sent.
      const sent = northLink.frames.filter((f) => f.type === 'call').length;
      expect((await viewer.request('site.call', { site: 'north', method: 'links.create', params: { name: 'x' } })).error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
      expect(northLink.frames.filter((f) => f.type === 'call').length).toBe(sent);
      // South is linked to hub B only: hub A hands the call to hub B through PostgreSQL (callRelay.ts),
      // which runs it at south's link; the answer, or south's own error, comes back the same way.
      southLink.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type !== 'call') return;
        if (frame.method === 'doors.list') southLink.send({ type: 'result', id: frame.id, result: { doors: [{ id: 'gate' }], account: frame.account } });
        else southLink.send({ type: 'result', id: frame.id, error: { code: -32601, message: `no method ${String(frame.method)}`, data: { code: 'POSTERN_ERR_NOT_FOUND' } } });
      });
      expect(await client.call('site.call', { site: 'south', method: 'doors.list' })).toEqual({ doors: [{ id: 'gate' }], account: { name: 'ada', role: 'admin' } });
      expect((await client.request('site.call', { site: 'south', method: 'nothing.here' })).error).toEqual({ code: -32601, message: 'no method nothing.here', data: { code: 'POSTERN_ERR_NOT_FOUND' } });
      expect(southLink.frames.filter((f) => f.type === 'call').map((f) => f.method)).toEqual(['doors.list', 'nothing.here']);
      expect(northLink.frames.filter((f) => f.type === 'call').length).toBe(sent);
      // Nothing of the handed calls is left in the database once answered.
      expect(await countCalls(db.url)).toBe(0);
      expect((await client.request('site.call', { site: 'nowhere', method: 'doors.list' })).error).toMatchObject({ code: -32002 });
      await admin.addSite('empty');
      expect((await client.request('site.call', { site: 'empty', method: 'doors.list' })).error).toMatchObject({ data: { code: 'POSTERN_ERR_SITE_OFFLINE' } });
      // Unanswered: site-timeout (this hub waits 1.5 s).
      const timedOut = await client.request('site.call', { site: 'north', method: 'scopes.list' });
      expect(timedOut.error).toMatchObject({ code: -32005, data: { code: 'POSTERN_ERR_SITE_TIMEOUT' } });
      // At most 8 calls in flight per connection: the 9th is refused at once.
      const hanging = Array.from({ length: 8 }, () => client.request('site.call', { site: 'north', method: 'scopes.list' }));
      const ninth = await client.request('site.call', { site: 'north', method: 'scopes.list' });
      expect(ninth.error).toMatchObject({ code: -32004, data: { code: 'POSTERN_ERR_RATE_LIMITED' } });
      expect(ninth.error!.message).toMatch(/in flight/);
      // The link closing ends the calls waiting on it at once.
      northLink.close();
      for (const answer of await Promise.all(hanging)) expect(answer.error).toMatchObject({ data: { code: 'POSTERN_ERR_SITE_OFFLINE' } });
    } finally {
      client.close();
      viewer.close();
      southLink.close();
    }
  });

  it('a flood is throttled (-32004 with retryAfterMs), and a client that ignores it is dropped (1008)', async () => {
    const client = await HubApiClient.connect(hubA, tokens.vera);
    // 60 at once: 8 run, the rest of the burst (40) is refused for the calls in flight, the other 20 by the bucket.
    const answers = await Promise.all(Array.from({ length: 60 }, () => client.request('session.whoami')));
    // (A busy machine may spread the arrivals: the bucket then refills a little meanwhile.)
    const ran = answers.filter((a) => a.result !== undefined).length;
    expect(ran).toBeGreaterThanOrEqual(8);
    const limited = answers.filter((a) => a.error?.code === -32004);
    expect(limited.length).toBe(60 - ran);
    const bucket = limited.filter((a) => /rate limit exceeded/.test(a.error!.message));
    expect(bucket.length).toBeGreaterThanOrEqual(10);
    expect(bucket[0]!.error!.data).toMatchObject({ code: 'POSTERN_ERR_RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect(client.closed).toBeUndefined();
    for (let i = 0; i < 100 && client.closed === undefined; i++) client.ws.send(JSON.stringify({ jsonrpc: '2.0', id: `f${i}`, method: 'session.whoami' }));
    expect(await client.waitClosed()).toEqual({ code: 1008, reason: 'rate limit ignored' });
  });
});

/** Rows of site.calls handed between hubs (callRelay.ts) still in the database. */
async function countCalls(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM hub_calls')).rows[0]!.n);
  } finally {
    await client.end();
  }
}
