/**
 * A PostgreSQL commit of Postern's is durable whatever the database's default says: every
 * connection of the store sets synchronous_commit = on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import pg from 'pg';

import { postgresBackend } from '../../controller/store/openStore.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('PostgreSQL commits', pgUp), () => {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    // A database tuned for speed over safety: Postern's connections must not inherit it.
    await admin.query(`ALTER DATABASE "${database.name}" SET synchronous_commit = off`);
    await admin.end();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('sets synchronous_commit = on on every connection, even where the database default is off', async () => {
    const url = database?.url ?? '';
    const plain = new pg.Client({ connectionString: url });
    await plain.connect();
    expect((await plain.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('off');
    await plain.end();

    for (const readOnly of [false, true]) {
      const db = await postgresBackend({ databaseUrl: url, dataDir: '/nonexistent-unused', readOnly }).open();
      try {
        // Several at once, so that the pool opens several connections.
        const answers = await Promise.all(
          Array.from({ length: 5 }, () => sql<{ synchronous_commit: string }>`SELECT current_setting('synchronous_commit') AS synchronous_commit, pg_sleep(0.05)`.execute(db)),
        );
        expect(answers.map((a) => a.rows[0]?.synchronous_commit)).toEqual(Array(5).fill('on'));
      } finally {
        await db.destroy();
      }
    }
  });
});
