/**
 * The `confirm` frame at a real hub, from raw WebSocket controllers (docs/sync.md, "Confirmations"):
 * answered once the hello bound the link, beside the snapshot; keyed by the link's own site (a
 * controller of another site cannot move or read this site's counts); `busy` beyond 64 in flight;
 * a malformed confirm ends the link with a protocol error.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { MAX_CONFIRMS_IN_FLIGHT } from '../../controller/hub/syncSession.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrolledController, startHub, TestLink, type Frame } from './hubHarness.ts';

const pgUp = await postgresAvailable();

/** The hub's count of a code at a site, read straight from its table (undefined: it does not know it). */
async function counted(url: string, site: string, issuer: number, subject: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ uses: string }>('select uses from hub_online_uses where site_id = $1 and issuer = $2 and subject = $3', [site, issuer, subject]);
    return rows[0] === undefined ? undefined : Number(rows[0].uses);
  } finally {
    await client.end();
  }
}

/** The answer to confirm `id`, waiting for it. */
async function answer(link: TestLink, id: number, ms = 5000): Promise<Frame> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = link.frames.find((f) => f.type === 'confirmed' && f.id === id);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no answer to confirm ${id}; got ${JSON.stringify(link.frames.slice(-5))}`);
    if (link.closed !== undefined) throw new Error(`link closed (${link.closed.code}) before the answer to confirm ${id}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('confirms at the hub', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('alpha');
    await admin.addSite('beta');
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  it("counts a site link's uses across two controllers of the site, and answers revoked for one the hub revoked", async () => {
    const first = await TestLink.open(hub, (await enrolledController(admin, hub, 'alpha')).credential);
    const second = await TestLink.open(hub, (await enrolledController(admin, hub, 'alpha')).credential);
    await first.hello(0, 'alpha-1');
    await second.hello(0, 'alpha-2');
    first.send({ type: 'confirm', id: 1, issuer: 0, subject: '900', maxUses: 2 });
    expect(await answer(first, 1)).toEqual({ type: 'confirmed', id: 1, answer: 'ok', uses: 1 });
    // The other controller does not hold the link: it sends no limit, and is counted against it.
    second.send({ type: 'confirm', id: 1, issuer: 0, subject: '900' });
    expect(await answer(second, 1)).toEqual({ type: 'confirmed', id: 1, answer: 'ok', uses: 2 });
    first.send({ type: 'confirm', id: 2, issuer: 0, subject: '900', maxUses: 2 });
    expect(await answer(first, 2)).toMatchObject({ answer: 'exhausted' });
    second.send({ type: 'confirm', id: 2, issuer: 0, subject: '901' });
    expect(await answer(second, 2)).toMatchObject({ answer: 'unknown' });
    await admin.revokeSubject('alpha', 0, '902', 'lost');
    first.send({ type: 'confirm', id: 3, issuer: 0, subject: '902', maxUses: null });
    expect(await answer(first, 3)).toMatchObject({ answer: 'revoked' });
    first.close();
    second.close();
  });

  it("a hostile controller of another site, confirming this site's subject, neither moves nor reads its count", async () => {
    const home = await TestLink.open(hub, (await enrolledController(admin, hub, 'alpha')).credential);
    const hostile = await TestLink.open(hub, (await enrolledController(admin, hub, 'beta')).credential);
    await home.hello(0, 'alpha-home');
    await hostile.hello(0, 'beta-1');
    home.send({ type: 'confirm', id: 1, issuer: 0, subject: '910', maxUses: 1 });
    expect(await answer(home, 1)).toMatchObject({ answer: 'ok', uses: 1 });
    // Beta's controller learns nothing of alpha's link: unknown, not exhausted.
    hostile.send({ type: 'confirm', id: 1, issuer: 0, subject: '910' });
    expect(await answer(hostile, 1)).toEqual({ type: 'confirmed', id: 1, answer: 'unknown' });
    // With a limit it only makes a count of its own site; alpha's stays as it was.
    for (let id = 2; id < 6; id++) hostile.send({ type: 'confirm', id, issuer: 0, subject: '910', maxUses: 100 });
    // Confirms in flight together are answered in any order: the counts are 1 to 4 among them.
    const four = await Promise.all([2, 3, 4, 5].map((id) => answer(hostile, id)));
    expect(four.map((f) => f.uses).sort()).toEqual([1, 2, 3, 4]);
    // A site named in the frame is no part of the protocol and goes unheard: the link's own site is counted.
    hostile.send({ type: 'confirm', id: 6, issuer: 0, subject: '910', siteId: 'alpha' });
    expect(await answer(hostile, 6)).toMatchObject({ answer: 'ok', uses: 5 });
    expect(await counted(db.url, 'alpha', 0, '910')).toBe(1);
    expect(await counted(db.url, 'beta', 0, '910')).toBe(5);
    hostile.close();
    home.send({ type: 'confirm', id: 2, issuer: 0, subject: '910', maxUses: 1 });
    expect(await answer(home, 2)).toMatchObject({ answer: 'exhausted' });
    home.close();
  });

  it(`answers busy beyond ${MAX_CONFIRMS_IN_FLIGHT} confirms in flight, and every confirm it took once the database answers`, async () => {
    const link = await TestLink.open(hub, (await enrolledController(admin, hub, 'alpha')).credential);
    await link.hello(0, 'alpha-busy');
    // Hold the table: the confirms the hub takes wait on the database, in flight.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table hub_online_uses in access exclusive mode');
      const total = MAX_CONFIRMS_IN_FLIGHT + 36;
      for (let id = 1; id <= total; id++) link.send({ type: 'confirm', id, issuer: 0, subject: String(5000 + id), maxUses: 1 });
      // The ones beyond the bound are answered at once, without the database.
      for (let id = MAX_CONFIRMS_IN_FLIGHT + 1; id <= total; id++) expect(await answer(link, id)).toEqual({ type: 'confirmed', id, answer: 'busy' });
      expect(link.frames.filter((f) => f.type === 'confirmed' && (f.id as number) <= MAX_CONFIRMS_IN_FLIGHT)).toEqual([]);
      await blocker.query('commit');
      for (let id = 1; id <= MAX_CONFIRMS_IN_FLIGHT; id++) expect(await answer(link, id)).toMatchObject({ answer: 'ok', uses: 1 });
      // Room again once answered.
      link.send({ type: 'confirm', id: total + 1, issuer: 0, subject: '5001', maxUses: 1 });
      expect(await answer(link, total + 1)).toMatchObject({ answer: 'exhausted' });
    } finally {
      await blocker.end();
    }
    link.close();
  });

  it("is answered while the link's catch-up still waits on the database: beside the queue, not behind it", async () => {
    const link = await TestLink.open(hub, (await enrolledController(admin, hub, 'alpha')).credential);
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      // The catch-up after the welcome reads the change log first: it waits here.
      await blocker.query('lock table hub_changes in access exclusive mode');
      link.send({ type: 'hello', cursor: 0, chain: 'alpha-queue', time: Date.now() });
      await link.next('welcome');
      link.send({ type: 'confirm', id: 1, issuer: 0, subject: '920', maxUses: 3 });
      expect(await answer(link, 1)).toMatchObject({ answer: 'ok', uses: 1 });
      expect(link.frames.map((f) => f.type)).toEqual(['welcome', 'confirmed']);
      await blocker.query('commit');
      await link.next('synced');
    } finally {
      await blocker.end();
    }
    link.close();
  });

  it('a malformed confirm, or one before the hello, ends the link with a protocol error', async () => {
    const { credential } = await enrolledController(admin, hub, 'alpha');
    const malformed = [
      { type: 'confirm', id: 1, issuer: 70_000, subject: '1' },
      { type: 'confirm', id: 1, issuer: 0, subject: '01' },
      { type: 'confirm', id: 1, issuer: 0, subject: '1', maxUses: 0 },
      { type: 'confirm', id: -1, issuer: 0, subject: '1' },
      { type: 'confirm', issuer: 0, subject: '1' },
    ];
    for (const [n, frame] of malformed.entries()) {
      const link = await TestLink.open(hub, credential);
      await link.hello(0, 'alpha-bad');
      link.send(frame);
      const error = await link.next('error');
      expect(error).toMatchObject({ code: 'hub.protocol' });
      expect((await link.waitClosed()).code, `frame ${n}`).toBe(1008);
      expect(link.frames.some((f) => f.type === 'confirmed')).toBe(false);
    }
    const early = await TestLink.open(hub, credential);
    early.send({ type: 'confirm', id: 1, issuer: 0, subject: '1', maxUses: 1 });
    expect(await early.next('error')).toMatchObject({ code: 'hub.protocol', message: 'hello is the first frame' });
    expect((await early.waitClosed()).code).toBe(1008);
    expect(await counted(db.url, 'alpha', 0, '1')).toBeUndefined();
  });
});
