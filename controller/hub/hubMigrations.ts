/**
 * The hub's schema, as migrations in code (the rules of controller/store/migrations.ts hold: add a
 * key that sorts last, never edit one that has shipped). PostgreSQL only. Run at `postern hub serve`
 * and by every admin command: two hub processes starting at once both call migrateHub, so the run
 * is held under a PostgreSQL advisory lock (Kysely's own lock table is created racily, before it
 * can lock anything).
 */
import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { HubDatabase } from './hubSchema.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's schema type
type AnyDb = Kysely<any>;

/** The NOTIFY channel of the change feed (changeFeed.ts). */
export const HUB_CHANNEL = 'postern_hub_changes';

/** Any constant shared by every hub process: the key of the advisory lock around migration. */
const MIGRATION_LOCK_KEY = 0x706f7374; // 'post'

const initial: Migration = {
  async up(db: AnyDb) {
    await sql`
      CREATE TABLE IF NOT EXISTS hub_sites (
        id text PRIMARY KEY,
        name text NOT NULL,
        created_at bigint NOT NULL
      )`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_controllers (
        id text PRIMARY KEY,
        site_id text NOT NULL REFERENCES hub_sites (id),
        name text NOT NULL,
        credential_hash text,
        created_at bigint NOT NULL,
        enrolled_at bigint,
        revoked_at bigint,
        last_seen_at bigint,
        chain text
      )`.execute(db);
    // Within a site a chain names one live controller's trail (another site's chains are no concern
    // of it); a revoked controller leaves it to its successor, which uploads it again under its own id.
    await sql`CREATE UNIQUE INDEX IF NOT EXISTS hub_controllers_chain ON hub_controllers (site_id, chain) WHERE revoked_at IS NULL`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_enrolment_codes (
        code_hash text PRIMARY KEY,
        controller_id text NOT NULL REFERENCES hub_controllers (id),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
      )`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_changes (
        cursor bigserial PRIMARY KEY,
        site_id text NOT NULL REFERENCES hub_sites (id),
        kind text NOT NULL,
        body jsonb NOT NULL,
        created_at bigint NOT NULL
      )`.execute(db);
    await sql`CREATE INDEX IF NOT EXISTS hub_changes_site ON hub_changes (site_id, cursor)`.execute(db);
    // Every change notifies, in its own transaction (delivered at commit), however it was written:
    // through the hub, or by another process straight into the database.
    await sql`
      CREATE OR REPLACE FUNCTION hub_changes_notify() RETURNS trigger
      LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify(${sql.lit(HUB_CHANNEL)}, NEW.site_id || ':' || NEW.cursor);
        RETURN NULL;
      END
      $$`.execute(db);
    await sql`DROP TRIGGER IF EXISTS hub_changes_notify ON hub_changes`.execute(db);
    await sql`
      CREATE TRIGGER hub_changes_notify AFTER INSERT ON hub_changes
      FOR EACH ROW EXECUTE FUNCTION hub_changes_notify()`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_revocations (
        site_id text NOT NULL REFERENCES hub_sites (id),
        issuer integer NOT NULL,
        subject text NOT NULL,
        revoked_at bigint NOT NULL,
        reason text,
        PRIMARY KEY (site_id, issuer, subject)
      )`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_audit_events (
        controller_id text NOT NULL REFERENCES hub_controllers (id),
        seq bigint NOT NULL,
        chain text NOT NULL,
        at bigint NOT NULL,
        type text NOT NULL,
        door text,
        scanner text,
        subject text,
        kind text,
        issuer integer,
        verdict text,
        reason text,
        actor text,
        data text,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (controller_id, seq)
      )`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_audit_heads (
        controller_id text PRIMARY KEY REFERENCES hub_controllers (id),
        seq bigint NOT NULL,
        hash text NOT NULL,
        updated_at bigint NOT NULL,
        problem text,
        problem_seq bigint,
        flagged_at bigint
      )`.execute(db);
  },
};

/**
 * Online-only codes confirmed at the hub (onlineUses.ts): one row per (site, issuer, subject), its
 * limit (null: none) and the uses counted across every controller of the site. max_uses is a
 * bigint, as the frame's maxUses may be any whole number up to 2^53.
 */
const onlineUses: Migration = {
  async up(db: AnyDb) {
    await sql`
      CREATE TABLE IF NOT EXISTS hub_online_uses (
        site_id text NOT NULL REFERENCES hub_sites (id),
        issuer integer NOT NULL,
        subject text NOT NULL,
        max_uses bigint,
        uses bigint NOT NULL DEFAULT 0,
        first_seen bigint NOT NULL,
        last_used bigint,
        PRIMARY KEY (site_id, issuer, subject)
      )`.execute(db);
  },
};

/**
 * The hub's API's tables (docs/hub-api.md): its accounts (tokens kept as sha256 only), the record
 * of what they changed, which link of each controller is open on which hub (so every hub answers
 * sites.overview alike: linkPresence.ts), and a partial index for the overview's denials of the
 * last hour.
 */
const hubApi: Migration = {
  async up(db: AnyDb) {
    await sql`
      CREATE TABLE IF NOT EXISTS hub_accounts (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        token_hash text NOT NULL,
        created_at bigint NOT NULL,
        revoked_at bigint
      )`.execute(db);
    await sql`
      CREATE TABLE IF NOT EXISTS hub_actions (
        id bigserial PRIMARY KEY,
        at bigint NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        site_id text,
        detail jsonb
      )`.execute(db);
    await sql`CREATE INDEX IF NOT EXISTS hub_actions_site ON hub_actions (site_id, id)`.execute(db);
    await sql`ALTER TABLE hub_controllers ADD COLUMN IF NOT EXISTS online_link text`.execute(db);
    await sql`ALTER TABLE hub_controllers ADD COLUMN IF NOT EXISTS online_hub text`.execute(db);
    await sql`ALTER TABLE hub_controllers ADD COLUMN IF NOT EXISTS clock_offset_ms bigint`.execute(db);
    await sql`CREATE INDEX IF NOT EXISTS hub_audit_events_denied ON hub_audit_events (controller_id, at) WHERE verdict = 'deny'`.execute(db);
  },
};

/**
 * The site's issuing key (hex), which MACs its access links: every controller of a site must hold
 * the same one, so a link issued at one opens the doors of all. The first controller enrolled
 * brings its own; the next ones take it (siteKeyAgreement.ts). Null until a controller enrolled.
 */
const siteKey: Migration = {
  async up(db: AnyDb) {
    await sql`ALTER TABLE hub_sites ADD COLUMN IF NOT EXISTS site_key text`.execute(db);
  },
};

/** site.call handed between hub processes (callRelay.ts): a row per call, deleted once answered. */
const hubCalls: Migration = {
  async up(db: AnyDb) {
    await sql`
      CREATE TABLE IF NOT EXISTS hub_calls (
        id bigserial PRIMARY KEY,
        site_id text NOT NULL REFERENCES hub_sites (id),
        origin_hub text NOT NULL,
        target_hub text NOT NULL,
        method text NOT NULL,
        params text NOT NULL,
        account_name text NOT NULL,
        account_role text NOT NULL,
        created_at bigint NOT NULL,
        claimed_at bigint,
        answer text,
        answered_at bigint
      )`.execute(db);
    await sql`CREATE INDEX IF NOT EXISTS hub_calls_target ON hub_calls (target_hub) WHERE claimed_at IS NULL`.execute(db);
  },
};

export const hubMigrations: Record<string, Migration> = {
  '0001_hub': initial,
  '0002_online_uses': onlineUses,
  '0003_hub_api': hubApi,
  '0004_site_key': siteKey,
  '0005_hub_calls': hubCalls,
};

const provider: MigrationProvider = { getMigrations: async () => hubMigrations };

/** Brings the hub's tables up to date; safe to call from any number of processes at once. */
export async function migrateHub(db: Kysely<HubDatabase>): Promise<void> {
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
    try {
      const migrator = new Migrator({ db: conn, provider, migrationTableName: 'hub_migration', migrationLockTableName: 'hub_migration_lock' });
      const { error, results } = await migrator.migrateToLatest();
      if (error !== undefined) {
        const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '(history)';
        throw new PosternError(ErrorCodes.STORE_WRITE_FAILED, `hub migration ${failed} failed: ${(error as Error).message}`, { cause: error });
      }
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
    }
  });
}
