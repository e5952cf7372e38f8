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

export type SyncStart = { kind: 'snapshot'; cursor: number; revocations: Revocation[] } | { kind: 'changes' };

export class ChangeStore {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Revokes a subject of an issuer at the site; `created` false (and no change) when it was revoked already. */
  async revokeSubject(siteId: string, issuer: number, subject: string, reason: string | null): Promise<{ created: boolean; cursor: number; revokedAt: number }> {
    if (!Number.isInteger(issuer) || issuer < 0 || issuer > 0xffff) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `an issuer is 0 to 65535, not ${issuer}`);
    // As everywhere in Postern (and as controllers parse it): the decimal uint64 of the codes.
    if (!/^(0|[1-9][0-9]{0,19})$/.test(subject) || BigInt(subject) > 0xffffffffffffffffn) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `"${subject}" is not a subject: a whole number from 0 to 18446744073709551615, in decimal without leading zeros`);
    }
    const revokedAt = this.clock();
    return this.db.transaction().execute(async (trx) => {
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
    });
  }

  /** The site's changes after the cursor, oldest first, at most `limit`. */
  async changesAfter(siteId: string, cursor: number, limit = 1000): Promise<ChangeItem[]> {
    const rows = await this.db.selectFrom('hub_changes').select(['cursor', 'kind', 'body']).where('site_id', '=', siteId).where('cursor', '>', cursor).orderBy('cursor').limit(limit).execute();
    return rows.map((row) => ({ ...(row.body as unknown as Revocation), cursor: row.cursor, kind: 'revocation' }));
  }

  /**
   * Whether a controller at `cursor` gets the site's whole set (cursor 0; older than the site's
   * oldest kept change; newer than its newest, i.e. from another database; or too far behind) or
   * the changes after its cursor. The snapshot and its cursor are read in one snapshot of the
   * database, so the changes after that cursor are exactly what it lacks.
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
        if (!snapshot) return { kind: 'changes' };
        const rows = await trx.selectFrom('hub_revocations').select(['issuer', 'subject', 'revoked_at', 'reason']).where('site_id', '=', siteId).orderBy('issuer').orderBy('subject').execute();
        return { kind: 'snapshot', cursor: newest, revocations: rows.map((r) => ({ issuer: r.issuer, subject: r.subject, revokedAt: r.revoked_at, reason: r.reason })) };
      });
  }
}
