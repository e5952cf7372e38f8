/**
 * Badge enrolment tokens: the queries behind KyselyStore. A token is kept only as its sha256; using
 * one is a single conditional UPDATE, so two requests with the same token can never both win.
 */
import type { Kysely } from 'kysely';

import type { Database } from './schema.ts';
import type { EnrolmentResult, NewEnrolment } from './storeTypes.ts';

export async function credentialExists(db: Kysely<Database>, id: string): Promise<boolean> {
  return (await db.selectFrom('credentials').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

export async function createEnrolment(db: Kysely<Database>, enrolment: NewEnrolment, createdAt: number): Promise<void> {
  await db
    .insertInto('enrolments')
    .values({ token_hash: enrolment.tokenHash, credential_id: enrolment.credentialId, created_at: createdAt, expires_at: enrolment.expiresAt, used_at: null })
    .execute();
}

export async function consumeEnrolment(db: Kysely<Database>, tokenHash: string, at: number): Promise<EnrolmentResult> {
  const result = await db
    .updateTable('enrolments')
    .set({ used_at: at })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('expires_at', '>', at)
    .executeTakeFirst();
  const row = await db.selectFrom('enrolments').select(['credential_id', 'used_at', 'expires_at']).where('token_hash', '=', tokenHash).executeTakeFirst();
  if (row === undefined) return { status: 'unknown' };
  if (Number(result.numUpdatedRows) === 0) return { status: row.used_at !== null ? 'used' : 'expired' };
  const credential = await db
    .selectFrom('credentials')
    .select(['id', 'name', 'scope', 'secret', 'created_at', 'created_by', 'revoked_at'])
    .where('id', '=', row.credential_id)
    .executeTakeFirst();
  if (credential === undefined) return { status: 'unknown' };
  if (credential.revoked_at !== null) return { status: 'revoked' };
  const revoked = await db.selectFrom('revocations').select('subject').where('issuer', '=', 0).where('subject', '=', credential.id).executeTakeFirst();
  if (revoked !== undefined) return { status: 'revoked' };
  return {
    status: 'ok',
    secret: Buffer.from(credential.secret),
    credential: {
      id: credential.id,
      name: credential.name,
      scope: Number(credential.scope),
      createdAt: Number(credential.created_at),
      createdBy: credential.created_by,
      revokedAt: null,
    },
  };
}
