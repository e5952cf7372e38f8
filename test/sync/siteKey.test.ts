/**
 * One issuing key per site (controller/hub/siteKeyAgreement.ts), agreed at `postern enrol` with a
 * real hub over a real PostgreSQL: the first controller gives the site its key, so its links keep
 * working; a new controller takes the site's key, so a link issued at one opens the other's doors; a
 * controller that has issued links with its own key is refused (the code stays good) unless the
 * administrator accepts, with --adopt-site-key, that those links stop working.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { agreeSiteKey } from '../../controller/hub/siteKeyAgreement.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { ControllerSite, hubDatabase, hubHttpUrl, startHub, type HubDatabaseFixture } from './hubSite.ts';

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

async function hub(databaseUrl: string): Promise<Hub> {
  const started = await startHub(databaseUrl);
  cleanups.push(() => started.stop());
  return started;
}

async function controllerSite(chain: string): Promise<ControllerSite> {
  const site = await ControllerSite.create({ chain });
  cleanups.push(() => site.stop());
  return site;
}

async function siteKeyAtHub(databaseUrl: string, siteId: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ site_key: string | null }>('SELECT site_key FROM hub_sites WHERE id = $1', [siteId]);
    return rows[0]?.site_key ?? null;
  } finally {
    await client.end();
  }
}

/**
 * A link for scope 7 ("staff", which the lab is in), a scope of the site file, so it means the same
 * doors at every controller; a scope made from a door list is one controller's own.
 */
async function issue(site: ControllerSite, name: string): Promise<{ code: string }> {
  const { code } = await site.running.issuing.createLink({ name, scope: 7 }, 'test');
  return { code };
}

async function storedSiteKey(site: ControllerSite): Promise<string | undefined> {
  return site.internals.store.getSetting('site.issuingKey');
}

describe('agreeSiteKey', () => {
  const mine = 'a'.repeat(64);
  const sites = 'b'.repeat(64);
  it('gives a keyless site the controller key, keeps an equal one, hands the site key to a controller without links, and refuses one with links unless it adopts', () => {
    expect(agreeSiteKey(null, { siteKey: mine, hasLinks: true, adopt: false })).toEqual({ action: 'site-takes-controller-key', siteKey: mine });
    expect(agreeSiteKey(mine, { siteKey: mine, hasLinks: true, adopt: false })).toEqual({ action: 'kept' });
    expect(agreeSiteKey(sites, { siteKey: mine, hasLinks: false, adopt: false })).toEqual({ action: 'adopt', siteKey: sites });
    expect(agreeSiteKey(sites, { siteKey: mine, hasLinks: true, adopt: false })).toEqual({ action: 'conflict' });
    expect(agreeSiteKey(sites, { siteKey: mine, hasLinks: true, adopt: true })).toEqual({ action: 'adopt', siteKey: sites });
  });
});

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('one issuing key per site, agreed at enrolment', pgUp), () => {
  it("the first controller's links keep working and open a second controller's doors; one with links of its own is refused unless it adopts the site's key", async () => {
    const fixture = await database();
    await fixture.admin.addSite('porto');
    const hubA = await hub(fixture.db.url);
    const url = hubHttpUrl(hubA);

    // The first controller ran standalone and has a link out: enrolled, the site takes its key.
    const first = await controllerSite('porto-front');
    await first.start();
    const visitor = await issue(first, 'Visitor');
    const firstKey = await storedSiteKey(first);
    await first.stop();
    expect(await siteKeyAtHub(fixture.db.url, 'porto')).toBeNull();
    await first.enrol(url, (await fixture.admin.addController('porto', 'front')).code);
    expect(await siteKeyAtHub(fixture.db.url, 'porto')).toBe(firstKey);
    await first.start({ hubUrl: url });
    expect(await storedSiteKey(first)).toBe(firstKey);
    expect(await first.scan(visitor.code)).toMatchObject({ verdict: 'grant' });

    // A new controller (never started) takes the site's key: the first one's link opens its doors.
    const second = await controllerSite('porto-back');
    const said = await second.enrol(url, (await fixture.admin.addController('porto', 'back')).code);
    expect(said).toContain("issues access links with the site's issuing key");
    await second.start({ hubUrl: url });
    expect(await storedSiteKey(second)).toBe(firstKey);
    expect(await second.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    // And the other way round.
    const fromSecond = await issue(second, 'From the back desk');
    expect(await first.scan(fromSecond.code)).toMatchObject({ verdict: 'grant' });

    // A third ran standalone with its own key and a link: refused, and its code is not used up.
    const third = await controllerSite('porto-annex');
    await third.start();
    const annexLink = await issue(third, 'Annex visitor');
    const thirdKey = await storedSiteKey(third);
    await third.stop();
    const { code } = await fixture.admin.addController('porto', 'annex');
    await expect(third.enrol(url, code)).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFLICT', message: expect.stringContaining('--adopt-site-key') });
    expect(await siteKeyAtHub(fixture.db.url, 'porto')).toBe(firstKey);
    await third.start();
    expect(await storedSiteKey(third)).toBe(thirdKey);
    expect(await third.scan(annexLink.code)).toMatchObject({ verdict: 'grant' });
    await third.stop();

    // With --adopt-site-key, the same code works: the site's links open its doors, its own do not.
    await third.enrol(url, code, { adoptSiteKey: true });
    await third.start({ hubUrl: url });
    expect(await storedSiteKey(third)).toBe(firstKey);
    expect(await third.scan(visitor.code)).toMatchObject({ verdict: 'grant' });
    expect(await third.scan(annexLink.code)).toMatchObject({ verdict: 'deny' });
    const adopted = (await third.trail()).filter((event) => event.reason === 'site.key.adopt');
    expect(adopted).toHaveLength(0); // the CLI records it in the site's admin chain, not the controller's
    const adminChain: string[] = [];
    for await (const event of third.internals.store.iterateAudit('porto-annex/admin', 100)) adminChain.push(event.reason ?? '');
    expect(adminChain).toContain('site.key.adopt');
    // The site's key never changed on the way.
    expect(await siteKeyAtHub(fixture.db.url, 'porto')).toBe(firstKey);
  });

  it('refuses a malformed key offer with 400 and leaves the code usable', async () => {
    const fixture = await database();
    await fixture.admin.addSite('lisbon');
    const hubA = await hub(fixture.db.url);
    const { code } = await fixture.admin.addController('lisbon', 'desk');
    const post = (body: unknown) => fetch(`${hubHttpUrl(hubA)}/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ code, siteKey: 'not hex', hasLinks: false });
    expect(bad.status).toBe(400);
    expect(await siteKeyAtHub(fixture.db.url, 'lisbon')).toBeNull();
    const good = await post({ code, siteKey: 'c'.repeat(64), hasLinks: false });
    expect(good.status).toBe(200);
    expect(await good.json()).toMatchObject({ siteId: 'lisbon', siteKey: { action: 'kept' } });
    expect(await siteKeyAtHub(fixture.db.url, 'lisbon')).toBe('c'.repeat(64));
  });
});
