/**
 * PostgreSQL for tests: a throwaway database per suite on the server at POSTERN_TEST_PG_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres, trust auth).
 *
 * Suites that need PostgreSQL decide at load time (top-level await) and skip with a clear name
 * when it is not reachable, unless POSTERN_TEST_REQUIRE_ALL=1 (CI): then they run and fail.
 *
 *     const pgUp = await postgresAvailable();
 *     describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('store on PostgreSQL', pgUp), () => {
 *       let db: TestDatabase;
 *       beforeAll(async () => { db = await createTestDatabase(); });
 *       afterAll(async () => { await db?.drop(); });
 *     });
 */
import { randomBytes } from 'node:crypto';

import pg from 'pg';

export const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';

export const adminUrl = process.env.POSTERN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** host:port of the admin URL, for messages. */
export const postgresServer = (() => {
  try {
    const url = new URL(adminUrl);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return adminUrl;
  }
})();

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

let availability: Promise<boolean> | undefined;

async function connectAdmin(timeoutMs: number): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Whether the server answers (checked once per process, 3 s at most). */
export function postgresAvailable(): Promise<boolean> {
  availability ??= (async () => {
    try {
      const client = await connectAdmin(3000);
      try {
        await client.query('select 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch {
      return false;
    }
  })();
  return availability;
}

/** The describe name: says why the suite is skipped when the server is not there. */
export function postgresSuiteName(name: string, available: boolean): string {
  if (available) return name;
  return requireAll
    ? `${name} (PostgreSQL not reachable at ${postgresServer}, and POSTERN_TEST_REQUIRE_ALL=1: failing)`
    : `${name} (skipped: PostgreSQL not reachable at ${postgresServer}; set POSTERN_TEST_PG_URL or start it)`;
}

/** Creates postern_test_<random>; drop() removes it, closing connections left open. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `postern_test_${randomBytes(6).toString('hex')}`;
  let admin: pg.Client;
  try {
    admin = await connectAdmin(5000);
  } catch (error) {
    throw new Error(`PostgreSQL not reachable at ${postgresServer}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      const client = await connectAdmin(5000);
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}

/** The same database reached through a TCP proxy on 127.0.0.1 at `port` (to cut or orphan it under a test). */
export function databaseUrlThrough(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}
