/**
 * Rate limits count work, not messages: a batch counts each request, a query the rows it may read;
 * and an audit.query answer is bounded in bytes while it is made, with a next page that goes on
 * where it stopped. Against a real controller with the default limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;

beforeAll(async () => {
  site = await startApiSite();
  // Another chain of the store with large events: 600 of 2 KB each, 1.2 MB in all.
  const store = openStore({ dataDir: site.dataDir });
  await store.start();
  const bulk = new AuditTrail({ store, controllerId: 'test-site/bulk' });
  await bulk.start();
  await Promise.all(Array.from({ length: 600 }, (_, i) => bulk.append({ type: 'operator', reason: 'import', actor: 'test', data: { i, note: 'x'.repeat(2000) } })));
  await bulk.stop();
  await store.stop();
});
afterAll(() => site?.stop());

describe('limits count work', () => {
  it('refuses a batch of 50 full-size audit queries whole, under each id, where 50 small reads pass', async () => {
    const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
    const small = Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'doors.get', params: { door: 'front' } }));
    viewer.sendRaw(JSON.stringify(small));
    const answers = await viewer.nextRaw();
    expect(answers).toHaveLength(50);
    expect(answers.every((a: { result?: unknown }) => a.result !== undefined)).toBe(true);
    await new Promise((r) => setTimeout(r, 2100)); // the bucket (50/s, 100) refills

    const heavy = Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: 100 + i, method: 'audit.query', params: { limit: 1000 } }));
    viewer.sendRaw(JSON.stringify(heavy));
    const refused = await viewer.nextRaw();
    expect(refused.map((a: { id: number }) => a.id)).toEqual(heavy.map((h) => h.id));
    expect(refused[0].error).toMatchObject({ code: -32004, message: expect.stringContaining('costs 300 requests'), data: { code: 'POSTERN_ERR_RATE_LIMITED' } });
    viewer.close();
  });

  it('counts a full-size query as 6 requests: about 16 go through the burst of 100, then the rest are refused', async () => {
    const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
    const results = [];
    for (let i = 0; i < 25; i++) results.push(await viewer.request('audit.query', { limit: 1000 }));
    const passed = results.filter((r) => r.error === undefined).length;
    expect(passed).toBeGreaterThanOrEqual(16);
    expect(passed).toBeLessThan(25);
    expect(results.at(-1).error).toMatchObject({ code: -32004 });
    viewer.close();
  });
});

describe('a client that ignores the limit', () => {
  it('is disconnected (1008) after 100 refusals in a row and its token kept out for a while; other tokens are not', async () => {
    const flooder = await ApiClient.connect(site.url, site.tokens.viewer);
    const closed = new Promise<[number, string]>((resolve) => flooder.socket.on('close', (code, reason) => resolve([code, reason.toString()])));
    const heavy = JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: i + 1, method: 'audit.query', params: { limit: 1000 } })));
    // It keeps sending until it is dropped, as such a client does: a loaded controller that reads
    // the messages further apart than the wait each refusal gives starts the count again.
    for (let i = 0; i < 5000 && flooder.socket.readyState === flooder.socket.OPEN; i++) {
      flooder.sendRaw(heavy);
      if (i % 150 === 149) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await closed).toEqual([1008, 'rate limit ignored']);
    // The token is kept out for a while (10 s the first time), without a store read; others are not.
    await expect(ApiClient.connect(site.url, site.tokens.viewer)).rejects.toThrow(/429/);
    const other = await ApiClient.connect(site.url, site.tokens.operator);
    expect(await other.call('doors.get', { door: 'front' })).toMatchObject({ id: 'front' });
    other.close();
  });
});

describe('audit.query answers are bounded in bytes', () => {
  it('stops a page at 512 KiB with a next page that goes on without a gap', async () => {
    const viewer = await ApiClient.connect(site.url, site.tokens.integrator);
    const seen: number[] = [];
    let next: Record<string, number> | null = {};
    let pages = 0;
    while (next !== null) {
      const page = await viewer.call('audit.query', { controllerId: 'test-site/bulk', limit: 1000, ...next });
      expect(JSON.stringify(page).length).toBeLessThan(512 * 1024 + 4096);
      seen.push(...page.events.map((e: { seq: number }) => e.seq));
      next = page.next;
      pages++;
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    viewer.close();
  });
});
