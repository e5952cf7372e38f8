/**
 * The audit hash chain: pure functions, no store. Each controller's events form one chain:
 * event 1 links to GENESIS_HASH, event n links to the hash of event n-1.
 *
 * ## The hash, exactly (for other implementations)
 *
 *     hash = lowercase hex( SHA-256( UTF-8( prevHash + canonicalJson(fields) ) ) )
 *
 * - `prevHash` is the 64 lowercase hex characters of the previous event's hash (GENESIS_HASH, 64
 *   zeros, for seq 1), directly followed by the JSON text, no separator.
 * - `fields` is the object of exactly these 13 keys: actor, at, controllerId, data, door, issuer,
 *   kind, reason, scanner, seq, subject, type, verdict. A field an event does not use is null
 *   (never absent). prevHash and hash themselves are not part of it.
 * - canonicalJson is JSON with no white space, object keys sorted by UTF-16 code units (JavaScript's
 *   default sort) at every depth, array order kept, strings escaped as JSON.stringify does (no
 *   escaping of non-ASCII), numbers as JSON.stringify writes them (at, seq and issuer are integers,
 *   e.g. 1767225600000). Inside `data`, members whose value is undefined are left out and
 *   non-finite numbers become null, as a JSON round trip would do.
 *
 * Example: the first event of controller "site-a" at 1000 of type "system" with reason "started"
 * and everything else null hashes
 *
 *     "0000…0000" (64 zeros) + '{"actor":null,"at":1000,"controllerId":"site-a","data":null,"door":null,' +
 *     '"issuer":null,"kind":null,"reason":"started","scanner":null,"seq":1,"subject":null,"type":"system","verdict":null}'
 *
 * ## What verification detects, and what it cannot
 *
 * With raw database access an attacker can edit a field (the row's hash no longer matches: `edited`),
 * edit and re-hash a row (its content matches, but the next event's prevHash does not: `broken-link`
 * at the next event), delete rows (a gap in seq: `missing`, one problem per missing seq), or swap
 * rows' contents keeping the seqs (the content of event n found at seq m, or prevHash pointing to
 * another event, or time running backwards: `reordered`, naming both). Rewriting the whole chain
 * from some event to the end, or deleting the newest events, cannot be seen from the chain alone:
 * pass an `anchor` (a seq and hash kept elsewhere: the hub's copy, an exported checkpoint) to catch it.
 * `postern audit head` writes such anchors and `postern audit verify --anchor` checks them, with
 * the functions of auditHead.ts.
 */
import { createHash } from 'node:crypto';

import type { AuditEvent } from '../store/storeTypes.ts';

export const GENESIS_HASH = '0'.repeat(64);

/** The fields covered by an event's hash: everything but prevHash and hash. */
export type AuditEventFields = Omit<AuditEvent, 'prevHash' | 'hash'>;

export type ChainProblemKind = 'edited' | 'missing' | 'reordered' | 'broken-link';

export interface ChainProblem {
  seq: number;
  problem: ChainProblemKind;
  detail: string;
}

export interface ChainReport {
  ok: boolean;
  checked: number;
  problems: ChainProblem[];
}

export interface VerifyOptions {
  /** A known (controllerId, seq, hash), kept outside the database: catches a truncated or rewritten tail. */
  anchor?: { controllerId: string; seq: number; hash: string };
}

function canonicalValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalValue);
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = canonicalValue((value as Record<string, unknown>)[key]);
    return sorted;
  }
  return value;
}

/** JSON with keys sorted at every depth, after a JSON round trip (drops undefined, applies toJSON). */
export function canonicalJson(value: unknown): string {
  const plain: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value) ?? 'null');
  return JSON.stringify(canonicalValue(plain));
}

export function hashEvent(prevHash: string, fields: AuditEventFields): string {
  const covered = {
    actor: fields.actor ?? null,
    at: fields.at,
    controllerId: fields.controllerId,
    data: fields.data ?? null,
    door: fields.door ?? null,
    issuer: fields.issuer ?? null,
    kind: fields.kind ?? null,
    reason: fields.reason ?? null,
    scanner: fields.scanner ?? null,
    seq: fields.seq,
    subject: fields.subject ?? null,
    type: fields.type,
    verdict: fields.verdict ?? null,
  };
  return createHash('sha256')
    .update(prevHash + canonicalJson(covered), 'utf8')
    .digest('hex');
}

/** Whether the event's hash matches its own prevHash and fields (as if it had this seq). */
function contentMatches(event: AuditEvent, prevHash = event.prevHash, hash = event.hash, seq = event.seq): boolean {
  return hashEvent(prevHash, { ...event, seq }) === hash;
}

/** How far (in seqs) verification looks for the other half of a swap. */
const WINDOW = 32;
/** At most this many `missing` problems per gap; one more problem sums up the rest. */
const MAX_MISSING_LISTED = 1000;

const PRIORITY: Record<ChainProblemKind, number> = { missing: 4, reordered: 3, edited: 2, 'broken-link': 1 };

interface ChainState {
  last: AuditEvent | undefined;
  /** Whether the last event's content matched its hash. */
  lastIntact: boolean;
  /** Recent events by seq, and the hash of the event that originally had each seq. */
  recent: Map<number, AuditEvent>;
  originalHash: Map<number, string>;
  hashToSeq: Map<string, number>;
  /** Events whose content does not match, not yet explained as a swap. */
  unexplained: Map<number, AuditEvent>;
  /** Seqs already found to hold moved content, for which link checks say nothing new. */
  flagged: Set<number>;
}

class Verifier {
  readonly problems = new Map<string, ChainProblem>();
  readonly chains = new Map<string, ChainState>();
  checked = 0;
  multiple = false;
  anchorHash: string | undefined;

  constructor(readonly options: VerifyOptions) {}

  report(controllerId: string, seq: number, problem: ChainProblemKind, detail: string): void {
    const key = `${controllerId}\u0000${seq}`;
    const text = this.multiple ? `${controllerId}: ${detail}` : detail;
    const existing = this.problems.get(key);
    if (existing === undefined || PRIORITY[problem] > PRIORITY[existing.problem]) {
      this.problems.set(key, { seq, problem, detail: text });
    }
  }

  state(controllerId: string): ChainState {
    let state = this.chains.get(controllerId);
    if (state === undefined) {
      if (this.chains.size > 0) this.multiple = true;
      state = {
        last: undefined,
        lastIntact: true,
        recent: new Map(),
        originalHash: new Map(),
        hashToSeq: new Map(),
        unexplained: new Map(),
        flagged: new Set(),
      };
      this.chains.set(controllerId, state);
    }
    return state;
  }

  add(event: AuditEvent): void {
    this.checked++;
    const id = event.controllerId;
    const chain = this.state(id);
    const prev = chain.last;
    const expectedSeq = prev === undefined ? 1 : prev.seq + 1;

    if (prev !== undefined && event.seq <= prev.seq) {
      this.report(id, event.seq, 'reordered', `event ${event.seq} comes after event ${prev.seq}: out of order or duplicated`);
      return;
    }
    if (event.seq > expectedSeq) this.reportGap(id, expectedSeq, event.seq - 1);
    const anchor = this.options.anchor;
    if (anchor !== undefined && anchor.controllerId === id && anchor.seq === event.seq) this.anchorHash = event.hash;

    let original = event.hash;
    const intact = contentMatches(event);
    if (!intact) {
      const movedFrom = this.movedFrom(event);
      if (movedFrom !== undefined) {
        // The whole row (content and hashes) of event movedFrom sits at this seq.
        this.report(id, event.seq, 'reordered', `event ${event.seq} holds the content of event ${movedFrom}`);
        chain.flagged.add(event.seq);
        original = '';
        chain.originalHash.set(movedFrom, event.hash);
      } else if (!this.pairSwap(chain, event)) {
        chain.unexplained.set(event.seq, event);
      }
    }
    if (!chain.originalHash.has(event.seq) && original !== '') chain.originalHash.set(event.seq, original);

    this.checkLink(chain, event, expectedSeq);

    // Time is judged only between intact neighbours: in an edited row, the time is part of the edit.
    if (prev !== undefined && intact && chain.lastIntact && event.at < prev.at && event.seq === prev.seq + 1) {
      this.report(
        id,
        event.seq,
        'reordered',
        `event ${event.seq} is dated ${event.at}, before event ${prev.seq} (${prev.at}): time runs backwards`,
      );
    }

    chain.last = event;
    chain.lastIntact = intact;
    chain.recent.set(event.seq, event);
    chain.hashToSeq.set(event.hash, event.seq);
    this.forget(chain, event.seq - WINDOW);
  }

  /** Whether the row is a whole event moved from another seq near this one. */
  movedFrom(event: AuditEvent): number | undefined {
    for (let delta = 1; delta <= WINDOW; delta++) {
      for (const seq of [event.seq + delta, event.seq - delta]) {
        if (seq >= 1 && contentMatches(event, event.prevHash, event.hash, seq)) return seq;
      }
    }
    return undefined;
  }

  /** Whether this event and an earlier unexplained one swapped their contents (hashes kept in place). */
  pairSwap(chain: ChainState, event: AuditEvent): boolean {
    for (const [seq, other] of chain.unexplained) {
      const mine = contentMatches(event, other.prevHash, other.hash, other.seq);
      const theirs = contentMatches(other, event.prevHash, event.hash, event.seq);
      if (mine || theirs) {
        const detail = `events ${seq} and ${event.seq} have swapped contents`;
        this.report(event.controllerId, seq, 'reordered', detail);
        this.report(event.controllerId, event.seq, 'reordered', detail);
        chain.unexplained.delete(seq);
        return true;
      }
    }
    return false;
  }

  checkLink(chain: ChainState, event: AuditEvent, expectedSeq: number): void {
    const id = event.controllerId;
    if (event.seq !== expectedSeq || chain.flagged.has(event.seq)) return; // a gap was reported already
    if (event.seq === 1) {
      if (event.prevHash !== GENESIS_HASH) {
        this.report(id, 1, 'broken-link', 'event 1 does not start from the genesis hash');
      }
      return;
    }
    const expected = chain.originalHash.get(event.seq - 1);
    if (expected === undefined || event.prevHash === expected) return;
    const pointsTo = chain.hashToSeq.get(event.prevHash);
    if (pointsTo !== undefined) {
      this.report(id, event.seq, 'reordered', `event ${event.seq} links to event ${pointsTo}, not to event ${event.seq - 1}`);
      return;
    }
    this.report(
      id,
      event.seq,
      'broken-link',
      `event ${event.seq} does not link to the stored event ${event.seq - 1}: ` +
        `event ${event.seq - 1} was changed and re-hashed, or replaced`,
    );
  }

  reportGap(id: string, from: number, to: number): void {
    const count = to - from + 1;
    const listed = Math.min(count, MAX_MISSING_LISTED);
    for (let seq = from; seq < from + listed; seq++) {
      this.report(id, seq, 'missing', count === 1 ? `event ${seq} is missing` : `event ${seq} is missing (events ${from}..${to}, ${count} in all)`);
    }
    if (count > listed) {
      this.report(id, from + listed, 'missing', `events ${from + listed}..${to} are missing too`);
    }
  }

  /** Drops what lies behind the window; an unexplained event leaving it is an edit. */
  forget(chain: ChainState, below: number): void {
    for (const [seq, event] of chain.unexplained) {
      if (seq < below) this.settle(event, chain, seq);
    }
    for (const seq of chain.recent.keys()) {
      if (seq >= below) break;
      const old = chain.recent.get(seq);
      chain.recent.delete(seq);
      if (old !== undefined && chain.hashToSeq.get(old.hash) === seq) chain.hashToSeq.delete(old.hash);
      chain.flagged.delete(seq);
    }
    for (const seq of chain.originalHash.keys()) {
      if (seq < below) chain.originalHash.delete(seq);
    }
  }

  settle(event: AuditEvent, chain: ChainState, seq: number): void {
    chain.unexplained.delete(seq);
    this.report(event.controllerId, seq, 'edited', `event ${seq} does not match its hash: its content was changed`);
  }

  finish(): ChainReport {
    for (const chain of this.chains.values()) {
      for (const [seq, event] of chain.unexplained) this.settle(event, chain, seq);
    }
    const anchor = this.options.anchor;
    if (anchor !== undefined) {
      const lastSeq = this.chains.get(anchor.controllerId)?.last?.seq ?? 0;
      if (lastSeq < anchor.seq) {
        this.reportGap(anchor.controllerId, lastSeq + 1, anchor.seq);
      } else if (this.anchorHash !== undefined && this.anchorHash !== anchor.hash) {
        this.report(
          anchor.controllerId,
          anchor.seq,
          'edited',
          `event ${anchor.seq} differs from the anchor kept outside the database: the chain was rewritten`,
        );
      }
    }
    const problems = [...this.problems.values()].sort((a, b) => a.seq - b.seq);
    return { ok: problems.length === 0, checked: this.checked, problems };
  }
}

/**
 * Checks a controller's events, given in seq order (as Store.iterateAudit yields them). Events of
 * several controllers may be mixed; each controller's chain is checked on its own, and details then
 * name the controller. Memory stays bounded: only the last 32 events of each chain are kept.
 */
export async function verifyChain(
  events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>,
  options: VerifyOptions = {},
): Promise<ChainReport> {
  const verifier = new Verifier(options);
  for await (const event of events) verifier.add(event);
  return verifier.finish();
}
