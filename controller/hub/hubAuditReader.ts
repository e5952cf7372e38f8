/**
 * Reading the audit chains the hub holds (for `postern hub audit ...`): which controllers a site
 * (or the whole hub) has with the head the hub keeps of each, every event in (controller, seq)
 * order page by page (keyset on the primary key: never the whole trail in memory), the newest
 * events, and each chain recomputed with the verifier of auditChain.ts against its head.
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { type ChainReport, verifyChain } from '../audit/auditChain.ts';
import type { AuditEvent } from '../store/storeTypes.ts';
import type { HubDb } from './hubDatabase.ts';
import type { HubAuditEventsTable } from './hubSchema.ts';

/** An event as the hub holds it: the controller's own AuditEvent, and where it came from. */
export interface HubAuditEvent extends AuditEvent {
  siteId: string;
  /** The hub's id of the controller (`ctl-...`), not its chain (the event's controllerId). */
  hubControllerId: string;
}

/** Which events: a site's (or every site's), one controller's of it. */
export interface HubAuditScope {
  siteId?: string;
  controllerId?: string;
}

/** A controller slot and the head of its chain the hub keeps (its anchor), with its flag. */
export interface HubChainHead {
  controllerId: string;
  siteId: string;
  /** The chain its events carry (null until its first hello). */
  chain: string | null;
  seq: number;
  hash: string;
  problem: string | null;
  problemSeq: number | null;
  flaggedAt: number | null;
}

export interface HubChainCheck {
  head: HubChainHead;
  report: ChainReport;
  /** The seq of the last event read (0: none). */
  lastSeq: number;
}

export const HUB_AUDIT_PAGE = 1000;

/**
 * The controllers of the scope, by site then controller id (the order of the export). NOT_FOUND
 * for an unknown site or controller, or a controller of another site.
 */
export async function chainHeads(db: HubDb, scope: HubAuditScope = {}): Promise<HubChainHead[]> {
  if (scope.siteId !== undefined) {
    const site = await db.selectFrom('hub_sites').select('id').where('id', '=', scope.siteId).executeTakeFirst();
    if (site === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no site ${scope.siteId} at this hub`);
  }
  let query = db
    .selectFrom('hub_controllers as c')
    .innerJoin('hub_audit_heads as h', 'h.controller_id', 'c.id')
    .select(['c.id', 'c.site_id', 'c.chain', 'h.seq', 'h.hash', 'h.problem', 'h.problem_seq', 'h.flagged_at'])
    .orderBy('c.site_id')
    .orderBy('c.id');
  if (scope.siteId !== undefined) query = query.where('c.site_id', '=', scope.siteId);
  if (scope.controllerId !== undefined) query = query.where('c.id', '=', scope.controllerId);
  const rows = await query.execute();
  if (scope.controllerId !== undefined && rows.length === 0) {
    throw new PosternError(ErrorCodes.NOT_FOUND, `no controller ${scope.controllerId} at ${scope.siteId === undefined ? 'this hub' : `site ${scope.siteId}`}`);
  }
  return rows.map((r) => ({
    controllerId: r.id,
    siteId: r.site_id,
    chain: r.chain,
    seq: r.seq,
    hash: r.hash,
    problem: r.problem,
    problemSeq: r.problem_seq,
    flaggedAt: r.flagged_at,
  }));
}

function toEvent(row: HubAuditEventsTable, siteId: string): HubAuditEvent {
  return {
    controllerId: row.chain,
    seq: row.seq,
    at: row.at,
    type: row.type,
    door: row.door,
    scanner: row.scanner,
    subject: row.subject,
    kind: row.kind,
    issuer: row.issuer,
    verdict: row.verdict,
    reason: row.reason,
    actor: row.actor,
    // Stored as the text it arrived as; parsed back, it hashes as it did at the site.
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
    prevHash: row.prev_hash,
    hash: row.hash,
    siteId,
    hubControllerId: row.controller_id,
  };
}

const EVENT_COLUMNS = [
  'e.controller_id',
  'e.seq',
  'e.chain',
  'e.at',
  'e.type',
  'e.door',
  'e.scanner',
  'e.subject',
  'e.kind',
  'e.issuer',
  'e.verdict',
  'e.reason',
  'e.actor',
  'e.data',
  'e.prev_hash',
  'e.hash',
] as const;

/**
 * Every event of the scope in (controller, seq) order (controllers by site, then id), one page
 * (at most `pageSize` events) at a time: each page is read once the one before is consumed, from
 * the last (controller_id, seq) seen. A page may end in one controller's chain and go on in the
 * next; every query is a range of the primary key of one controller, so other sites' events are
 * never scanned.
 */
export async function* auditPages(db: HubDb, scope: HubAuditScope = {}, pageSize = HUB_AUDIT_PAGE): AsyncGenerator<HubAuditEvent[]> {
  yield* controllerPages(db, await chainHeads(db, scope), pageSize);
}

async function* controllerPages(db: HubDb, controllers: ReadonlyArray<{ controllerId: string; siteId: string }>, pageSize: number): AsyncGenerator<HubAuditEvent[]> {
  let index = 0;
  let afterSeq = 0;
  while (index < controllers.length) {
    const page: HubAuditEvent[] = [];
    while (page.length < pageSize && index < controllers.length) {
      const { controllerId, siteId } = controllers[index]!;
      const wanted = pageSize - page.length;
      const rows = await db.selectFrom('hub_audit_events as e').select(EVENT_COLUMNS).where('e.controller_id', '=', controllerId).where('e.seq', '>', afterSeq).orderBy('e.seq').limit(wanted).execute();
      for (const row of rows) page.push(toEvent(row, siteId));
      if (rows.length < wanted) {
        index++;
        afterSeq = 0;
      } else {
        afterSeq = rows[rows.length - 1]!.seq;
      }
    }
    if (page.length > 0) yield page;
  }
}

/** The events of auditPages one by one. */
export async function* auditEvents(db: HubDb, scope: HubAuditScope = {}, pageSize = HUB_AUDIT_PAGE): AsyncGenerator<HubAuditEvent> {
  for await (const page of auditPages(db, scope, pageSize)) yield* page;
}

/**
 * The newest `limit` events of the scope, oldest first: by time, then controller and seq. Each
 * controller's newest `limit` are read from the primary key (a lateral join), then the newest of
 * those kept, so a hub of many long chains is not sorted whole.
 */
export async function auditTail(db: HubDb, scope: HubAuditScope, limit: number): Promise<HubAuditEvent[]> {
  let query = db
    .selectFrom('hub_controllers as c')
    .innerJoinLateral(
      (eb) => eb.selectFrom('hub_audit_events as e').selectAll('e').whereRef('e.controller_id', '=', 'c.id').orderBy('e.seq', 'desc').limit(limit).as('e'),
      (join) => join.onTrue(),
    )
    .select([...EVENT_COLUMNS, 'c.site_id'])
    .orderBy('e.at', 'desc')
    .orderBy('e.controller_id', 'desc')
    .orderBy('e.seq', 'desc')
    .limit(limit);
  if (scope.siteId !== undefined) query = query.where('c.site_id', '=', scope.siteId);
  if (scope.controllerId !== undefined) query = query.where('c.id', '=', scope.controllerId);
  const rows = await query.execute();
  return rows.map((row) => toEvent(row, row.site_id)).reverse();
}

/**
 * Recomputes a controller's chain as the hub holds it, page by page, with the verifier of
 * auditChain.ts and the head the hub keeps as the anchor: an edited, deleted, reordered or
 * re-linked row is named, and so is a chain cut short below the head or a head that differs.
 */
export async function verifyHubChain(db: HubDb, head: HubChainHead, pageSize = HUB_AUDIT_PAGE): Promise<HubChainCheck> {
  let lastSeq = 0;
  const events = (async function* () {
    for await (const page of controllerPages(db, [head], pageSize)) {
      for (const event of page) {
        lastSeq = event.seq;
        yield event;
      }
    }
  })();
  // Before any upload the head is seq 0 and the genesis hash: nothing to anchor.
  const anchor = head.seq > 0 && head.chain !== null ? { controllerId: head.chain, seq: head.seq, hash: head.hash } : undefined;
  const report = await verifyChain(events, { anchor });
  return { head, report, lastSeq };
}

/** One controller's events after `afterSeq`, oldest first, at most `limit` (a page of the hub's API audit.query). */
export async function controllerEventsAfter(db: HubDb, controller: { controllerId: string; siteId: string }, afterSeq: number, limit: number): Promise<HubAuditEvent[]> {
  const rows = await db.selectFrom('hub_audit_events as e').select(EVENT_COLUMNS).where('e.controller_id', '=', controller.controllerId).where('e.seq', '>', afterSeq).orderBy('e.seq').limit(limit).execute();
  return rows.map((row) => toEvent(row, controller.siteId));
}
