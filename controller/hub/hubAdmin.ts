/**
 * What `postern hub ...` does to the hub's database: sites, controller slots and their enrolment
 * codes, revoking a controller or a subject, and the status of it all. Works with or without a hub
 * running: every hub process hears of a change through the database (changeFeed.ts).
 */
import type { Logger } from '../logger.ts';
import { AuditStore } from './auditStore.ts';
import { ChangeStore } from './changeStore.ts';
import { openHubDatabase, type HubDb } from './hubDatabase.ts';
import { HubStore, type EnrolmentCodeIssued } from './hubStore.ts';

export interface ControllerStatus {
  controllerId: string;
  siteId: string;
  name: string;
  /** The controller id its audit events carry, once it has said hello. */
  chain: string | null;
  createdAt: number;
  enrolledAt: number | null;
  revokedAt: number | null;
  lastSeenAt: number | null;
  /** The seq of the last audit event the hub holds of it (0: none). */
  auditSeq: number;
  /** Why the hub flagged it (gap, broken-link, edited, fork), at which seq, when. */
  problem: string | null;
  problemSeq: number | null;
  flaggedAt: number | null;
}

export interface SiteStatus {
  id: string;
  name: string;
  createdAt: number;
  /** The cursor of its newest change (0: none). */
  cursor: number;
  revocations: number;
  controllers: ControllerStatus[];
}

export class HubAdmin {
  readonly store: HubStore;
  readonly changes: ChangeStore;
  readonly audit: AuditStore;

  constructor(
    private readonly db: HubDb,
    clock: () => number = Date.now,
  ) {
    this.store = new HubStore(db, clock);
    this.changes = new ChangeStore(db, clock);
    this.audit = new AuditStore(db, clock);
  }

  /** Opens (and migrates) the hub database; close() when done. */
  static async open(databaseUrl: string, options: { clock?: () => number; logger?: Logger } = {}): Promise<HubAdmin> {
    return new HubAdmin(await openHubDatabase(databaseUrl, options.logger), options.clock);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  addSite(id: string, name: string = id): Promise<void> {
    return this.store.addSite(id, name);
  }

  /** A controller slot of the site and its one-time enrolment code (valid 24 h). */
  addController(siteId: string, name: string): Promise<EnrolmentCodeIssued> {
    return this.store.addController(siteId, name);
  }

  /** A new enrolment code for the controller: its credential is replaced when the code is used. */
  rotateController(controllerId: string): Promise<EnrolmentCodeIssued> {
    return this.store.rotateController(controllerId);
  }

  /** Refuses the controller from now on and closes its open link on every hub. False when revoked already. */
  revokeController(controllerId: string): Promise<boolean> {
    return this.store.revokeController(controllerId);
  }

  /** Revokes a subject of an issuer for the site's controllers: pushed to those connected at once. */
  revokeSubject(siteId: string, issuer: number, subject: string, reason: string | null = null): Promise<{ created: boolean; cursor: number; revokedAt: number }> {
    return this.changes.revokeSubject(siteId, issuer, subject, reason);
  }

  /** Every site (or one: NOT_FOUND when unknown) with its controllers, oldest first. */
  async status(siteId?: string): Promise<SiteStatus[]> {
    if (siteId !== undefined) await this.store.requireSite(siteId);
    let sites = this.db
      .selectFrom('hub_sites as s')
      .select((eb) => [
        's.id',
        's.name',
        's.created_at',
        eb.selectFrom('hub_changes as c').whereRef('c.site_id', '=', 's.id').select((e) => e.fn.max('c.cursor').as('m')).as('cursor'),
        eb.selectFrom('hub_revocations as r').whereRef('r.site_id', '=', 's.id').select((e) => e.fn.countAll<number>().as('n')).as('revocations'),
      ])
      .orderBy('s.created_at')
      .orderBy('s.id');
    if (siteId !== undefined) sites = sites.where('s.id', '=', siteId);
    let controllers = this.db
      .selectFrom('hub_controllers as c')
      .innerJoin('hub_audit_heads as h', 'h.controller_id', 'c.id')
      .select(['c.id', 'c.site_id', 'c.name', 'c.chain', 'c.created_at', 'c.enrolled_at', 'c.revoked_at', 'c.last_seen_at', 'h.seq', 'h.problem', 'h.problem_seq', 'h.flagged_at'])
      .orderBy('c.created_at')
      .orderBy('c.id');
    if (siteId !== undefined) controllers = controllers.where('c.site_id', '=', siteId);
    const [siteRows, controllerRows] = await Promise.all([sites.execute(), controllers.execute()]);
    return siteRows.map((s) => ({
      id: s.id,
      name: s.name,
      createdAt: s.created_at,
      cursor: s.cursor ?? 0,
      revocations: Number(s.revocations ?? 0),
      controllers: controllerRows
        .filter((c) => c.site_id === s.id)
        .map((c) => ({
          controllerId: c.id,
          siteId: c.site_id,
          name: c.name,
          chain: c.chain,
          createdAt: c.created_at,
          enrolledAt: c.enrolled_at,
          revokedAt: c.revoked_at,
          lastSeenAt: c.last_seen_at,
          auditSeq: c.seq,
          problem: c.problem,
          problemSeq: c.problem_seq,
          flaggedAt: c.flagged_at,
        })),
    }));
  }
}
