/**
 * Each controller's audit chain at the hub. A batch is checked against the anchor (the stored head)
 * and event by event with the hash of auditChain.ts, then stored whole in one transaction, or
 * nothing of it is stored and the controller is flagged. The head row is locked for the check, so
 * two links of one controller (a moment on two hubs) cannot both extend it.
 *
 * Events the hub holds already (a batch resent after a lost ack) are compared, not stored again:
 * the same event has the same hash, which verifies against its content; anything else at a stored
 * seq is a `fork`.
 *
 * What the stored events change for the whole site (a link revoked at this controller) is made in
 * the same transaction (siteWideEffects.ts).
 */
import { hashEvent } from '../audit/auditChain.ts';
import type { AuditEvent } from '../store/storeTypes.ts';
import type { HubDb } from './hubDatabase.ts';
import { applySiteWideEffects } from './siteWideEffects.ts';

export type AuditProblem = 'gap' | 'broken-link' | 'edited' | 'fork' | 'truncated';

export type BatchResult = { ok: true; seq: number } | { ok: false; seq: number; problem: AuditProblem };

export interface AuditHead {
  seq: number;
  hash: string;
  problem: string | null;
  problemSeq: number | null;
  flaggedAt: number | null;
}

export class AuditStore {
  constructor(
    private readonly db: HubDb,
    private readonly clock: () => number = Date.now,
  ) {}

  async head(controllerId: string): Promise<AuditHead | undefined> {
    const row = await this.db.selectFrom('hub_audit_heads').selectAll().where('controller_id', '=', controllerId).executeTakeFirst();
    return row && { seq: row.seq, hash: row.hash, problem: row.problem, problemSeq: row.problem_seq, flaggedAt: row.flagged_at };
  }

  /**
   * Compares the newest event a controller says it holds with the chain the hub holds, and flags
   * the controller when they disagree: `truncated` when its chain ends at an event the hub holds
   * but before the hub's head (events deleted at the site, or an old backup restored), `fork` when
   * the hub holds another event at that seq. A chain that is ahead is for the uploads to check.
   */
  async checkTip(controllerId: string, tip: { seq: number; hash: string }): Promise<{ seq: number; problem: AuditProblem } | undefined> {
    const head = await this.head(controllerId);
    if (head === undefined || tip.seq > head.seq) return undefined;
    let problem: AuditProblem | undefined;
    if (tip.seq === 0) problem = head.seq > 0 ? 'truncated' : undefined;
    else {
      const held = await this.db.selectFrom('hub_audit_events').select('hash').where('controller_id', '=', controllerId).where('seq', '=', tip.seq).executeTakeFirst();
      if (held === undefined || held.hash !== tip.hash) problem = 'fork';
      else if (tip.seq < head.seq) problem = 'truncated';
    }
    if (problem === undefined) return undefined;
    const seq = problem === 'truncated' ? tip.seq + 1 : tip.seq;
    await this.db.updateTable('hub_audit_heads').set({ problem, problem_seq: seq, flagged_at: this.clock() }).where('controller_id', '=', controllerId).execute();
    return { seq, problem };
  }

  /** Checks and stores a batch of the controller's chain (events in the order sent, all of its chain). */
  async receive(controllerId: string, events: readonly AuditEvent[]): Promise<BatchResult> {
    return this.db.transaction().execute(async (trx) => {
      const head = await trx.selectFrom('hub_audit_heads').select(['seq', 'hash']).where('controller_id', '=', controllerId).forUpdate().executeTakeFirstOrThrow();
      const verdict = await check(trx, controllerId, head, events);
      const now = this.clock();
      if (!verdict.ok) {
        await trx.updateTable('hub_audit_heads').set({ problem: verdict.problem, problem_seq: verdict.seq, flagged_at: now }).where('controller_id', '=', controllerId).execute();
        return verdict;
      }
      const fresh = events.filter((e) => e.seq > head.seq);
      if (fresh.length > 0) {
        await trx
          .insertInto('hub_audit_events')
          .values(fresh.map((e) => toRow(controllerId, e)))
          .onConflict((oc) => oc.columns(['controller_id', 'seq']).doNothing())
          .execute();
        const last = fresh[fresh.length - 1]!;
        await trx.updateTable('hub_audit_heads').set({ seq: last.seq, hash: last.hash, updated_at: now }).where('controller_id', '=', controllerId).execute();
        await applySiteWideEffects(trx, controllerId, fresh, now);
      }
      return verdict;
    });
  }
}

async function check(trx: HubDb, controllerId: string, head: { seq: number; hash: string }, events: readonly AuditEvent[]): Promise<BatchResult> {
  for (let i = 1; i < events.length; i++) {
    if (events[i]!.seq !== events[i - 1]!.seq + 1) return { ok: false, seq: events[i]!.seq, problem: 'gap' };
  }
  const first = events[0]!;
  const last = events[events.length - 1]!;
  if (first.seq <= head.seq) {
    const stored = await trx
      .selectFrom('hub_audit_events')
      .select(['seq', 'prev_hash', 'hash'])
      .where('controller_id', '=', controllerId)
      .where('seq', '>=', first.seq)
      .where('seq', '<=', Math.min(last.seq, head.seq))
      .orderBy('seq')
      .execute();
    const bySeq = new Map(stored.map((row) => [row.seq, row]));
    for (const event of events) {
      if (event.seq > head.seq) break;
      const held = bySeq.get(event.seq);
      const same = held !== undefined && held.hash === event.hash && held.prev_hash === event.prevHash && hashEvent(event.prevHash, event) === event.hash;
      if (!same) return { ok: false, seq: event.seq, problem: 'fork' };
    }
  }
  let prevHash = head.hash;
  let expected = head.seq + 1;
  for (const event of events) {
    if (event.seq <= head.seq) continue;
    if (event.seq !== expected) return { ok: false, seq: event.seq, problem: 'gap' };
    if (event.prevHash !== prevHash) return { ok: false, seq: event.seq, problem: 'broken-link' };
    if (hashEvent(event.prevHash, event) !== event.hash) return { ok: false, seq: event.seq, problem: 'edited' };
    prevHash = event.hash;
    expected++;
  }
  return { ok: true, seq: last.seq };
}

function toRow(controllerId: string, e: AuditEvent) {
  return {
    controller_id: controllerId,
    seq: e.seq,
    chain: e.controllerId,
    at: e.at,
    type: e.type,
    door: e.door,
    scanner: e.scanner,
    subject: e.subject,
    kind: e.kind,
    issuer: e.issuer,
    verdict: e.verdict,
    reason: e.reason,
    actor: e.actor,
    data: e.data === null ? null : JSON.stringify(e.data),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}
