/**
 * What a controller's uploaded audit events change for its whole site. Every controller of a site
 * issues with the site's one key (siteKeyAgreement.ts), so a link made at one opens the doors of
 * all: what an operator does to it at one controller must reach the others.
 *
 * - `link.revoke` and `partner.revokeSubject` (by the controller's API, its web UI, or a hub
 *   account through site.call) become the site's revocation at the hub, which every controller of
 *   the site applies within a second, as one made at the hub. The controller that made it holds it
 *   already and records only that the hub confirmed it (`alreadyRevoked`). The hub's own revocations
 *   come back as `hub.revoke`, which is not looked at here, so nothing loops.
 * - `link.create` of an online-only link, made while the controller was enrolled, tells the hub its
 *   use limit, so its first use may be at any controller of the site (onlineUses.ts otherwise learns
 *   the limit from the first confirm of the controller that holds the link). One made before
 *   enrolment may have been used standalone: the controller that holds it teaches the hub what is
 *   left of its limit at its first confirm instead.
 *
 * Runs in the transaction that stores the batch: an event stored is an effect made, exactly once
 * (a batch resent after a lost ack stores nothing new and makes nothing again).
 *
 * Events of the administration chain (`postern link revoke` and the other commands at the site) are
 * not uploaded, so a revocation made with the CLI stays at that controller: make it at the hub, or
 * through the API.
 */
import type { AuditEvent } from '../store/storeTypes.ts';
import { MAX_REASON_LENGTH, SUBJECT_PATTERN } from '../sync/syncFrames.ts';
import { insertRevocation } from './changeStore.ts';
import type { HubDb } from './hubDatabase.ts';

const REVOCATIONS = new Set(['link.revoke', 'partner.revokeSubject']);

function isRevocation(event: AuditEvent): boolean {
  return event.type === 'operator' && event.reason !== null && REVOCATIONS.has(event.reason);
}

function isOnlineLinkCreated(event: AuditEvent): boolean {
  return event.type === 'operator' && event.reason === 'link.create' && event.data?.onlineOnly === true;
}

/** Applies the site-wide effects of events the hub has just stored for the controller. */
export async function applySiteWideEffects(trx: HubDb, controllerId: string, events: readonly AuditEvent[], now: number): Promise<void> {
  const relevant = events.filter((e) => e.subject !== null && SUBJECT_PATTERN.test(e.subject) && (isRevocation(e) || isOnlineLinkCreated(e)));
  if (relevant.length === 0) return;
  const controller = await trx.selectFrom('hub_controllers').select(['site_id', 'name', 'enrolled_at']).where('id', '=', controllerId).executeTakeFirstOrThrow();
  for (const event of relevant) {
    const subject = event.subject!;
    const issuer = event.issuer ?? 0;
    if (!Number.isInteger(issuer) || issuer < 0 || issuer > 0xffff || BigInt(subject) > 0xffffffffffffffffn) continue;
    if (isRevocation(event)) {
      const said = typeof event.data?.reason === 'string' ? `: ${event.data.reason}` : '';
      const reason = `revoked at controller ${controller.name} by ${event.actor ?? 'an operator'}${said}`.slice(0, MAX_REASON_LENGTH);
      await insertRevocation(trx, controller.site_id, issuer, subject, reason, event.at);
      continue;
    }
    if (controller.enrolled_at === null || event.at < controller.enrolled_at) continue;
    const maxUses = event.data?.maxUses;
    await trx
      .insertInto('hub_online_uses')
      .values({ site_id: controller.site_id, issuer: 0, subject, max_uses: typeof maxUses === 'number' && Number.isSafeInteger(maxUses) && maxUses >= 1 ? maxUses : null, first_seen: now, last_used: null })
      .onConflict((oc) => oc.columns(['site_id', 'issuer', 'subject']).doNothing())
      .execute();
  }
}
