/**
 * sites.overview (docs/hub-api.md): every site with its controllers, whether each has a link open
 * on any hub (linkPresence.ts), the audit seq the hub holds and any flag on its chain, and per site
 * the newest event and the denials of the last hour from the uploaded trails. Three queries for
 * the whole hub, whatever its size: the denial count reads a partial index (hubMigrations.ts).
 * Revoked controllers are left out: they are no longer part of their site.
 */
import { sql } from 'kysely';

import type { HubDb } from './hubDatabase.ts';
import type { LinkPresence } from './linkPresence.ts';

export interface ChainProblem {
  problem: string;
  seq: number | null;
  flaggedAt: number | null;
}

export interface ControllerOverview {
  id: string;
  name: string;
  online: boolean;
  lastSeen: number | null;
  /** The controller's clock minus the hub's, as its hello and pings showed it (null: never linked). */
  clockOffsetMs: number | null;
  /** The seq of the newest event of its chain the hub holds (0: none). */
  auditSeq: number;
  chainProblem: ChainProblem | null;
}

export interface SiteOverview {
  id: string;
  name: string;
  controllers: ControllerOverview[];
  online: number;
  total: number;
  /** The time of the newest event the hub holds of the site (controller clocks), null when none. */
  lastEventAt: number | null;
  deniedLastHour: number;
}

const HOUR_MS = 60 * 60 * 1000;

export async function siteOverview(db: HubDb, presence: LinkPresence, clock: () => number = Date.now, siteId?: string): Promise<SiteOverview[]> {
  let sites = db.selectFrom('hub_sites').select(['id', 'name']).orderBy('created_at').orderBy('id');
  if (siteId !== undefined) sites = sites.where('id', '=', siteId);
  let controllers = db
    .selectFrom('hub_controllers as c')
    .innerJoin('hub_audit_heads as h', 'h.controller_id', 'c.id')
    // The head's own event: its time is the controller's newest the hub holds (a primary key read).
    .leftJoin('hub_audit_events as e', (join) => join.onRef('e.controller_id', '=', 'c.id').onRef('e.seq', '=', 'h.seq'))
    .select(['c.id', 'c.site_id', 'c.name', 'c.last_seen_at', 'c.online_link', 'c.revoked_at', 'c.clock_offset_ms', 'h.seq', 'h.problem', 'h.problem_seq', 'h.flagged_at', 'e.at'])
    .where('c.revoked_at', 'is', null)
    .orderBy('c.created_at')
    .orderBy('c.id');
  if (siteId !== undefined) controllers = controllers.where('c.site_id', '=', siteId);
  const since = clock() - HOUR_MS;
  const denied = sql<{ site_id: string; n: number }>`
    SELECT c.site_id, count(*)::int AS n
    FROM hub_controllers c JOIN hub_audit_events e ON e.controller_id = c.id
    WHERE e.verdict = 'deny' AND e.at >= ${since} ${siteId === undefined ? sql`` : sql`AND c.site_id = ${siteId}`}
    GROUP BY c.site_id`;
  const [siteRows, controllerRows, deniedRows] = await Promise.all([sites.execute(), controllers.execute(), denied.execute(db)]);
  const deniedBySite = new Map(deniedRows.rows.map((r) => [r.site_id, Number(r.n)]));
  return siteRows.map((site) => {
    const mine = controllerRows.filter((c) => c.site_id === site.id);
    const list: ControllerOverview[] = mine.map((c) => ({
      id: c.id,
      name: c.name,
      online: presence.isOnline(c),
      lastSeen: c.last_seen_at,
      clockOffsetMs: c.clock_offset_ms,
      auditSeq: c.seq,
      chainProblem: c.problem === null ? null : { problem: c.problem, seq: c.problem_seq, flaggedAt: c.flagged_at },
    }));
    const times = mine.map((c) => c.at).filter((at): at is number => at !== null);
    return {
      id: site.id,
      name: site.name,
      controllers: list,
      online: list.filter((c) => c.online).length,
      total: list.length,
      lastEventAt: times.length === 0 ? null : Math.max(...times),
      deniedLastHour: deniedBySite.get(site.id) ?? 0,
    };
  });
}
