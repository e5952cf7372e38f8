/**
 * Online-only codes (kind 3) confirmed at the hub for a whole site (docs/sync.md, "Confirmations"):
 * every controller of the site asks here, so a use limit counts the uses at every door of the site,
 * not one controller's.
 *
 * Every query is keyed by the site the asking controller authenticated as (the caller passes the
 * session's site, never one a frame names): a controller of another site can neither read nor
 * move this site's counts.
 *
 * The rules, in order:
 * 1. a subject revoked at the hub for the site (hub_revocations) is `revoked`;
 * 2. the hub learns a code: the site's own link (issuer 0) from the first confirm that brings its
 *    limit (`maxUses`, sent by a controller that holds the link; null: no limit); a partner's code
 *    (issuer not 0) with a limit of one use per site, as the site cannot know a partner's limits;
 * 3. one atomic UPDATE counts the use when the limit allows it: `ok` with the uses so far; a code
 *    the hub knows whose uses are all used is `exhausted`; one it does not know is `unknown`.
 */
import { sql } from 'kysely';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { SUBJECT_PATTERN } from '../sync/syncFrames.ts';
import type { HubDb } from './hubDatabase.ts';

/** What a confirm is answered (`busy` is the session's, not this file's). */
export type OnlineUseAnswer = { answer: 'ok'; uses: number } | { answer: 'unknown' | 'revoked' | 'exhausted' };

/** The uses a partner's online-only code is confirmed at a site, in all. */
export const PARTNER_ONLINE_USES = 1;

export class OnlineUses {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Confirms one use of (issuer, subject) at the site, counting it. `maxUses`: undefined when the
   * asking controller does not hold the link (it cannot teach the hub a limit); null for a link it
   * holds without a limit. Throws only when the database fails: the caller then answers no `ok`.
   */
  async confirm(siteId: string, issuer: number, subject: string, maxUses: number | null | undefined): Promise<OnlineUseAnswer> {
    if (!Number.isInteger(issuer) || issuer < 0 || issuer > 0xffff) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `an issuer is 0 to 65535, not ${issuer}`);
    if (!SUBJECT_PATTERN.test(subject)) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'a subject is a decimal whole number');
    if (maxUses != null && (!Number.isSafeInteger(maxUses) || maxUses < 1)) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'a use limit is a positive whole number');
    const now = this.clock();
    if (await this.revoked(siteId, issuer, subject)) return { answer: 'revoked' };
    const limit = issuer === 0 ? maxUses : PARTNER_ONLINE_USES;
    if (limit !== undefined) {
      // The first limit the hub hears wins: a later controller (or a replayed frame) cannot raise it.
      await this.db
        .insertInto('hub_online_uses')
        .values({ site_id: siteId, issuer, subject, max_uses: limit, first_seen: now, last_used: null })
        .onConflict((oc) => oc.columns(['site_id', 'issuer', 'subject']).doNothing())
        .execute();
    }
    // One statement: two controllers confirming the last use at once cannot both be granted it. The
    // revocation is looked at again here, so one committed since the read above is not granted.
    const counted = await this.db
      .updateTable('hub_online_uses')
      .set((eb) => ({ uses: eb('uses', '+', 1), last_used: now }))
      .where('site_id', '=', siteId)
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('hub_revocations').select(sql.lit(1).as('one')).where('hub_revocations.site_id', '=', siteId).where('hub_revocations.issuer', '=', issuer).where('hub_revocations.subject', '=', subject))),
      )
      .returning('uses')
      .executeTakeFirst();
    if (counted !== undefined) return { answer: 'ok', uses: Number(counted.uses) };
    // Refused: one more read, only to name the reason.
    if (await this.revoked(siteId, issuer, subject)) return { answer: 'revoked' };
    const known = await this.db.selectFrom('hub_online_uses').select('uses').where('site_id', '=', siteId).where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return { answer: known === undefined ? 'unknown' : 'exhausted' };
  }

  /** The uses counted of (issuer, subject) at the site, and its limit; undefined when the hub does not know it. */
  async uses(siteId: string, issuer: number, subject: string): Promise<{ uses: number; maxUses: number | null } | undefined> {
    const row = await this.db.selectFrom('hub_online_uses').select(['uses', 'max_uses']).where('site_id', '=', siteId).where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return row === undefined ? undefined : { uses: Number(row.uses), maxUses: row.max_uses === null ? null : Number(row.max_uses) };
  }

  private async revoked(siteId: string, issuer: number, subject: string): Promise<boolean> {
    const row = await this.db.selectFrom('hub_revocations').select('issuer').where('site_id', '=', siteId).where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
    return row !== undefined;
  }
}
