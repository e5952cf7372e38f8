/** Enrolment tokens in the store, on SQLite and PostgreSQL: created once, consumed once. */
import { afterEach, describe, expect, it } from 'vitest';
import { hashEnrolToken, newEnrolToken } from '../../controller/badge/enrolment.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/testSite.ts';

const pgUp = await postgresAvailable();

for (const dialect of ['sqlite', 'postgres'] as const) {
  const skip = dialect === 'postgres' && !pgUp && !requireAll;
  const name = dialect === 'postgres' ? postgresSuiteName('enrolments on PostgreSQL', pgUp) : 'enrolments on SQLite';
  describe.skipIf(skip)(name, () => {
    let store: Store | undefined;
    let database: TestDatabase | undefined;

    afterEach(async () => {
      await store?.stop();
      await database?.drop();
      store = undefined;
      database = undefined;
    });

    async function open(): Promise<Store> {
      if (dialect === 'postgres') database = await createTestDatabase();
      store = openStore({ dataDir: await tempDir('postern-enrol-'), databaseUrl: database?.url });
      await store.start();
      return store;
    }

    it('consumes a token once, and names why it refuses', async () => {
      const s = await open();
      const secret = Buffer.alloc(32, 7);
      await s.createCredential({ id: '123456789012', name: 'Ada', scope: 7, createdBy: 'test', secret });
      const token = newEnrolToken();
      const now = Date.now();
      await s.createEnrolment({ tokenHash: hashEnrolToken(token), credentialId: '123456789012', expiresAt: now + 60_000 });
      await expect(s.createEnrolment({ tokenHash: hashEnrolToken(token), credentialId: '123456789012', expiresAt: now })).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFLICT' });
      await expect(s.createEnrolment({ tokenHash: hashEnrolToken('x'), credentialId: '99', expiresAt: now })).rejects.toMatchObject({ code: 'POSTERN_ERR_NOT_FOUND' });

      const results = await Promise.all([s.consumeEnrolment(hashEnrolToken(token), now), s.consumeEnrolment(hashEnrolToken(token), now)]);
      const ok = results.filter((r) => r.status === 'ok');
      expect(ok).toHaveLength(1);
      expect(ok[0]).toMatchObject({ status: 'ok', secret, credential: { id: '123456789012', name: 'Ada', scope: 7 } });
      expect(results.map((r) => r.status).sort()).toEqual(['ok', 'used']);
      expect(await s.consumeEnrolment(hashEnrolToken('never made'), now)).toEqual({ status: 'unknown' });
      expect(await s.consumeEnrolment('not a hash', now)).toEqual({ status: 'unknown' });

      const late = newEnrolToken();
      await s.createEnrolment({ tokenHash: hashEnrolToken(late), credentialId: '123456789012', expiresAt: now + 1000 });
      expect(await s.consumeEnrolment(hashEnrolToken(late), now + 1000)).toEqual({ status: 'expired' });

      const afterRevoke = newEnrolToken();
      await s.createEnrolment({ tokenHash: hashEnrolToken(afterRevoke), credentialId: '123456789012', expiresAt: now + 60_000 });
      await s.revoke(0, '123456789012', null);
      expect(await s.consumeEnrolment(hashEnrolToken(afterRevoke), now)).toEqual({ status: 'revoked' });
    });
  });
}
