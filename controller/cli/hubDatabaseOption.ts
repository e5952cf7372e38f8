/**
 * The hub's database for a `postern hub` command that works on it directly (audit, account): from
 * --database-url or DATABASE_URL, a missing one being a usage error, closed when the work is done.
 */
import { openHubDatabase, requireDatabaseUrl, type HubDb } from '../hub/hubDatabase.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';

export async function withHubDatabase<T>(values: { databaseUrl?: string }, io: CliEnvironment, work: (db: HubDb) => Promise<T>): Promise<T> {
  let url: string;
  try {
    url = requireDatabaseUrl(values.databaseUrl ?? io.env.DATABASE_URL);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const db = await openHubDatabase(url);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}
