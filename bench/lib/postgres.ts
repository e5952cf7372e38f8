/**
 * PostgreSQL for benchmarks: a throwaway database with a random name on the server at
 * POSTERN_BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres, trust auth),
 * created by the benchmark and dropped when it ends.
 */
import { randomBytes } from 'node:crypto';

import pg from 'pg';

export const adminUrl = process.env.POSTERN_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function postgresServer(): string {
  try {
    const url = new URL(adminUrl);
    return `${url.hostname}:${url.port || '5432'}`;
  } catch {
    return adminUrl;
  }
}

async function connect(url: string, timeoutMs = 3000): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The server version ("15.20"), or null when the server does not answer. */
export async function postgresVersion(): Promise<string | null> {
  try {
    const client = await connect(adminUrl);
    try {
      const result = await client.query<{ server_version: string }>('SHOW server_version');
      return result.rows[0]?.server_version ?? 'unknown';
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch {
    return null;
  }
}

export interface BenchDatabase {
  url: string;
  name: string;
  /** A client on the database itself, for bulk loading; closed by drop(). */
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

const open = new Set<BenchDatabase>();

/** Drops every database still open (for SIGINT). */
export async function dropAll(): Promise<void> {
  for (const db of [...open]) await db.drop().catch(() => undefined);
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `postern_bench_${randomBytes(6).toString('hex')}`;
  const admin = await connect(adminUrl, 5000);
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const clients: pg.Client[] = [];
  let dropped = false;
  const db: BenchDatabase = {
    url: url.toString(),
    name,
    async client() {
      const client = await connect(url.toString(), 5000);
      clients.push(client);
      return client;
    },
    async drop() {
      if (dropped) return;
      dropped = true;
      open.delete(db);
      for (const client of clients.splice(0)) await client.end().catch(() => undefined);
      const again = await connect(adminUrl, 5000);
      try {
        await again.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await again.end().catch(() => undefined);
      }
    },
  };
  open.add(db);
  return db;
}
