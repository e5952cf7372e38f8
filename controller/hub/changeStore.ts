/**
 * What the hub sends controllers: the change log (one row a change, `cursor` a bigserial shared by
 * every site) and the revocations it builds. Every read is keyed by one site.
 *
 * Cursors of one site commit in cursor order: a writer locks the site's row before its change
 * takes a cursor, so a reader that has seen cursor n of a site never later finds an n - 1 of it
 * committed behind its back. The change's NOTIFY is sent by a trigger (hubMigrations.ts) in the
 * same transaction.
 */
import { sql } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { MAX_REASON_LENGTH, SUBJECT_PATTERN } from '../sync/syncFrames.ts';
import type { HubDb } from './hubDatabase.ts';

/** More changes behind than this, and a controller gets the whole set instead (docs/sync.md). */
export const SNAPSHOT_AFTER_CHANGES = 10_000;

export interface Revocation {
  issuer: number;
  subject: string;
  revokedAt: number;
  reason: string | null;
}

export interface ChangeItem extends Revocation {
  cursor: number;
  kind: 'revocation';
}

/** A snapshot is sent from its cursor alone: its revocations are read afterwards, page by page (snapshotPage). */
export type SyncStart = { kind: 'snapshot'; cursor: number } | { kind: 'changes' };

/** Where a page of a snapshot starts: after this (issuer, subject), in the primary key's order. */
export interface SnapshotKey {
  issuer: number;
  subject: string;
}

/** How long the change log keeps a change (docs/sync.md): a controller further behind gets a snapshot. */
export const KEEP_CHANGES_MS = 30 * 24 * 60 * 60 * 1000;

export class ChangeStore {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Revokes a subject of an issuer at the site; `created` false (and no change) when it was revoked already. */
  async revokeSubject(siteId: string, issuer: number, subject: string, reason: string | null): Promise<{ created: boolean; cursor: number; revokedAt: number }> {
    if (!Number.isInteger(issuer) || issuer < 0 || issuer > 0xffff) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `an issuer is 0 to 65535, not ${issuer}`);
    // As everywhere in Postern (and as controllers parse it): the decimal uint64 of the codes.
    if (!SUBJECT_PATTERN.test(subject) || BigInt(subject) > 0xffffffffffffffffn) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `"${subject}" is not a subject: a whole number from 0 to 18446744073709551615, in decimal without leading zeros`);
    }
    if (reason !== null && reason.length > MAX_REASON_LENGTH) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `a reason is at most ${MAX_REASON_LENGTH} characters`);
    const revokedAt = this.clock();
    return this.db.transaction().execute((trx) => insertRevocation(trx, siteId, issuer, subject, reason, revokedAt));
  }

  /** The site's changes after the cursor, oldest first, at most `limit`. */
  async changesAfter(siteId: string, cursor: number, limit = 1000): Promise<ChangeItem[]> {
    const rows = await this.db.selectFrom('hub_changes').select(['cursor', 'kind', 'body']).where('site_id', '=', siteId).where('cursor', '>', cursor).orderBy('cursor').limit(limit).execute();
    return rows.map((row) => ({ ...(row.body as unknown as Revocation), cursor: row.cursor, kind: 'revocation' }));
  }

  /**
   * Whether a controller at `cursor` gets the site's whole set (cursor 0; older than the site's
   * oldest kept change; newer than its newest, i.e. from another database; or too far behind) or
   * the changes after its cursor. A snapshot's cursor is taken here, before any of its revocations
   * is read (snapshotPage): revocations are never taken back, so the pages read afterwards hold
   * every revocation up to that cursor (and maybe some later ones, which come again as changes
   * after it: applying one twice is harmless).
   */
  async syncStart(siteId: string, cursor: number): Promise<SyncStart> {
    return this.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (trx) => {
        const bounds = await trx
          .selectFrom('hub_changes')
          .select((eb) => [eb.fn.min('cursor').as('oldest'), eb.fn.max('cursor').as('newest')])
          .where('site_id', '=', siteId)
          .executeTakeFirst();
        const oldest = bounds?.oldest ?? null;
        const newest = bounds?.newest ?? 0;
        let snapshot = cursor === 0 || cursor > newest || (oldest !== null && cursor < oldest);
        if (!snapshot) {
          const behind = await sql<{ n: number }>`
            SELECT count(*)::int AS n FROM (
              SELECT 1 FROM hub_changes WHERE site_id = ${siteId} AND cursor > ${cursor} LIMIT ${SNAPSHOT_AFTER_CHANGES + 1}
            ) AS behind`.execute(trx);
          snapshot = (behind.rows[0]?.n ?? 0) > SNAPSHOT_AFTER_CHANGES;
        }
        return snapshot ? { kind: 'snapshot', cursor: newest } : { kind: 'changes' };
      });
  }

  /**
   * One page of the site's revocations after `after` (from the first when undefined), in
   * (issuer, subject) order: keyset pagination on the primary key, so a page costs the same
   * wherever it is and the whole set is never held at once.
   */
  async snapshotPage(siteId: string, after: SnapshotKey | undefined, limit: number): Promise<{ revocations: Revocation[]; next: SnapshotKey | undefined }> {
    let query = this.db.selectFrom('hub_revocations').select(['issuer', 'subject', 'revoked_at', 'reason']).where('site_id', '=', siteId);
    if (after !== undefined) query = query.where(sql<boolean>`(site_id, issuer, subject) > (${siteId}, ${after.issuer}, ${after.subject})`);
    const rows = await query.orderBy('issuer').orderBy('subject').limit(limit).execute();
    const revocations = rows.map((r) => ({ issuer: r.issuer, subject: r.subject, revokedAt: Number(r.revoked_at), reason: r.reason }));
    const lastRow = revocations.at(-1);
    return { revocations, next: rows.length < limit || lastRow === undefined ? undefined : { issuer: lastRow.issuer, subject: lastRow.subject } };
  }

  /**
   * Deletes changes older than `keepMs` (default 30 days), keeping each site's newest change, so
   * that a site's cursor is never lost. A controller whose cursor is older than the site's oldest
   * kept change then gets a snapshot (syncStart). Returns how many were deleted.
   */
  async prune(keepMs: number = KEEP_CHANGES_MS): Promise<number> {
    const before = this.clock() - keepMs;
    const result = await sql`
      DELETE FROM hub_changes AS c
      WHERE c.created_at < ${before}
        AND c.cursor < (SELECT max(n.cursor) FROM hub_changes AS n WHERE n.site_id = c.site_id)`.execute(this.db);
    return Number(result.numAffectedRows ?? 0n);
  }
}

/**
 * A revocation and its change, in the caller's transaction (revokeSubject; siteWideEffects.ts for a
 * revocation a controller made). The site row is locked, so changes of a site get their cursors in
 * commit order. The subject and reason are the caller's to check.
 */
export async function insertRevocation(
  trx: HubDb,
  siteId: string,
  issuer: number,
  subject: string,
  reason: string | null,
  revokedAt: number,
): Promise<{ created: boolean; cursor: number; revokedAt: number }> {
  const site = await trx.selectFrom('hub_sites').select('id').where('id', '=', siteId).forUpdate().executeTakeFirst();
  if (site === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no site ${siteId} at this hub`);
  const inserted = await trx
    .insertInto('hub_revocations')
    .values({ site_id: siteId, issuer, subject, revoked_at: revokedAt, reason })
    .onConflict((oc) => oc.columns(['site_id', 'issuer', 'subject']).doNothing())
    .executeTakeFirst();
  if (inserted.numInsertedOrUpdatedRows === 0n) {
    const last = await trx.selectFrom('hub_changes').select((eb) => eb.fn.max('cursor').as('cursor')).where('site_id', '=', siteId).executeTakeFirst();
    return { created: false, cursor: last?.cursor ?? 0, revokedAt };
  }
  const body = JSON.stringify({ issuer, subject, revokedAt, reason });
  const change = await trx.insertInto('hub_changes').values({ site_id: siteId, kind: 'revocation', body, created_at: revokedAt }).returning('cursor').executeTakeFirstOrThrow();
  return { created: true, cursor: change.cursor, revokedAt };
}
