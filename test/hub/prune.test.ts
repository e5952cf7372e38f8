/** Pruning the change log: changes older than the window go, each site's newest stays; a controller behind the oldest kept change gets a snapshot. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { KEEP_CHANGES_MS } from '../../controller/hub/changeStore.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();
const DAY = 24 * 60 * 60 * 1000;

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub change pruning', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;
  let now = Date.now();

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url, { clock: () => now });
    await admin.addSite('east');
    await admin.addSite('quiet');
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  it('deletes changes older than 30 days but each site\'s newest; a cursor before the oldest kept change gets a snapshot', async () => {
    const { credential } = await enrolledController(admin, hub, 'east');
    const quiet = await enrolledController(admin, hub, 'quiet');
    // 40 days ago: three changes of east, two of quiet.
    now = Date.now() - 40 * DAY;
    const old1 = await admin.revokeSubject('east', 0, '1');
    await admin.revokeSubject('east', 0, '2');
    const old3 = await admin.revokeSubject('east', 0, '3');
    await admin.revokeSubject('quiet', 0, '10');
    const quietNewest = await admin.revokeSubject('quiet', 0, '11');
    // 29 days ago and today: kept.
    now = Date.now() - 29 * DAY;
    const kept = await admin.revokeSubject('east', 0, '4');
    now = Date.now();
    const newest = await admin.revokeSubject('east', 0, '5');

    // Before pruning, old1's cursor gets the changes after it.
    let link = await TestLink.open(hub, credential);
    expect((await link.hello(old1.cursor, 'east')).map((f) => f.type)).toEqual(['welcome', 'changes', 'synced']);
    link.close();

    expect(await admin.changes.prune()).toBe(3 + 1);
    expect(await admin.changes.prune(KEEP_CHANGES_MS)).toBe(0);
    expect((await admin.changes.changesAfter('east', 0)).map((c) => c.subject)).toEqual(['4', '5']);
    // quiet's changes are all old, but its newest stays: its cursor is not lost.
    expect((await admin.changes.changesAfter('quiet', 0)).map((c) => c.cursor)).toEqual([quietNewest.cursor]);

    // Behind the oldest kept change (its changes are gone): the whole set.
    for (const cursor of [old1.cursor, old3.cursor]) {
      link = await TestLink.open(hub, credential);
      const frames = await link.hello(cursor, 'east');
      link.close();
      expect(frames.map((f) => f.type)).toEqual(['welcome', 'snapshot', 'synced']);
      expect((frames[1]!.revocations as Array<{ subject: string }>).map((r) => r.subject).sort()).toEqual(['1', '2', '3', '4', '5']);
      expect(frames[1]).toMatchObject({ cursor: newest.cursor, last: true });
    }
    // At the oldest kept change: only what follows it.
    link = await TestLink.open(hub, credential);
    const frames = await link.hello(kept.cursor, 'east');
    link.close();
    expect(frames.map((f) => f.type)).toEqual(['welcome', 'changes', 'synced']);
    expect((frames[1]!.items as Array<{ subject: string }>).map((i) => i.subject)).toEqual(['5']);
    // quiet's controller at the newest cursor has nothing to catch up.
    link = await TestLink.open(hub, quiet.credential);
    expect((await link.hello(quietNewest.cursor, 'quiet')).map((f) => f.type)).toEqual(['welcome', 'synced']);
    link.close();
  });
});
