/**
 * The hub's database: migrations that any number of processes may run at once, and the change
 * trigger that notifies every hub of a change however it was written.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hubMigrations } from '../../controller/hub/hubMigrations.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub database', pgUp), () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates once when several processes open a new database at the same moment, and again is a no-op', async () => {
    const admins = await Promise.all(Array.from({ length: 4 }, () => HubAdmin.open(db.url)));
    const again = await HubAdmin.open(db.url);
    try {
      const applied = await again.store.db.selectFrom('hub_migration' as never).select('name' as never).execute();
      // Each migration once, in order, however many processes ran them.
      expect(applied).toEqual(Object.keys(hubMigrations).sort().map((name) => ({ name })));
      await admins[0]!.addSite('one');
      expect((await again.status()).map((s) => s.id)).toEqual(['one']);
    } finally {
      await Promise.all([...admins, again].map((a) => a.close()));
    }
  });

  it('a change written straight into the database by another process reaches a connected controller', async () => {
    let hub: Hub | undefined;
    const admin = await HubAdmin.open(db.url);
    try {
      await admin.addSite('raw');
      hub = await startHub(db.url);
      const { credential } = await enrolledController(admin, hub, 'raw');
      const link = await TestLink.open(hub, credential);
      await link.hello(0, 'raw');
      const from = link.frames.length;
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query(`INSERT INTO hub_changes (site_id, kind, body, created_at) VALUES ('raw', 'revocation', '{"issuer": 2, "subject": "501", "revokedAt": 5, "reason": null}', 5)`);
      } finally {
        await client.end();
      }
      const pushed = await link.next('changes', from, 1000);
      expect(pushed.items).toEqual([{ cursor: pushed.cursor, kind: 'revocation', issuer: 2, subject: '501', revokedAt: 5, reason: null }]);
      link.close();
    } finally {
      await hub?.stop();
      await admin.close();
    }
  });

  it('a change feed that loses its connection listens again, and catches up on what it missed', async () => {
    const admin = await HubAdmin.open(db.url);
    const hub = await startHub(db.url);
    try {
      await admin.addSite('flaky');
      const { credential } = await enrolledController(admin, hub, 'flaky');
      const link = await TestLink.open(hub, credential);
      await link.hello(0, 'flaky');
      const from = link.frames.length;
      const ended = await sql<{ ended: boolean }>`
        select pg_terminate_backend(pid) as ended from pg_stat_activity
        where datname = ${db.name} and application_name = 'postern-hub-feed'`.execute(admin.store.db);
      expect(ended.rows).toEqual([{ ended: true }]);
      // Made while the hub hears nothing: delivered once the feed is back (its first retry is after 1 s).
      const missed = await admin.revokeSubject('flaky', 0, '601');
      const pushed = await link.next('changes', from, 5000);
      expect(pushed).toMatchObject({ cursor: missed.cursor, items: [expect.objectContaining({ subject: '601' })] });
      // And it listens again: the next change is pushed at once.
      const next = await admin.revokeSubject('flaky', 0, '602');
      expect(await link.next('changes', link.frames.indexOf(pushed) + 1, 1000)).toMatchObject({ cursor: next.cursor });
      link.close();
    } finally {
      await hub.stop();
      await admin.close();
    }
  });

  it('stop() leaves nothing open: a stopped hub refuses connections and its links are closed', async () => {
    const admin = await HubAdmin.open(db.url);
    const hub = await startHub(db.url);
    try {
      await admin.addSite('stop');
      const { credential } = await enrolledController(admin, hub, 'stop');
      const link = await TestLink.open(hub, credential);
      await link.hello(0, 'stop');
      const { port } = hub.address();
      // A second hub on the same port fails to start, and says why.
      const clash = startHub(db.url, { port });
      await expect(clash).rejects.toThrow(/EADDRINUSE/);
      await hub.stop();
      expect((await link.waitClosed(2000)).code).toBe(1001);
      await expect(fetch(`http://127.0.0.1:${port}/enrol`, { method: 'POST', body: '{}' })).rejects.toThrow();
    } finally {
      await admin.close();
    }
  });
});
