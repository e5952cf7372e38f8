/**
 * The audit chain against an attacker with raw access to the SQLite file: the attacker drops the
 * append-only triggers (as anyone with the file can) and edits, deletes, swaps or re-hashes rows.
 * verifyChain must name the right events.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Sqlite from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { GENESIS_HASH, canonicalJson, hashEvent, verifyChain } from '../../controller/audit/auditChain.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent, Store } from '../../controller/store/storeTypes.ts';

const CONTROLLER = 'site-a';
const N = 12;

function buildChain(count: number, controllerId = CONTROLLER): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const fields = {
      controllerId,
      seq,
      at: 1_767_225_600_000 + seq * 1000,
      type: 'decision',
      door: seq % 2 === 0 ? 'front' : 'lab',
      scanner: 'front-in',
      subject: String(1000 + seq),
      kind: 'link',
      issuer: 0,
      verdict: seq % 3 === 0 ? 'deny' : 'grant',
      reason: seq % 3 === 0 ? 'expired' : null,
      actor: null,
      data: seq % 4 === 0 ? { attempt: seq, nested: { z: 1, a: [2, 'x'] } } : null,
    };
    const hash = hashEvent(prevHash, fields);
    events.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

describe('hashEvent', () => {
  it('follows the documented canonical form', () => {
    const fields = {
      controllerId: 'site-a',
      seq: 1,
      at: 1000,
      type: 'system',
      door: null,
      scanner: null,
      subject: null,
      kind: null,
      issuer: null,
      verdict: null,
      reason: 'started',
      actor: null,
      data: null,
    };
    const text =
      GENESIS_HASH +
      '{"actor":null,"at":1000,"controllerId":"site-a","data":null,"door":null,' +
      '"issuer":null,"kind":null,"reason":"started","scanner":null,"seq":1,"subject":null,"type":"system","verdict":null}';
    expect(hashEvent(GENESIS_HASH, fields)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
    expect(GENESIS_HASH).toBe('0'.repeat(64));
  });

  it('sorts data keys at every depth and ignores undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe('{"a":{"d":[3,{"x":2,"y":1}]},"b":1}');
    const base = buildChain(1)[0] as AuditEvent;
    const a = hashEvent(GENESIS_HASH, { ...base, data: { b: 1, a: { y: 2, x: 1 } } });
    const b = hashEvent(GENESIS_HASH, { ...base, data: { a: { x: 1, y: 2 }, b: 1, gone: undefined } });
    expect(a).toBe(b);
    expect(hashEvent(GENESIS_HASH, { ...base, data: { b: 2, a: { x: 1, y: 2 } } })).not.toBe(a);
  });
});

describe('verifyChain on plain lists', () => {
  it('accepts an untouched chain, from arrays and async iterables', async () => {
    const events = buildChain(N);
    expect(await verifyChain(events)).toEqual({ ok: true, checked: N, problems: [] });
    async function* stream() {
      yield* events;
    }
    expect((await verifyChain(stream())).ok).toBe(true);
    expect(await verifyChain([])).toEqual({ ok: true, checked: 0, problems: [] });
  });

  it('checks interleaved chains of several controllers each on its own', async () => {
    const a = buildChain(5, 'a');
    const b = buildChain(5, 'b');
    const mixed = a.flatMap((event, i) => [event, b[i] as AuditEvent]);
    expect((await verifyChain(mixed)).ok).toBe(true);
  });

  it('a chain that does not start at the genesis hash is a broken link at event 1', async () => {
    const events = buildChain(3);
    const first = events[0] as AuditEvent;
    const forged = { ...first, prevHash: 'f'.repeat(64) };
    forged.hash = hashEvent(forged.prevHash, forged);
    const report = await verifyChain([forged, ...events.slice(1)]);
    expect(report.problems.map((p) => [p.seq, p.problem])).toEqual([
      [1, 'broken-link'],
      [2, 'broken-link'],
    ]);
  });

  it('names an event given out of order or twice', async () => {
    const events = buildChain(4);
    const report = await verifyChain([events[0], events[1], events[1], events[2], events[3]] as AuditEvent[]);
    expect(report.problems).toEqual([expect.objectContaining({ seq: 2, problem: 'reordered' })]);
  });

  it('reports the newest events missing when an anchor says they existed', async () => {
    const events = buildChain(N);
    const last = events[N - 1] as AuditEvent;
    const anchor = { controllerId: CONTROLLER, seq: last.seq, hash: last.hash };
    expect((await verifyChain(events, { anchor })).ok).toBe(true);
    const report = await verifyChain(events.slice(0, N - 2), { anchor });
    expect(report.problems.map((p) => [p.seq, p.problem])).toEqual([
      [N - 1, 'missing'],
      [N, 'missing'],
    ]);
    const rewritten = buildChain(N).map((e) => ({ ...e }));
    const report2 = await verifyChain(rewritten, { anchor: { ...anchor, hash: 'a'.repeat(64) } });
    expect(report2.problems).toEqual([expect.objectContaining({ seq: N, problem: 'edited' })]);
  });

  it('lists a long gap without running away', async () => {
    const events = buildChain(3);
    const far = { ...(events[2] as AuditEvent), seq: 5000 };
    const report = await verifyChain([events[0] as AuditEvent, far]);
    const missing = report.problems.filter((p) => p.problem === 'missing');
    expect(missing.length).toBeLessThanOrEqual(1001);
    expect(missing[0]).toMatchObject({ seq: 2 });
    expect(missing.at(-1)?.detail).toContain('4999');
  });
});

describe('verifyChain against tampering on a real SQLite store', () => {
  let dir: string;
  let file: string;
  let store: Store;
  let raw: Sqlite.Database;
  let chain: AuditEvent[];
  let n = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postern-chain-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    const fileName = `chain${++n}.sqlite`;
    file = join(dir, fileName);
    store = openStore({ dataDir: dir, fileName });
    await store.start();
    chain = buildChain(N);
    await store.appendAudit(chain);
    // The attacker: direct access to the file, and the triggers out of the way.
    raw = new Sqlite(file);
    expect(() => raw.exec(`UPDATE audit_events SET verdict = 'grant' WHERE seq = 3`)).toThrow(/append-only/);
    raw.exec('DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;');
  });
  afterEach(async () => {
    raw.close();
    await store.stop();
  });

  const verify = () => verifyChain(store.iterateAudit(CONTROLLER, 5));
  const summary = async () => (await verify()).problems.map((p) => [p.seq, p.problem]);

  const COLUMNS = ['at', 'type', 'door', 'scanner', 'subject', 'kind', 'issuer', 'verdict', 'reason', 'actor', 'data', 'prev_hash', 'hash'];
  function row(seq: number): Record<string, unknown> {
    return raw.prepare('SELECT * FROM audit_events WHERE controller_id = ? AND seq = ?').get(CONTROLLER, seq) as Record<string, unknown>;
  }
  function write(seq: number, values: Record<string, unknown>): void {
    const keys = Object.keys(values);
    raw
      .prepare(`UPDATE audit_events SET ${keys.map((k) => `${k} = @${k}`).join(', ')} WHERE controller_id = @cid AND seq = @seq`)
      .run({ ...values, cid: CONTROLLER, seq });
  }
  function pick(r: Record<string, unknown>, columns: string[]): Record<string, unknown> {
    return Object.fromEntries(columns.map((c) => [c, r[c]]));
  }
  async function event(seq: number): Promise<AuditEvent> {
    const [e] = await store.queryAudit({ controllerId: CONTROLLER, afterSeq: seq - 1, limit: 1 });
    return e as AuditEvent;
  }

  it('an untouched chain is intact', async () => {
    expect(await verify()).toEqual({ ok: true, checked: N, problems: [] });
  });

  it('an edited field is named as edited', async () => {
    write(5, { verdict: 'deny', door: 'vault' });
    const report = await verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ seq: 5, problem: 'edited' })]);
  });

  it('edited data, even text that is not JSON, is named as edited', async () => {
    write(4, { data: '{"attempt":4,"nested":{"a":[2,"x"],"z":2}}' });
    write(8, { data: 'not json at all' });
    expect(await summary()).toEqual([
      [4, 'edited'],
      [8, 'edited'],
    ]);
  });

  it('an edited and re-hashed event shows as a broken link at the next event', async () => {
    const original = await event(6);
    expect(original.verdict).toBe('deny');
    const edited = { ...original, verdict: 'grant', reason: null };
    write(6, { verdict: 'grant', reason: null, hash: hashEvent(original.prevHash, edited) });
    const report = await verify();
    expect(report.problems).toEqual([expect.objectContaining({ seq: 7, problem: 'broken-link' })]);
    expect(report.problems[0]?.detail).toContain('event 6');
  });

  it('a deleted event is named as missing', async () => {
    raw.prepare('DELETE FROM audit_events WHERE seq = 5').run();
    expect(await summary()).toEqual([[5, 'missing']]);
    expect((await verify()).checked).toBe(N - 1);
  });

  it('several deleted events, the first one included, are each named', async () => {
    raw.prepare('DELETE FROM audit_events WHERE seq IN (1, 7, 8, 9)').run();
    expect(await summary()).toEqual([
      [1, 'missing'],
      [7, 'missing'],
      [8, 'missing'],
      [9, 'missing'],
    ]);
  });

  it('two rows whose whole contents were swapped (hashes too) are named as reordered', async () => {
    const a = pick(row(4), COLUMNS);
    const b = pick(row(5), COLUMNS);
    write(4, b);
    write(5, a);
    const report = await verify();
    expect(report.problems.map((p) => [p.seq, p.problem])).toEqual([
      [4, 'reordered'],
      [5, 'reordered'],
    ]);
  });

  it('two rows whose event contents were swapped (hashes left in place) are named as reordered', async () => {
    const data = COLUMNS.filter((c) => c !== 'prev_hash' && c !== 'hash');
    const a = pick(row(7), data);
    const b = pick(row(8), data);
    write(7, b);
    write(8, a);
    expect(await summary()).toEqual([
      [7, 'reordered'],
      [8, 'reordered'],
    ]);
  });

  it('swapped rows that are not neighbours are named as reordered', async () => {
    const a = pick(row(3), COLUMNS);
    const b = pick(row(9), COLUMNS);
    write(3, b);
    write(9, a);
    expect(await summary()).toEqual([
      [3, 'reordered'],
      [9, 'reordered'],
    ]);
  });

  it('a re-hashed event dated before its predecessor is named as reordered', async () => {
    const original = await event(7);
    const moved = { ...original, at: original.at - 5000 };
    write(7, { at: moved.at, hash: hashEvent(original.prevHash, moved) });
    const problems = await summary();
    expect(problems).toContainEqual([7, 'reordered']);
    expect(problems).toContainEqual([8, 'broken-link']);
  });

  it('an event re-linked to an older event is named as reordered', async () => {
    const target = await event(4);
    const original = await event(6);
    const relinked = { ...original, prevHash: target.hash };
    write(6, { prev_hash: target.hash, hash: hashEvent(target.hash, relinked) });
    const report = await verify();
    expect(report.problems.map((p) => [p.seq, p.problem])).toEqual([
      [6, 'reordered'],
      [7, 'broken-link'],
    ]);
    expect(report.problems[0]?.detail).toContain('4');
  });

  it('a forged event put in the place of a deleted one shows as a broken link after it', async () => {
    const prev = await event(4);
    const real = await event(5);
    raw.prepare('DELETE FROM audit_events WHERE seq = 5').run();
    const forged = { ...real, verdict: 'grant', reason: null, subject: '1', prevHash: prev.hash };
    forged.hash = hashEvent(prev.hash, forged);
    raw
      .prepare(
        `INSERT INTO audit_events (controller_id, seq, at, type, door, scanner, subject, kind, issuer, verdict, reason, actor, data, prev_hash, hash)
         VALUES (@controllerId, @seq, @at, @type, @door, @scanner, @subject, @kind, @issuer, @verdict, @reason, @actor, NULL, @prevHash, @hash)`,
      )
      .run(forged);
    expect(await summary()).toEqual([[6, 'broken-link']]);
  });
});
