/**
 * Accounts: users (name and password) and API tokens, each with a role. The CLI uses it to make the
 * first admin, the integrator API to authenticate every connection and for its admin methods.
 * Every change lands in the audit trail with the actor that made it; no event holds a password,
 * a hash or a token.
 *
 * - Passwords: scrypt (passwordHash.ts). verifyPassword spends one scrypt whether or not the name
 *   exists, so its timing does not tell which names do.
 * - Tokens: `pst_` and 43 base64url characters (32 random bytes). The store keeps their sha256 and
 *   the first 8 characters; the token itself is returned once, by createToken.
 * - All times are this class's clock, in unix ms.
 * - A change that takes a right away (revokeToken, disableUser, removeUser, setRole) answers only
 *   once this process's open connections and sessions have been checked again (`changes`), so a
 *   client that saw the answer cannot still use what was taken away here.
 */
import { createHash, randomBytes } from 'node:crypto';

import type { AuditTrail } from '../audit/auditTrail.ts';
import { ErrorCodes, PosternError, isPosternError } from '../../machines/shared/errors.ts';
import type { Store } from '../store/storeTypes.ts';
import {
  isRole,
  isUserRole,
  ROLES,
  type Principal,
  type Role,
  type TokenRecord,
  type UserRecord,
  type UserRole,
} from './accountTypes.ts';
import { AccountChanges, type AccountChangeFeed } from './accountChanges.ts';
import { hashPassword, spendDummyHash, verifyPasswordHash } from './passwordHash.ts';

/** The store methods Accounts uses. */
export type AccountStore = Pick<
  Store,
  | 'createUser'
  | 'getUserByName'
  | 'listUsers'
  | 'updateUser'
  | 'removeUser'
  | 'createToken'
  | 'getToken'
  | 'getTokenByHash'
  | 'listTokens'
  | 'touchToken'
  | 'revokeToken'
  | 'accountsVersion'
>;

export interface AccountsDependencies {
  store: AccountStore;
  audit: Pick<AuditTrail, 'append'>;
  clock?: () => number;
  /** Told when a lastLoginAt or lastUsedAt stamp cannot be written (sign-in still succeeds). */
  logger?: { warn(obj: object, msg?: string): void };
}

export type AccountAction =
  | 'user.create'
  | 'user.password'
  | 'user.role'
  | 'user.disable'
  | 'user.enable'
  | 'user.remove'
  | 'token.create'
  | 'token.revoke';

export const NAME_PATTERN = /^[a-zA-Z0-9._@-]{1,64}$/;
/** Scanner ids as the site file allows them (controller/config/configSchema.ts). */
export const SCANNER_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const TOKEN_PREFIX = 'pst_';
/** `pst_` and base64url of 32 bytes, without padding. */
export const TOKEN_PATTERN = /^pst_[A-Za-z0-9_-]{43}$/;
export const PASSWORD_MIN_LENGTH = 12;
/** Longer passwords are refused: scrypt's cost grows with the length, and nobody types 1024. */
export const PASSWORD_MAX_LENGTH = 1024;
/** lastUsedAt is written at most this often per token. */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000;
/** The characters of a token kept to recognise it. */
export const TOKEN_PREFIX_LENGTH = 8;

/** Whether a text has the shape of a Postern API token (says nothing of whether it is valid). */
export function isWellFormedToken(token: unknown): token is string {
  return typeof token === 'string' && token.length === 47 && TOKEN_PATTERN.test(token);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function invalid(field: string, message: string): PosternError {
  return new PosternError(ErrorCodes.INVALID_ARGUMENT, `${field}: ${message}`, { details: { field } });
}

function notFound(message: string): PosternError {
  return new PosternError(ErrorCodes.NOT_FOUND, message);
}

function newId(kind: 'usr' | 'tok'): string {
  return `${kind}_${randomBytes(8).toString('hex')}`;
}

function checkName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw invalid(field, `must be 1-64 characters: letters, digits and . _ @ -, got ${JSON.stringify(name)}`);
  }
  return name;
}

function passwordLength(password: string): number {
  return [...password.normalize('NFKC')].length;
}

function checkPassword(password: unknown): string {
  if (typeof password !== 'string') throw invalid('password', 'must be a string');
  const length = passwordLength(password);
  if (length < PASSWORD_MIN_LENGTH) throw invalid('password', `must be at least ${PASSWORD_MIN_LENGTH} characters, got ${length}`);
  if (length > PASSWORD_MAX_LENGTH) throw invalid('password', `must be at most ${PASSWORD_MAX_LENGTH} characters`);
  return password;
}

function checkUserRole(role: unknown): UserRole {
  if (!isUserRole(role)) {
    throw invalid('role', `a user's role is one of ${ROLES.filter((r) => r !== 'scanner').join(', ')}, got ${JSON.stringify(role)}`);
  }
  return role;
}

function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor === '') throw invalid('actor', 'who makes the change must be named');
  return actor;
}

export class Accounts {
  readonly #deps: AccountsDependencies;
  readonly #clock: () => number;
  /** When this process last wrote lastUsedAt per token id: no second write within the interval. */
  readonly #touched = new Map<string, number>();
  readonly #changes: AccountChanges;

  constructor(dependencies: AccountsDependencies) {
    this.#deps = dependencies;
    this.#clock = dependencies.clock ?? Date.now;
    this.#changes = new AccountChanges({
      read: () => dependencies.store.accountsVersion(),
      onError: (error) => dependencies.logger?.warn({ err: error }, 'cannot check the store for account changes: open connections keep their last check'),
    });
  }

  /**
   * Account changes of every process on this store, for whoever holds connections open on a
   * principal: the API server and the web sessions close or downgrade them at once.
   */
  get changes(): AccountChangeFeed {
    return this.#changes;
  }

  // ---- users ----

  async createUser(request: { name: string; password: string; role: UserRole }, actor: string): Promise<UserRecord> {
    const name = checkName(request?.name);
    const password = checkPassword(request.password);
    const role = checkUserRole(request.role);
    checkActor(actor);
    const passwordHash = await hashPassword(password);
    let user: UserRecord;
    try {
      user = await this.#deps.store.createUser({ id: newId('usr'), name, passwordHash, role, createdAt: this.#clock(), createdBy: actor });
    } catch (error) {
      if (isPosternError(error, ErrorCodes.CONFLICT)) {
        throw new PosternError(ErrorCodes.CONFLICT, `user "${name}" exists already (names are unique ignoring letter case)`, {
          cause: error,
          details: { field: 'name' },
        });
      }
      throw error;
    }
    await this.#record(actor, 'user.create', user.id, { name, role });
    return user;
  }

  /**
   * The principal of a user whose password matches, or undefined: unknown name, wrong password,
   * disabled user. Costs one scrypt in every case but a password over the length limit.
   */
  async verifyPassword(name: string, password: string): Promise<Principal | undefined> {
    if (typeof password !== 'string' || passwordLength(password) > PASSWORD_MAX_LENGTH) return undefined;
    const user = typeof name === 'string' && NAME_PATTERN.test(name) ? await this.#deps.store.getUserByName(name) : undefined;
    if (user === undefined) {
      await spendDummyHash(password);
      return undefined;
    }
    const matches = await verifyPasswordHash(password, user.passwordHash);
    if (!matches || user.disabled) return undefined;
    try {
      await this.#deps.store.updateUser(user.id, { lastLoginAt: this.#clock() });
    } catch (error) {
      this.#deps.logger?.warn({ err: error, user: user.name }, 'cannot record the sign-in time');
    }
    return { kind: 'user', id: user.id, name: user.name, role: user.role, scanner: null };
  }

  /** NOT_FOUND when there is no such user. */
  async getUser(name: string): Promise<UserRecord> {
    checkName(name);
    const stored = await this.#deps.store.getUserByName(name);
    if (stored === undefined) throw notFound(`no user "${name}"`);
    const { passwordHash: _hash, ...user } = stored;
    return user;
  }

  listUsers(): Promise<UserRecord[]> {
    return this.#deps.store.listUsers();
  }

  async setPassword(name: string, password: string, actor: string): Promise<UserRecord> {
    checkPassword(password);
    checkActor(actor);
    const user = await this.getUser(name);
    const passwordHash = await hashPassword(password);
    if (!(await this.#deps.store.updateUser(user.id, { passwordHash }))) throw notFound(`no user "${name}"`);
    await this.#record(actor, 'user.password', user.id, { name: user.name });
    return user;
  }

  /** Setting the role a user has already changes nothing and records nothing. */
  async setRole(name: string, role: UserRole, actor: string): Promise<UserRecord> {
    checkUserRole(role);
    checkActor(actor);
    const user = await this.getUser(name);
    if (user.role === role) return user;
    if (!(await this.#deps.store.updateUser(user.id, { role }))) throw notFound(`no user "${name}"`);
    await this.#changes.check();
    await this.#record(actor, 'user.role', user.id, { name: user.name, role, previous: user.role });
    return { ...user, role };
  }

  /** A disabled user cannot sign in. Disabling one that is disabled already records nothing. */
  async disableUser(name: string, actor: string): Promise<UserRecord> {
    checkActor(actor);
    const user = await this.getUser(name);
    if (user.disabled) return user;
    if (!(await this.#deps.store.updateUser(user.id, { disabled: true }))) throw notFound(`no user "${name}"`);
    await this.#changes.check();
    await this.#record(actor, 'user.disable', user.id, { name: user.name });
    return { ...user, disabled: true };
  }

  /** Undoes disableUser: the user may sign in again. Enabling one that is enabled records nothing. */
  async enableUser(name: string, actor: string): Promise<UserRecord> {
    checkActor(actor);
    const user = await this.getUser(name);
    if (!user.disabled) return user;
    if (!(await this.#deps.store.updateUser(user.id, { disabled: false }))) throw notFound(`no user "${name}"`);
    await this.#record(actor, 'user.enable', user.id, { name: user.name });
    return { ...user, disabled: false };
  }

  async removeUser(name: string, actor: string): Promise<void> {
    checkActor(actor);
    const user = await this.getUser(name);
    if (!(await this.#deps.store.removeUser(user.id))) throw notFound(`no user "${name}"`);
    await this.#changes.check();
    await this.#record(actor, 'user.remove', user.id, { name: user.name, role: user.role });
  }

  // ---- API tokens ----

  /**
   * A new token: its text is in the answer and nowhere else, ever. Role 'scanner' needs the id of
   * the scanner it may send reads for (checked here for shape only: whether the site has that
   * scanner is the caller's to check); other roles must not have one.
   */
  async createToken(
    request: { name: string; role: Role; scanner?: string | null; doors?: string[] | null },
    actor: string,
  ): Promise<{ token: string; record: TokenRecord }> {
    const name = checkName(request?.name);
    if (!isRole(request.role)) throw invalid('role', `a token's role is one of ${ROLES.join(', ')}, got ${JSON.stringify(request.role)}`);
    const role = request.role;
    const scanner = request.scanner ?? null;
    if (role === 'scanner') {
      if (scanner === null) throw invalid('scanner', "a token with role 'scanner' needs the id of its scanner");
      if (typeof scanner !== 'string' || !SCANNER_ID_PATTERN.test(scanner)) {
        throw invalid('scanner', `must be a scanner id (1-64 characters: a-z, 0-9, - and _), got ${JSON.stringify(scanner)}`);
      }
    } else if (scanner !== null) {
      throw invalid('scanner', `only a token with role 'scanner' has a scanner, not one with role '${role}'`);
    }
    const doors = request.doors ?? null;
    if (doors !== null) {
      if (!Array.isArray(doors) || doors.length === 0 || doors.length > 256) throw invalid('doors', 'a token limited to doors names 1 to 256 of them');
      const bad = doors.find((d) => typeof d !== 'string' || !SCANNER_ID_PATTERN.test(d));
      if (bad !== undefined) throw invalid('doors', `must be door ids (1-64 characters: a-z, 0-9, - and _), got ${JSON.stringify(bad)}`);
      if (role === 'admin') throw invalid('doors', 'an admin token cannot be limited to doors: it manages the whole site');
    }
    checkActor(actor);
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record = await this.#deps.store.createToken({
      id: newId('tok'),
      name,
      tokenHash: hashToken(token),
      prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
      role,
      scanner,
      doors: doors === null ? null : [...new Set(doors)],
      createdAt: this.#clock(),
      createdBy: actor,
    });
    await this.#record(actor, 'token.create', record.id, { name, role, scanner, ...(doors !== null ? { doors: record.doors } : {}) });
    return { token, record };
  }

  /**
   * The principal of a valid token, or undefined (malformed, unknown, revoked). A malformed text
   * never reaches the store. Store failures are thrown (STORE_UNAVAILABLE), not turned into
   * "unknown token". lastUsedAt is written at most once a minute per token.
   */
  async authenticateToken(token: string): Promise<Principal | undefined> {
    if (!isWellFormedToken(token)) return undefined;
    const record = await this.#deps.store.getTokenByHash(hashToken(token));
    if (record === undefined || record.revokedAt !== null) return undefined;
    await this.#touch(record);
    return { kind: 'token', id: record.id, name: record.name, role: record.role, scanner: record.scanner, ...doorsOf(record) };
  }

  /**
   * The principal as it stands now, for connections that outlive the check made when they opened:
   * undefined once the token is revoked or the user disabled or removed. Throws when the store
   * cannot answer.
   */
  async reauthenticate(principal: Principal): Promise<Principal | undefined> {
    if (principal.kind === 'token') {
      const record = await this.#deps.store.getToken(principal.id);
      if (record === undefined || record.revokedAt !== null) return undefined;
      return { kind: 'token', id: record.id, name: record.name, role: record.role, scanner: record.scanner, ...doorsOf(record) };
    }
    const user = await this.#deps.store.getUserByName(principal.name);
    if (user === undefined || user.disabled || user.id !== principal.id) return undefined;
    return { kind: 'user', id: user.id, name: user.name, role: user.role, scanner: null };
  }

  /** NOT_FOUND when there is no such token. */
  async getToken(id: string): Promise<TokenRecord> {
    if (typeof id !== 'string' || id === '') throw invalid('id', 'give the id of a token');
    const record = await this.#deps.store.getToken(id);
    if (record === undefined) throw notFound(`no token ${id}`);
    return record;
  }

  /** Revoked ones too, oldest first. */
  listTokens(): Promise<TokenRecord[]> {
    return this.#deps.store.listTokens();
  }

  /** Refused from the next authenticateToken on. CONFLICT when it is revoked already. */
  async revokeToken(id: string, actor: string): Promise<TokenRecord> {
    checkActor(actor);
    const record = await this.getToken(id);
    const at = this.#clock();
    if (record.revokedAt !== null || !(await this.#deps.store.revokeToken(id, at))) {
      throw new PosternError(ErrorCodes.CONFLICT, `token ${id} is revoked already`);
    }
    this.#touched.delete(id);
    await this.#changes.check();
    await this.#record(actor, 'token.revoke', id, { name: record.name });
    return { ...record, revokedAt: at };
  }

  async #touch(record: TokenRecord): Promise<void> {
    const now = this.#clock();
    const last = Math.max(record.lastUsedAt ?? -Infinity, this.#touched.get(record.id) ?? -Infinity);
    // A clock that stepped back (now < last) also waits: the stamp never runs backwards.
    if (now - last < TOKEN_TOUCH_INTERVAL_MS) return;
    this.#touched.set(record.id, now);
    if (this.#touched.size > 10_000) this.#forgetOldTouches(now);
    try {
      await this.#deps.store.touchToken(record.id, now, TOKEN_TOUCH_INTERVAL_MS);
    } catch (error) {
      this.#deps.logger?.warn({ err: error, token: record.id }, 'cannot record when a token was last used');
    }
  }

  #forgetOldTouches(now: number): void {
    for (const [id, at] of this.#touched) if (now - at >= TOKEN_TOUCH_INTERVAL_MS) this.#touched.delete(id);
  }

  async #record(actor: string, action: AccountAction, subject: string, data: Record<string, unknown>): Promise<void> {
    await this.#deps.audit.append({
      type: 'operator',
      door: null,
      scanner: null,
      subject,
      kind: null,
      issuer: null,
      verdict: null,
      reason: action,
      actor,
      data,
    });
  }
}

/** A principal carries `doors` only when its token is limited to some: unlimited ones stay as they were. */
function doorsOf(record: TokenRecord): { doors?: readonly string[] } {
  return record.doors === null ? {} : { doors: record.doors };
}
