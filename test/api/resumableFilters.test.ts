/**
 * Resumable audit streams, the edges: subscription filters (verdict, types, scanners, subjects,
 * doors) on replayed and live events alike, a client further behind than a replay goes refused with
 * the documented error, an `after` beyond the head, and the `tok_...` subjects of account events in
 * audit.query and in filters. A real controller on SQLite whose chain holds more than 100,000 events.
 */
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const SITE = 'test-site';
/** One more than a subscription replays, and a margin. */
const SEEDED = 100_200;
type Event = Record<string, unknown> & { seq: number };

let controller: Controller;
let tokens: Record<string, string>;
let viewer: ApiClient;
let integrator: ApiClient;
let admin: ApiClient;

beforeAll(async () => {
  const dataDir = await tempDir('postern-resume-filters-');
  const config = testSite(dataDir, (input) => {
    input.scanners = [...(input.scanners ?? []), { id: 'net-1', door: 'lab', driver: 'network', debounceMs: 0 }];
    input.throttle = { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 };
  });
  tokens = await makeTokens(dataDir, [{ name: 'viewer', role: 'viewer' }, { name: 'integrator', role: 'integrator' }, { name: 'admin', role: 'admin' }]);
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: SITE });
  await audit.start();
  const appended: Array<Promise<unknown>> = [];
  for (let i = 0; i < SEEDED; i++) {
    const lab = i % 3 === 0;
    const grant = i % 5 === 0;
    appended.push(audit.append({ type: 'decision', door: lab ? 'lab' : 'store', scanner: lab ? 'net-1' : 'store-in', kind: 'unknown', verdict: grant ? 'grant' : 'deny', reason: grant ? null : 'unknown' }));
  }
  await Promise.all(appended);
  await audit.stop();
  await store.stop();
  controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
  [viewer, integrator, admin] = await Promise.all([ApiClient.connect(controller.apiUrl!, tokens.viewer), ApiClient.connect(controller.apiUrl!, tokens.integrator), ApiClient.connect(controller.apiUrl!, tokens.admin)]);
}, 120_000);

afterAll(async () => {
  for (const c of [viewer, integrator, admin]) c?.close();
  await controller?.stop();
});

async function head(): Promise<number> {
  const { events } = await viewer.call('audit.query', { order: 'desc', limit: 1 });
  return events[0].seq;
}

async function stored(afterSeq: number, through: number): Promise<Event[]> {
  const all: Event[] = [];
  let next: number | undefined = afterSeq;
  while (next !== undefined && next < through) {
    const page: { events: Event[]; next: { afterSeq: number } | null } = await viewer.call('audit.query', { afterSeq: next, limit: 1000 });
    all.push(...page.events.filter((e) => e.seq <= through));
    next = page.next?.afterSeq;
  }
  return all;
}

function auditOf(client: ApiClient, subscription: string): Event[] {
  return client.notifications.filter((n) => n.subscription === subscription && n.topic === 'audit').map((n) => n.data as Event);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/** One decision at each of net-1 (lab, through the API) and store-in (simulated); resolves with the head after both. */
async function scanBoth(text: string): Promise<number> {
  const read = await integrator.call('scanner.read', { scanner: 'net-1', text });
  expect(read).toMatchObject({ decided: true, verdict: 'deny' });
  const decided = new Promise<void>((resolve) => {
    const off = controller.onDecision((d) => {
      if (d.scanner !== 'store-in') return;
      off();
      resolve();
    });
  });
  (controller.scannerDriver('store-in') as SimulatedScanner).read(text);
  await decided;
  await delay(50);
  return head();
}

describe('how far back a subscription replays', () => {
  it('refuses a client further behind than 100,000 events, telling it to page with audit.query first', async () => {
    const newest = await head();
    expect(newest).toBeGreaterThan(100_000);
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const refused = await client.request('subscribe', { topics: ['audit'], after: newest - 100_001 });
    expect(refused.error).toMatchObject({ code: -32602, data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'after', maxReplay: 100_000 } });
    expect(refused.error.message).toMatch(/audit\.query/);
    expect((await client.request('subscribe', { topics: ['audit'], after: 0 })).error).toMatchObject({ code: -32602, data: { field: 'after' } });
    // Nothing was sent, and no subscription was left behind: the connection still has all 16.
    expect(client.notifications).toEqual([]);
    for (let i = 0; i < 16; i++) expect((await client.request('subscribe', { topics: ['door'] })).result).toBeDefined();
    client.close();
  });

  it('replays nothing for an after beyond the head, and goes live', async () => {
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const newest = await head();
    const answer = await client.call('subscribe', { topics: ['audit'], after: newest + 1000 });
    expect(answer).toMatchObject({ replayed: 0, head: newest });
    await scanBoth('beyond-head');
    await until(() => auditOf(client, answer.subscription).length >= 2, 'the live events');
    expect(auditOf(client, answer.subscription).map((e) => e.seq).slice(0, 2)).toEqual([newest + 1, newest + 2]);
    client.close();
  });

  it('replays exactly the events after a recent seq, then the live ones', async () => {
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const newest = await head();
    const answer = await client.call('subscribe', { topics: ['audit'], after: newest - 250 });
    expect(answer).toMatchObject({ replayed: 250, head: newest });
    const through = await scanBoth('recent');
    await until(() => auditOf(client, answer.subscription).at(-1)?.seq === through, 'the live events');
    expect(auditOf(client, answer.subscription)).toEqual(await stored(newest - 250, through));
    client.close();
  });
});

describe('a replay of the most a subscription replays', () => {
  it('sends 100,000 events in order while other requests and the doors go on being answered', async () => {
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const killed = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const newest = await head();
    const replay = client.call('subscribe', { topics: ['audit'], after: newest - 100_000 });
    // A client killed in the middle of its replay: the replay stops, and nothing else notices.
    void killed.request('subscribe', { topics: ['audit'], after: newest - 100_000 });
    await until(() => killed.notifications.length >= 1000, 'the start of the second replay');
    killed.socket.terminate();
    // Answers to another connection while the replay runs: the event loop is never held long.
    const slowest = { ms: 0, answered: 0 };
    let replaying = true;
    const probe = (async () => {
      while (replaying) {
        const started = performance.now();
        await viewer.call('doors.get', { door: 'front' });
        slowest.ms = Math.max(slowest.ms, performance.now() - started);
        slowest.answered++;
        await delay(20);
      }
    })();
    const answer = await replay;
    replaying = false;
    await probe;
    expect(answer).toMatchObject({ replayed: 100_000, head: newest });
    expect(slowest.answered).toBeGreaterThan(3);
    expect(slowest.ms).toBeLessThan(1000);
    const got = auditOf(client, answer.subscription);
    expect(got.length).toBe(100_000);
    expect(got.every((e, i) => e.seq === newest - 100_000 + 1 + i)).toBe(true);
    client.close();
  }, 120_000);
});

describe('filters of the audit topic, on replayed and live events alike', () => {
  it('verdict and scanners', async () => {
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const after = (await head()) - 600;
    const answer = await client.call('subscribe', { topics: ['audit'], after, verdict: 'deny', scanners: ['net-1'] });
    const through = await scanBoth('filtered');
    const expected = (await stored(after, through)).filter((e) => e.verdict === 'deny' && e.scanner === 'net-1');
    expect(answer.replayed).toBe(expected.length - 1); // the last one is the live scan at net-1
    await until(() => auditOf(client, answer.subscription).length === expected.length, 'the filtered events');
    await delay(100);
    expect(auditOf(client, answer.subscription)).toEqual(expected);
    client.close();
  });

  it('doors and types', async () => {
    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const after = (await head()) - 300;
    const byDoor = await client.call('subscribe', { topics: ['audit'], after, doors: ['store'] });
    const byType = await client.call('subscribe', { topics: ['audit'], after, types: ['operator', 'system'] });
    await admin.call('doors.unlock', { door: 'front', seconds: 1 });
    const through = await scanBoth('doors-and-types');
    const all = await stored(after, through);
    const atStore = all.filter((e) => e.door === 'store' || e.door === null);
    const operatorOrSystem = all.filter((e) => e.type === 'operator' || e.type === 'system');
    expect(operatorOrSystem.some((e) => e.reason === 'door.unlock')).toBe(true);
    await until(() => auditOf(client, byDoor.subscription).at(-1)?.seq === atStore.at(-1)!.seq, 'the store door events');
    await until(() => auditOf(client, byType.subscription).length === operatorOrSystem.length, 'the operator events');
    expect(auditOf(client, byDoor.subscription)).toEqual(atStore);
    expect(auditOf(client, byType.subscription)).toEqual(operatorOrSystem);
    client.close();
  });

  it('subjects, also the tok_ subjects of account events; and audit.query takes those too', async () => {
    const before = await head();
    const { record } = await admin.call('tokens.create', { name: 'resume-filter', role: 'viewer' });
    const id: string = record.id;
    expect(id).toMatch(/^tok_[0-9a-f]{16}$/);
    const { events } = await viewer.call('audit.query', { subject: id });
    expect(events.map((e: Event) => e.reason)).toEqual(['token.create']);

    const client = await ApiClient.connect(controller.apiUrl!, tokens.viewer);
    const answer = await client.call('subscribe', { topics: ['audit'], after: before, subjects: [id] });
    expect(answer.replayed).toBe(1);
    await admin.call('tokens.revoke', { id });
    await scanBoth('not-this-subject');
    await until(() => auditOf(client, answer.subscription).length === 2, 'the revoke event');
    expect(auditOf(client, answer.subscription)).toEqual((await viewer.call('audit.query', { subject: id })).events);
    expect(auditOf(client, answer.subscription).map((e) => e.reason)).toEqual(['token.create', 'token.revoke']);
    client.close();
  });

  it('refuses filters that cannot work', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ topics: ['door'], after: 1 }, -32602, 'after'],
      [{ topics: ['door', 'scanner'], verdict: 'deny' }, -32602, 'verdict'],
      [{ topics: ['audit'], scanners: ['nope'] }, -32002, 'scanner'],
      [{ topics: ['audit'], subjects: ['tok_../etc'] }, -32602, 'subjects.0'],
      [{ topics: ['audit'], types: ['decision', 'gossip'] }, -32602, 'types.1'],
      [{ topics: ['audit'], after: -1 }, -32602, 'after'],
    ];
    for (const [params, code, field] of cases) {
      expect((await viewer.request('subscribe', params)).error, JSON.stringify(params)).toMatchObject({ code, data: { field } });
    }
    expect((await viewer.request('audit.query', { subject: 'tok_' + 'a'.repeat(33) })).error).toMatchObject({ code: -32602, data: { field: 'subject' } });
    expect((await viewer.request('audit.query', { subject: 'usr_0123456789abcdef' })).result).toMatchObject({ events: [] });
  });
});
