/**
 * Online-only codes confirmed at the hub (onlineUses.ts), against PostgreSQL: the rules of
 * docs/sync.md "Confirmations" one by one, the limit counted atomically under concurrent confirms,
 * and every count keyed by its site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import { openHubDatabase, type HubDb } from '../../controller/hub/hubDatabase.ts';
import { OnlineUses } from '../../controller/hub/onlineUses.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('online-only codes counted at the hub', pgUp), () => {
  let db: TestDatabase;
  let hubDb: HubDb;
  let admin: HubAdmin;
  let uses: OnlineUses;
  let now = 1_767_225_600_000;

  beforeAll(async () => {
    db = await createTestDatabase();
    hubDb = await openHubDatabase(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('north');
    await admin.addSite('south');
    uses = new OnlineUses(hubDb, () => now);
  });
  afterAll(async () => {
    await admin?.close();
    await hubDb?.destroy();
    await db?.drop();
  });

  it('learns a site link from the confirm that brings its limit, counts each use, then answers exhausted', async () => {
    expect(await uses.confirm('north', 0, '100', 2)).toEqual({ answer: 'ok', uses: 1 });
    now += 1000;
    // A later limit does not change the first one (a controller cannot raise it).
    expect(await uses.confirm('north', 0, '100', 50)).toEqual({ answer: 'ok', uses: 2 });
    expect(await uses.confirm('north', 0, '100', 2)).toEqual({ answer: 'exhausted' });
    // A controller that does not hold the link sends no limit: the hub's count still applies.
    expect(await uses.confirm('north', 0, '100', undefined)).toEqual({ answer: 'exhausted' });
    expect(await uses.uses('north', 0, '100')).toEqual({ uses: 2, maxUses: 2 });
    const row = await hubDb.selectFrom('hub_online_uses').selectAll().where('site_id', '=', 'north').where('subject', '=', '100').executeTakeFirstOrThrow();
    expect(row).toMatchObject({ first_seen: 1_767_225_600_000, last_used: now });
  });

  it('a link without a limit is counted without end; one the hub never heard a limit for is unknown', async () => {
    for (let i = 1; i <= 5; i++) expect(await uses.confirm('north', 0, '101', null)).toEqual({ answer: 'ok', uses: i });
    expect(await uses.confirm('north', 0, '102', undefined)).toEqual({ answer: 'unknown' });
    expect(await uses.uses('north', 0, '102')).toBeUndefined();
    // Once a controller that holds it confirms, the others are counted against it.
    expect(await uses.confirm('north', 0, '102', 1)).toEqual({ answer: 'ok', uses: 1 });
    expect(await uses.confirm('north', 0, '102', undefined)).toEqual({ answer: 'exhausted' });
  });

  it("a partner's online-only code is confirmed once per site", async () => {
    expect(await uses.confirm('north', 23, '600', undefined)).toEqual({ answer: 'ok', uses: 1 });
    // A limit in the frame does not apply to a partner's code: still once.
    expect(await uses.confirm('north', 23, '600', 10)).toEqual({ answer: 'exhausted' });
    // The same subject of another partner is another code.
    expect(await uses.confirm('north', 24, '600', undefined)).toEqual({ answer: 'ok', uses: 1 });
  });

  it('a subject revoked at the hub for the site is revoked, before and after the hub learnt it', async () => {
    await admin.revokeSubject('north', 0, '103', 'lost');
    expect(await uses.confirm('north', 0, '103', 3)).toEqual({ answer: 'revoked' });
    expect(await uses.uses('north', 0, '103')).toBeUndefined();
    expect(await uses.confirm('north', 0, '104', 3)).toEqual({ answer: 'ok', uses: 1 });
    await admin.revokeSubject('north', 0, '104', null);
    expect(await uses.confirm('north', 0, '104', 3)).toEqual({ answer: 'revoked' });
    expect(await uses.uses('north', 0, '104')).toEqual({ uses: 1, maxUses: 3 });
    await admin.revokeSubject('north', 23, '601', null);
    expect(await uses.confirm('north', 23, '601', undefined)).toEqual({ answer: 'revoked' });
    // Revoked at north only: south's code of the same name is its own.
    expect(await uses.confirm('south', 0, '103', 1)).toEqual({ answer: 'ok', uses: 1 });
  });

  it('counts are per site: another site neither reads nor moves them', async () => {
    expect(await uses.confirm('north', 0, '200', 1)).toEqual({ answer: 'ok', uses: 1 });
    // South does not see that north knows (and used up) 200.
    expect(await uses.confirm('south', 0, '200', undefined)).toEqual({ answer: 'unknown' });
    expect(await uses.confirm('south', 0, '200', 5)).toEqual({ answer: 'ok', uses: 1 });
    expect(await uses.confirm('south', 0, '200', 5)).toEqual({ answer: 'ok', uses: 2 });
    expect(await uses.uses('north', 0, '200')).toEqual({ uses: 1, maxUses: 1 });
    expect(await uses.uses('south', 0, '200')).toEqual({ uses: 2, maxUses: 5 });
  });

  it('fifty confirms at once of a link of 3 uses: exactly 3 granted', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => uses.confirm('north', 0, '300', 3)));
    expect(answers.filter((a) => a.answer === 'ok').map((a) => (a as { uses: number }).uses).sort()).toEqual([1, 2, 3]);
    expect(answers.filter((a) => a.answer === 'exhausted')).toHaveLength(47);
    expect(await uses.uses('north', 0, '300')).toEqual({ uses: 3, maxUses: 3 });
  });

  it('refuses what no frame could carry, writing nothing', async () => {
    await expect(uses.confirm('north', 70_000, '1', 1)).rejects.toMatchObject({ code: 'POSTERN_ERR_INVALID_ARGUMENT' });
    await expect(uses.confirm('north', 0, '01', 1)).rejects.toMatchObject({ code: 'POSTERN_ERR_INVALID_ARGUMENT' });
    await expect(uses.confirm('north', 0, '1', 0)).rejects.toMatchObject({ code: 'POSTERN_ERR_INVALID_ARGUMENT' });
    expect(await uses.uses('north', 0, '1')).toBeUndefined();
  });
});
