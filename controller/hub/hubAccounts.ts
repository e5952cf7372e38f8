/**
 * The accounts of the hub's API (docs/hub-api.md): a name, a role (viewer reads, operator revokes
 * and runs a site's operator methods, admin manages sites, controllers and accounts) and one token,
 * `ph_<id>_<secret>`, shown once when made and kept as sha256 hex only (hubSecrets.ts). The id in
 * the token picks the row, so a token is checked against one hash, in constant time.
 */
import { z } from 'zod';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { HubDb } from './hubDatabase.ts';
import { accountTokenId, credentialMatches, newAccountId, newAccountToken, sha256Hex } from './hubSecrets.ts';

export const HUB_ROLES = ['viewer', 'operator', 'admin'] as const;
export type HubRole = (typeof HUB_ROLES)[number];
export const hubRoleSchema = z.enum(HUB_ROLES);

/** Names are shown in audit trails (`hub:<name>` at the controllers): short, printable, no spaces. */
const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export interface HubAccount {
  id: string;
  name: string;
  role: HubRole;
  createdAt: number;
  revokedAt: number | null;
}

export function isHubRole(value: unknown): value is HubRole {
  return typeof value === 'string' && (HUB_ROLES as readonly string[]).includes(value);
}

/** Whether `role` has at least the power of `needed`. */
export function hubRoleAtLeast(role: HubRole, needed: HubRole): boolean {
  return HUB_ROLES.indexOf(role) >= HUB_ROLES.indexOf(needed);
}

export class HubAccounts {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A new account and its token: the only time the token is seen. CONFLICT when the name is taken (revoked names too: trails name them). */
  async add(name: string, role: HubRole): Promise<{ account: HubAccount; token: string }> {
    if (!ACCOUNT_NAME.test(name)) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `an account name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit, not ${JSON.stringify(name)}`, { details: { field: 'name' } });
    if (!isHubRole(role)) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `a hub account's role is ${HUB_ROLES.join(', ')}, not ${JSON.stringify(role)}`, { details: { field: 'role' } });
    const id = newAccountId();
    const token = newAccountToken(id);
    const now = this.clock();
    const inserted = await this.db
      .insertInto('hub_accounts')
      .values({ id, name, role, token_hash: sha256Hex(token), created_at: now, revoked_at: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (inserted.numInsertedOrUpdatedRows === 0n) throw new PosternError(ErrorCodes.CONFLICT, `an account ${name} exists already`);
    return { account: { id, name, role, createdAt: now, revokedAt: null }, token };
  }

  /** Every account, revoked ones too, oldest first; never a token or its hash. */
  async list(): Promise<HubAccount[]> {
    const rows = await this.db.selectFrom('hub_accounts').select(['id', 'name', 'role', 'created_at', 'revoked_at']).orderBy('created_at').orderBy('id').execute();
    return rows.map(toAccount);
  }

  /** Ends the account's token at once (its open API connections are refused at their next call). False when revoked already. */
  async revoke(name: string): Promise<boolean> {
    const row = await this.db.selectFrom('hub_accounts').select(['id', 'revoked_at']).where('name', '=', name).executeTakeFirst();
    if (row === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no account ${name} at this hub`);
    if (row.revoked_at !== null) return false;
    await this.db.updateTable('hub_accounts').set({ revoked_at: this.clock() }).where('id', '=', row.id).where('revoked_at', 'is', null).execute();
    return true;
  }

  /** The account a token belongs to, unless it is unknown or revoked. */
  async authenticate(token: string): Promise<HubAccount | undefined> {
    const id = accountTokenId(token);
    if (id === undefined) return undefined;
    const row = await this.db.selectFrom('hub_accounts').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined || row.revoked_at !== null || !credentialMatches(token, row.token_hash)) return undefined;
    return toAccount(row);
  }

  /** The account as it stands now (role, revocation): checked before each call of an open connection. */
  async current(id: string): Promise<HubAccount | undefined> {
    const row = await this.db.selectFrom('hub_accounts').select(['id', 'name', 'role', 'created_at', 'revoked_at']).where('id', '=', id).executeTakeFirst();
    return row === undefined || row.revoked_at !== null ? undefined : toAccount(row);
  }
}

function toAccount(row: { id: string; name: string; role: string; created_at: number; revoked_at: number | null }): HubAccount {
  return { id: row.id, name: row.name, role: row.role as HubRole, createdAt: row.created_at, revokedAt: row.revoked_at };
}
