/**
 * The data layer's contract. One implementation (controller/store/store.ts) serves SQLite and
 * PostgreSQL through Kysely; everything above it speaks only this interface.
 *
 * Subjects are unsigned 64-bit integers in the credential format; they are carried as decimal
 * strings everywhere so that no value above 2^53 is ever rounded.
 */

import type { Role, TokenRecord, UserRecord, UserRole } from '../accounts/accountTypes.ts';
import type { PosternError } from '../../machines/shared/errors.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface LinkRecord {
  id: string; // subject, decimal
  name: string;
  email: string | null;
  scope: number; // door scope id (config scope or a door set made for this link)
  notBefore: number; // unix seconds
  notAfter: number; // unix seconds, 0xFFFFFFFF = no end
  onlineOnly: boolean;
  maxUses: number | null; // online-only links: confirmed at most this many times
  uses: number;
  createdAt: number; // unix ms
  createdBy: string | null;
  revokedAt: number | null; // unix ms
}

export type NewLink = Omit<LinkRecord, 'uses' | 'createdAt' | 'revokedAt'>;

/** What can change of a link without changing its code: the code carries the window and the scope, signed. */
export interface LinkChanges {
  name?: string;
  email?: string | null;
}

/** A rotating credential's scope is the store's, not its codes': it can change in place. */
export interface CredentialChanges {
  name?: string;
  scope?: number;
}

/** Longest `search` (ListOptions) and audit holder text: longer ones are refused before they reach a query. */
export const MAX_SEARCH_CHARS = 200;

/** A page of links or credentials, oldest first; `search` keeps those whose name contains it (any letter case), whose id is it, or (links) whose email contains it. */
export interface ListOptions {
  includeRevoked?: boolean;
  limit?: number;
  offset?: number;
  search?: string;
}

/** A rotating credential as reads return it: the secret is never part of it. */
export interface CredentialRecord {
  id: string;
  name: string;
  scope: number;
  createdAt: number;
  createdBy: string | null;
  revokedAt: number | null;
}

export interface NewCredential extends Omit<CredentialRecord, 'createdAt' | 'revokedAt'> {
  secret: Buffer; // 32 bytes
}

/** What the verifier needs of a rotating credential. */
export interface CredentialKey {
  secret: Buffer;
  scope: number;
}

/** A one-time badge enrolment link, as the store keeps it (times in unix ms). */
export interface NewEnrolment {
  /** Hex sha256 of the token; the token itself is never stored. */
  tokenHash: string;
  credentialId: string;
  expiresAt: number;
}

/** What consuming an enrolment token gives: the credential and its secret, exactly once. */
export type EnrolmentResult =
  | { status: 'ok'; credential: CredentialRecord; secret: Buffer }
  | { status: 'unknown' | 'used' | 'expired' | 'revoked' };

export interface PartnerRecord {
  id: number; // 1..65535, the issuer field of its codes
  name: string;
  allowedScopes: number[];
  defaultScope: number | null;
  enabled: boolean;
  createdAt: number;
}

export interface NewPartner extends Omit<PartnerRecord, 'createdAt'> {
  secret: Buffer; // >= 32 bytes
}

/** What the verifier needs of a partner: kept in memory, reloaded on change. */
export interface PartnerKey {
  id: number;
  secret: Buffer;
  allowedScopes: number[];
  defaultScope: number | null;
  enabled: boolean;
}

export interface DoorSet {
  id: number;
  doors: string[];
}

export type DoorMode = 'normal' | 'lockdown' | 'passage';

/** One audit event, as stored. Fields not used by an event type are null. */
/** A rotating code's use: who, and which time step (credentialCodec.timeStep). */
export interface ReplayMark {
  issuer: number;
  subject: string;
  step: number;
}

export interface AuditEvent {
  controllerId: string;
  seq: number; // 1, 2, 3 ... per controller
  at: number; // unix ms
  type: string; // 'decision' | 'door' | 'operator' | 'system'
  door: string | null;
  scanner: string | null;
  subject: string | null;
  kind: string | null; // 'link' | 'rotating' | 'online-link' | 'unknown'
  issuer: number | null;
  verdict: string | null; // 'grant' | 'deny'
  reason: string | null;
  actor: string | null; // who did it: 'cli', an account, 'system'
  data: Record<string, unknown> | null;
  prevHash: string; // hex sha256 of the previous event of this controller ('' * 64 zeros for the first)
  hash: string; // hex sha256 over prevHash and this event's fields
}

export interface AuditQuery {
  controllerId?: string;
  since?: number; // unix ms, inclusive
  until?: number; // unix ms, exclusive
  door?: string;
  subject?: string;
  /** Only events of these subjects; an empty list matches nothing. */
  subjects?: readonly string[];
  verdict?: string;
  afterSeq?: number;
  /** seq < beforeSeq: pages backwards with order 'desc' */
  beforeSeq?: number;
  limit?: number; // default 100, max 10_000
  order?: 'asc' | 'desc';
}

/** A user as the store keeps it; every time is given by the caller (Accounts), in unix ms. */
export interface NewUser {
  id: string;
  name: string;
  /** A self-describing hash (`scrypt$N$r$p$salt$hash`), never the password. */
  passwordHash: string;
  role: UserRole;
  createdAt: number;
  createdBy: string | null;
}

/** What verifying a password needs: the user and the hash. Only getUserByName returns it. */
export interface StoredUser extends UserRecord {
  passwordHash: string;
}

/** The columns updateUser may change; at least one. */
export interface UserChanges {
  passwordHash?: string;
  role?: UserRole;
  disabled?: boolean;
  lastLoginAt?: number;
}

export interface NewToken {
  id: string;
  name: string;
  /** Hex sha256 of the token text; unique. The token itself is never stored. */
  tokenHash: string;
  prefix: string;
  role: Role;
  scanner: string | null;
  /** The doors it is limited to; null: every door. */
  doors: string[] | null;
  createdAt: number;
  createdBy: string | null;
}

/**
 * What the background integrity check found (SQLite's quick_check, run in a worker thread after
 * start). 'skipped': PostgreSQL, a read-only store, `quickCheck: false`, or stopped before it ran;
 * 'failed': the check itself could not run (message says why).
 */
export type StoreIntegrity =
  | { status: 'ok' }
  | { status: 'corrupt'; problems: string[] }
  | { status: 'skipped'; reason: string }
  | { status: 'failed'; message: string };

/**
 * A problem found after start, outside any call, for a log line and a metric (label: kind):
 * - integrity: the background quick_check found damage (error: STORE_CORRUPT); also integrityCheck();
 * - writer-exited: SQLite's writer thread died (STORE_UNAVAILABLE); the writes it held failed, and it
 *   is started again for the next write;
 * - claim-lost: PostgreSQL closed the connection holding the controller claim (STORE_IN_USE is no
 *   longer guaranteed); the store tries to claim again every few seconds and reports here if another
 *   controller took it meanwhile;
 * - wal-checkpoint: SQLite's write-ahead log could not be checkpointed (STORE_WRITE_FAILED); it may
 *   grow until a checkpoint succeeds.
 */
export type StoreProblemKind = 'integrity' | 'writer-exited' | 'claim-lost' | 'wal-checkpoint';

export interface StoreProblem {
  kind: StoreProblemKind;
  error: PosternError;
}

export interface Store {
  readonly dialect: Dialect;
  /** The SQLite file, or host:port/database of PostgreSQL (no password): for logs and messages. */
  readonly location: string;
  /**
   * After start(): true when start() made a new, empty store because there was none (no SQLite
   * file, or a PostgreSQL database without Postern's schema); false before start and otherwise.
   */
  readonly created: boolean;
  /**
   * Opens the database and applies every pending migration. Refuses a store written by a newer
   * Postern (STORE_TOO_NEW) and, when opened with `create: false`, a store that is not there yet
   * (STORE_UNAVAILABLE "no store at ...").
   */
  start(): Promise<void>;
  /** Releases the controller claim, then closes every connection (pending writes finish first). Safe to call twice. */
  stop(): Promise<void>;

  /**
   * Claims the store for the controller of `siteId` until releaseController() or stop(). Fails with
   * STORE_IN_USE, naming the file or database (and the holder's pid and host when known), while
   * another controller for that site holds it: another process or another Store object on the same
   * SQLite file, another session on the same PostgreSQL database. A claim dies with its process
   * (kill -9 included), so it never blocks a restart. Same site id again: no-op; another site id
   * while claimed: CONFLICT. Needs a started, writable store (STORE_UNAVAILABLE, STORE_READ_ONLY).
   * Tools that open the store without claiming (the CLI) keep working beside a running controller.
   */
  claimController(siteId: string): Promise<void>;
  /** Releases the claim of claimController(); no-op without one. */
  releaseController(): Promise<void>;
  /**
   * The result of the integrity check started in the background by start(); resolves once it has
   * run (a damaged file is also reported to onProblem and the logger, kind 'integrity').
   */
  integrityCheck(): Promise<StoreIntegrity>;
  /** Hears problems found after start (StoreProblem); returns the function that stops listening. */
  onProblem(listener: (problem: StoreProblem) => void): () => void;

  getSetting(key: string): Promise<string | undefined>;
  /** Sets the value only when the key is absent; returns the value that is stored afterwards. */
  setSettingIfAbsent(key: string, value: string): Promise<string>;
  /** Sets the value, whether the key is there or not. */
  putSetting(key: string, value: string): Promise<void>;

  createLink(link: NewLink): Promise<LinkRecord>;
  getLink(id: string): Promise<LinkRecord | undefined>;
  /** The link after the change; undefined when there is no such link. */
  updateLink(id: string, changes: LinkChanges): Promise<LinkRecord | undefined>;
  listLinks(options?: ListOptions): Promise<LinkRecord[]>;
  /**
   * Confirms an online-only link live and counts the use, atomically: 'ok' when it exists, is
   * not revoked and has uses left (the use is then counted).
   */
  useOnlineLink(id: string): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted'>;

  createCredential(credential: NewCredential): Promise<CredentialRecord>;
  listCredentials(options?: ListOptions): Promise<CredentialRecord[]>;
  /** The names of those of `ids` that are the site's links or credentials, by id. */
  holderNames(ids: readonly string[]): Promise<Map<string, string>>;
  /** Ids of the site's links and credentials whose name contains `text` (any letter case), at most `limit`. */
  holderSubjects(text: string, limit: number): Promise<string[]>;
  getCredentialKey(id: string): Promise<CredentialKey | undefined>;
  /** The credential after the change; undefined when there is no such credential. */
  updateCredential(id: string, changes: CredentialChanges): Promise<CredentialRecord | undefined>;

  /** A duplicate token hash is CONFLICT; the credential must exist (NOT_FOUND). */
  createEnrolment(enrolment: NewEnrolment): Promise<void>;
  /**
   * Uses an enrolment token at `at` (unix ms), atomically: 'ok' (with the credential and its
   * secret) only for the first use of a token that has not expired, whatever runs concurrently.
   */
  consumeEnrolment(tokenHash: string, at: number): Promise<EnrolmentResult>;

  addPartner(partner: NewPartner): Promise<PartnerRecord>;
  listPartners(): Promise<PartnerRecord[]>;
  removePartner(id: number): Promise<boolean>;
  loadPartnerKeys(): Promise<PartnerKey[]>;

  /**
   * Revokes a subject of an issuer (0 = site). Also stamps revokedAt on the site's link or
   * credential with that id. Returns false when it was already revoked.
   */
  revoke(issuer: number, subject: string, reason: string | null): Promise<boolean>;
  isRevoked(issuer: number, subject: string): Promise<boolean>;
  /** Revokes many at once in one transaction (as revoke() each); returns how many were not revoked yet. */
  revokeMany(items: ReadonlyArray<{ issuer: number; subject: string; reason: string | null }>): Promise<number>;

  /**
   * Rotating codes used lately, for the replay guard at start (credentials/replayGuard.ts): the
   * controller's own rotating grants at or after `sinceMs` (their step is in the event's data),
   * and the marks of the replay_marks table, which stores before 0.2 wrote, at or after `sinceStep`.
   */
  recentReplayMarks(controllerId: string, sinceMs: number, sinceStep: number): Promise<ReplayMark[]>;

  /** The scope id of exactly this set of doors (order ignored), made on first use. */
  doorSetScope(doors: string[]): Promise<number>;
  listDoorSets(): Promise<DoorSet[]>;

  setDoorMode(door: string, mode: DoorMode): Promise<void>;
  getDoorModes(): Promise<Record<string, DoorMode>>;

  /**
   * Appends events (already numbered and chained) in one transaction, in the order given. When the
   * promise resolves the events are durable (SQLite: fsync'd, synchronous = FULL; PostgreSQL:
   * synchronous_commit on). Calls that arrive while a write runs are committed together.
   */
  appendAudit(events: AuditEvent[]): Promise<void>;
  lastAudit(controllerId: string): Promise<AuditEvent | undefined>;
  queryAudit(query: AuditQuery): Promise<AuditEvent[]>;
  /** Every event of a controller in seq order, in pages, for verification and export. */
  iterateAudit(controllerId: string, pageSize?: number): AsyncIterable<AuditEvent>;
  auditControllers(): Promise<string[]>;

  /** A name that exists already (also in another letter case) is CONFLICT. */
  createUser(user: NewUser): Promise<UserRecord>;
  /** With the password hash: for verifying a password only. Exact name match. */
  getUserByName(name: string): Promise<StoredUser | undefined>;
  /** Oldest first; never a hash. */
  listUsers(): Promise<UserRecord[]>;
  /** False when there is no user with that id. */
  updateUser(id: string, changes: UserChanges): Promise<boolean>;
  removeUser(id: string): Promise<boolean>;

  /** A duplicate id or token hash is CONFLICT. */
  createToken(token: NewToken): Promise<TokenRecord>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  /** Revoked tokens too (the caller refuses them). */
  getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined>;
  /** Oldest first, revoked ones too; never a hash. */
  listTokens(): Promise<TokenRecord[]>;
  /**
   * Sets lastUsedAt to `at` on a token that is not revoked, only when it is null or at least
   * minIntervalMs before `at` (default 0); true when it wrote.
   */
  touchToken(id: string, at: number, minIntervalMs?: number): Promise<boolean>;
  /** Stamps revokedAt; false when there is no such token or it is revoked already. */
  revokeToken(id: string, at: number): Promise<boolean>;
  /**
   * A text that changes whenever a role, a user's disabled flag, a user or a token's revocation
   * changes, in the same transaction, whichever process made it; undefined before the first such
   * change. One primary-key read: controllers poll it.
   */
  accountsVersion(): Promise<string | undefined>;
}
