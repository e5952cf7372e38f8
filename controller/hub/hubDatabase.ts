/**
 * The hub's connection pool: pg with int8 parsed to numbers (every bigint of the hub, cursors, seqs
 * and ms times, stays below 2^53), wrapped in Kysely, migrated before use.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Logger } from '../logger.ts';
import { describePostgresUrl } from '../store/postgresBackend.ts';
import { migrateHub } from './hubMigrations.ts';
import type { HubDatabase } from './hubSchema.ts';

const INT8_OID = 20;

export type HubDb = Kysely<HubDatabase>;

/** pg's parsers, except int8 as a number. */
export const hubPgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export function requireDatabaseUrl(databaseUrl: string | undefined): string {
  if (databaseUrl === undefined || databaseUrl === '') {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'the hub needs a PostgreSQL database: pass --database-url or set DATABASE_URL');
  }
  return databaseUrl;
}

/** Opens, checks and migrates the hub database; the caller destroys it. */
export async function openHubDatabase(databaseUrl: string, logger?: Logger): Promise<HubDb> {
  const { location } = describePostgresUrl(databaseUrl);
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5000,
    keepAlive: true,
    query_timeout: 30_000,
    application_name: 'postern-hub',
    types: hubPgTypes,
  });
  // A client that loses its server emits 'error': on the pool while idle, on the client itself
  // while a query has it checked out (the query is rejected too). Unheard, either would end the
  // process; the pool drops the broken client on its release.
  const lost = (error: Error) => logger?.warn({ err: error, location }, 'hub database connection lost');
  pool.on('error', lost);
  pool.on('connect', (client) => client.on('error', lost));
  const db = new Kysely<HubDatabase>({ dialect: new PostgresDialect({ pool }) });
  try {
    await sql`select 1`.execute(db);
    await migrateHub(db);
  } catch (error) {
    await db.destroy().catch(() => undefined);
    if (error instanceof PosternError) throw error;
    throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `hub database ${location}: ${(error as Error).message}`, { cause: error });
  }
  return db;
}
