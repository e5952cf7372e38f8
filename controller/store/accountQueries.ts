/**
 * Users and API tokens: the queries behind KyselyStore, written once for both dialects. Password
 * and token hashes are selected only by getUserByName (for verification); the list and token
 * queries name their columns and leave the hashes out. Arguments arrive validated; KyselyStore
 * translates errors.
 */
import type { Kysely, Selectable } from 'kysely';

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

export async function updateUser(db: Kysely<Database>, id: string, changes: UserChanges): Promise<boolean> {
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

export async function removeUser(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
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

export async function revokeToken(db: Kysely<Database>, id: string, at: number): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
