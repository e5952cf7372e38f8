/**
 * The schema, as migrations in code. One set serves SQLite and PostgreSQL: Kysely's schema builder
 * writes the common parts, and `sql` is used only where the dialects differ (byte columns, the
 * door-set id sequence, the append-only triggers).
 *
 * Rules for adding a migration: add a new key that sorts after the last one ('0002_...'); never
 * edit or rename one that has shipped. Kysely runs PostgreSQL migrations in a transaction but not
 * SQLite ones, so every statement here is written to be safe to run again (IF NOT EXISTS) in case
 * a SQLite migration stopped half way.
 */
import { PostgresAdapter, sql, type Kysely, type Migration } from 'kysely';

import { DOOR_SET_FIRST_ID } from './schema.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's schema type
type AnyDb = Kysely<any>;

function isPostgres(db: AnyDb): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The column type for raw bytes: blob in SQLite, bytea in PostgreSQL. */
function bytes(db: AnyDb) {
  return isPostgres(db) ? sql`bytea` : sql`blob`;
}

const APPEND_ONLY_MESSAGE = 'audit events are append-only';

async function createAppendOnlyTriggers(db: AnyDb): Promise<void> {
  if (isPostgres(db)) {
    await sql`
      CREATE OR REPLACE FUNCTION postern_audit_append_only() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '${sql.raw(APPEND_ONLY_MESSAGE)}';
      END
      $$`.execute(db);
    await sql`DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events`.execute(db);
    await sql`
      CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION postern_audit_append_only()`.execute(db);
    await sql`DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events`.execute(db);
    await sql`
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
      FOR EACH STATEMENT EXECUTE FUNCTION postern_audit_append_only()`.execute(db);
    return;
  }
  await sql`
    CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, '${sql.raw(APPEND_ONLY_MESSAGE)}'); END`.execute(db);
  await sql`
    CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, '${sql.raw(APPEND_ONLY_MESSAGE)}'); END`.execute(db);
}

async function createDoorSets(db: AnyDb): Promise<void> {
  if (isPostgres(db)) {
    await db.schema
      .createTable('door_sets')
      .ifNotExists()
      .addColumn('id', 'bigint', (col) => col.primaryKey().generatedByDefaultAsIdentity())
      .addColumn('doors', 'text', (col) => col.notNull().unique())
      .execute();
    await sql`ALTER TABLE door_sets ALTER COLUMN id RESTART WITH ${sql.lit(DOOR_SET_FIRST_ID)}`.execute(db);
    return;
  }
  // AUTOINCREMENT keeps its counter in sqlite_sequence, which we seed so the first id is 0x40000000.
  await db.schema
    .createTable('door_sets')
    .ifNotExists()
    .addColumn('id', 'integer', (col) => col.primaryKey().autoIncrement())
    .addColumn('doors', 'text', (col) => col.notNull().unique())
    .execute();
  await sql`
    INSERT INTO sqlite_sequence (name, seq)
    SELECT 'door_sets', ${sql.lit(DOOR_SET_FIRST_ID - 1)}
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'door_sets')`.execute(db);
}

const initial: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('settings')
      .ifNotExists()
      .addColumn('key', 'text', (col) => col.primaryKey())
      .addColumn('value', 'text', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('links')
      .ifNotExists()
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('email', 'text')
      .addColumn('scope', 'bigint', (col) => col.notNull())
      .addColumn('not_before', 'bigint', (col) => col.notNull())
      .addColumn('not_after', 'bigint', (col) => col.notNull())
      .addColumn('online_only', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('max_uses', 'integer')
      .addColumn('uses', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('created_by', 'text')
      .addColumn('revoked_at', 'bigint')
      .execute();

    await db.schema
      .createTable('credentials')
      .ifNotExists()
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('scope', 'bigint', (col) => col.notNull())
      .addColumn('secret', bytes(db), (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('created_by', 'text')
      .addColumn('revoked_at', 'bigint')
      .execute();

    await db.schema
      .createTable('partners')
      .ifNotExists()
      .addColumn('id', 'integer', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('secret', bytes(db), (col) => col.notNull())
      .addColumn('allowed_scopes', 'text', (col) => col.notNull())
      .addColumn('default_scope', 'bigint')
      .addColumn('enabled', 'integer', (col) => col.notNull().defaultTo(1))
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('revocations')
      .ifNotExists()
      .addColumn('issuer', 'integer', (col) => col.notNull())
      .addColumn('subject', 'text', (col) => col.notNull())
      .addColumn('revoked_at', 'bigint', (col) => col.notNull())
      .addColumn('reason', 'text')
      .addPrimaryKeyConstraint('revocations_pk', ['issuer', 'subject'])
      .execute();

    await db.schema
      .createTable('replay_marks')
      .ifNotExists()
      .addColumn('issuer', 'integer', (col) => col.notNull())
      .addColumn('subject', 'text', (col) => col.notNull())
      .addColumn('step', 'bigint', (col) => col.notNull())
      .addPrimaryKeyConstraint('replay_marks_pk', ['issuer', 'subject', 'step'])
      .execute();
    await db.schema.createIndex('replay_marks_step').ifNotExists().on('replay_marks').column('step').execute();

    await createDoorSets(db);

    await db.schema
      .createTable('door_modes')
      .ifNotExists()
      .addColumn('door', 'text', (col) => col.primaryKey())
      .addColumn('mode', 'text', (col) => col.notNull())
      .execute();

    await db.schema
      .createTable('audit_events')
      .ifNotExists()
      .addColumn('controller_id', 'text', (col) => col.notNull())
      .addColumn('seq', 'bigint', (col) => col.notNull())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('type', 'text', (col) => col.notNull())
      .addColumn('door', 'text')
      .addColumn('scanner', 'text')
      .addColumn('subject', 'text')
      .addColumn('kind', 'text')
      .addColumn('issuer', 'integer')
      .addColumn('verdict', 'text')
      .addColumn('reason', 'text')
      .addColumn('actor', 'text')
      .addColumn('data', 'text')
      .addColumn('prev_hash', 'text', (col) => col.notNull())
      .addColumn('hash', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('audit_events_pk', ['controller_id', 'seq'])
      .execute();
    await db.schema.createIndex('audit_events_at').ifNotExists().on('audit_events').column('at').execute();
    await db.schema
      .createIndex('audit_events_door')
      .ifNotExists()
      .on('audit_events')
      .columns(['door', 'at'])
      .execute();
    await db.schema
      .createIndex('audit_events_subject')
      .ifNotExists()
      .on('audit_events')
      .columns(['subject', 'at'])
      .execute();
    await db.schema
      .createIndex('audit_events_verdict')
      .ifNotExists()
      .on('audit_events')
      .columns(['verdict', 'at'])
      .execute();

    await createAppendOnlyTriggers(db);
  },
};

/** Accounts and API tokens (controller/accounts). */
const accounts: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('users')
      .ifNotExists()
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull().unique())
      .addColumn('password_hash', 'text', (col) => col.notNull())
      .addColumn('role', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('created_by', 'text')
      .addColumn('disabled', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('last_login_at', 'bigint')
      .execute();
    // 'Ada' and 'ada' would be two people to the database and one to a reader of the audit trail.
    await db.schema
      .createIndex('users_name_lower')
      .ifNotExists()
      .unique()
      .on('users')
      .expression(sql`lower(name)`)
      .execute();

    await db.schema
      .createTable('api_tokens')
      .ifNotExists()
      .addColumn('id', 'text', (col) => col.primaryKey())
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('token_hash', 'text', (col) => col.notNull())
      .addColumn('prefix', 'text', (col) => col.notNull())
      .addColumn('role', 'text', (col) => col.notNull())
      .addColumn('scanner', 'text')
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('created_by', 'text')
      .addColumn('last_used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema
      .createIndex('api_tokens_token_hash')
      .ifNotExists()
      .unique()
      .on('api_tokens')
      .column('token_hash')
      .execute();
  },
};

/** Badge enrolment links (controller/badge): one-time tokens, kept only as their sha256. */
const enrolments: Migration = {
  async up(db: AnyDb) {
    await db.schema
      .createTable('enrolments')
      .ifNotExists()
      .addColumn('token_hash', 'text', (col) => col.primaryKey())
      .addColumn('credential_id', 'text', (col) => col.notNull())
      .addColumn('created_at', 'bigint', (col) => col.notNull())
      .addColumn('expires_at', 'bigint', (col) => col.notNull())
      .addColumn('used_at', 'bigint')
      .execute();
    await db.schema.createIndex('enrolments_credential').ifNotExists().on('enrolments').column('credential_id').execute();
  },
};

/** API tokens limited to a set of doors (a JSON array of door ids; null: every door). */
const tokenDoors: Migration = {
  async up(db: AnyDb) {
    await db.schema.alterTable('api_tokens').addColumn('doors', 'text').execute();
  },
};

/** Every migration, by name; Kysely applies them in name order. */
export const migrations: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_accounts': accounts,
  '0003_enrolments': enrolments,
  '0004_token_doors': tokenDoors,
};

/** The table Kysely records applied migrations in. */
export const MIGRATION_TABLE = 'postern_migrations';
export const MIGRATION_LOCK_TABLE = 'postern_migrations_lock';
