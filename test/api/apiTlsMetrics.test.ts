/** TLS when a certificate is configured, and what /metrics exposes. */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { startApiSite } from '../support/apiSite.ts';
import { hasOpenssl, makeTestCertificate, skipWithoutOpenssl } from '../support/testCertificate.ts';

describe.skipIf(skipWithoutOpenssl)(hasOpenssl ? 'API over TLS' : 'API over TLS (skipped: no openssl to make a test certificate)', () => {
  it('speaks HTTPS and WSS with the configured certificate', async () => {
    const { cert, key } = await makeTestCertificate();
    const site = await startApiSite((c) => void (c.api = { port: 0, tls: { cert, key } }));
    try {
      expect(site.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const socket = new WebSocket(`${site.url.replace('https', 'wss')}/api`, { ca: readFileSync(cert), headers: { authorization: `Bearer ${site.tokens.viewer}` } });
      await once(socket, 'open');
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'system.info' }));
      const [message] = await once(socket, 'message');
      expect(JSON.parse(String(message)).result.product).toBe('postern');
      socket.close();
      // Plain HTTP to a TLS port gets nowhere.
      await expect(fetch(site.url.replace('https', 'http') + '/healthz')).rejects.toThrow();
    } finally {
      await site.stop();
    }
  });
});

describe('/metrics', () => {
  it('exposes decisions by verdict and reason, latency per door, the wait for the disk, door states, scanner health and event-loop lag', async () => {
    const site = await startApiSite();
    try {
      const scanner = site.controller.scannerDriver('lab-in') as SimulatedScanner;
      const decided = new Promise((resolve) => site.controller.onDecision(resolve));
      scanner.read('not a code');
      await decided;
      // An operator's unlock is a grant: its event is durable before the relay moves, and that wait is measured.
      await site.controller.doors.unlock('lab', 1, 'tester');
      const metrics = () => fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.viewer}` } }).then((r) => r.text());
      // The door's own state changes wait up to 20 ms for company before they are written.
      let text = '';
      await vi.waitFor(async () => expect((text = await metrics())).toMatch(/^postern_audit_outbox_pending 0$/m), { timeout: 3000, interval: 20 });
      expect(text).toMatch(/^postern_decisions_total\{verdict="deny",reason="unknown-format"\} 1$/m);
      expect(text).toMatch(/^postern_scan_to_relay_seconds_count\{door="lab",verdict="deny"\} 1$/m);
      expect(text).toMatch(/^postern_door_state\{door="front",state="secured"\} 1$/m);
      expect(text).toMatch(/^postern_door_state\{door="front",state="open"\} 0$/m);
      expect(text).toMatch(/^postern_scanner_up\{scanner="lab-in",door="lab",driver="simulated"\} 1$/m);
      expect(text).toMatch(/^postern_scanner_up\{scanner="net-1",door="lab",driver="network"\} 0$/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
      expect(text).toMatch(/^postern_audit_outbox_pending 0$/m);
      expect(text).toMatch(/^postern_audit_durable_seconds_count\{where="store"\} 1$/m);
      expect(text).toMatch(/^postern_audit_durable_seconds_bucket\{le="1",where="store"\} 1$/m);
    } finally {
      await site.stop();
    }
  });
});
