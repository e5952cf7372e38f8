import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { GENESIS_HASH, verifyChain } from '../../controller/audit/auditChain.ts';
import { AuditJournal } from '../../controller/audit/auditJournal.ts';
import { AuditTrail, type AuditLogger } from '../../controller/audit/auditTrail.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent, Store } from '../../controller/store/storeTypes.ts';

const CONTROLLER = 'site-a';

/** A store in front of the real one that can be made to fail, and counts appendAudit calls. */
class FlakyStore implements Pick<Store, 'appendAudit' | 'lastAudit'> {
  down = false;
  /** Write, then throw as if the answer was lost (once). */
  loseNextAnswer = false;
  calls: number[] = [];
  /** While set, appendAudit waits for this promise before writing (a hung database). */
  gate: Promise<void> | undefined;

  constructor(private readonly inner: Store) {}

  async appendAudit(events: AuditEvent[]): Promise<void> {
    this.calls.push(events.length);
    if (this.down) throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, 'database is down');
    if (this.gate !== undefined) await this.gate;
    await this.inner.appendAudit(events);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, 'connection lost after commit');
    }
  }

  lastAudit(controllerId: string): Promise<AuditEvent | undefined> {
    if (this.down) return Promise.reject(new PosternError(ErrorCodes.STORE_UNAVAILABLE, 'database is down'));
    return this.inner.lastAudit(controllerId);
  }
}

type LogFn = (obj: object, msg?: string) => void;

function quietLogger() {
  return { warn: vi.fn<LogFn>(), error: vi.fn<LogFn>() } satisfies AuditLogger;
}

async function stored(store: Store, controllerId = CONTROLLER): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for await (const event of store.iterateAudit(controllerId)) events.push(event);
  return events;
}

describe('AuditTrail', () => {
  let dir: string;
  let store: Store;
  let flaky: FlakyStore;
  let n = 0;
  const trails: AuditTrail[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postern-trail-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    store = openStore({ dataDir: dir, fileName: `trail${++n}.sqlite` });
    await store.start();
    flaky = new FlakyStore(store);
  });
  afterEach(async () => {
    for (const trail of trails.splice(0)) await trail.stop();
    await store.stop();
  });

  function trail(options: Partial<ConstructorParameters<typeof AuditTrail>[0]> = {}): AuditTrail {
    const t = new AuditTrail({ store: flaky, controllerId: CONTROLLER, logger: quietLogger(), retryMinMs: 10, retryMaxMs: 40, ...options });
    trails.push(t);
    return t;
  }

  it('numbers and chains events from the genesis hash, and stores them', async () => {
    const audit = trail({ clock: () => 5000 });
    await audit.start();
    const first = await audit.append({ type: 'system', reason: 'started', actor: 'system', data: { doors: 2 } });
    const second = await audit.append({ type: 'decision', door: 'front', scanner: 's1', subject: '42', kind: 'link', issuer: 0, verdict: 'grant', at: 6000 });
    expect(first).toMatchObject({ controllerId: CONTROLLER, seq: 1, at: 5000, prevHash: GENESIS_HASH, door: null, verdict: null });
    expect(second).toMatchObject({ seq: 2, at: 6000, prevHash: first.hash, data: null });
    expect(await stored(store)).toEqual([first, second]);
    expect(await verifyChain(store.iterateAudit(CONTROLLER))).toEqual({ ok: true, checked: 2, problems: [] });
    expect(audit.pending).toBe(0);
    expect(audit.head).toEqual({ seq: 2, hash: second.hash });
  });

  it('chains a shared chain again after another writer took its seqs: both commands recorded, the chain intact', async () => {
    // Two command-line processes on <site>/admin, started together: both read the same head.
    const first = trail({ sharedChain: true, clock: () => 1000 });
    const second = trail({ sharedChain: true, clock: () => 2000 });
    await first.start();
    await second.start();
    const a = await first.append({ type: 'operator', actor: 'cli', reason: 'link.create' });
    const b = await second.append({ type: 'operator', actor: 'cli', reason: 'link.revoke' });
    const c = await second.append({ type: 'operator', actor: 'cli', reason: 'link.revoke' });
    expect([a.seq, b.seq, c.seq]).toEqual([1, 2, 3]);
    expect(b).toMatchObject({ prevHash: a.hash, at: 2000 });
    expect(await stored(store)).toEqual([a, b, c]);
    expect(await verifyChain(store.iterateAudit(CONTROLLER))).toEqual({ ok: true, checked: 3, problems: [] });
    expect(second.pending).toBe(0);
  });

  it('does not chain again a chain that is not shared: the conflict is reported, nothing rewritten', async () => {
    const first = trail();
    const second = trail();
    await first.start();
    await second.start();
    const a = await first.append({ type: 'operator', reason: 'one' });
    const pending = second.append({ type: 'operator', reason: 'two' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(second.pending).toBe(1);
    expect(await stored(store)).toEqual([a]);
    void pending;
  });

  it('returns the event exactly as the store keeps it (data through a JSON round trip)', async () => {
    const audit = trail();
    await audit.start();
    const event = await audit.append({ type: 'operator', data: { when: new Date(0), skip: undefined, list: [1, undefined] } as never });
    expect(event.data).toEqual({ when: '1970-01-01T00:00:00.000Z', list: [1, null] });
    expect(await stored(store)).toEqual([event]);
    expect((await verifyChain([event])).ok).toBe(true);
  });

  it('keeps call order under concurrent appends, batching what arrives during a write', async () => {
    const audit = trail();
    await audit.start();
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => audit.append({ type: 'decision', reason: `r${i}` })));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(events.map((e) => e.reason)).toEqual(Array.from({ length: 50 }, (_, i) => `r${i}`));
    const inStore = await stored(store);
    expect(inStore).toEqual(events);
    expect(flaky.calls.length).toBeLessThan(50);
    expect(flaky.calls.reduce((a, b) => a + b, 0)).toBe(50);
    expect((await verifyChain(inStore)).ok).toBe(true);
  });

  it('writes a deferred event with the next event that is due, in one write, in order', async () => {
    const audit = trail({ deferMs: 60_000 });
    await audit.start();
    const door = audit.append({ type: 'door', door: 'front', reason: 'unlocked' }, { deferred: true });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(flaky.calls).toEqual([]); // alone, it waits for company
    expect(audit.pending).toBe(1);
    const grant = audit.record({ type: 'decision', door: 'front', verdict: 'grant' });
    await grant.durable;
    const stateChange = await door;
    expect(flaky.calls).toEqual([2]);
    expect([stateChange.seq, grant.event.seq]).toEqual([1, 2]);
    expect(await stored(store)).toEqual([stateChange, grant.event]);
  });

  it('writes a deferred event alone once deferMs has passed, and does not start a write for one that comes during a write', async () => {
    const audit = trail({ deferMs: 40 });
    await audit.start();
    let open!: () => void;
    flaky.gate = new Promise((resolve) => (open = resolve));
    const due = audit.append({ type: 'operator', reason: 'due' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    void audit.append({ type: 'door', door: 'front', reason: 'secured' }, { deferred: true });
    open();
    flaky.gate = undefined;
    await due;
    expect(flaky.calls).toEqual([1]); // the deferred one did not follow at once
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 2000, interval: 5 });
    expect(flaky.calls).toEqual([1, 1]);
    expect((await stored(store)).map((e) => e.reason)).toEqual(['due', 'secured']);
  });

  it('writes deferred events at stop and at flush, not after deferMs', async () => {
    const audit = trail({ deferMs: 60_000 });
    await audit.start();
    void audit.append({ type: 'door', door: 'front', reason: 'unlocked' }, { deferred: true });
    await audit.flush();
    expect(flaky.calls).toEqual([1]);
    void audit.append({ type: 'door', door: 'front', reason: 'secured' }, { deferred: true });
    await audit.stop();
    expect(flaky.calls).toEqual([1, 1]);
    expect((await stored(store)).map((e) => e.reason)).toEqual(['unlocked', 'secured']);
  });

  it('journals a deferred event like any other when the store is down', async () => {
    const journalDir = await mkdtemp(join(tmpdir(), 'postern-trail-journal-'));
    try {
      const audit = trail({ deferMs: 10, maxWaitMs: 50, journal: new AuditJournal({ file: join(journalDir, 'journal.ndjson') }) });
      await audit.start();
      flaky.down = true;
      const event = await audit.append({ type: 'door', door: 'front', reason: 'unlocked' }, { deferred: true });
      expect(audit.journaled).toBe(1);
      flaky.down = false;
      await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 3000, interval: 10 });
      expect(await stored(store)).toEqual([event]);
    } finally {
      await rm(journalDir, { recursive: true, force: true });
    }
  });

  it('never lets time run backwards within the chain', async () => {
    let now = 10_000;
    const audit = trail({ clock: () => now });
    await audit.start();
    const a = await audit.append({ type: 'system' });
    now = 4_000; // the clock steps back
    const b = await audit.append({ type: 'system' });
    const c = await audit.append({ type: 'system', at: 12_000 });
    expect([a.at, b.at, c.at]).toEqual([10_000, 10_000, 12_000]);
    expect((await verifyChain(store.iterateAudit(CONTROLLER))).ok).toBe(true);
  });

  it('resolves appends while the store is down, keeps them, and writes them in order once it is back', async () => {
    const logger = quietLogger();
    const audit = trail({ logger });
    await audit.start();
    await audit.append({ type: 'system', reason: 'before' });
    flaky.down = true;
    const during = await Promise.all(Array.from({ length: 5 }, (_, i) => audit.append({ type: 'decision', reason: `down${i}` })));
    expect(during.map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
    expect(audit.pending).toBe(5);
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ pending: expect.any(Number) }), expect.stringContaining('retrying'));
    // a further append does not wait for the dead store either
    const late = await audit.append({ type: 'decision', reason: 'late' });
    expect(late.seq).toBe(7);
    expect(audit.pending).toBe(6);

    flaky.down = false; // the retry timer writes them
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 2000, interval: 10 });
    const inStore = await stored(store);
    expect(inStore.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(inStore.map((e) => e.reason)).toEqual(['before', 'down0', 'down1', 'down2', 'down3', 'down4', 'late']);
    expect(await verifyChain(inStore)).toEqual({ ok: true, checked: 7, problems: [] });
    const after = await audit.append({ type: 'system', reason: 'after' });
    expect(after.seq).toBe(8);
    expect((await stored(store)).length).toBe(8);
  });

  it('does not hold a decision longer than maxWaitMs when the store hangs', async () => {
    const logger = quietLogger();
    const audit = trail({ logger, maxWaitMs: 50 });
    await audit.start();
    let release = () => {};
    flaky.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = Date.now();
    const event = await audit.append({ type: 'decision', reason: 'slow' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(event.seq).toBe(1);
    expect(audit.pending).toBe(1);
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ seq: 1 }), expect.stringContaining('slow'));
    flaky.gate = undefined;
    release();
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 2000, interval: 10 });
    expect((await stored(store)).map((e) => e.reason)).toEqual(['slow']);
  });

  it('does not write twice when a write committed but its answer was lost', async () => {
    const audit = trail();
    await audit.start();
    flaky.loseNextAnswer = true;
    await audit.append({ type: 'system', reason: 'one' });
    expect(audit.pending).toBe(1); // it looks unwritten
    await audit.append({ type: 'system', reason: 'two' }).catch(() => undefined);
    await audit.flush();
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 2000, interval: 10 });
    const inStore = await stored(store);
    expect(inStore.map((e) => e.reason)).toEqual(['one', 'two']);
    expect((await verifyChain(inStore)).ok).toBe(true);
  });

  it('continues the chain from the stored last event after a restart', async () => {
    const first = trail();
    await first.start();
    await first.append({ type: 'system', reason: 'a' });
    const b = await first.append({ type: 'system', reason: 'b' });
    await first.stop();

    const second = trail();
    await second.start();
    const c = await second.append({ type: 'system', reason: 'c' });
    expect(c.seq).toBe(3);
    expect(c.prevHash).toBe(b.hash);
    expect(await verifyChain(store.iterateAudit(CONTROLLER))).toEqual({ ok: true, checked: 3, problems: [] });
  });

  it('stop() makes a last attempt, and reports what it could not write', async () => {
    const logger = quietLogger();
    const audit = trail({ logger, retryMinMs: 60_000, retryMaxMs: 60_000 });
    await audit.start();
    flaky.down = true;
    await audit.append({ type: 'system', reason: 'x' });
    expect(audit.pending).toBe(1);
    flaky.down = false;
    await audit.stop(); // the retry is a minute away; stop writes now
    expect(audit.pending).toBe(0);
    expect((await stored(store)).map((e) => e.reason)).toEqual(['x']);

    const again = trail({ logger });
    await again.start();
    flaky.down = true;
    await again.append({ type: 'system', reason: 'y' });
    await again.stop();
    expect(again.pending).toBe(1);
    expect(logger.error).toHaveBeenCalledWith(expect.objectContaining({ pending: 1 }), expect.any(String));
    await again.stop(); // safe twice
  });

  it('calls listeners synchronously, until they unsubscribe', async () => {
    const audit = trail();
    await audit.start();
    const seen: number[] = [];
    const unsubscribe = audit.onAppend((event) => seen.push(event.seq));
    const pending = audit.append({ type: 'system' });
    expect(seen).toEqual([1]); // before the write finished
    await pending;
    audit.onAppend(() => {
      throw new Error('a broken listener does not break the trail');
    });
    await audit.append({ type: 'system' });
    unsubscribe();
    await audit.append({ type: 'system' });
    expect(seen).toEqual([1, 2]);
  });

  it('tells how long each recorded event waited to be durable, and where: the store, or the journal while the store hangs', async () => {
    const journalDir = await mkdtemp(join(tmpdir(), 'postern-trail-journal-'));
    try {
      const audit = trail({ maxWaitMs: 50, journal: new AuditJournal({ file: join(journalDir, 'journal.ndjson') }) });
      await audit.start();
      const waits: Array<{ where: string; waitedMs: number }> = [];
      const unsubscribe = audit.onDurable((where, waitedMs) => waits.push({ where, waitedMs }));

      // An event nobody acts on (append) is not counted: only what a relay waits for is.
      await audit.append({ type: 'system' });
      const granted = audit.record({ type: 'decision', door: 'front', verdict: 'grant' });
      expect(await granted.durable).toBe('store');
      expect(waits).toEqual([{ where: 'store', waitedMs: expect.any(Number) }]);
      expect(waits[0]!.waitedMs).toBeGreaterThan(0);

      // The store hangs: the next grant waits the 50 ms bound, then goes to the journal.
      let release!: () => void;
      flaky.gate = new Promise((resolve) => (release = resolve));
      const held = audit.record({ type: 'decision', door: 'front', verdict: 'grant' });
      expect(await held.durable).toBe('journal');
      expect(waits[1]).toEqual({ where: 'journal', waitedMs: expect.any(Number) });
      expect(waits[1]!.waitedMs).toBeGreaterThanOrEqual(45);
      release();
      flaky.gate = undefined;
      await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 3000, interval: 10 });
      // Reaching the store later does not count it again.
      expect(waits).toHaveLength(2);

      audit.onDurable(() => {
        throw new Error('a broken listener does not break the trail');
      });
      unsubscribe();
      expect(await audit.record({ type: 'decision', door: 'front', verdict: 'grant' }).durable).toBe('store');
      expect(waits).toHaveLength(2);
    } finally {
      await rm(journalDir, { recursive: true, force: true });
    }
  });

  it('refuses appends before start', async () => {
    const audit = trail();
    await expect(audit.append({ type: 'system' })).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
  });

  it('keeps two controllers apart in one store', async () => {
    const a = trail({ controllerId: 'a' });
    const b = trail({ controllerId: 'b' });
    await a.start();
    await b.start();
    await Promise.all([a.append({ type: 'system' }), b.append({ type: 'system' }), a.append({ type: 'system' })]);
    expect((await stored(store, 'a')).map((e) => e.seq)).toEqual([1, 2]);
    expect((await stored(store, 'b')).map((e) => e.seq)).toEqual([1]);
  });
});
