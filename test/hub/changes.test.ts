/** Revocations reach controllers: snapshot or changes at hello, then pushed live from any hub's database write. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub changes', pgUp), () => {
  let db: TestDatabase;
  let hubA: Hub;
  let hubB: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    [hubA, hubB] = await Promise.all([startHub(db.url), startHub(db.url)]);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('north');
    await admin.addSite('south');
  });
  afterAll(async () => {
    await hubA?.stop();
    await hubB?.stop();
    await admin?.close();
    await db?.drop();
  });

  it('a revocation made through the admin reaches a controller connected to the other hub within 1 s', async () => {
    const { credential } = await enrolledController(admin, hubA, 'north');
    const link = await TestLink.open(hubB, credential);
    const catchUp = await link.hello(0, 'north');
    expect(catchUp.map((f) => f.type)).toEqual(['welcome', 'snapshot', 'synced']);
    const from = link.frames.length;
    const started = Date.now();
    const { cursor, revokedAt } = await admin.revokeSubject('north', 7, '42', 'lost');
    const pushed = await link.next('changes', from, 1000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(pushed).toEqual({ type: 'changes', cursor, items: [{ cursor, kind: 'revocation', issuer: 7, subject: '42', revokedAt, reason: 'lost' }] });
    link.close();
  });

  it('snapshot on cursor 0 holds the whole set; a reconnect with its cursor gets only later changes', async () => {
    const { credential } = await enrolledController(admin, hubA, 'north');
    await admin.revokeSubject('north', 0, '101');
    const first = await TestLink.open(hubA, credential);
    const frames = await first.hello(0, 'north-2');
    const snapshot = frames.find((f) => f.type === 'snapshot')!;
    const subjects = (snapshot.revocations as Array<{ subject: string }>).map((r) => r.subject);
    expect(subjects).toEqual(expect.arrayContaining(['42', '101']));
    expect(frames.at(-1)).toEqual({ type: 'synced', cursor: snapshot.cursor });
    first.close();

    const later = await admin.revokeSubject('north', 0, '201');
    await admin.revokeSubject('south', 0, '301'); // another site's change in between: not for this one
    const later2 = await admin.revokeSubject('north', 0, '202');
    const second = await TestLink.open(hubB, credential);
    const again = await second.hello(snapshot.cursor as number, 'north-2');
    expect(again.map((f) => f.type)).toEqual(['welcome', 'changes', 'synced']);
    const items = again[1]!.items as Array<{ cursor: number; subject: string }>;
    expect(items.map((i) => [i.cursor, i.subject])).toEqual([[later.cursor, '201'], [later2.cursor, '202']]);
    expect(again[2]).toEqual({ type: 'synced', cursor: later2.cursor });
    // Up to date: nothing but welcome and synced.
    second.close();
    const third = await TestLink.open(hubA, credential);
    expect((await third.hello(later2.cursor, 'north-2')).map((f) => f.type)).toEqual(['welcome', 'synced']);
    third.close();
  });

  it('a cursor more than 10,000 changes behind (or from another database) gets a snapshot', async () => {
    const { credential } = await enrolledController(admin, hubA, 'south');
    const link = await TestLink.open(hubA, credential);
    const start = (await link.hello(0, 'south')).find((f) => f.type === 'snapshot')!;
    link.close();
    // Written straight into the database, as another process would: 10,001 revocations and their changes.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO hub_revocations (site_id, issuer, subject, revoked_at) SELECT 'south', 1, (1000000 + n)::text, 0 FROM generate_series(1, 10001) n`);
      await client.query(`INSERT INTO hub_changes (site_id, kind, body, created_at) SELECT 'south', 'revocation', jsonb_build_object('issuer', 1, 'subject', (1000000 + n)::text, 'revokedAt', 0, 'reason', null), 0 FROM generate_series(1, 10001) n`);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const behind = await TestLink.open(hubB, credential);
    const frames = await behind.hello(start.cursor as number, 'south');
    // In chunks of at most 5,000 of one cursor, the last one marked.
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'snapshot', 'snapshot', 'snapshot', 'synced']);
    const chunks = frames.filter((f) => f.type === 'snapshot');
    expect(chunks.map((f) => [(f.revocations as unknown[]).length, f.last])).toEqual([
      [5000, false],
      [5000, false],
      [2, true],
    ]);
    expect(new Set(chunks.map((f) => f.cursor)).size).toBe(1);
    expect(new Set(chunks.flatMap((f) => (f.revocations as Array<{ subject: string }>).map((r) => r.subject))).size).toBe(10_002);
    behind.close();

    const future = await TestLink.open(hubB, credential);
    expect((await future.hello(Number.MAX_SAFE_INTEGER, 'south')).map((f) => f.type)).toEqual(['welcome', 'snapshot', 'snapshot', 'snapshot', 'synced']);
    future.close();
  });

  it('refuses a subject controllers could not parse, an issuer out of range, an overlong reason and an unknown site, writing no change', async () => {
    const before = (await admin.status('north'))[0]!.cursor;
    await expect(admin.revokeSubject('north', 0, 'badge-1')).rejects.toThrow(/not a subject/);
    await expect(admin.revokeSubject('north', 0, '18446744073709551616')).rejects.toThrow(/not a subject/);
    await expect(admin.revokeSubject('north', 70_000, '1')).rejects.toThrow(/issuer/);
    await expect(admin.revokeSubject('north', 0, '1', 'x'.repeat(1001))).rejects.toThrow(/at most 1000 characters/);
    await expect(admin.revokeSubject('nowhere', 0, '1')).rejects.toThrow(/no site nowhere/);
    expect((await admin.status('north'))[0]!.cursor).toBe(before);
  });

  it("a controller of another site never sees the site's revocations", async () => {
    const { credential } = await enrolledController(admin, hubA, 'south');
    const link = await TestLink.open(hubB, credential);
    const frames = await link.hello(0, 'south-2');
    const snapshot = frames.find((f) => f.type === 'snapshot')!;
    const subjects = (snapshot.revocations as Array<{ subject: string }>).map((r) => r.subject);
    expect(subjects).toContain('301');
    expect(subjects.filter((subject) => subject !== '301' && Number(subject) <= 1_000_000)).toEqual([]);
    const from = link.frames.length;
    await admin.revokeSubject('north', 3, '401');
    const mine = await admin.revokeSubject('south', 3, '402');
    const pushed = await link.next('changes', from, 1000);
    expect(pushed.items).toEqual([expect.objectContaining({ subject: '402', cursor: mine.cursor })]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(link.frames.slice(from).flatMap((f) => (f.items as Array<{ subject: string }> | undefined) ?? []).map((i) => i.subject)).toEqual(['402']);
    link.close();
  });
});
