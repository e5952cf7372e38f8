/**
 * Links, revocations and replay marks: the queries behind KyselyStore, written once for both
 * dialects. Arguments arrive validated; KyselyStore translates errors.
 */
import type { Kysely, Selectable } from 'kysely';

import type { Database, LinksTable } from './schema.ts';
import { searchCondition } from './holderQueries.ts';
import type { LinkChanges, LinkRecord, ListOptions, ReplayMark } from './storeTypes.ts';

export function toLink(row: Selectable<LinksTable>): LinkRecord {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    scope: Number(row.scope),
    notBefore: Number(row.not_before),
    notAfter: Number(row.not_after),
    onlineOnly: Number(row.online_only) === 1,
    maxUses: row.max_uses === null ? null : Number(row.max_uses),
    uses: Number(row.uses),
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export async function createLink(db: Kysely<Database>, record: LinkRecord): Promise<LinkRecord> {
  await db
    .insertInto('links')
    .values({
      id: record.id,
      name: record.name,
      email: record.email,
      scope: record.scope,
      not_before: record.notBefore,
      not_after: record.notAfter,
      online_only: record.onlineOnly ? 1 : 0,
      max_uses: record.maxUses,
      uses: record.uses,
      created_at: record.createdAt,
      created_by: record.createdBy,
      revoked_at: record.revokedAt,
    })
    .execute();
  return record;
}

export async function getLink(db: Kysely<Database>, id: string): Promise<LinkRecord | undefined> {
  const row = await db.selectFrom('links').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toLink(row);
}

export async function listLinks(db: Kysely<Database>, options: ListOptions): Promise<LinkRecord[]> {
  let qb = db.selectFrom('links').selectAll().orderBy('created_at').orderBy('id');
  if (options.includeRevoked !== true) qb = qb.where('revoked_at', 'is', null);
  if (options.search !== undefined) qb = qb.where(searchCondition(options.search, true));
  if (options.limit !== undefined) qb = qb.limit(Math.max(0, Math.trunc(options.limit)));
  // SQLite takes OFFSET only after a LIMIT.
  if (options.offset !== undefined && options.limit !== undefined) qb = qb.offset(Math.max(0, Math.trunc(options.offset)));
  return (await qb.execute()).map(toLink);
}

/** Changes what a link's code does not carry; undefined when there is no such link. */
export async function updateLink(db: Kysely<Database>, id: string, changes: LinkChanges): Promise<LinkRecord | undefined> {
  const set = {
    ...(changes.name !== undefined ? { name: changes.name } : {}),
    ...(changes.email !== undefined ? { email: changes.email } : {}),
  };
  if (Object.keys(set).length > 0) await db.updateTable('links').set(set).where('id', '=', id).execute();
  return getLink(db, id);
}

export async function useOnlineLink(
  db: Kysely<Database>,
  id: string,
): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted'> {
  const result = await db
    .updateTable('links')
    .set((eb) => ({ uses: eb('uses', '+', 1) }))
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('revocations')
            .select('revocations.issuer')
            .where('revocations.issuer', '=', 0)
            .whereRef('revocations.subject', '=', 'links.id'),
        ),
      ),
    )
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) > 0) return 'ok';
  // Refused: one more read, only to name the reason.
  const row = await db
    .selectFrom('links')
    .select((eb) => [
      'revoked_at',
      eb
        .exists(
          eb
            .selectFrom('revocations')
            .select('revocations.issuer')
            .where('revocations.issuer', '=', 0)
            .where('revocations.subject', '=', id),
        )
        .as('listed'),
    ])
    .where('id', '=', id)
    .executeTakeFirst();
  if (row === undefined) return 'unknown';
  // exists() is a boolean in PostgreSQL and 0/1 in SQLite.
  if (row.revoked_at !== null || Boolean(Number(row.listed))) return 'revoked';
  return 'exhausted';
}

export function revoke(
  db: Kysely<Database>,
  issuer: number,
  subject: string,
  reason: string | null,
  now: number,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('revocations')
      .values({ issuer, subject, revoked_at: now, reason })
      .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
    if (issuer === 0) {
      await trx
        .updateTable('links')
        .set({ revoked_at: now })
        .where('id', '=', subject)
        .where('revoked_at', 'is', null)
        .execute();
      await trx
        .updateTable('credentials')
        .set({ revoked_at: now })
        .where('id', '=', subject)
        .where('revoked_at', 'is', null)
        .execute();
    }
    return true;
  });
}

/** Rows per INSERT of revokeMany: 4 parameters each, well under SQLite's limit of bound variables. */
const REVOKE_MANY_ROWS = 500;

/**
 * Revokes many subjects in one transaction (a hub snapshot's chunk): multi-row inserts that skip
 * those revoked already, then (issuer 0) the revokedAt stamps. Returns how many were new.
 */
export function revokeMany(
  db: Kysely<Database>,
  items: ReadonlyArray<{ issuer: number; subject: string; reason: string | null }>,
  now: number,
): Promise<number> {
  if (items.length === 0) return Promise.resolve(0);
  return db.transaction().execute(async (trx) => {
    let fresh = 0;
    for (let i = 0; i < items.length; i += REVOKE_MANY_ROWS) {
      const rows = items.slice(i, i + REVOKE_MANY_ROWS).map((item) => ({ issuer: item.issuer, subject: item.subject, revoked_at: now, reason: item.reason }));
      const inserted = await trx
        .insertInto('revocations')
        .values(rows)
        .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
        .executeTakeFirst();
      fresh += Number(inserted.numInsertedOrUpdatedRows ?? 0);
    }
    const site = items.filter((item) => item.issuer === 0).map((item) => item.subject);
    for (let i = 0; i < site.length; i += REVOKE_MANY_ROWS) {
      const ids = site.slice(i, i + REVOKE_MANY_ROWS);
      await trx.updateTable('links').set({ revoked_at: now }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
      await trx.updateTable('credentials').set({ revoked_at: now }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
    }
    return fresh;
  });
}

export async function isRevoked(db: Kysely<Database>, issuer: number, subject: string): Promise<boolean> {
  const row = await db
    .selectFrom('revocations')
    .select('issuer')
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The controller's rotating grants since `sinceMs` (the audit_events_at index), with the step
 * their data records, and the legacy replay_marks rows since `sinceStep`.
 */
export async function recentReplayMarks(db: Kysely<Database>, controllerId: string, sinceMs: number, sinceStep: number): Promise<ReplayMark[]> {
  const grants = await db
    .selectFrom('audit_events')
    .select(['issuer', 'subject', 'data'])
    .where('at', '>=', sinceMs)
    .where('controller_id', '=', controllerId)
    .where('type', '=', 'decision')
    .where('verdict', '=', 'grant')
    .where('kind', '=', 'rotating')
    .execute();
  const marks: ReplayMark[] = [];
  for (const row of grants) {
    const step = stepOf(row.data);
    if (row.issuer !== null && row.subject !== null && step !== undefined) marks.push({ issuer: Number(row.issuer), subject: row.subject, step });
  }
  const legacy = await db.selectFrom('replay_marks').select(['issuer', 'subject', 'step']).where('step', '>=', sinceStep).execute();
  for (const row of legacy) marks.push({ issuer: Number(row.issuer), subject: row.subject, step: Number(row.step) });
  return marks;
}

function stepOf(data: string | null): number | undefined {
  if (data === null) return undefined;
  try {
    const step = (JSON.parse(data) as { step?: unknown }).step;
    return Number.isSafeInteger(step) ? (step as number) : undefined;
  } catch {
    return undefined;
  }
}
