/**
 * The audit trail's durability: record() says where an event became durable (store or journal),
 * the journal takes what a slow or failing store cannot, and a run that dies leaves its journal to
 * be drained into the store exactly once at the next start.
 */
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

import { verifyChain } from '../../controller/audit/auditChain.ts';
import { AuditJournal } from '../../controller/audit/auditJournal.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent, Store } from '../../controller/store/storeTypes.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

const CONTROLLER = 'site-j';

/** The real store behind a switch: down, or hung until released. */
class SwitchableStore implements Pick<Store, 'appendAudit' | 'lastAudit'> {
  down = false;
  gate: Promise<void> | undefined;
  constructor(private readonly inner: Store) {}
  async appendAudit(events: AuditEvent[]): Promise<void> {
    if (this.down) throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, 'database is down');
    if (this.gate) await this.gate;
    await this.inner.appendAudit(events);
  }
  lastAudit(controllerId: string): Promise<AuditEvent | undefined> {
    return this.inner.lastAudit(controllerId);
  }
}

const quiet = () => ({ warn: vi.fn(), error: vi.fn() });

async function stored(store: Store): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for await (const event of store.iterateAudit(CONTROLLER)) events.push(event);
  return events;
}

describe('AuditTrail with a journal', () => {
  let dir: string;
  let store: Store;
  let switchable: SwitchableStore;
  let journalFile: string;
  let n = 0;
  const trails: AuditTrail[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postern-journal-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    n++;
    store = openStore({ dataDir: dir, fileName: `journal${n}.sqlite` });
    await store.start();
    switchable = new SwitchableStore(store);
    journalFile = join(dir, `journal${n}.ndjson`);
  });
  afterEach(async () => {
    for (const trail of trails.splice(0)) await trail.stop();
    await store.stop();
  });

  function trail(options: Partial<ConstructorParameters<typeof AuditTrail>[0]> = {}): AuditTrail {
    const t = new AuditTrail({ store: switchable, controllerId: CONTROLLER, journal: new AuditJournal({ file: journalFile }), logger: quiet(), retryMinMs: 20, retryMaxMs: 50, maxWaitMs: 50, ...options });
    trails.push(t);
    return t;
  }

  const journalLines = async () => (await readFile(journalFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);

  it('a record is durable in the store when the store takes it in time', async () => {
    const audit = trail();
    await audit.start();
    const receipt = audit.record({ type: 'decision', verdict: 'grant', subject: '1' });
    expect(receipt.event.seq).toBe(1);
    await expect(receipt.durable).resolves.toBe('store');
    expect(await journalLines()).toEqual([]);
  });

  it('a hung store: the record goes to the journal (0600) after maxWaitMs, and reaches the store once when it comes back', async () => {
    const audit = trail();
    await audit.start();
    let release = () => {};
    switchable.gate = new Promise<void>((resolve) => (release = resolve));
    const receipt = audit.record({ type: 'decision', verdict: 'grant', subject: '2' });
    await expect(receipt.durable).resolves.toBe('journal');
    expect((await journalLines()).map((e) => e.seq)).toEqual([1]);
    expect((await stat(journalFile)).mode & 0o777).toBe(0o600);
    // Later events go straight to the journal while the store lags.
    await expect(audit.record({ type: 'decision', subject: '3' }).durable).resolves.toBe('journal');
    switchable.gate = undefined;
    release();
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 3000, interval: 10 });
    await vi.waitFor(async () => expect(await journalLines()).toEqual([]), { timeout: 3000, interval: 10 });
    const events = await stored(store);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect(await verifyChain(events)).toMatchObject({ ok: true });
  });

  it('makes the journal\'s folder (0700) when it does not exist yet, as on a PostgreSQL site that never made its data directory', async () => {
    const folder = join(dir, `never-made-${n}`);
    const audit = trail({ journal: new AuditJournal({ file: join(folder, 'journal.ndjson') }) });
    await audit.start();
    switchable.down = true;
    await expect(audit.record({ type: 'decision', verdict: 'grant' }).durable).resolves.toBe('journal');
    expect((await stat(folder)).mode & 0o777).toBe(0o700);
  });

  it('a dead store and a dead journal: record() rejects STORE_UNAVAILABLE, append() still resolves', async () => {
    const audit = trail({ journal: new AuditJournal({ file: join(dir, `a-file-${n}`, 'journal.ndjson') }) });
    await audit.start();
    // From now on the journal can never be written: its folder would have to be made where a file is.
    await writeFile(join(dir, `a-file-${n}`), 'not a folder');
    switchable.down = true;
    await expect(audit.record({ type: 'decision', verdict: 'grant' }).durable).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    await expect(audit.append({ type: 'system', reason: 'still answers' })).resolves.toMatchObject({ seq: 2 });
    switchable.down = false;
    await vi.waitFor(() => expect(audit.pending).toBe(0), { timeout: 3000, interval: 10 });
    expect((await stored(store)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('a run that dies with events only in the journal: the next start drains them into the store exactly once, then continues the chain', async () => {
    // The first run's own way to the store, which its "kill -9" cuts for good: a trail that is
    // never stopped would otherwise go on retrying and race the next start's drain.
    const firstWay = new SwitchableStore(store);
    const first = trail({ store: firstWay });
    await first.start();
    await first.record({ type: 'system', reason: 'stored' }).durable;
    firstWay.down = true;
    for (const reason of ['a', 'b', 'c']) await expect(first.record({ type: 'decision', reason }).durable).resolves.toBe('journal');
    // "kill -9": the trail is never stopped; its journal and the store are what is left.
    trails.splice(trails.indexOf(first), 1);
    // Power cut in the middle of a journal write: a torn last line, whose append never resolved.
    await appendFile(journalFile, '{"controllerId":"site-j","seq":5,"trunc');

    const second = trail();
    await second.start();
    const next = await second.append({ type: 'system', reason: 'restarted' });
    expect(next.seq).toBe(5);
    const events = await stored(store);
    expect(events.map((e) => e.reason)).toEqual(['stored', 'a', 'b', 'c', 'restarted']);
    expect(await verifyChain(events)).toMatchObject({ ok: true, checked: 5 });
    expect(await journalLines()).toEqual([]);

    // A journal whose events the store already holds (the store took them after all): skipped, not doubled.
    await writeFile(journalFile, events.slice(1, 3).map((e) => JSON.stringify(e)).join('\n') + '\n');
    await second.stop();
    trails.splice(trails.indexOf(second), 1);
    const third = trail();
    await third.start();
    expect((await third.append({ type: 'system' })).seq).toBe(6);
    expect((await stored(store)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('stop() journals what the store will not take, so a stop loses nothing', async () => {
    const audit = trail({ retryMinMs: 60_000, retryMaxMs: 60_000 });
    await audit.start();
    switchable.down = true;
    await audit.append({ type: 'system', reason: 'x' });
    await audit.stop();
    expect((await journalLines()).map((e) => e.reason)).toEqual(['x']);
  });
});
