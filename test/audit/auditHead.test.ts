/**
 * Audit heads and anchors: the format written by `postern audit head`, read back as an anchor, and
 * the comparison that catches what the chain alone cannot (a deleted tail, a deleted chain, a
 * rewritten history), against a real SQLite store with the attacker's raw access.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Sqlite from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { GENESIS_HASH, hashEvent } from '../../controller/audit/auditChain.ts';
import { type AuditHead, checkAnchor, compareWithAnchor, formatHeads, formatHeadsJson, parseAnchor, readHeads } from '../../controller/audit/auditHead.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent, Store } from '../../controller/store/storeTypes.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';

function chain(controllerId: string, count: number): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const fields = { controllerId, seq, at: 1_767_225_600_000 + seq, type: 'system', door: null, scanner: null, subject: null, kind: null, issuer: null, verdict: null, reason: `event ${seq}`, actor: null, data: null };
    const hash = hashEvent(prevHash, fields);
    events.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

describe('the head format', () => {
  const heads: AuditHead[] = [
    { controllerId: 'site-a', seq: 120, hash: HASH_A },
    { controllerId: 'site-a/admin', seq: 7, hash: HASH_B },
  ];

  it('writes one "<controllerId> <seq> <hash>" line per chain, and reads it back', () => {
    const text = formatHeads(heads);
    expect(text).toBe(`site-a 120 ${HASH_A}\nsite-a/admin 7 ${HASH_B}\n`);
    expect(parseAnchor(text)).toEqual(heads);
  });

  it('writes JSON with the time it was taken, and reads that back too (or a bare array)', () => {
    const json = formatHeadsJson(heads, Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(JSON.parse(json)).toEqual({ takenAt: '2026-01-02T03:04:05.000Z', chains: heads });
    expect(parseAnchor(json)).toEqual(heads);
    expect(parseAnchor(JSON.stringify(heads))).toEqual(heads);
  });

  it('ignores notes and blank lines, keeps repeated chains, and takes upper-case hashes', () => {
    const text = `# taken 2026-01-02 by ops, ticket 42\n\n  site-a 100 ${HASH_A.toUpperCase()}  \r\nsite-a 120 ${HASH_B}\n`;
    expect(parseAnchor(text)).toEqual([
      { controllerId: 'site-a', seq: 100, hash: HASH_A },
      { controllerId: 'site-a', seq: 120, hash: HASH_B },
    ]);
  });

  it('refuses an anchor that names no chain or holds a line that is not a head, naming the line', () => {
    const refused = (text: string) => {
      try {
        parseAnchor(text, 'anchor.txt');
      } catch (error) {
        expect(error).toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused('')).toBe('anchor.txt names no audit chain');
    expect(refused('# only a note\n')).toBe('anchor.txt names no audit chain');
    expect(refused('{"chains": []}')).toBe('anchor.txt names no audit chain');
    expect(refused(`site-a 1 ${HASH_A}\nsite-a 12 abc\n`)).toMatch(/^anchor\.txt, line 2: expected "<controllerId> <seq> <hash>"/);
    expect(refused(`site-a 0 ${HASH_A}`)).toMatch(/line 1: the seq must be a whole number from 1/);
    expect(refused(`${HASH_A}`)).toMatch(/line 1: expected/);
    expect(refused('{"chains": [{"controllerId": "site-a", "seq": "3", "hash": "x"}]}')).toMatch(/chain 1: expected/);
    expect(refused('{"chains": ')).toMatch(/is not valid JSON/);
  });
});

describe('compareWithAnchor', () => {
  const anchor = { controllerId: 'site-a', seq: 100, hash: HASH_A };

  it('accepts the anchored event with its hash, whether the chain ends there or grew since', () => {
    expect(compareWithAnchor(anchor, 100, { seq: 100, hash: HASH_A })).toMatchObject({ ok: true, status: 'matches', detail: 'event 100 matches the anchor (the chain ends there)' });
    expect(compareWithAnchor(anchor, 150, { seq: 100, hash: HASH_A })).toMatchObject({ ok: true, status: 'matches', detail: 'event 100 matches the anchor; 50 events since' });
  });

  it('names the chain, the anchored seq and what was found', () => {
    expect(compareWithAnchor(anchor, 0, undefined)).toMatchObject({
      ok: false,
      status: 'chain-missing',
      detail: 'the anchor has event 100, but the store holds no event of chain site-a: the whole chain was deleted',
    });
    expect(compareWithAnchor(anchor, 50, undefined)).toMatchObject({
      ok: false,
      status: 'truncated',
      found: { lastSeq: 50, hash: null },
      detail: 'the anchor has event 100, but the chain ends at event 50: events 51..100 (and any after them) were deleted',
    });
    expect(compareWithAnchor(anchor, 99, undefined).detail).toBe('the anchor has event 100, but the chain ends at event 99: event 100 (and any after it) was deleted');
    expect(compareWithAnchor(anchor, 120, undefined)).toMatchObject({ ok: false, status: 'event-missing', detail: 'the anchor has event 100, but it is missing (the chain goes on to event 120)' });
    expect(compareWithAnchor(anchor, 120, { seq: 100, hash: HASH_B })).toMatchObject({
      ok: false,
      status: 'rewritten',
      found: { lastSeq: 120, hash: HASH_B },
      detail: `event 100 has hash ${HASH_B}, the anchor has ${HASH_A}: the chain was rewritten`,
    });
  });
});

describe('heads and anchors on a real store', () => {
  let dir: string;
  let store: Store;
  let raw: Sqlite.Database;
  let n = 0;
  const site = chain('site-a', 80);
  const admin = chain('site-a/admin', 6);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postern-head-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    const fileName = `head${++n}.sqlite`;
    store = openStore({ dataDir: dir, fileName });
    await store.start();
    await store.appendAudit(site);
    await store.appendAudit(admin);
    raw = new Sqlite(join(dir, fileName));
    for (const { name } of raw.prepare("select name from sqlite_master where type = 'trigger'").all() as Array<{ name: string }>) raw.exec(`drop trigger "${name}"`);
  });
  afterEach(async () => {
    raw.close();
    await store.stop();
  });

  const del = (controllerId: string, fromSeq: number) => raw.prepare('delete from audit_events where controller_id = ? and seq >= ?').run(controllerId, fromSeq);

  it('reads every chain\'s head, sorted, or one chain\'s, or none of a chain that has no event', async () => {
    const heads = await readHeads(store);
    expect(heads).toEqual([
      { controllerId: 'site-a', seq: 80, hash: site[79]!.hash },
      { controllerId: 'site-a/admin', seq: 6, hash: admin[5]!.hash },
    ]);
    expect(await readHeads(store, 'site-a/admin')).toEqual([heads[1]]);
    expect(await readHeads(store, 'elsewhere')).toEqual([]);
  });

  it('passes a chain that grew since its anchor', async () => {
    const [anchor] = await readHeads(store, 'site-a');
    await store.appendAudit(chain('site-a', 90).slice(80));
    expect(await checkAnchor(store, anchor!)).toMatchObject({ ok: true, status: 'matches', found: { lastSeq: 90 } });
  });

  it('catches the newest 50 events deleted, and the whole admin chain deleted', async () => {
    const anchors = parseAnchor(formatHeads(await readHeads(store)));
    del('site-a', 31);
    del('site-a/admin', 1);
    const [siteCheck, adminCheck] = await Promise.all(anchors.map((a) => checkAnchor(store, a)));
    expect(siteCheck).toMatchObject({ ok: false, status: 'truncated', found: { lastSeq: 30 } });
    expect(siteCheck!.detail).toContain('events 31..80');
    expect(adminCheck).toMatchObject({ ok: false, status: 'chain-missing', found: { lastSeq: 0 } });
  });

  it('catches a rewritten history: the chain re-hashed from an edited event on', async () => {
    const [anchor] = await readHeads(store, 'site-a');
    // Every row from 40 on, edited and chained again: verifyChain alone finds nothing wrong.
    const forged = chain('site-a', 80).map((e) => ({ ...e }));
    let prevHash = forged[38]!.hash;
    for (const e of forged.slice(39)) {
      e.reason = `${e.reason} (forged)`;
      e.prevHash = prevHash;
      e.hash = hashEvent(prevHash, e);
      prevHash = e.hash;
    }
    const update = raw.prepare('update audit_events set reason = ?, prev_hash = ?, hash = ? where controller_id = ? and seq = ?');
    for (const e of forged.slice(39)) update.run(e.reason, e.prevHash, e.hash, e.controllerId, e.seq);
    expect(await checkAnchor(store, anchor!)).toMatchObject({ ok: false, status: 'rewritten', found: { lastSeq: 80, hash: forged[79]!.hash } });
  });

  it('catches the anchored event deleted in the middle of a chain that went on', async () => {
    const anchor = { controllerId: 'site-a', seq: 40, hash: site[39]!.hash };
    raw.prepare('delete from audit_events where controller_id = ? and seq = 40').run('site-a');
    expect(await checkAnchor(store, anchor)).toMatchObject({ ok: false, status: 'event-missing', found: { lastSeq: 80 } });
  });
});
