/**
 * A large snapshot over the real hub and a real SyncLink with a SQLite store: 50,000 revocations
 * arrive in chunks under the frame limit, every one is enforced, the snapshot is recorded by one
 * audit event, and a link lost mid-snapshot starts it again without moving the cursor early.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { CURSOR_SETTING, HUB_REVOKE, HUB_SNAPSHOT } from '../../controller/sync/applyChanges.ts';
import { SyncLink } from '../../controller/sync/syncLink.ts';
import { MAX_FRAME_BYTES } from '../../controller/sync/syncFrames.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/testSite.ts';
import { enrolledController, hubUrl, startHub, TestLink } from '../hub/hubHarness.ts';
import { until } from './fakeHub.ts';

const pgUp = await postgresAvailable();

/** The store with some methods replaced; the rest called on the store itself (its private fields need it). */
function wrapStore(store: Store, overrides: Partial<Store>): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop in overrides) return overrides[prop as keyof Store];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
const COUNT = 50_000;
const FAST = { backoffBaseMs: 50, backoffMaxMs: 100, heartbeatMs: 500, silenceMs: 10_000, random: () => 1 };

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub snapshot in chunks', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;
  let cursor: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('big');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // As another process would write them: 50,000 revocations, with reasons, across two issuers.
      await client.query(`INSERT INTO hub_revocations (site_id, issuer, subject, revoked_at, reason) SELECT 'big', n % 2, (1000000 + n)::text, 0, 'bulk ' || n FROM generate_series(1, ${COUNT}) n`);
    } finally {
      await client.end();
    }
    cursor = (await admin.revokeSubject('big', 0, '7', 'last one')).cursor;
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  async function controller(credential: string, wrap: (store: Store) => Store = (s) => s) {
    const dir = await tempDir('postern-snapshot-');
    const store = openStore({ dataDir: dir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'big' });
    await audit.start();
    const credentialFile = path.join(dir, 'hub-credential');
    await writeFile(credentialFile, `${credential}\n`);
    const link = new SyncLink({ hub: { url: hubUrl(hub) }, credentialFile, store: wrap(store), audit, logger: createLogger('silent'), timing: FAST });
    return {
      store,
      audit,
      link,
      stop: async () => {
        await link.stop();
        await audit.stop();
        await store.stop();
      },
    };
  }

  it('sends 50,001 revocations in chunks of at most 5,000, each under the frame limit, the last one marked', async () => {
    const { credential } = await enrolledController(admin, hub, 'big');
    const link = await TestLink.open(hub, credential);
    const frames = await link.hello(0, 'big-raw');
    link.close();
    const chunks = frames.filter((f) => f.type === 'snapshot');
    expect(chunks).toHaveLength(Math.ceil((COUNT + 1) / 5000));
    for (const chunk of chunks) {
      expect((chunk.revocations as unknown[]).length).toBeLessThanOrEqual(5000);
      expect(Buffer.byteLength(JSON.stringify(chunk))).toBeLessThan(MAX_FRAME_BYTES);
      expect(chunk.cursor).toBe(cursor);
    }
    expect(chunks.map((c) => c.last)).toEqual([...chunks.slice(1).map(() => false), true]);
    const subjects = new Set(chunks.flatMap((c) => (c.revocations as Array<{ issuer: number; subject: string }>).map((r) => `${r.issuer}:${r.subject}`)));
    expect(subjects.size).toBe(COUNT + 1);
    expect(frames.at(-1)).toEqual({ type: 'synced', cursor });
  }, 60_000);

  it('a new controller enforces all of them, records one sync.snapshot event, and a link lost mid-snapshot starts it again', async () => {
    const { credential } = await enrolledController(admin, hub, 'big');
    const calls: string[] = [];
    let chunksApplied = 0;
    const c = await controller(credential, (store) =>
      wrapStore(store, {
        revokeMany: async (items: Parameters<Store['revokeMany']>[0]) => {
          chunksApplied += 1;
          calls.push(`chunk ${items.length}`);
          // The third chunk fails once: the link ends there, as a lost link would, mid-snapshot.
          if (chunksApplied === 3) throw new Error('disk hiccup');
          return store.revokeMany(items);
        },
        putSetting: async (key: string, value: string) => {
          if (key === CURSOR_SETTING) calls.push(`cursor ${value}`);
          return store.putSetting(key, value);
        },
      }),
    );
    try {
      await c.link.start();
      await until(() => c.link.status()?.state === 'live', 60_000, 'live');
      // 2 chunks applied, the 3rd failed; then the whole snapshot again (11 chunks), then the cursor once.
      const chunkCalls = calls.filter((call) => call.startsWith('chunk'));
      expect(chunkCalls).toHaveLength(3 + 11);
      expect(calls.filter((call) => call.startsWith('cursor'))).toEqual([`cursor ${cursor}`]);
      expect(calls.indexOf(`cursor ${cursor}`)).toBe(calls.length - 1);
      expect(await c.store.getSetting(CURSOR_SETTING)).toBe(String(cursor));
      for (const n of [1, 2, 12_345, 25_000, 49_999, COUNT]) expect(await c.store.isRevoked(n % 2, String(1_000_000 + n))).toBe(true);
      expect(await c.store.isRevoked(0, '7')).toBe(true);
      expect(await c.store.isRevoked(1, '1000002')).toBe(false);
      const events = await c.store.queryAudit({ controllerId: 'big' });
      expect(events.filter((e) => e.reason === HUB_REVOKE)).toEqual([]);
      const snapshots = events.filter((e) => e.reason === HUB_SNAPSHOT);
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]).toMatchObject({ type: 'system', actor: 'hub', data: { cursor, revocations: COUNT + 1, revoked: COUNT + 1 - 2 * 5000 } });
      // Live after it: a new revocation comes as a change with its own audit event.
      const next = await admin.revokeSubject('big', 1, '99', 'after');
      await until(async () => c.store.isRevoked(1, '99'), 5000, 'the change after the snapshot');
      await until(async () => (await c.store.getSetting(CURSOR_SETTING)) === String(next.cursor), 5000, 'its cursor');
      expect((await c.store.queryAudit({ controllerId: 'big' })).filter((e) => e.reason === HUB_REVOKE).map((e) => e.subject)).toEqual(['99']);
    } finally {
      await c.stop();
    }
  }, 120_000);
});

describe('a snapshot cut short by the hub', () => {
  it('is never taken as complete: `synced` before the last chunk ends the link and the cursor stays', async () => {
    const { WebSocketServer } = await import('ws');
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (ws) => {
      ws.on('message', () => {
        ws.send(JSON.stringify({ type: 'welcome', siteId: 'big', controllerId: 'c', hubTime: Date.now(), auditAcked: 0 }));
        ws.send(JSON.stringify({ type: 'snapshot', cursor: 9, last: false, revocations: [{ issuer: 0, subject: '1', revokedAt: 1, reason: null }] }));
        ws.send(JSON.stringify({ type: 'synced', cursor: 9 }));
      });
    });
    const dir = await tempDir('postern-snapshot-');
    const store = openStore({ dataDir: dir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'big' });
    await audit.start();
    const credentialFile = path.join(dir, 'hub-credential');
    await writeFile(credentialFile, 'pstc_0123456789abcdef0123456789abcdef\n');
    const port = (wss.address() as { port: number }).port;
    const link = new SyncLink({ hub: { url: `http://127.0.0.1:${port}` }, credentialFile, store, audit, logger: createLogger('silent'), timing: FAST });
    try {
      await link.start();
      await until(() => link.status()?.lastError?.includes('before the last chunk'), 5000, 'the refusal');
      expect(await store.isRevoked(0, '1')).toBe(true);
      expect(await store.getSetting(CURSOR_SETTING)).toBeUndefined();
      expect(link.status()!.state).not.toBe('live');
    } finally {
      await link.stop();
      await audit.stop();
      await store.stop();
      for (const ws of wss.clients) ws.terminate();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
