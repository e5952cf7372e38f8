/**
 * The database as Kysely sees it: one interface per table, column names as stored (snake_case).
 *
 * Both dialects read back the same JavaScript types:
 * - bigint columns come back as numbers (SQLite integers are numbers; PostgreSQL int8 gets a
 *   parser in openStore.ts). Every bigint we store is below 2^53: ms timestamps, seqs, steps,
 *   uint32 scope ids and times.
 * - byte columns (blob in SQLite, bytea in PostgreSQL) come back as Buffers.
 * - booleans are stored as integers 0/1 in both dialects, so one query text serves both.
 * - JSON columns are text; store.ts serializes and parses them.
 * - subjects (uint64) are decimal text, never numbers.
 */
import type { ColumnType, Generated } from 'kysely';

export interface SettingsTable {
  key: string;
  value: string;
}

export interface LinksTable {
  id: string;
  name: string;
  email: string | null;
  scope: number;
  not_before: number;
  not_after: number;
  online_only: number; // 0 | 1
  max_uses: number | null;
  uses: ColumnType<number, number | undefined, number>;
  created_at: number;
  created_by: string | null;
  revoked_at: number | null;
}

export interface CredentialsTable {
  id: string;
  name: string;
  scope: number;
  secret: Buffer;
  created_at: number;
  created_by: string | null;
  revoked_at: number | null;
}

export interface PartnersTable {
  id: number;
  name: string;
  secret: Buffer;
  allowed_scopes: string; // JSON array of scope ids
  default_scope: number | null;
  enabled: number; // 0 | 1
  created_at: number;
}

export interface RevocationsTable {
  issuer: number;
  subject: string;
  revoked_at: number;
  reason: string | null;
}

export interface ReplayMarksTable {
  issuer: number;
  subject: string;
  step: number;
}

export interface DoorSetsTable {
  /** Assigned by the database, starting at DOOR_SET_FIRST_ID (0x40000000). */
  id: Generated<number>;
  /** The door ids, sorted and comma-joined; unique. */
  doors: string;
}

export interface DoorModesTable {
  door: string;
  mode: string;
}

export interface AuditEventsTable {
  controller_id: string;
  seq: number;
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
  data: string | null; // JSON object
  prev_hash: string;
  hash: string;
}

export interface UsersTable {
  id: string;
  name: string; // unique, also ignoring letter case
  password_hash: string; // scrypt$N$r$p$salt$hash
  role: string; // viewer | operator | integrator | admin
  created_at: number;
  created_by: string | null;
  disabled: number; // 0 | 1
  last_login_at: number | null;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  token_hash: string; // hex sha256 of the token text; unique
  prefix: string; // the first 8 characters of the token
  role: string; // viewer | operator | integrator | admin | scanner
  scanner: string | null; // the scanner id of a 'scanner' token
  doors: string | null; // JSON array of the door ids the token is limited to; null: every door
  created_at: number;
  created_by: string | null;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface EnrolmentsTable {
  token_hash: string; // hex sha256 of the enrolment token; the token itself is never stored
  credential_id: string;
  created_at: number; // unix ms
  expires_at: number; // unix ms
  used_at: number | null; // unix ms
}

export interface Database {
  settings: SettingsTable;
  links: LinksTable;
  credentials: CredentialsTable;
  partners: PartnersTable;
  revocations: RevocationsTable;
  replay_marks: ReplayMarksTable;
  door_sets: DoorSetsTable;
  door_modes: DoorModesTable;
  audit_events: AuditEventsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  enrolments: EnrolmentsTable;
}

/** Door set ids start here so that they never collide with scope ids from the config (< 2^30). */
export const DOOR_SET_FIRST_ID = 0x40000000;
