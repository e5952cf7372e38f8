/**
 * Clients that misbehave: one that stops reading, one that stops answering pings, one that floods.
 * Each is dealt with without slowing other clients or the decision path.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { Accounts } from '../../controller/accounts/accounts.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite | undefined;
afterEach(async () => {
  await site?.stop();
  site = undefined;
});

function decideOne(s: ApiSite, text: string): Promise<Decision> {
  return new Promise((resolve) => {
    const off = s.controller.onDecision((d) => {
      off();
      resolve(d);
    });
    (s.controller.scannerDriver('store-in') as SimulatedScanner).read(text);
  });
}

describe('hostile clients', () => {
  it('drops a client that stops reading once its unsent buffer passes the limit; others carry on', async () => {
    // Reads not paced by the site-wide read budget: what is tested here is the slow reader alone.
    site = await startApiSite((c) => void (c.api = { port: 0, maxBufferedBytes: 64 * 1024, readRowsPerSecond: 10_000_000, rateLimit: { perConnection: { rate: 1000, burst: 1000 }, perToken: { rate: 1000, burst: 1000 } } }));
    // Enough audit events that one audit.query answer is large.
    const lab = site.controller.scannerDriver('lab-in') as SimulatedScanner;
    for (let i = 0; i < 400; i++) lab.read(`filler-${i}`);
    await new Promise((r) => setTimeout(r, 500));
    const slow = await ApiClient.connect(site.url, site.tokens.viewer);
    const other = await ApiClient.connect(site.url, site.tokens.viewer);
    const closed = once(slow.socket, 'close');
    // Stop reading: the kernel buffers fill, then the server's own buffer grows.
    (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 200; i++) slow.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'audit.query', params: { limit: 1000 } }));
    const started = Date.now();
    while (site.controller.apiUrl && Date.now() - started < 15_000) {
      const metrics = await fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.viewer}` } }).then((r) => r.text());
      if (/postern_api_connections 1$/m.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    await closed;
    expect((await other.request('system.info')).result.product).toBe('postern');
    expect((await decideOne(site, 'still deciding')).reason).toBe('unknown-format');
    other.close();
  });

  it('finds a dead connection by ping and pong and closes it', async () => {
    site = await startApiSite((c) => void (c.api = { port: 0, heartbeatSeconds: 0.2 }));
    // A raw TCP client that completes the upgrade and then never answers a ping.
    const url = new URL(site.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write(
      'GET /api HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${site.tokens.viewer}\r\n\r\n`,
    );
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const started = Date.now();
    await once(socket, 'close');
    expect(received).toMatch(/^HTTP\/1\.1 101 Switching Protocols/);
    // Closed once a ping went unanswered for a whole heartbeat (0.2 s here), not left open.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('closes an open socket at the next heartbeat once its token is revoked', async () => {
    site = await startApiSite((c) => void (c.api = { port: 0, heartbeatSeconds: 0.2 }));
    const store = openStore({ dataDir: site.dataDir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
    await audit.start();
    const accounts = new Accounts({ store, audit });
    const { token, record } = await accounts.createToken({ name: 'leaving', role: 'operator', scanner: null }, 'test');
    const client = await ApiClient.connect(site.url, token);
    expect((await client.request('doors.list')).result).toHaveLength(3);
    const closed = once(client.socket, 'close');
    await accounts.revokeToken(record.id, 'test');
    const [code] = await closed;
    expect(code).toBe(1008);
    await audit.stop();
    await store.stop();
  });

  it('rate-limits a flooding client with a clear error, without delaying scans or other clients', async () => {
    site = await startApiSite((c) => void (c.api = { port: 0, rateLimit: { perConnection: { rate: 20, burst: 40 }, perToken: { rate: 1000, burst: 1000 } } }));
    const flood = await ApiClient.connect(site.url, site.tokens.viewer);
    const calm = await ApiClient.connect(site.url, site.tokens.operator);
    // The burst is answered; what comes past it is refused until the bucket refills.
    const burst = await Promise.all(Array.from({ length: 40 }, () => flood.request('doors.list')));
    expect(burst.every((a) => Array.isArray(a.result))).toBe(true);
    for (let i = 0; i < 100; i++) flood.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: `f${i}`, method: 'doors.list' }));
    const limited = await flood.nextRaw();
    expect(limited.error).toMatchObject({ code: -32004, message: 'rate limit exceeded: slow down', data: { code: 'POSTERN_ERR_RATE_LIMITED', retryAfterMs: expect.any(Number) } });
    // Another client and the decision path are served meanwhile (how fast: bench/apiFanout.ts).
    expect((await calm.request('doors.get', { door: 'front' })).result.id).toBe('front');
    expect((await decideOne(site, 'during the flood')).reason).toBe('unknown-format');
    flood.close();
    calm.close();
  });
});
