/**
 * The hub's API against real controllers (controller.ts over SQLite) linked to a real hub over a
 * throwaway PostgreSQL database, from a plain `ws` client of GET /api:
 * - sites.overview shows a linked controller online and a stopped one offline;
 * - site.call runs doors.list and links.create at the live controller, the link is in the
 *   controller's audit trail with actor hub:<account> (and at the hub once uploaded), and the
 *   controller's own role check applies again (a hub operator cannot make links: integrator);
 * - revocations.create through the API is enforced at the connected controller;
 * - a stopped site's call is site-offline at once; a call reaches only the named site's controller;
 * - `hub.remoteAdmin: false` refuses every call.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { HubAccounts } from '../../controller/hub/hubAccounts.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { HubApiClient } from '../hub/hubApiClient.ts';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { ControllerSite, hubDatabase, hubHttpUrl, startHub, until, type HubDatabaseFixture } from './hubSite.ts';

const pgUp = await postgresAvailable();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  fixture: HubDatabaseFixture;
  hub: Hub;
  tokens: Record<'ada' | 'otto' | 'vera', string>;
}

async function setup(): Promise<Setup> {
  const fixture = await hubDatabase();
  cleanups.push(() => fixture.close());
  const hub = await startHub(fixture.db.url);
  cleanups.push(() => hub.stop());
  const accounts = new HubAccounts(fixture.admin.store.db);
  const tokens = {
    ada: (await accounts.add('ada', 'admin')).token,
    otto: (await accounts.add('otto', 'operator')).token,
    vera: (await accounts.add('vera', 'viewer')).token,
  };
  return { fixture, hub, tokens };
}

/** A controller of `siteId` enrolled at the hub, started with it, its link live. */
async function linkedController(s: Setup, siteId: string, options: { chain?: string; remoteAdmin?: boolean } = {}): Promise<{ site: ControllerSite; controllerId: string }> {
  const { controllerId, code } = await s.fixture.admin.addController(siteId, `${siteId} desk`);
  const site = await ControllerSite.create({ chain: options.chain });
  cleanups.push(() => site.stop());
  await site.enrol(hubHttpUrl(s.hub), code);
  await site.start({ hubUrl: hubHttpUrl(s.hub), remoteAdmin: options.remoteAdmin });
  await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
  return { site, controllerId };
}

async function client(s: Setup, who: keyof Setup['tokens']): Promise<HubApiClient> {
  const connected = await HubApiClient.connect(s.hub, s.tokens[who]);
  cleanups.push(() => connected.close());
  return connected;
}

/** Polls the API every 200 ms: within its rate limit (20 a second per connection), however long it waits. */
async function untilApi(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Overview = { sites: Array<{ id: string; online: number; total: number; controllers: Array<{ id: string; online: boolean; auditSeq: number }> }> };

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName("the hub's API with real controllers", pgUp), () => {
  it('overview online, site.call doors.list and links.create (actor hub:ada), roles checked at both ends, a revocation enforced, offline once stopped', async () => {
    const s = await setup();
    await s.fixture.admin.addSite('lisbon', 'Lisbon office');
    const { site, controllerId } = await linkedController(s, 'lisbon');
    const ada = await client(s, 'ada');
    const otto = await client(s, 'otto');
    const vera = await client(s, 'vera');

    await untilApi(async () => (await vera.call<Overview>('sites.overview')).sites[0]!.online === 1, 5000, 'the controller online in the overview');
    expect((await vera.call<Overview>('sites.overview')).sites[0]).toMatchObject({ id: 'lisbon', online: 1, total: 1, controllers: [{ id: controllerId, online: true }] });

    const doors = await vera.call<Array<{ id: string }>>('site.call', { site: 'lisbon', method: 'doors.list', params: {} });
    expect(doors.map((d) => d.id)).toEqual(site.running.config.doors.map((d) => d.id));
    expect(doors.map((d) => d.id)).toContain('lab');

    const made = await ada.call<{ link: { id: string }; code: string }>('site.call', { site: 'lisbon', method: 'links.create', params: { name: 'Guest', doors: ['lab'] } });
    expect(made.code.length).toBeGreaterThan(10);
    expect(await site.scan(made.code)).toMatchObject({ verdict: 'grant' });
    const trail = await site.trail();
    expect(trail.find((e) => e.subject === made.link.id && e.type !== 'decision')).toMatchObject({ actor: 'hub:ada' });

    // The hub refuses a viewer's write itself; the controller refuses an operator's links.create (integrator).
    expect((await vera.request('site.call', { site: 'lisbon', method: 'links.create', params: { name: 'x', doors: ['lab'] } })).error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    const operatorTry = await otto.request('site.call', { site: 'lisbon', method: 'links.create', params: { name: 'x', doors: ['lab'] } });
    expect(operatorTry.error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    expect(operatorTry.error!.message).toMatch(/integrator/);
    // The controller's own parameter check.
    expect((await ada.request('site.call', { site: 'lisbon', method: 'links.create', params: { doors: ['lab'] } })).error).toMatchObject({ code: -32602, data: { field: 'name' } });
    // An operator may unlock a door there: the controller records it as hub:otto.
    await otto.call('site.call', { site: 'lisbon', method: 'doors.unlock', params: { door: 'front', seconds: 1 } });
    expect((await site.trail()).some((e) => e.door === 'front' && e.actor === 'hub:otto')).toBe(true);

    // A revocation made through the API is pushed and enforced at the door.
    const { cursor } = await otto.call<{ cursor: number }>('revocations.create', { site: 'lisbon', issuer: 0, subject: made.link.id, reason: 'lost' });
    await until(() => (site.running.syncStatus?.cursor ?? 0) >= cursor, 2000, 'the revocation at the controller');
    expect(await site.scan(made.code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });

    // Once uploaded, the hub's copy of the trail shows the same actor, through audit.query.
    await untilApi(async () => {
      const { events } = await vera.call<{ events: Array<{ actor: string | null; subject: string | null }> }>('audit.query', { site: 'lisbon', limit: 500 });
      return events.some((e) => e.actor === 'hub:ada' && e.subject === made.link.id);
    }, 10_000, 'the link event at the hub');
    // A connection of its own: the polling above spent vera's (per connection) rate limit.
    const auditor = await client(s, 'vera');
    expect(await auditor.call('audit.verify', { site: 'lisbon' })).toMatchObject({ ok: true, controllers: [{ controller: controllerId, ok: true }] });
    const firstPage = await auditor.call<{ events: Array<{ seq: number }> }>('audit.query', { site: 'lisbon', controller: controllerId, afterSeq: 0, limit: 3 });
    expect(firstPage.events.map((e) => e.seq)).toEqual([1, 2, 3]);

    await site.stop();
    await untilApi(async () => (await vera.call<Overview>('sites.overview')).sites[0]!.online === 0, 5000, 'the controller offline in the overview');
    const started = Date.now();
    expect((await ada.request('site.call', { site: 'lisbon', method: 'doors.list' })).error).toMatchObject({ code: -32005, data: { code: 'POSTERN_ERR_SITE_OFFLINE' } });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("a call reaches only the named site's controller; hub.remoteAdmin: false refuses every call", async () => {
    const s = await setup();
    await s.fixture.admin.addSite('alpha');
    await s.fixture.admin.addSite('beta');
    const alpha = await linkedController(s, 'alpha', { chain: 'alpha-site' });
    const beta = await linkedController(s, 'beta', { chain: 'beta-site', remoteAdmin: false });
    const ada = await client(s, 'ada');

    const made = await ada.call<{ link: { id: string } }>('site.call', { site: 'alpha', method: 'links.create', params: { name: 'Only alpha', doors: ['lab'] } });
    expect((await alpha.site.trail()).some((e) => e.subject === made.link.id && e.actor === 'hub:ada')).toBe(true);
    expect((await beta.site.trail()).some((e) => e.actor?.startsWith('hub:'))).toBe(false);

    const refused = await ada.request('site.call', { site: 'beta', method: 'doors.list', params: {} });
    expect(refused.error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    expect(refused.error!.message).toMatch(/remoteAdmin/);
    // The link itself goes on: beta still syncs.
    const { cursor } = await ada.call<{ cursor: number }>('revocations.create', { site: 'beta', subject: '5' });
    await until(() => (beta.site.running.syncStatus?.cursor ?? 0) >= cursor, 2000, 'the revocation at beta');
  });
});
