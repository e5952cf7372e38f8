/**
 * Users and API tokens: the queries behind KyselyStore, written once for both dialects. Password
 * and token hashes are selected only by getUserByName (for verification); the list and token
 * queries name their columns and leave the hashes out. Arguments arrive validated; KyselyStore
 * translates errors.
 *
 * Every change that can take a right away (a role, disabled, a user removed, a token revoked) also
 * bumps one settings row, ACCOUNTS_VERSION_SETTING, in the same transaction: controllers, which
 * may not be the process that made the change (the command line works on the store directly), poll
 * that row to notice at once and check their open connections again (accounts/accountChanges.ts).
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';

import type { Role, TokenRecord, UserRecord, UserRole } from '../accounts/accountTypes.ts';
import type { ApiTokensTable, Database, UsersTable } from './schema.ts';
import type { NewToken, NewUser, StoredUser, UserChanges } from './storeTypes.ts';

const USER_COLUMNS = ['id', 'name', 'role', 'created_at', 'created_by', 'disabled', 'last_login_at'] as const;
const TOKEN_COLUMNS = [
  'id',
  'name',
  'prefix',
  'role',
  'scanner',
  'doors',
  'created_at',
  'created_by',
  'last_used_at',
  'revoked_at',
] as const;

function nullableNumber(value: number | null): number | null {
  return value === null ? null : Number(value);
}

function toUser(row: Pick<Selectable<UsersTable>, (typeof USER_COLUMNS)[number]>): UserRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as UserRole,
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    disabled: Number(row.disabled) === 1,
    lastLoginAt: nullableNumber(row.last_login_at),
  };
}

function toToken(row: Pick<Selectable<ApiTokensTable>, (typeof TOKEN_COLUMNS)[number]>): TokenRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role as Role,
    scanner: row.scanner,
    doors: row.doors === null ? null : (JSON.parse(row.doors) as string[]),
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    lastUsedAt: nullableNumber(row.last_used_at),
    revokedAt: nullableNumber(row.revoked_at),
    prefix: row.prefix,
  };
}

export async function createUser(db: Kysely<Database>, user: NewUser): Promise<UserRecord> {
  await db
    .insertInto('users')
    .values({
      id: user.id,
      name: user.name,
      password_hash: user.passwordHash,
      role: user.role,
      created_at: user.createdAt,
      created_by: user.createdBy,
      disabled: 0,
      last_login_at: null,
    })
    .execute();
  return {
    id: user.id,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt,
    createdBy: user.createdBy,
    disabled: false,
    lastLoginAt: null,
  };
}

export async function getUserByName(db: Kysely<Database>, name: string): Promise<StoredUser | undefined> {
  const row = await db
    .selectFrom('users')
    .select([...USER_COLUMNS, 'password_hash'])
    .where('name', '=', name)
    .executeTakeFirst();
  return row === undefined ? undefined : { ...toUser(row), passwordHash: row.password_hash };
}

export async function listUsers(db: Kysely<Database>): Promise<UserRecord[]> {
  const rows = await db.selectFrom('users').select(USER_COLUMNS).orderBy('created_at').orderBy('id').execute();
  return rows.map(toUser);
}

/** The settings row every account change that can take a right away bumps. */
export const ACCOUNTS_VERSION_SETTING = 'postern.accountsVersion';

async function bumpAccountsVersion(trx: Transaction<Database>): Promise<void> {
  // CAST to bigint and back: settings values are text in both dialects.
  await trx
    .insertInto('settings')
    .values({ key: ACCOUNTS_VERSION_SETTING, value: '1' })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: sql<string>`cast(cast(settings.value as bigint) + 1 as text)` }))
    .execute();
}

/** Runs a change and the version bump in one transaction: the bump is never seen without it. */
function withBump<T>(db: Kysely<Database>, change: (trx: Transaction<Database>) => Promise<T>, bumpIf: (result: T) => boolean): Promise<T> {
  return db.transaction().execute(async (trx) => {
    const result = await change(trx);
    if (bumpIf(result)) await bumpAccountsVersion(trx);
    return result;
  });
}

/** The accounts version (undefined before the first change): one primary-key read. */
export async function accountsVersion(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', ACCOUNTS_VERSION_SETTING).executeTakeFirst();
  return row?.value;
}

export async function updateUser(db: Kysely<Database>, id: string, changes: UserChanges): Promise<boolean> {
  // A sign-in stamp or a new password takes no right away: no transaction, no bump.
  if (changes.role === undefined && changes.disabled === undefined) return updateUserRow(db, id, changes);
  return withBump(db, (trx) => updateUserRow(trx, id, changes), (updated) => updated);
}

async function updateUserRow(db: Kysely<Database>, id: string, changes: UserChanges): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({
      ...(changes.passwordHash === undefined ? {} : { password_hash: changes.passwordHash }),
      ...(changes.role === undefined ? {} : { role: changes.role }),
      ...(changes.disabled === undefined ? {} : { disabled: changes.disabled ? 1 : 0 }),
      ...(changes.lastLoginAt === undefined ? {} : { last_login_at: changes.lastLoginAt }),
    })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export function removeUser(db: Kysely<Database>, id: string): Promise<boolean> {
  return withBump(
    db,
    async (trx) => Number((await trx.deleteFrom('users').where('id', '=', id).executeTakeFirst()).numDeletedRows) > 0,
    (removed) => removed,
  );
}

export async function createToken(db: Kysely<Database>, token: NewToken): Promise<TokenRecord> {
  await db
    .insertInto('api_tokens')
    .values({
      id: token.id,
      name: token.name,
      token_hash: token.tokenHash,
      prefix: token.prefix,
      role: token.role,
      scanner: token.scanner,
      doors: token.doors === null ? null : JSON.stringify(token.doors),
      created_at: token.createdAt,
      created_by: token.createdBy,
      last_used_at: null,
      revoked_at: null,
    })
    .execute();
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    scanner: token.scanner,
    doors: token.doors,
    createdAt: token.createdAt,
    createdBy: token.createdBy,
    lastUsedAt: null,
    revokedAt: null,
    prefix: token.prefix,
  };
}

export async function getToken(db: Kysely<Database>, id: string): Promise<TokenRecord | undefined> {
  const row = await db.selectFrom('api_tokens').select(TOKEN_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toToken(row);
}

export async function getTokenByHash(db: Kysely<Database>, tokenHash: string): Promise<TokenRecord | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .select(TOKEN_COLUMNS)
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
  return row === undefined ? undefined : toToken(row);
}

export async function listTokens(db: Kysely<Database>): Promise<TokenRecord[]> {
  const rows = await db.selectFrom('api_tokens').select(TOKEN_COLUMNS).orderBy('created_at').orderBy('id').execute();
  return rows.map(toToken);
}

export async function touchToken(db: Kysely<Database>, id: string, at: number, minIntervalMs: number): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', at - minIntervalMs)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export function revokeToken(db: Kysely<Database>, id: string, at: number): Promise<boolean> {
  return withBump(
    db,
    async (trx) => {
      const result = await trx
        .updateTable('api_tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },
    (revoked) => revoked,
  );
}
