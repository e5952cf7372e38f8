/**
 * Applies the migrations of migrations.ts at start, then proves that the database can be written,
 * so that a read-only file fails at start and not on the first scan.
 */
import { Migrator, type Kysely, type MigrationProvider } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrations } from './migrations.ts';
import type { StoreBackend } from './storeBackend.ts';
import type { Database } from './schema.ts';

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
};

export async function migrateToLatest(db: Kysely<Database>, backend: StoreBackend): Promise<void> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const op = { what: 'migrate', write: true };

  if (backend.readOnly) {
    let pending: string[];
    try {
      pending = (await migrator.getMigrations()).filter((m) => m.executedAt === undefined).map((m) => m.name);
    } catch (error) {
      throw backend.translate(error, { what: 'migrate', write: false });
    }
    if (pending.length > 0) {
      throw new PosternError(
        ErrorCodes.STORE_READ_ONLY,
        `${backend.location} needs migration ${pending.join(', ')} but the store was opened read-only`,
        { details: { dialect: backend.dialect, location: backend.location, operation: 'migrate', pending } },
      );
    }
    return;
  }

  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    const translated = backend.translate(error, op);
    if (failed !== undefined && translated.code !== ErrorCodes.STORE_READ_ONLY) {
      throw new PosternError(translated.code, `migration ${failed} failed: ${translated.message}`, {
        cause: error,
        details: translated.details,
      });
    }
    throw translated;
  }
}

class ProbeRollback extends Error {}

/**
 * Writes a row in a transaction and rolls it back: fails with STORE_READ_ONLY on a read-only file
 * or directory (including WAL files that cannot be created) or a read-only PostgreSQL server.
 */
export async function probeWrite(db: Kysely<Database>, backend: StoreBackend): Promise<void> {
  try {
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('settings')
        .values({ key: 'postern.writeProbe', value: String(Date.now()) })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      throw new ProbeRollback('rollback');
    });
  } catch (error) {
    if (error instanceof ProbeRollback) return;
    throw backend.translate(error, { what: 'write probe', write: true });
  }
}
