/**
 * A message refused by the rate limit is answered under the ids of its requests (docs/api.md,
 * Limits), so that a client with several requests open knows which ones were refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite | undefined;

afterEach(async () => {
  await site?.stop();
  site = undefined;
});

const LIMITED = { code: -32004, message: 'rate limit exceeded: slow down', data: { code: 'POSTERN_ERR_RATE_LIMITED', retryAfterMs: expect.any(Number) } };

describe('rate-limited requests', () => {
  it('are answered with their own id; a refused batch answers each of its requests by id', async () => {
    // One message a second, bursts of 3: the fourth message sent at once is refused, and so is
    // every one after it for the next second.
    site = await startApiSite((c) => void (c.api = { port: 0, rateLimit: { perConnection: { rate: 1, burst: 3 }, perToken: { rate: 1000, burst: 1000 } } }));
    const client = await ApiClient.connect(site.url, site.tokens.viewer);
    const burst = await Promise.all([client.request('doors.list'), client.request('doors.list'), client.request('doors.list')]);
    expect(burst.every((a) => Array.isArray(a.result))).toBe(true);

    // A request with several others open: each refusal names its request.
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'doors.get', params: { door: 'front' } }));
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'doors.list' }));
    expect(await client.nextRaw()).toEqual({ jsonrpc: '2.0', id: 'a', error: LIMITED });
    expect(await client.nextRaw()).toEqual({ jsonrpc: '2.0', id: 7, error: LIMITED });

    // A batch: one answer per request in its order; its notification gets none, and an item that
    // is no request gets what it would have got anyway.
    client.sendRaw(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'b1', method: 'doors.list' },
        { jsonrpc: '2.0', method: 'doors.list' },
        { jsonrpc: '1.0', id: 'b3', method: 'doors.list' },
        { jsonrpc: '2.0', id: 'b4', method: 'doors.get', params: { door: 'lab' } },
      ]),
    );
    const batch = await client.nextRaw();
    expect(batch).toEqual([
      { jsonrpc: '2.0', id: 'b1', error: LIMITED },
      { jsonrpc: '2.0', id: 'b3', error: { code: -32600, message: 'invalid request: jsonrpc must be "2.0"' } },
      { jsonrpc: '2.0', id: 'b4', error: LIMITED },
    ]);

    // A notification is never answered, not even when refused: the next answer is the probe's.
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'doors.list' }));
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'probe', method: 'doors.list' }));
    expect(await client.nextRaw()).toEqual({ jsonrpc: '2.0', id: 'probe', error: LIMITED });

    // Nothing to name: not JSON.
    client.sendRaw('{not json');
    expect(await client.nextRaw()).toEqual({ jsonrpc: '2.0', id: null, error: LIMITED });

    // Once the bucket has refilled, requests run again.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await client.request('doors.get', { door: 'front' })).result.id).toBe('front');
    client.close();
  });
});
