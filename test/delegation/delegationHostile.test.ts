/**
 * Webhooks that misbehave on purpose, each a real HTTP server on port 0: every one of them ends in
 * a denial within the timeout (500 ms here) plus 100 ms, with its reason in the audit event, and
 * scanners of other doors and other webhooks are decided at their usual speed meanwhile.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { partner, partnerSignature, SECRET, SITE_LINK, startDelegationSite, startWebhookServer, type DelegationSite, type Handler, type WebhookServer } from './delegationHarness.ts';

const TIMEOUT_MS = 500;
const BOUND_MS = TIMEOUT_MS + 100;

let clock: () => number = Date.now;
const now = () => Math.floor(clock() / 1000);
const timers = new Set<NodeJS.Timeout>();

/** A signed, well-formed answer, changed by `change` before it is sent. */
function signed(change: (answer: Record<string, unknown>) => Record<string, unknown>, sign: (body: string) => string = (body) => partnerSignature(body, now())): Handler {
  return (request, res) => {
    const body = JSON.stringify(change({ nonce: request.json.nonce, decision: 'grant', subject: 'Mallory' }));
    res.writeHead(200, { 'content-type': 'application/json', 'postern-signature': sign(body) });
    res.end(body);
  };
}

interface Case {
  name: string;
  handler: Handler;
  reason: 'delegate-error' | 'delegate-timeout';
  detail: string;
  status?: number;
}

const cases: Case[] = [
  { name: 'non-2xx', handler: (_r, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error'), reason: 'delegate-error', detail: 'non-2xx 500', status: 500 },
  {
    name: 'non-2xx, signed and granting',
    handler: (request, res) => {
      const body = JSON.stringify({ nonce: request.json.nonce, decision: 'grant' });
      res.writeHead(403, { 'postern-signature': partnerSignature(body, now()) }).end(body);
    },
    reason: 'delegate-error',
    detail: 'non-2xx 403',
    status: 403,
  },
  {
    name: 'unsigned',
    handler: (request, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: request.json.nonce, decision: 'grant' })),
    reason: 'delegate-error',
    detail: 'unsigned',
  },
  { name: 'bad signature', handler: signed((a) => a, (body) => partnerSignature(body, now(), 'a-different-secret-of-more-than-32-chars')), reason: 'delegate-error', detail: 'bad-signature' },
  { name: 'signature of another body', handler: signed((a) => a, (body) => partnerSignature(body.replace('grant', 'deny!'), now())), reason: 'delegate-error', detail: 'bad-signature' },
  { name: 'wrong nonce', handler: signed((a) => ({ ...a, nonce: '00112233445566778899aabbccddeeff' })), reason: 'delegate-error', detail: 'nonce-mismatch' },
  { name: 'no nonce', handler: signed(({ nonce: _n, ...rest }) => rest), reason: 'delegate-error', detail: 'nonce-mismatch' },
  { name: 'stale timestamp (301 s old)', handler: signed((a) => a, (body) => partnerSignature(body, now() - 301)), reason: 'delegate-error', detail: 'stale' },
  { name: 'timestamp from the future (301 s)', handler: signed((a) => a, (body) => partnerSignature(body, now() + 301)), reason: 'delegate-error', detail: 'stale' },
  {
    name: 'malformed JSON',
    handler: (_r, res) => {
      const body = '{"nonce": "abc", "decision": "gra';
      res.writeHead(200, { 'content-type': 'application/json', 'postern-signature': partnerSignature(body, now()) }).end(body);
    },
    reason: 'delegate-error',
    detail: 'malformed',
  },
  { name: 'unknown decision', handler: signed((a) => ({ ...a, decision: 'yes' })), reason: 'delegate-error', detail: 'malformed' },
  { name: 'redirect', handler: (_r, res) => res.writeHead(302, { location: '/grant' }).end(), reason: 'delegate-error', detail: 'redirect', status: 302 },
  {
    name: 'oversized body, streamed and never ended',
    handler: (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'postern-signature': partnerSignature('x', now()) });
      // 20 KiB at once, then nothing: the client must stop at 16 KiB, not wait for the end.
      res.write(`{"pad":"${'x'.repeat(20 * 1024)}`);
    },
    reason: 'delegate-error',
    detail: 'too-large',
    status: 200,
  },
  {
    name: 'oversized Content-Length',
    handler: (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) });
      res.write('{');
    },
    reason: 'delegate-error',
    detail: 'too-large',
    status: 200,
  },
  { name: 'connection dropped', handler: (_r, res) => res.socket?.destroy(), reason: 'delegate-error', detail: 'unreachable' },
  { name: 'never answers', handler: () => undefined, reason: 'delegate-timeout', detail: 'timeout' },
  {
    name: 'slow, byte by byte',
    handler: (request, res) => {
      const body = JSON.stringify({ nonce: request.json.nonce, decision: 'grant' });
      res.writeHead(200, { 'content-type': 'application/json', 'postern-signature': partnerSignature(body, now()) });
      let i = 0;
      const timer = setInterval(() => {
        if (i >= body.length || res.destroyed) return clearInterval(timer);
        res.write(body[i++]);
      }, 200);
      timers.add(timer);
    },
    reason: 'delegate-timeout',
    detail: 'timeout',
    status: 200,
  },
];

const scannerOf = (i: number) => `hostile-${i}`;

let hook: WebhookServer;
let s: DelegationSite;
let closedPort: number;

beforeAll(async () => {
  const handlers: Record<string, Handler> = {
    '/grant': (r, res, req) => partner(clock, () => ({ decision: 'grant', subject: 'Ada' }))(r, res, req),
  };
  cases.forEach((c, i) => (handlers[`/case-${i}`] = c.handler));
  hook = await startWebhookServer(handlers);
  // A port with nothing listening: a server started and closed again.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));

  s = await startDelegationSite((input: SiteConfigInput) => {
    // Each case its own scanner, with its own URL: one failure per scanner, far from any throttle.
    input.scanners!.push(
      ...cases.map((_c, i) => ({ id: scannerOf(i), door: 'lab', driver: 'simulated' as const, debounceMs: 0, delegation: { url: `${hook.url}/case-${i}`, secret: SECRET, timeoutMs: TIMEOUT_MS } })),
      { id: 'unreachable', door: 'lab', driver: 'simulated', debounceMs: 0, delegation: { url: `http://127.0.0.1:${closedPort}/`, secret: SECRET, timeoutMs: TIMEOUT_MS } },
      { id: 'good', door: 'store', driver: 'simulated', debounceMs: 0, delegation: { url: `${hook.url}/grant`, secret: SECRET, timeoutMs: TIMEOUT_MS } },
    );
  });
  clock = s.clock;
});

afterAll(async () => {
  for (const timer of timers) clearInterval(timer);
  await s?.stop();
  await hook?.close();
});

describe('a misbehaving webhook denies, in time, with its reason', () => {
  it.each(cases.map((c, i) => ({ ...c, i })))('$name → $reason ($detail)', async ({ i, reason, detail, status }) => {
    const { decision, elapsedMs } = await s.read(scannerOf(i), 'TKT-HOSTILE-CASE');
    expect(decision).toMatchObject({ verdict: 'deny', reason, kind: 'delegated' });
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    if (reason === 'delegate-error' && detail !== 'unreachable') expect(elapsedMs).toBeLessThan(TIMEOUT_MS);
    const event = (await s.audit()).find((e) => e.seq === decision.auditSeq)!;
    expect(event).toMatchObject({ verdict: 'deny', reason, kind: 'delegated' });
    expect(event.data!.delegation).toMatchObject({ detail, eventId: expect.any(String) });
    if (status !== undefined) expect((event.data!.delegation as any).status).toBe(status);
    expect(event.data!.delegation).not.toHaveProperty('subjectName');
  });

  it('follows no redirect: the target of the redirect is never asked', () => {
    expect(hook.received.filter((r) => r.path === '/grant')).toHaveLength(0);
  });

  it('stops reading an oversized answer at the cap: the connection is closed, not drained', async () => {
    const closedBefore = hook.closedSockets;
    const oversized = cases.findIndex((c) => c.name.startsWith('oversized body'));
    const { decision, elapsedMs } = await s.read(scannerOf(oversized), 'TKT-HOSTILE-AGAIN');
    expect(decision.reason).toBe('delegate-error');
    expect(elapsedMs).toBeLessThan(TIMEOUT_MS);
    await expect.poll(() => hook.closedSockets, { timeout: 1000 }).toBeGreaterThan(closedBefore);
  });

  it('denies unreachable when nothing listens', async () => {
    const { decision, elapsedMs } = await s.read('unreachable', 'TKT-NOWHERE');
    expect(decision).toMatchObject({ verdict: 'deny', reason: 'delegate-error' });
    expect(elapsedMs).toBeLessThan(BOUND_MS);
    const event = (await s.audit()).find((e) => e.seq === decision.auditSeq)!;
    expect(event.data!.delegation).toMatchObject({ detail: 'unreachable' });
  });
});

describe('a webhook that hangs holds back only its own scanner', () => {
  it('decides a vector code on another scanner, and a good webhook on a third, long before the hanging one times out', async () => {
    const silent = cases.findIndex((c) => c.name === 'never answers');
    const slow = cases.findIndex((c) => c.name === 'slow, byte by byte');
    const order: string[] = [];
    const hanging = [s.read(scannerOf(silent), 'TKT-HANGING-1'), s.read(scannerOf(slow), 'TKT-HANGING-2')].map((read) =>
      read.then((r) => (order.push('hanging'), r)),
    );
    // Give both requests time to be on their way before the other scanners read.
    await new Promise((r) => setTimeout(r, 50));
    const link = s.read('front-in', SITE_LINK).then((r) => (order.push('link'), r));
    const good = s.read('good', 'TKT-GOOD').then((r) => (order.push('good'), r));
    const [linkResult, goodResult] = await Promise.all([link, good]);
    const hangingResults = await Promise.all(hanging);

    expect(linkResult.decision).toMatchObject({ verdict: 'grant', kind: 'link', subject: '42', door: 'front' });
    expect(goodResult.decision).toMatchObject({ verdict: 'grant', kind: 'delegated', door: 'store' });
    // Both are decided before either hanging webhook times out, whatever the machine's load: they
    // were never queued behind it. A wall-clock bound tighter than the timeout only measured the
    // load of the machine running the suite.
    expect(order.slice(0, 2).sort()).toEqual(['good', 'link']);
    expect(order.slice(2)).toEqual(['hanging', 'hanging']);
    expect(linkResult.elapsedMs).toBeLessThan(TIMEOUT_MS - 100);
    expect(goodResult.elapsedMs).toBeLessThan(TIMEOUT_MS - 100);
    for (const result of hangingResults) {
      expect(result.decision.reason).toBe('delegate-timeout');
      expect(result.elapsedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 60);
      expect(result.elapsedMs).toBeLessThan(BOUND_MS);
    }
  });

  it('keeps the hanging scanner\'s own reads in order: the next waits its turn', async () => {
    const scanner = scannerOf(cases.findIndex((c) => c.name === 'never answers'));
    const started = performance.now();
    const seen: Array<{ reason: string | null; at: number }> = [];
    const both = new Promise<void>((resolve) => {
      const off = s.controller.onDecision((d) => {
        if (d.scanner !== scanner) return;
        seen.push({ reason: d.reason, at: performance.now() - started });
        if (seen.length === 2) {
          off();
          resolve();
        }
      });
    });
    const driver = s.controller.scannerDriver(scanner) as SimulatedScanner;
    driver.read('TKT-FIRST');
    driver.read('TKT-SECOND');
    await both;
    expect(seen.map((d) => d.reason)).toEqual(['delegate-timeout', 'delegate-timeout']);
    expect(seen[0]!.at).toBeLessThan(BOUND_MS);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(TIMEOUT_MS - 60);
    expect(seen[1]!.at).toBeLessThan(2 * TIMEOUT_MS + 200);
  });

  it('never writes the secret to the audit trail or the logs', async () => {
    expect(JSON.stringify(await s.audit())).not.toContain(SECRET);
    expect(s.logs()).not.toContain(SECRET);
    expect(s.logs()).toContain('"detail":"nonce-mismatch"');
  });
});
