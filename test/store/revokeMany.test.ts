/** Store.revokeMany (a hub snapshot's chunk): one transaction, those revoked already skipped, the site's links stamped; SQLite and PostgreSQL. */
import { afterAll, describe, expect, it } from 'vitest';

import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/testSite.ts';

const pgUp = await postgresAvailable();
const databases: TestDatabase[] = [];
afterAll(async () => {
  for (const db of databases) await db.drop();
});

async function check(store: Store): Promise<void> {
  await store.start();
  try {
    await store.createLink({ id: '3', name: 'badge', email: null, scope: 1, notBefore: 0, notAfter: 0xffffffff, onlineOnly: false, maxUses: null, createdBy: 'test' });
    await store.revoke(2, '2', 'here first');
    // More than one INSERT's worth (500 rows), with a subject revoked already and a link of the site.
    const items = Array.from({ length: 1203 }, (_, i) => ({ issuer: i % 3, subject: String(i), reason: i % 2 === 0 ? 'lost' : null }));
    expect(await store.revokeMany(items)).toBe(1202);
    expect(await store.revokeMany(items.slice(0, 10))).toBe(0);
    expect(await store.revokeMany([])).toBe(0);
    for (const item of [items[0]!, items[600]!, items[1202]!]) expect(await store.isRevoked(item.issuer, item.subject)).toBe(true);
    expect(await store.isRevoked(1, '0')).toBe(false);
    expect((await store.getLink('3'))?.revokedAt).not.toBeNull();
    await expect(store.revokeMany([{ issuer: 0, subject: '007', reason: null }])).rejects.toThrow(/unsigned 64-bit/);
  } finally {
    await store.stop();
  }
}

describe('revokeMany', () => {
  it('on SQLite', async () => {
    await check(openStore({ dataDir: await tempDir('postern-revoke-many-') }));
  });

  it.skipIf(!pgUp && !requireAll)(postgresSuiteName('on PostgreSQL', pgUp), async () => {
    const db = await createTestDatabase();
    databases.push(db);
    await check(openStore({ dataDir: await tempDir('postern-revoke-many-'), databaseUrl: db.url }));
  });
});
