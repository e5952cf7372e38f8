/**
 * The hub's record of what its operators changed (hub_actions): who (`account:<name>`, or `cli`),
 * which method or command, at which site, when, and a small detail (ids, never a token, a code or
 * a credential). Reads go to the controllers' own trails; this is for changes made at the hub.
 */
import type { HubDb } from './hubDatabase.ts';

export interface HubAction {
  id: number;
  at: number;
  actor: string;
  action: string;
  siteId: string | null;
  detail: Record<string, unknown> | null;
}

export class HubActions {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  async record(actor: string, action: string, siteId: string | null, detail: Record<string, unknown> | null = null): Promise<void> {
    await this.db
      .insertInto('hub_actions')
      .values({ at: this.clock(), actor, action, site_id: siteId, detail: detail === null ? null : JSON.stringify(detail) })
      .execute();
  }

  /** The newest actions first, of one site or all, before the id `before` (paging back). */
  async list(options: { siteId?: string; before?: number; limit: number }): Promise<HubAction[]> {
    let query = this.db.selectFrom('hub_actions').select(['id', 'at', 'actor', 'action', 'site_id', 'detail']).orderBy('id', 'desc').limit(options.limit);
    if (options.siteId !== undefined) query = query.where('site_id', '=', options.siteId);
    if (options.before !== undefined) query = query.where('id', '<', options.before);
    const rows = await query.execute();
    return rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, siteId: r.site_id, detail: r.detail }));
  }
}
