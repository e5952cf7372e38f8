/**
 * Audit heads and anchors: what the hash chain alone cannot prove.
 *
 * `verifyChain` checks the links between the events that are there. Deleting the newest events of a
 * chain, or the whole chain, leaves links that are all intact. An anchor closes that gap: the seq
 * and hash of each chain's newest event (its head), written down somewhere the database's attacker
 * cannot reach (another machine, a ticket, paper). Checked later, each anchored event must still be
 * there with the same hash; a chain that grew since is fine.
 *
 * ## The head format (`postern audit head`)
 *
 * Text: one line per chain, sorted by controller id, fields separated by one space:
 *
 *     <controllerId> <seq> <hash>
 *
 * e.g. `site-a 1042 3f2a…(64 lowercase hex)`. When read back as an anchor, empty lines and lines
 * starting with `#` are ignored (for notes), the last two fields are the seq and the hash and the
 * rest of the line is the controller id; a chain may appear on several lines (anchors appended to
 * one file over time), and each line is checked.
 *
 * JSON (`--json`): `{"takenAt": "<ISO 8601>", "chains": [{"controllerId", "seq", "hash"}, ...]}`.
 * An anchor file may be either format (a JSON anchor may also be the bare array of chains).
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { AuditEvent, Store } from '../store/storeTypes.ts';

/** The newest event of one chain: where it ends, and the hash that stands for all of it. */
export interface AuditHead {
  controllerId: string;
  seq: number;
  hash: string;
}

export type AnchorStatus =
  /** The anchored event is there with its hash; `found.lastSeq - anchor.seq` events came since. */
  | 'matches'
  /** The store has no event of the chain at all. */
  | 'chain-missing'
  /** The chain ends before the anchored event: its newest events were deleted. */
  | 'truncated'
  /** The chain goes on past the anchored seq, but that event is gone. */
  | 'event-missing'
  /** The event at the anchored seq has another hash: history was edited and re-hashed. */
  | 'rewritten';

export interface AnchorCheck {
  anchor: AuditHead;
  status: AnchorStatus;
  ok: boolean;
  /** What the store holds: the chain's newest seq (0 when it has none) and the hash at the anchored seq. */
  found: { lastSeq: number; hash: string | null };
  /** One sentence naming the anchored seq and what was found. */
  detail: string;
}

const HASH = /^[0-9a-f]{64}$/i;
const LINE = /^(.*\S)\s+(\d+)\s+([0-9a-fA-F]{64})$/;

/** Each chain's head (or only `controllerId`'s), sorted by controller id. Chains with no event have none. */
export async function readHeads(store: Pick<Store, 'auditControllers' | 'lastAudit'>, controllerId?: string): Promise<AuditHead[]> {
  const controllers = controllerId === undefined ? await store.auditControllers() : [controllerId];
  const heads: AuditHead[] = [];
  for (const id of [...controllers].sort()) {
    const last = await store.lastAudit(id);
    if (last !== undefined) heads.push({ controllerId: last.controllerId, seq: last.seq, hash: last.hash });
  }
  return heads;
}

/** The text format: `<controllerId> <seq> <hash>` per line, each line ended by a newline. */
export function formatHeads(heads: readonly AuditHead[]): string {
  return heads.map((h) => `${h.controllerId} ${h.seq} ${h.hash}\n`).join('');
}

/** The JSON format, pretty-printed, ended by a newline. */
export function formatHeadsJson(heads: readonly AuditHead[], takenAt: number): string {
  const chains = heads.map((h) => ({ controllerId: h.controllerId, seq: h.seq, hash: h.hash }));
  return JSON.stringify({ takenAt: new Date(takenAt).toISOString(), chains }, null, 2) + '\n';
}

/**
 * Reads an anchor: an earlier `audit head` output, in either format. A file that names no chain, or
 * holds a line or entry that is not a head, is INVALID_ARGUMENT naming the line or entry: an anchor
 * that silently checks nothing would be worse than none.
 */
export function parseAnchor(text: string, source = 'the anchor'): AuditHead[] {
  const trimmed = text.trim();
  const heads = trimmed.startsWith('{') || trimmed.startsWith('[') ? parseJsonAnchor(trimmed, source) : parseTextAnchor(text, source);
  if (heads.length === 0) throw invalidAnchor(`${source} names no audit chain`);
  return heads;
}

function parseTextAnchor(text: string, source: string): AuditHead[] {
  const heads: AuditHead[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = LINE.exec(line);
    if (match === null) throw invalidAnchor(`${source}, line ${index + 1}: expected "<controllerId> <seq> <hash>", found "${clip(line)}"`);
    heads.push(head(match[1]!, Number(match[2]), match[3]!, `${source}, line ${index + 1}`));
  });
  return heads;
}

function parseJsonAnchor(text: string, source: string): AuditHead[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalidAnchor(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const chains = Array.isArray(value) ? value : (value as { chains?: unknown } | null)?.chains;
  if (!Array.isArray(chains)) throw invalidAnchor(`${source}: expected {"chains": [...]} or an array of {"controllerId", "seq", "hash"}`);
  return chains.map((entry: unknown, index) => {
    const where = `${source}, chain ${index + 1}`;
    const e = (entry ?? {}) as Record<string, unknown>;
    if (typeof e.controllerId !== 'string' || typeof e.seq !== 'number' || typeof e.hash !== 'string') {
      throw invalidAnchor(`${where}: expected {"controllerId": string, "seq": number, "hash": string}`);
    }
    return head(e.controllerId, e.seq, e.hash, where);
  });
}

function head(controllerId: string, seq: number, hash: string, where: string): AuditHead {
  if (controllerId.trim() === '') throw invalidAnchor(`${where}: the controller id is empty`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw invalidAnchor(`${where}: the seq must be a whole number from 1, not ${seq}`);
  if (!HASH.test(hash)) throw invalidAnchor(`${where}: the hash must be 64 hex characters`);
  return { controllerId: controllerId.trim(), seq, hash: hash.toLowerCase() };
}

/**
 * Compares one anchor with what the store holds of its chain: `lastSeq`, the chain's newest seq (0
 * for no event), and `atAnchor`, the stored event at the anchored seq, if any. Pure.
 */
export function compareWithAnchor(anchor: AuditHead, lastSeq: number, atAnchor: Pick<AuditEvent, 'seq' | 'hash'> | undefined): AnchorCheck {
  const { controllerId, seq } = anchor;
  const found = { lastSeq, hash: atAnchor?.hash ?? null };
  const result = (status: AnchorStatus, detail: string): AnchorCheck => ({ anchor, status, ok: status === 'matches', found, detail });
  if (lastSeq === 0) {
    return result('chain-missing', `the anchor has event ${seq}, but the store holds no event of chain ${controllerId}: the whole chain was deleted`);
  }
  if (lastSeq < seq) {
    const lost = seq - lastSeq;
    const gone = lost === 1 ? `event ${seq} (and any after it) was` : `events ${lastSeq + 1}..${seq} (and any after them) were`;
    return result('truncated', `the anchor has event ${seq}, but the chain ends at event ${lastSeq}: ${gone} deleted`);
  }
  if (atAnchor === undefined) {
    return result('event-missing', `the anchor has event ${seq}, but it is missing (the chain goes on to event ${lastSeq})`);
  }
  if (atAnchor.hash !== anchor.hash) {
    return result('rewritten', `event ${seq} has hash ${atAnchor.hash}, the anchor has ${anchor.hash}: the chain was rewritten`);
  }
  const since = lastSeq - seq;
  return result('matches', `event ${seq} matches the anchor${since === 0 ? ' (the chain ends there)' : `; ${since} event${since === 1 ? '' : 's'} since`}`);
}

/** Looks up what the store holds of an anchor's chain and compares it. */
export async function checkAnchor(store: Pick<Store, 'lastAudit' | 'queryAudit'>, anchor: AuditHead): Promise<AnchorCheck> {
  const last = await store.lastAudit(anchor.controllerId);
  const [atAnchor] =
    last === undefined || last.seq < anchor.seq
      ? []
      : await store.queryAudit({ controllerId: anchor.controllerId, afterSeq: anchor.seq - 1, beforeSeq: anchor.seq + 1, limit: 1, order: 'asc' });
  return compareWithAnchor(anchor, last?.seq ?? 0, atAnchor?.seq === anchor.seq ? atAnchor : undefined);
}

function invalidAnchor(message: string): PosternError {
  return new PosternError(ErrorCodes.INVALID_ARGUMENT, message, { details: { field: 'anchor' } });
}

function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
