/**
 * The hub's tables as Kysely sees them (PostgreSQL only; made by hubMigrations.ts). Every table is
 * prefixed `hub_` so a hub may share a database with a controller's store without a clash. Times
 * are unix ms in bigint columns (parsed to numbers: hubDatabase.ts).
 */
import type { ColumnType, Generated } from 'kysely';

export interface HubSitesTable {
  id: string;
  name: string;
  created_at: number;
  /** The site's issuing key, hex (hubMigrations.ts 0002); null until its first controller enrolled. */
  site_key: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface HubControllersTable {
  id: string;
  site_id: string;
  name: string;
  /** sha256 hex of the credential; null until the first enrolment. */
  credential_hash: string | null;
  created_at: number;
  enrolled_at: number | null;
  revoked_at: number | null;
  last_seen_at: number | null;
  /** The controller id its audit events carry, learned from its first hello. */
  chain: string | null;
  /** The nonce of its open sync link, on whichever hub (linkPresence.ts); null while none is open. */
  online_link: Generated<string | null>;
  /** The hub process that link is on. */
  online_hub: Generated<string | null>;
  /** The controller's clock minus the hub's, as its last link measured it (linkPresence.ts). */
  clock_offset_ms: Generated<number | null>;
}

export interface HubEnrolmentCodesTable {
  code_hash: string;
  controller_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface HubChangesTable {
  cursor: Generated<number>;
  site_id: string;
  kind: string;
  body: ColumnType<Record<string, unknown>, string, string>;
  created_at: number;
}

export interface HubRevocationsTable {
  site_id: string;
  issuer: number;
  subject: string;
  revoked_at: number;
  reason: string | null;
}

export interface HubAuditEventsTable {
  controller_id: string;
  seq: number;
  /** The event's own controllerId (the chain), part of its hash. */
  chain: string;
  at: number;
  type: string;
  door: string | null;
  scanner: string | null;
  subject: string | null;
  kind: string | null;
  issuer: number | null;
  verdict: string | null;
  reason: string | null;
  actor: string | null;
  /** The event's data as the JSON text it arrived as: no database normalisation between it and its hash. */
  data: string | null;
  prev_hash: string;
  hash: string;
}

/** One row a controller, made with it: its anchor (seq 0 and the genesis hash before any upload) and its flag. */
export interface HubAuditHeadsTable {
  controller_id: string;
  seq: number;
  hash: string;
  updated_at: number;
  problem: string | null;
  problem_seq: number | null;
  flagged_at: number | null;
}

/** An online-only code of a site as the hub counts its confirmations (onlineUses.ts). */
export interface HubOnlineUsesTable {
  site_id: string;
  issuer: number;
  subject: string;
  /** null: no limit. */
  max_uses: number | null;
  uses: Generated<number>;
  first_seen: number;
  last_used: number | null;
}

/** An account of the hub's API (hubAccounts.ts): its token kept as sha256 hex only. */
export interface HubAccountsTable {
  id: string;
  name: string;
  role: 'admin' | 'operator' | 'viewer';
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
}

/** What an account (or the command line) changed through the hub (hubActions.ts). */
export interface HubActionsTable {
  id: Generated<number>;
  at: number;
  /** `account:<name>` or `cli`. */
  actor: string;
  /** The API method (or command) that made the change. */
  action: string;
  site_id: string | null;
  detail: ColumnType<Record<string, unknown> | null, string | null, string | null>;
}

/** A site.call handed from one hub process to the one that holds the site's link (callRelay.ts). */
export interface HubCallsTable {
  id: Generated<number>;
  site_id: string;
  origin_hub: string;
  target_hub: string;
  method: string;
  /** JSON */
  params: string;
  account_name: string;
  account_role: string;
  created_at: number;
  claimed_at: ColumnType<number | null, number | null | undefined, number | null>;
  /** JSON: `{result}` or `{error}` (a JSON-RPC error object). */
  answer: ColumnType<string | null, string | null | undefined, string | null>;
  answered_at: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface HubDatabase {
  hub_sites: HubSitesTable;
  hub_controllers: HubControllersTable;
  hub_enrolment_codes: HubEnrolmentCodesTable;
  hub_changes: HubChangesTable;
  hub_revocations: HubRevocationsTable;
  hub_audit_events: HubAuditEventsTable;
  hub_audit_heads: HubAuditHeadsTable;
  hub_online_uses: HubOnlineUsesTable;
  hub_accounts: HubAccountsTable;
  hub_actions: HubActionsTable;
  hub_calls: HubCallsTable;
}
