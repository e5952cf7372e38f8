/**
 * The hub's API's tables (docs/hub-api.md), a migration of hubMigrations.ts: its accounts (tokens
 * kept as sha256 only), the record of what they changed, which link of each controller is open on
 * which hub (so every hub answers sites.overview alike: linkPresence.ts), and a partial index for
 * the overview's denials of the last hour.
 */
import { sql, type Kysely, type Migration } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations must not depend on today's schema type
type AnyDb = Kysely<any>;

export const hubApiMigration: Migration = {
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
