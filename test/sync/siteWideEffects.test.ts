/**
 * What one controller does to a link reaches every controller of its site (controller/hub/
 * siteWideEffects.ts), with a real hub, real PostgreSQL and two real controllers sharing the site's
 * key: a link revoked through one controller's API is denied `revoked` at the other within seconds,
 * as a revocation made at the hub; an online-only link made at one may be used first at the other,
 * since the hub learnt its limit from the upload of its creation.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { twoLiveControllers, until } from './hubSite.ts';

const pgUp = await postgresAvailable();

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function query<T extends pg.QueryResultRow>(databaseUrl: string, text: string, values: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName("one controller's revocations and online-only links reach the whole site", pgUp), () => {
  it('a link revoked through one controller is denied revoked at the other, and the hub says where it was revoked', async () => {
    const { fixture, front, back } = await twoLiveControllers((cleanup) => cleanups.push(cleanup));
    const { link, code } = await front.running.issuing.createLink({ name: 'Contractor', scope: 7 }, 'test');
    expect(await back.scan(code)).toMatchObject({ verdict: 'grant' });

    await front.running.issuing.revokeLink(link.id, 'api:alice', 'badge lost');
    expect(await front.scan(code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    await until(() => back.internals.store.isRevoked(0, link.id), 10_000, 'the back door to hold the revocation');
    expect(await back.scan(code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });

    const rows = await query<{ reason: string }>(fixture.db.url, 'SELECT reason FROM hub_revocations WHERE site_id = $1 AND issuer = 0 AND subject = $2', ['lisbon', link.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toBe('revoked at controller front-desk by api:alice: badge lost');
    // The controller that revoked it records the hub's confirmation, not a second revocation.
    await until(async () => (await front.trail()).some((e) => e.reason === 'hub.revoke' && e.subject === link.id), 10_000, 'the front desk to hear the hub');
    const echoed = (await front.trail()).find((e) => e.reason === 'hub.revoke' && e.subject === link.id);
    expect(echoed?.data).toMatchObject({ alreadyRevoked: true });
  });

  it('an online-only link made at one controller is first used at the other, and counted for the site', async () => {
    const { fixture, front, back } = await twoLiveControllers((cleanup) => cleanups.push(cleanup));
    const { link, code } = await front.running.issuing.createLink({ name: 'Courier', scope: 7, onlineOnly: true, maxUses: 1 }, 'test');
    await until(async () => (await query(fixture.db.url, 'SELECT 1 FROM hub_online_uses WHERE site_id = $1 AND subject = $2', ['lisbon', link.id])).length === 1, 10_000, 'the hub to learn the link');
    expect(await back.scan(code)).toMatchObject({ verdict: 'grant', kind: 'online-link' });
    expect(await front.scan(code)).toMatchObject({ verdict: 'deny', reason: 'used-up' });
    expect(await query(fixture.db.url, 'SELECT uses, max_uses FROM hub_online_uses WHERE site_id = $1 AND subject = $2', ['lisbon', link.id])).toEqual([{ uses: '1', max_uses: '1' }]);
  });
});
