/**
 * Rotating credentials and partners: the queries behind KyselyStore. Secrets are selected only by
 * getCredentialKey and loadPartnerKeys; the list queries name their columns and leave them out.
 */
import type { Kysely, Selectable } from 'kysely';

import type { CredentialsTable, Database, PartnersTable } from './schema.ts';
import { searchCondition } from './holderQueries.ts';
import type { CredentialChanges, CredentialKey, CredentialRecord, ListOptions, PartnerKey, PartnerRecord } from './storeTypes.ts';

const CREDENTIAL_COLUMNS = ['id', 'name', 'scope', 'created_at', 'created_by', 'revoked_at'] as const;
const PARTNER_COLUMNS = ['id', 'name', 'allowed_scopes', 'default_scope', 'enabled', 'created_at'] as const;

function toCredential(row: Pick<Selectable<CredentialsTable>, (typeof CREDENTIAL_COLUMNS)[number]>): CredentialRecord {
  return {
    id: row.id,
    name: row.name,
    scope: Number(row.scope),
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

function parseScopes(text: string): number[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value.map(Number) : [];
}

function toPartner(row: Pick<Selectable<PartnersTable>, (typeof PARTNER_COLUMNS)[number]>): PartnerRecord {
  return {
    id: Number(row.id),
    name: row.name,
    allowedScopes: parseScopes(row.allowed_scopes),
    defaultScope: row.default_scope === null ? null : Number(row.default_scope),
    enabled: Number(row.enabled) === 1,
    createdAt: Number(row.created_at),
  };
}

export async function createCredential(
  db: Kysely<Database>,
  record: CredentialRecord,
  secret: Buffer,
): Promise<CredentialRecord> {
  await db
    .insertInto('credentials')
    .values({
      id: record.id,
      name: record.name,
      scope: record.scope,
      secret,
      created_at: record.createdAt,
      created_by: record.createdBy,
      revoked_at: record.revokedAt,
    })
    .execute();
  return record;
}

export async function listCredentials(db: Kysely<Database>, options: ListOptions): Promise<CredentialRecord[]> {
  let qb = db.selectFrom('credentials').select(CREDENTIAL_COLUMNS).orderBy('created_at').orderBy('id');
  if (options.includeRevoked !== true) qb = qb.where('revoked_at', 'is', null);
  if (options.search !== undefined) qb = qb.where(searchCondition(options.search, false));
  if (options.limit !== undefined) qb = qb.limit(Math.max(0, Math.trunc(options.limit)));
  // SQLite takes OFFSET only after a LIMIT.
  if (options.offset !== undefined && options.limit !== undefined) qb = qb.offset(Math.max(0, Math.trunc(options.offset)));
  return (await qb.execute()).map(toCredential);
}

/** undefined when there is no such credential. */
export async function updateCredential(db: Kysely<Database>, id: string, changes: CredentialChanges): Promise<CredentialRecord | undefined> {
  const set = {
    ...(changes.name !== undefined ? { name: changes.name } : {}),
    ...(changes.scope !== undefined ? { scope: changes.scope } : {}),
  };
  if (Object.keys(set).length > 0) await db.updateTable('credentials').set(set).where('id', '=', id).execute();
  const row = await db.selectFrom('credentials').select(CREDENTIAL_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toCredential(row);
}

export async function getCredentialKey(db: Kysely<Database>, id: string): Promise<CredentialKey | undefined> {
  const row = await db.selectFrom('credentials').select(['secret', 'scope']).where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : { secret: Buffer.from(row.secret), scope: Number(row.scope) };
}

export async function addPartner(db: Kysely<Database>, record: PartnerRecord, secret: Buffer): Promise<PartnerRecord> {
  await db
    .insertInto('partners')
    .values({
      id: record.id,
      name: record.name,
      secret,
      allowed_scopes: JSON.stringify(record.allowedScopes),
      default_scope: record.defaultScope,
      enabled: record.enabled ? 1 : 0,
      created_at: record.createdAt,
    })
    .execute();
  return record;
}

export async function listPartners(db: Kysely<Database>): Promise<PartnerRecord[]> {
  const rows = await db.selectFrom('partners').select(PARTNER_COLUMNS).orderBy('id').execute();
  return rows.map(toPartner);
}

export async function removePartner(db: Kysely<Database>, id: number): Promise<boolean> {
  const result = await db.deleteFrom('partners').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function loadPartnerKeys(db: Kysely<Database>): Promise<PartnerKey[]> {
  const rows = await db
    .selectFrom('partners')
    .select(['id', 'secret', 'allowed_scopes', 'default_scope', 'enabled'])
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: Number(row.id),
    secret: Buffer.from(row.secret),
    allowedScopes: parseScopes(row.allowed_scopes),
    defaultScope: row.default_scope === null ? null : Number(row.default_scope),
    enabled: Number(row.enabled) === 1,
  }));
}
