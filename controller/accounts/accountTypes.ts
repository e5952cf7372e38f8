/**
 * Accounts, roles and API tokens: the types every layer shares (store, Accounts, the API, the CLI).
 * No runtime dependencies, so that the store's contract can import them.
 */

export type Role = 'viewer' | 'operator' | 'integrator' | 'admin' | 'scanner';

/** The roles a user may have: every role but 'scanner', which is for a scanner device's token. */
export type UserRole = Exclude<Role, 'scanner'>;

/** Roles in order of power; 'scanner' is outside the order: a network scanner device's token, which may only send reads for its own scanner. */
export const ROLE_ORDER: readonly Role[] = ['viewer', 'operator', 'integrator', 'admin'];

/** Every role, for validation and usage texts. */
export const ROLES: readonly Role[] = [...ROLE_ORDER, 'scanner'];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isUserRole(value: unknown): value is UserRole {
  return isRole(value) && value !== 'scanner';
}

/** Whether `role` has at least the power of `needed`. A scanner's role is false for everything. */
export function roleAtLeast(role: Role, needed: UserRole): boolean {
  const have = ROLE_ORDER.indexOf(role);
  const want = ROLE_ORDER.indexOf(needed);
  return have >= 0 && want >= 0 && have >= want;
}

/** Who is calling: an API token or a signed-in user. The audit actor is `${kind}:${name}`. */
export interface Principal {
  kind: 'token' | 'user';
  id: string;
  name: string;
  role: Role;
  /** The scanner id a 'scanner' token may send reads for; null for every other role. */
  scanner: string | null;
  /** A token limited to these doors (api/doorLimits.ts); absent or null: every door. */
  doors?: readonly string[] | null;
}

/** The audit actor of a principal: `token:ci`, `user:ada`. */
export function principalActor(principal: Pick<Principal, 'kind' | 'name'>): string {
  return `${principal.kind}:${principal.name}`;
}

/** A user as reads return it: never the password hash. Times are unix ms. */
export interface UserRecord {
  id: string;
  name: string;
  role: UserRole;
  createdAt: number;
  createdBy: string | null;
  disabled: boolean;
  lastLoginAt: number | null;
}

/** An API token as reads return it: never the token nor its hash. Times are unix ms. */
export interface TokenRecord {
  id: string;
  name: string;
  role: Role;
  scanner: string | null;
  /** The doors it may act on and read; null: every door. */
  doors: string[] | null;
  createdAt: number;
  createdBy: string | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** The first 8 characters of the token ('pst_' and 4 more), to recognise it; never more. */
  prefix: string;
}
