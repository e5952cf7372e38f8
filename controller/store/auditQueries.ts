/**
 * The audit half of the store: append, read back, query and page through audit events. Written
 * once with Kysely for both dialects; KyselyStore wraps each call with its error translation.
 */
import type { Kysely, Selectable } from 'kysely';

import type { AuditEventsTable, Database } from './schema.ts';
import type { AuditEvent, AuditQuery } from './storeTypes.ts';

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 10_000;
export const AUDIT_DEFAULT_PAGE = 1000;
/** Rows per INSERT statement: 15 columns x 500 stays far below both dialects' parameter limits. */
const INSERT_CHUNK = 500;

type AuditRow = Selectable<AuditEventsTable>;

function parseData(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    return { $notAnObject: value };
  } catch {
    // Only a hand-edited row holds text that is not JSON; hand it on so that verification names
    // the event as edited instead of failing the whole read.
    return { $invalidJson: text };
  }
}

export function rowToAuditEvent(row: AuditRow): AuditEvent {
  return {
    controllerId: row.controller_id,
    seq: Number(row.seq),
    at: Number(row.at),
    type: row.type,
    door: row.door,
    scanner: row.scanner,
    subject: row.subject,
    kind: row.kind,
    issuer: row.issuer === null ? null : Number(row.issuer),
    verdict: row.verdict,
    reason: row.reason,
    actor: row.actor,
    data: parseData(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function auditEventToRow(event: AuditEvent): AuditRow {
  return {
    controller_id: event.controllerId,
    seq: event.seq,
    at: event.at,
    type: event.type,
    door: event.door ?? null,
    scanner: event.scanner ?? null,
    subject: event.subject ?? null,
    kind: event.kind ?? null,
    issuer: event.issuer ?? null,
    verdict: event.verdict ?? null,
    reason: event.reason ?? null,
    actor: event.actor ?? null,
    data: event.data === null || event.data === undefined ? null : JSON.stringify(event.data),
    prev_hash: event.prevHash,
    hash: event.hash,
  };
}

export async function appendAudit(db: Kysely<Database>, events: AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map(auditEventToRow);
  // One statement is atomic already: a transaction would only add round trips (two on PostgreSQL).
  if (rows.length <= INSERT_CHUNK) {
    await db.insertInto('audit_events').values(rows).execute();
    return;
  }
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx
        .insertInto('audit_events')
        .values(rows.slice(i, i + INSERT_CHUNK))
        .execute();
    }
  });
}

export async function lastAudit(db: Kysely<Database>, controllerId: string): Promise<AuditEvent | undefined> {
  const row = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('controller_id', '=', controllerId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : rowToAuditEvent(row);
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_DEFAULT_LIMIT;
  return Math.min(AUDIT_MAX_LIMIT, Math.max(1, Math.trunc(limit)));
}

/**
 * Filters combine with AND. With a controllerId the result is in seq order; without one it is in
 * (at, controllerId, seq) order. `order` reverses either. `afterSeq` keeps events with
 * seq > afterSeq and `beforeSeq` those with seq < beforeSeq, whatever the order: page forward with
 * order 'asc' and afterSeq = the last seq seen, backwards with order 'desc' and beforeSeq. `limit` defaults to 100 and is clamped to 1..10_000.
 */
export async function queryAudit(db: Kysely<Database>, query: AuditQuery): Promise<AuditEvent[]> {
  const direction = query.order === 'desc' ? 'desc' : 'asc';
  let qb = db.selectFrom('audit_events').selectAll();
  if (query.controllerId !== undefined) qb = qb.where('controller_id', '=', query.controllerId);
  if (query.since !== undefined) qb = qb.where('at', '>=', query.since);
  if (query.until !== undefined) qb = qb.where('at', '<', query.until);
  if (query.door !== undefined) qb = qb.where('door', '=', query.door);
  if (query.subject !== undefined) qb = qb.where('subject', '=', query.subject);
  if (query.subjects !== undefined) {
    if (query.subjects.length === 0) return [];
    qb = qb.where('subject', 'in', [...query.subjects]);
  }
  if (query.verdict !== undefined) qb = qb.where('verdict', '=', query.verdict);
  if (query.afterSeq !== undefined) qb = qb.where('seq', '>', query.afterSeq);
  if (query.beforeSeq !== undefined) qb = qb.where('seq', '<', query.beforeSeq);
  qb =
    query.controllerId !== undefined
      ? qb.orderBy('seq', direction)
      : qb.orderBy('at', direction).orderBy('controller_id', direction).orderBy('seq', direction);
  const rows = await qb.limit(clampLimit(query.limit)).execute();
  return rows.map(rowToAuditEvent);
}

/** One page of a controller's events with seq > afterSeq, in seq order. */
export async function auditPage(
  db: Kysely<Database>,
  controllerId: string,
  afterSeq: number,
  pageSize: number,
): Promise<AuditEvent[]> {
  const rows = await db
    .selectFrom('audit_events')
    .selectAll()
    .where('controller_id', '=', controllerId)
    .where('seq', '>', afterSeq)
    .orderBy('seq', 'asc')
    .limit(pageSize)
    .execute();
  return rows.map(rowToAuditEvent);
}

export async function auditControllers(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('audit_events')
    .select('controller_id')
    .distinct()
    .orderBy('controller_id')
    .execute();
  return rows.map((row) => row.controller_id);
}
