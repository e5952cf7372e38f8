/** JSON-RPC 2.0 exactly, and hostile input that never costs the connection or anyone else. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let client: ApiClient;
beforeAll(async () => {
  site = await startApiSite();
  client = await ApiClient.connect(site.url, site.tokens.admin);
});
afterAll(async () => {
  client.close();
  await site.stop();
});

describe('JSON-RPC 2.0', () => {
  it('answers a request with its id and result', async () => {
    const response = await client.request('system.info');
    expect(response).toMatchObject({ jsonrpc: '2.0', id: expect.any(Number), result: { product: 'postern', site: { id: 'test-site' } } });
  });

  it('answers a batch in order, skipping notifications, with errors in place', async () => {
    client.sendRaw(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'doors.get', params: { door: 'front' } },
        { jsonrpc: '2.0', method: 'system.info' },
        { jsonrpc: '2.0', id: 'b', method: 'no.such.method' },
        { foo: 'bar' },
        { jsonrpc: '2.0', id: 'c', method: 'doors.get', params: [{ door: 'lab' }] },
      ]),
    );
    const answers = await client.nextRaw();
    expect(answers.map((a: { id: unknown }) => a.id)).toEqual(['a', 'b', null, 'c']);
    expect(answers[0].result).toMatchObject({ id: 'front', state: 'secured' });
    expect(answers[1].error.code).toBe(-32601);
    expect(answers[2].error.code).toBe(-32600);
    expect(answers[3].result.id).toBe('lab');
  });

  it('sends nothing for a notification or a batch of notifications', async () => {
    client.sendRaw(JSON.stringify({ jsonrpc: '2.0', method: 'system.info' }));
    client.sendRaw(JSON.stringify([{ jsonrpc: '2.0', method: 'system.info' }]));
    // The next answer the client gets is for the request after them.
    expect((await client.request('doors.list')).result).toHaveLength(3);
    await expect(client.nextRaw(200)).rejects.toThrow('no message');
  });

  it('answers invalid JSON with -32700 and invalid requests with -32600, and stays open', async () => {
    client.sendRaw('{"jsonrpc": "2.0", "method": ');
    expect(await client.nextRaw()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: expect.stringContaining('parse error') } });
    client.sendRaw('[]');
    expect((await client.nextRaw()).error.code).toBe(-32600);
    client.sendRaw(JSON.stringify({ jsonrpc: '1.0', id: 7, method: 'system.info' }));
    expect(await client.nextRaw()).toMatchObject({ id: 7, error: { code: -32600 } });
    client.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect((await client.nextRaw()).error.code).toBe(-32700);
    expect((await client.request('system.info')).result.product).toBe('postern');
  });

  it('names the unknown method and the bad parameter', async () => {
    expect((await client.request('doors.explode')).error).toMatchObject({ code: -32601, message: 'method not found: doors.explode' });
    const missing = await client.request('doors.unlock', { seconds: 5 });
    expect(missing.error).toMatchObject({ code: -32602, data: { field: 'door', code: 'POSTERN_ERR_INVALID_ARGUMENT' } });
    const wrongType = await client.request('doors.unlock', { door: 'front', seconds: 'five' });
    expect(wrongType.error).toMatchObject({ code: -32602, data: { field: 'seconds' } });
    const extra = await client.request('doors.list', { colour: 'red' });
    expect(extra.error.code).toBe(-32602);
    const unknownDoor = await client.request('doors.get', { door: 'vault' });
    expect(unknownDoor.error).toMatchObject({ code: -32002, message: 'no door "vault"', data: { code: 'POSTERN_ERR_NOT_FOUND' } });
  });

  it('closes a connection that sends a frame over the size limit with 1009', async () => {
    const big = await ApiClient.connect(site.url, site.tokens.viewer);
    const closed = new Promise<number>((resolve) => big.socket.on('close', (code) => resolve(code)));
    big.sendRaw('x'.repeat(65 * 1024));
    expect(await closed).toBe(1009);
    // Others are untouched.
    expect((await client.request('system.info')).result.product).toBe('postern');
  });
});
