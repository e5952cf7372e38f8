/**
 * The change feed's listening connection, orphaned: its server end gone without the hub being told
 * (a database failover during a partition, a NAT that forgot the idle connection). Unprobed, it
 * looked connected for hours while the hub pushed no revocation and heard no `!close`; probed, it
 * is found dead, made again, and what was missed is pushed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { adminUrl, createTestDatabase, databaseUrlThrough, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { startHubProxy, type HubProxy } from '../sync/hubProxy.ts';
import { enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub change feed probe', pgUp), () => {
  let db: TestDatabase;
  let admin: HubAdmin;
  let proxy: HubProxy;
  let hub: Hub;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = await HubAdmin.open(db.url);
    await admin.addSite('south');
    proxy = await startHubProxy(Number(new URL(adminUrl).port || 5432));
    hub = await startHub(databaseUrlThrough(db.url, proxy.port), { feedProbeMs: 300 });
  });
  afterAll(async () => {
    await hub?.stop();
    await proxy?.close();
    await admin?.close();
    await db?.drop();
  });

  /** Links again as a controller does, retrying while the hub answers 503 (its pool finding dead connections). */
  async function reopen(credential: string): Promise<TestLink> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await TestLink.open(hub, credential);
      } catch (error) {
        if (!/refused 503/.test((error as Error).message) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  it('finds an orphaned listening connection dead and listens again: revocations are pushed live after it', async () => {
    const { controllerId, credential } = await enrolledController(admin, hub, 'south');
    let link = await TestLink.open(hub, credential);
    await link.hello(0, controllerId);
    let from = link.frames.length;

    proxy.orphan();
    // Written on the database directly: only the hub's change feed can tell the hub of it.
    const first = await admin.revokeSubject('south', 0, '4242', 'while the feed was orphaned');
    // The pool's connections were orphaned too: the link may end on a query that found its
    // connection dead (1011), and a controller then links again and catches up.
    const got = await link.next(['changes', 'error'], from, 10_000);
    if (got.type === 'error') {
      await link.waitClosed();
      link = await reopen(credential);
      const catchUp = await link.hello(0, controllerId);
      const caughtUp = catchUp.flatMap((f) => (f.type === 'snapshot' ? (f.revocations as unknown[]) : f.type === 'changes' ? (f.items as unknown[]) : []));
      expect(caughtUp).toContainEqual(expect.objectContaining({ subject: '4242' }));
    } else {
      expect(got).toMatchObject({ cursor: first.cursor, items: [{ subject: '4242' }] });
    }

    // The proof that the feed listens again: a change now is pushed to the live link, with no hello.
    from = link.frames.length;
    const second = await admin.revokeSubject('south', 0, '4343', 'after');
    const pushed = await link.next('changes', from, 10_000);
    expect(pushed).toMatchObject({ cursor: second.cursor, items: [{ subject: '4343', kind: 'revocation' }] });
  });
});
