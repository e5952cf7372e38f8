/**
 * PostgreSQL for the store: a pg pool (int8 parsed to numbers), read-only sessions for read-only
 * stores, and `synchronous_commit = on` set on every connection Postern opens, whatever the server
 * or database default says: a commit (an audit batch, a link's use) is on the server's disk when
 * its promise resolves.
 *
 * pg (and the claim, which uses it) is imported when a PostgreSQL store is opened or claimed, not
 * when this module is: openStore.ts imports it for every store, and loading pg costs about 50 ms
 * that a SQLite site (every CLI command on it) would pay for nothing.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';

import type { OpenStoreOptions, StoreBackend } from './storeBackend.ts';
import type { Database } from './schema.ts';
import { translateStoreError } from './storeErrors.ts';
import { poolApplicationName } from './postgresSessionNames.ts';
import { StoreProblems } from './storeProblems.ts';

const INT8_OID = 20;

function parseInt8(value: string): number {
  // Every int8 Postern stores is below 2^53 (ms timestamps, seqs, steps, uint32 ids).
  return Number(value);
}

/** Keeps pg's parsers except int8 (bigint, count(*)), which comes back as a number. */
function pgTypes(types: typeof pg.types): { getTypeParser: typeof pg.types.getTypeParser } {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID && format !== 'binary' ? parseInt8 : types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
}

export function describePostgresUrl(databaseUrl: string): { server: string; location: string } {
  try {
    const url = new URL(databaseUrl);
    const host = url.hostname || url.searchParams.get('host') || 'localhost';
    const port = url.port || '5432';
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    const server = `${host}:${port}`;
    return { server, location: `${server}/${database}` };
  } catch {
    return { server: '(unparsable DATABASE_URL)', location: '(unparsable DATABASE_URL)' };
  }
}

export function postgresBackend(options: OpenStoreOptions & { databaseUrl: string }): StoreBackend {
  const { server, location } = describePostgresUrl(options.databaseUrl);
  const readOnly = options.readOnly === true;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const backend: StoreBackend = {
    dialect: 'postgres',
    location,
    server,
    readOnly,
    problems: new StoreProblems(location, options.logger),
    translate: (error, op) => translateStoreError(error, backend, op),
    integrityCheck: async () => ({ status: 'skipped', reason: 'PostgreSQL checks its own pages' }),
    claim: async (siteId) =>
      (await import('./postgresClaim.ts')).claimPostgres({
        databaseUrl: options.databaseUrl,
        location,
        siteId,
        connectTimeoutMs,
        logger: options.logger,
        problems: backend.problems,
        translate: backend.translate,
      }),
    async open() {
      let pool: pg.Pool;
      try {
        const { default: driver } = await import('pg');
        pool = new driver.Pool({
          connectionString: options.databaseUrl,
          max: 10,
          connectionTimeoutMillis: connectTimeoutMs,
          // A server gone silent (network cut) fails queries instead of hanging them.
          keepAlive: true,
          query_timeout: options.queryTimeoutMs ?? 30_000,
          // Named after this process: a controller that claims the site after this one ends them (postgresClaim.ts).
          application_name: poolApplicationName(),
          types: pgTypes(driver.types),
          ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
        });
      } catch (error) {
        throw backend.translate(error, { what: 'open', write: false });
      }
      // An idle client that loses its server emits 'error' on the pool; unhandled, it would end
      // the process. The next query reports the problem as STORE_UNAVAILABLE instead.
      const lost = (error: Error) => options.logger?.warn({ err: error, server }, 'PostgreSQL connection lost');
      pool.on('error', lost);
      pool.on('connect', (client) => {
        // A client checked out when its server goes away emits 'error' on itself, not on the pool.
        client.on('error', lost);
        // Queued before any query the pool hands this client for (a client runs its queries in
        // order), so no statement of Postern's runs without it. A SET, not a startup option, so
        // that `options` in DATABASE_URL cannot override it. A failure shows on the next query.
        client.query('SET synchronous_commit = on').catch(() => undefined);
      });
      const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
      try {
        await sql`select 1`.execute(db);
      } catch (error) {
        await db.destroy().catch(() => undefined);
        throw backend.translate(error, { what: 'connect', write: false });
      }
      return db;
    },
  };
  return backend;
}
