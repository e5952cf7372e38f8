/**
 * Applies the migrations of migrations.ts at start, then proves that the database can be written,
 * so that a read-only file fails at start and not on the first scan.
 *
 * Before anything runs, the schema history (the migration table) is read:
 * - a migration this code does not know means a newer Postern wrote the store: refused with
 *   STORE_TOO_NEW (never migrated, never written), naming the version that last migrated it when
 *   the store says (setting `postern.migratedBy`, written whenever migrations run);
 * - no history at all is a new, empty store: made only when the caller allows it (`create`), else
 *   refused with STORE_UNAVAILABLE "no store at ...".
 */
import { Migrator, sql, type Kysely, type MigrationProvider } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { VERSION } from '../version.ts';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrations } from './migrations.ts';
import type { StoreBackend } from './storeBackend.ts';
import type { StoreLocation } from './storeErrors.ts';
import type { Database } from './schema.ts';

const provider: MigrationProvider = {
  getMigrations: async () => migrations,
};

/** The newest migration this code knows: the store's schema version, as written by this release. */
export const SCHEMA_VERSION: string = Object.keys(migrations).sort().at(-1)!;

/** The setting that names the Postern version that last ran migrations on the store. */
export const MIGRATED_BY_SETTING = 'postern.migratedBy';

/** STORE_UNAVAILABLE for a store that is not there and may not be made (`create: false`). */
export function noStoreError(where: StoreLocation): PosternError {
  return new PosternError(ErrorCodes.STORE_UNAVAILABLE, `no store at ${where.location}: run \`postern start\` first, or pass --create`, {
    details: { dialect: where.dialect, location: where.location, operation: 'open' },
  });
}

/**
 * The names of the migrations applied to the store, in name order; empty when it has no schema
 * history (a new database, or one that is not Postern's).
 */
export async function readSchemaHistory(db: Kysely<Database>, dialect: StoreLocation['dialect']): Promise<string[]> {
  // The migration table is not part of Database: queried by name, untyped.
  const present =
    dialect === 'sqlite'
      ? (await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(db)).rows[0]?.n === 1
      : (await sql<{ present: boolean }>`select to_regclass(${MIGRATION_TABLE}::text) is not null as present`.execute(db)).rows[0]?.present === true;
  if (!present) return [];
  const rows = (await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db)).rows;
  return rows.map((row) => row.name);
}

/** The Postern version the store says last migrated it, when it says. */
async function migratedBy(db: Kysely<Database>): Promise<string | undefined> {
  try {
    const row = await db.selectFrom('settings').select('value').where('key', '=', MIGRATED_BY_SETTING).executeTakeFirst();
    return row?.value;
  } catch {
    return undefined;
  }
}

/** The applied migrations this code does not know: a newer Postern wrote the store when any. */
export function unknownMigrations(applied: readonly string[]): string[] {
  return applied.filter((name) => !Object.hasOwn(migrations, name));
}

/** STORE_TOO_NEW for a store whose history has migrations this code does not know. */
export function storeTooNewError(where: StoreLocation, applied: readonly string[], migratedByVersion?: string): PosternError {
  const unknown = unknownMigrations(applied);
  return new PosternError(
    ErrorCodes.STORE_TOO_NEW,
    `${where.location} was written by a newer version of Postern${migratedByVersion !== undefined ? ` (${migratedByVersion})` : ''}: its schema has migration(s) ` +
      `${unknown.join(', ')}, which Postern ${VERSION} does not know (its newest is ${SCHEMA_VERSION}). ` +
      'It was not opened, and nothing was changed: run the newer Postern, or restore a backup made by this version (docs/backup.md)',
    { details: { dialect: where.dialect, location: where.location, operation: 'migrate', unknown, applied: [...applied], schemaVersion: SCHEMA_VERSION, migratedBy: migratedByVersion } },
  );
}

/** Refuses (STORE_TOO_NEW) a history with a migration this code does not know. */
export async function checkSchemaHistory(db: Kysely<Database>, where: StoreLocation, applied: readonly string[]): Promise<void> {
  if (unknownMigrations(applied).length === 0) return;
  throw storeTooNewError(where, applied, await migratedBy(db));
}

export interface MigrateOptions {
  /** Whether a store with no schema history may be made here (default true). */
  create?: boolean;
}

export interface MigrateResult {
  /** The store had no schema history: this call made a new, empty one. */
  created: boolean;
  /** The migrations this call applied. */
  applied: string[];
}

export async function migrateToLatest(db: Kysely<Database>, backend: StoreBackend, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const op = { what: 'migrate', write: true };

  let history: string[];
  try {
    history = await readSchemaHistory(db, backend.dialect);
  } catch (error) {
    throw backend.translate(error, { what: 'read the schema history', write: false });
  }
  await checkSchemaHistory(db, backend, history);
  if (history.length === 0 && options.create === false && !backend.readOnly) throw noStoreError(backend);

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
    return { created: false, applied: [] };
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
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (applied.length > 0) {
    // Names this release in the store, so that an older release refusing it can say which one wrote it.
    try {
      await db
        .insertInto('settings')
        .values({ key: MIGRATED_BY_SETTING, value: VERSION })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: VERSION }))
        .execute();
    } catch (error) {
      throw backend.translate(error, op);
    }
  }
  return { created: history.length === 0, applied };
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
