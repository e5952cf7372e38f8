/**
 * KyselyStore: the one implementation of Store, for SQLite and PostgreSQL alike. Every query is
 * written once with Kysely (linkQueries, keyQueries, siteQueries, auditQueries, accountQueries); dialect
 * differences live in migrations.ts (DDL) and openStore.ts (connections). This class owns the
 * lifecycle, validates arguments, and turns every error into a PosternError (storeErrors.ts).
 *
 * Data rules:
 * - secrets are selected only by getCredentialKey and loadPartnerKeys, never by list methods;
 *   password hashes only by getUserByName; token hashes never (getTokenByHash looks up by one);
 * - the hot-path methods (getCredentialKey, isRevoked, useOnlineLink) are single
 *   statements on a primary key (useOnlineLink reads once more only to name a refusal);
 * - JSON columns (partners.allowed_scopes, audit_events.data) are serialized and parsed in the
 *   query modules; callers see plain values.
 */
import type { Kysely } from 'kysely';

import type { TokenRecord, UserRecord } from '../accounts/accountTypes.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import * as accounts from './accountQueries.ts';
import * as audit from './auditQueries.ts';
import * as enrolments from './enrolmentQueries.ts';
import * as holders from './holderQueries.ts';
import * as keys from './keyQueries.ts';
import * as links from './linkQueries.ts';
import { migrateToLatest, probeWrite } from './migrate.ts';
import type { StoreBackend, StoreLogger } from './storeBackend.ts';
import type { Database } from './schema.ts';
import * as site from './siteQueries.ts';
import type { StoreClaim } from './storeBackend.ts';
import type {
  AuditEvent,
  AuditQuery,
  CredentialChanges,
  CredentialKey,
  CredentialRecord,
  Dialect,
  DoorMode,
  DoorSet,
  EnrolmentResult,
  LinkChanges,
  LinkRecord,
  ListOptions,
  NewCredential,
  NewEnrolment,
  NewLink,
  NewPartner,
  NewToken,
  NewUser,
  PartnerKey,
  PartnerRecord,
  ReplayMark,
  Store,
  StoredUser,
  StoreIntegrity,
  StoreProblem,
  UserChanges,
} from './storeTypes.ts';

export interface KyselyStoreDependencies {
  backend: StoreBackend;
  /** Time source for createdAt and revokedAt, default Date.now. */
  clock?: () => number;
  /** Whether start() may make a new, empty store (OpenStoreOptions.create); default true. */
  create?: boolean;
  /** Where start() warns that it made a new, empty store. */
  logger?: StoreLogger;
}

const DOOR_MODES: readonly DoorMode[] = ['normal', 'lockdown', 'passage'];
const MAX_UINT64 = 2n ** 64n - 1n;

function invalid(message: string): PosternError {
  return new PosternError(ErrorCodes.INVALID_ARGUMENT, message);
}

/** Subjects are uint64 in canonical decimal, so that '7' and '007' can never be two subjects. */
function checkSubject(id: string, what: string): void {
  if (typeof id !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(id) || BigInt(id) > MAX_UINT64) {
    throw invalid(`${what} must be an unsigned 64-bit integer in decimal, got ${JSON.stringify(id)}`);
  }
}

export class KyselyStore implements Store {
  readonly dialect: Dialect;
  readonly #backend: StoreBackend;
  readonly #clock: () => number;
  #db: Kysely<Database> | undefined;
  /** Calls under way, which stop() lets finish before it closes the connections. */
  readonly #pending = new Set<Promise<unknown>>();
  #claim: StoreClaim | undefined;
  /** A claim being taken, so that a stop() meanwhile releases it too. */
  #claiming: Promise<void> | undefined;
  readonly #create: boolean;
  readonly #logger: StoreLogger | undefined;
  #created = false;

  constructor(dependencies: KyselyStoreDependencies) {
    this.#backend = dependencies.backend;
    this.#clock = dependencies.clock ?? Date.now;
    this.dialect = dependencies.backend.dialect;
    this.#create = dependencies.create !== false;
    this.#logger = dependencies.logger;
  }

  /** True once start() has made a new, empty store (there was none); false before start. */
  get created(): boolean {
    return this.#created;
  }

  /** The SQLite file, or host:port/database of PostgreSQL (no password): for logs and messages. */
  get location(): string {
    return this.#backend.location;
  }

  /**
   * Opens, checks (SQLite: header and schema; quick_check follows in the background), migrates,
   * and proves a write (rolled back). Fails with STORE_UNAVAILABLE, STORE_READ_ONLY or
   * STORE_CORRUPT naming the file or server.
   */
  async start(): Promise<void> {
    if (this.#db !== undefined) return;
    const db = await this.#backend.open();
    let created: boolean;
    try {
      ({ created } = await migrateToLatest(db, this.#backend, { create: this.#create }));
      if (!this.#backend.readOnly) await probeWrite(db, this.#backend);
    } catch (error) {
      await db.destroy().catch(() => undefined);
      throw this.#backend.translate(error, { what: 'migrate', write: true });
    }
    this.#db = db;
    this.#created = created;
    if (created) {
      // Loud on purpose: a site file pointing at the wrong folder or database looks like this.
      this.#logger?.warn(
        { location: this.#backend.location, dialect: this.dialect },
        `new empty store at ${this.#backend.location}: there was no store there, so one was made; if this site already had links, credentials or an audit trail, dataDir or DATABASE_URL points at the wrong place`,
      );
    }
    this.#backend.background?.start();
  }

  async stop(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db === undefined) return;
    await Promise.allSettled([...this.#pending]);
    await this.#claiming?.catch(() => undefined);
    await this.releaseController();
    await this.#backend.background?.stop();
    await db.destroy();
  }

  async claimController(siteId: string): Promise<void> {
    if (typeof siteId !== 'string' || siteId === '' || siteId.length > 200) throw invalid(`a site id is 1-200 characters, got ${JSON.stringify(siteId)}`);
    if (this.#db === undefined) {
      throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `claimController: the store ${this.#backend.location} is not started`);
    }
    if (this.#backend.readOnly) {
      throw new PosternError(ErrorCodes.STORE_READ_ONLY, `claimController: the store ${this.#backend.location} was opened read-only, and a controller needs to write`);
    }
    await this.#claiming?.catch(() => undefined);
    if (this.#claim !== undefined) {
      if (this.#claim.siteId === siteId) return;
      throw new PosternError(ErrorCodes.CONFLICT, `this store object holds ${this.#backend.location} for site ${this.#claim.siteId} already, not ${siteId}`);
    }
    const claiming = (async () => {
      try {
        this.#claim = await this.#backend.claim(siteId);
      } catch (error) {
        throw this.#backend.translate(error, { what: 'claimController', write: true });
      }
    })();
    this.#claiming = claiming;
    try {
      await claiming;
    } finally {
      if (this.#claiming === claiming) this.#claiming = undefined;
    }
  }

  async releaseController(): Promise<void> {
    const claim = this.#claim;
    this.#claim = undefined;
    await claim?.release();
  }

  integrityCheck(): Promise<StoreIntegrity> {
    return this.#backend.integrityCheck();
  }

  onProblem(listener: (problem: StoreProblem) => void): () => void {
    return this.#backend.problems.on(listener);
  }

  /** Runs one operation on the open database, translating every error. */
  async #run<T>(what: string, write: boolean, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const db = this.#db;
    if (db === undefined) {
      throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `${what}: the store ${this.#backend.location} is not started`);
    }
    let running: Promise<T> | undefined;
    try {
      running = work(db);
      this.#pending.add(running);
      return await running;
    } catch (error) {
      throw this.#backend.translate(error, { what, write });
    } finally {
      if (running !== undefined) this.#pending.delete(running);
    }
  }

  getSetting(key: string): Promise<string | undefined> {
    return this.#run('getSetting', false, (db) => site.getSetting(db, key));
  }

  setSettingIfAbsent(key: string, value: string): Promise<string> {
    return this.#run('setSettingIfAbsent', true, (db) => site.setSettingIfAbsent(db, key, value));
  }

  putSetting(key: string, value: string): Promise<void> {
    return this.#run('putSetting', true, (db) => site.putSetting(db, key, value));
  }

  /** A duplicate id is CONFLICT; an id that is not a canonical uint64 is INVALID_ARGUMENT. */
  async createLink(link: NewLink): Promise<LinkRecord> {
    checkSubject(link.id, 'link id');
    const record: LinkRecord = { ...link, uses: 0, createdAt: this.#clock(), revokedAt: null };
    return this.#run('createLink', true, (db) => links.createLink(db, record));
  }

  getLink(id: string): Promise<LinkRecord | undefined> {
    return this.#run('getLink', false, (db) => links.getLink(db, id));
  }

  updateLink(id: string, changes: LinkChanges): Promise<LinkRecord | undefined> {
    return this.#run('updateLink', true, (db) => links.updateLink(db, id, changes));
  }

  /** Oldest first (createdAt, then id); revoked links only with includeRevoked. */
  listLinks(options: ListOptions = {}): Promise<LinkRecord[]> {
    return this.#run('listLinks', false, (db) => links.listLinks(db, options));
  }

  /**
   * One UPDATE counts the use only when the link exists, is not revoked (neither stamped nor in
   * revocations) and has uses left, so two controllers can never both take the last use. Any link
   * kind is counted, not only online-only ones.
   */
  useOnlineLink(id: string): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted'> {
    return this.#run('useOnlineLink', true, (db) => links.useOnlineLink(db, id));
  }

  /** The secret must be 32 bytes (INVALID_ARGUMENT); a duplicate id is CONFLICT. */
  async createCredential(credential: NewCredential): Promise<CredentialRecord> {
    checkSubject(credential.id, 'credential id');
    if (!Buffer.isBuffer(credential.secret) || credential.secret.length !== 32) {
      throw invalid('a credential secret must be 32 bytes');
    }
    const record: CredentialRecord = {
      id: credential.id,
      name: credential.name,
      scope: credential.scope,
      createdAt: this.#clock(),
      createdBy: credential.createdBy,
      revokedAt: null,
    };
    return this.#run('createCredential', true, (db) => keys.createCredential(db, record, credential.secret));
  }

  /** Oldest first; never includes secrets. */
  listCredentials(options: ListOptions = {}): Promise<CredentialRecord[]> {
    return this.#run('listCredentials', false, (db) => keys.listCredentials(db, options));
  }

  holderNames(ids: readonly string[]): Promise<Map<string, string>> {
    return this.#run('holderNames', false, (db) => holders.holderNames(db, ids));
  }

  holderSubjects(text: string, limit: number): Promise<string[]> {
    return this.#run('holderSubjects', false, (db) => holders.holderSubjects(db, text, limit));
  }

  /** Also for a revoked credential: the verifier checks revocation itself (rule 3, `revoked`). */
  updateCredential(id: string, changes: CredentialChanges): Promise<CredentialRecord | undefined> {
    return this.#run('updateCredential', true, (db) => keys.updateCredential(db, id, changes));
  }

  getCredentialKey(id: string): Promise<CredentialKey | undefined> {
    return this.#run('getCredentialKey', false, (db) => keys.getCredentialKey(db, id));
  }

  /** A token hash of 64 hex characters, an existing credential (NOT_FOUND); a duplicate hash is CONFLICT. */
  async createEnrolment(enrolment: NewEnrolment): Promise<void> {
    if (typeof enrolment.tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(enrolment.tokenHash)) throw invalid('an enrolment token hash is 64 lower-case hex characters');
    checkSubject(enrolment.credentialId, 'credential id');
    if (!Number.isSafeInteger(enrolment.expiresAt)) throw invalid(`expiresAt must be unix ms, got ${enrolment.expiresAt}`);
    const createdAt = this.#clock();
    await this.#run('createEnrolment', true, async (db) => {
      if (!(await enrolments.credentialExists(db, enrolment.credentialId))) {
        throw new PosternError(ErrorCodes.NOT_FOUND, `no credential ${enrolment.credentialId}`);
      }
      await enrolments.createEnrolment(db, enrolment, createdAt);
    });
  }

  /** The UPDATE that marks the token used is the decision; the reads after it only name the result. */
  consumeEnrolment(tokenHash: string, at: number): Promise<EnrolmentResult> {
    if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return Promise.resolve({ status: 'unknown' });
    return this.#run('consumeEnrolment', true, (db) => enrolments.consumeEnrolment(db, tokenHash, at));
  }

  /** id 1..65535 and a secret of at least 32 bytes (INVALID_ARGUMENT); a duplicate id is CONFLICT. */
  async addPartner(partner: NewPartner): Promise<PartnerRecord> {
    if (!Number.isInteger(partner.id) || partner.id < 1 || partner.id > 65535) {
      throw invalid(`a partner id must be 1..65535, got ${partner.id}`);
    }
    if (!Buffer.isBuffer(partner.secret) || partner.secret.length < 32) {
      throw invalid('a partner secret must be at least 32 bytes');
    }
    const record: PartnerRecord = {
      id: partner.id,
      name: partner.name,
      allowedScopes: [...partner.allowedScopes],
      defaultScope: partner.defaultScope,
      enabled: partner.enabled,
      createdAt: this.#clock(),
    };
    return this.#run('addPartner', true, (db) => keys.addPartner(db, record, partner.secret));
  }

  /** By id; never includes secrets. */
  listPartners(): Promise<PartnerRecord[]> {
    return this.#run('listPartners', false, (db) => keys.listPartners(db));
  }

  removePartner(id: number): Promise<boolean> {
    return this.#run('removePartner', true, (db) => keys.removePartner(db, id));
  }

  /** Every partner, disabled ones too (with enabled: false), by id. */
  loadPartnerKeys(): Promise<PartnerKey[]> {
    return this.#run('loadPartnerKeys', false, (db) => keys.loadPartnerKeys(db));
  }

  /** In one transaction: the revocation, then (issuer 0) the revokedAt stamp of the link/credential. */
  async revoke(issuer: number, subject: string, reason: string | null): Promise<boolean> {
    checkSubject(subject, 'subject');
    const now = this.#clock();
    return this.#run('revoke', true, (db) => links.revoke(db, issuer, subject, reason, now));
  }

  /** Many revocations in one transaction (a hub snapshot's chunk); how many were not revoked yet. */
  async revokeMany(items: ReadonlyArray<{ issuer: number; subject: string; reason: string | null }>): Promise<number> {
    for (const item of items) checkSubject(item.subject, 'subject');
    const now = this.#clock();
    return this.#run('revokeMany', true, (db) => links.revokeMany(db, items, now));
  }

  isRevoked(issuer: number, subject: string): Promise<boolean> {
    return this.#run('isRevoked', false, (db) => links.isRevoked(db, issuer, subject));
  }

  recentReplayMarks(controllerId: string, sinceMs: number, sinceStep: number): Promise<ReplayMark[]> {
    return this.#run('recentReplayMarks', false, (db) => links.recentReplayMarks(db, controllerId, sinceMs, sinceStep));
  }

  /**
   * Door ids are deduplicated and sorted (JavaScript default sort, by UTF-16 code units) and
   * joined with ','; a door id may not be empty or contain ',' (INVALID_ARGUMENT). Ids are
   * assigned by the database from 0x40000000 up and never change.
   */
  async doorSetScope(doors: string[]): Promise<number> {
    const sorted = [...new Set(doors)].sort();
    if (sorted.length === 0) throw invalid('a door set needs at least one door');
    for (const door of sorted) {
      if (door === '' || door.includes(',')) throw invalid(`door id ${JSON.stringify(door)} is empty or contains ','`);
    }
    return this.#run('doorSetScope', true, (db) => site.doorSetScope(db, sorted.join(',')));
  }

  listDoorSets(): Promise<DoorSet[]> {
    return this.#run('listDoorSets', false, (db) => site.listDoorSets(db));
  }

  async setDoorMode(door: string, mode: DoorMode): Promise<void> {
    if (!DOOR_MODES.includes(mode)) throw invalid(`door mode must be one of ${DOOR_MODES.join(', ')}, got ${String(mode)}`);
    await this.#run('setDoorMode', true, (db) => site.setDoorMode(db, door, mode));
  }

  getDoorModes(): Promise<Record<string, DoorMode>> {
    return this.#run('getDoorModes', false, (db) => site.getDoorModes(db));
  }

  /** A (controllerId, seq) that exists already fails the whole batch with CONFLICT. */
  appendAudit(events: AuditEvent[]): Promise<void> {
    return this.#run('appendAudit', true, (db) => audit.appendAudit(db, events));
  }

  lastAudit(controllerId: string): Promise<AuditEvent | undefined> {
    return this.#run('lastAudit', false, (db) => audit.lastAudit(db, controllerId));
  }

  /** See auditQueries.queryAudit for order, paging and limits. */
  queryAudit(query: AuditQuery): Promise<AuditEvent[]> {
    return this.#run('queryAudit', false, (db) => audit.queryAudit(db, query));
  }

  /** Pages of pageSize (default 1000, at most 10_000) by seq; each page is one query. */
  async *iterateAudit(controllerId: string, pageSize = audit.AUDIT_DEFAULT_PAGE): AsyncIterable<AuditEvent> {
    const size = Math.min(audit.AUDIT_MAX_LIMIT, Math.max(1, Math.trunc(pageSize)));
    let afterSeq = Number.MIN_SAFE_INTEGER;
    for (;;) {
      const page = await this.#run('iterateAudit', false, (db) => audit.auditPage(db, controllerId, afterSeq, size));
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < size) return;
      afterSeq = last.seq;
    }
  }

  auditControllers(): Promise<string[]> {
    return this.#run('auditControllers', false, (db) => audit.auditControllers(db));
  }

  /** A name taken already, also in another letter case, is CONFLICT. */
  createUser(user: NewUser): Promise<UserRecord> {
    return this.#run('createUser', true, (db) => accounts.createUser(db, user));
  }

  getUserByName(name: string): Promise<StoredUser | undefined> {
    return this.#run('getUserByName', false, (db) => accounts.getUserByName(db, name));
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#run('listUsers', false, (db) => accounts.listUsers(db));
  }

  async updateUser(id: string, changes: UserChanges): Promise<boolean> {
    if (Object.values(changes).every((value) => value === undefined)) throw invalid('updateUser needs at least one change');
    return this.#run('updateUser', true, (db) => accounts.updateUser(db, id, changes));
  }

  removeUser(id: string): Promise<boolean> {
    return this.#run('removeUser', true, (db) => accounts.removeUser(db, id));
  }

  /** The hash must be 64 hex characters (INVALID_ARGUMENT); a duplicate id or hash is CONFLICT. */
  async createToken(token: NewToken): Promise<TokenRecord> {
    if (!/^[0-9a-f]{64}$/.test(token.tokenHash)) throw invalid('a token hash must be 64 lowercase hex characters');
    return this.#run('createToken', true, (db) => accounts.createToken(db, token));
  }

  getToken(id: string): Promise<TokenRecord | undefined> {
    return this.#run('getToken', false, (db) => accounts.getToken(db, id));
  }

  getTokenByHash(tokenHash: string): Promise<TokenRecord | undefined> {
    return this.#run('getTokenByHash', false, (db) => accounts.getTokenByHash(db, tokenHash));
  }

  listTokens(): Promise<TokenRecord[]> {
    return this.#run('listTokens', false, (db) => accounts.listTokens(db));
  }

  /** One conditional UPDATE, so that concurrent callers (or hubs) write at most once per interval. */
  touchToken(id: string, at: number, minIntervalMs = 0): Promise<boolean> {
    return this.#run('touchToken', true, (db) => accounts.touchToken(db, id, at, Math.max(0, minIntervalMs)));
  }

  revokeToken(id: string, at: number): Promise<boolean> {
    return this.#run('revokeToken', true, (db) => accounts.revokeToken(db, id, at));
  }

  accountsVersion(): Promise<string | undefined> {
    return this.#run('accountsVersion', false, (db) => accounts.accountsVersion(db));
  }
}
