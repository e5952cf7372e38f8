/**
 * Delegated evaluation end to end: a real controller on a real SQLite file asks real webhook
 * servers (node:http on port 0) about text that is no Postern code, and only about that.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkSignature } from '../../controller/delegation/webhookSignature.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { vectors } from '../support/vectors.ts';
import { partner, SECRET, SITE_LINK, startDelegationSite, startWebhookServer, type DelegationSite, type WebhookServer } from './delegationHarness.ts';

const TICKET = 'TKT-2026-0417-ADA-LOVELACE';

const open: Array<DelegationSite | WebhookServer> = [];
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await (('controller' in thing ? thing.stop() : thing.close()) as Promise<void>);
});

async function server(...args: Parameters<typeof startWebhookServer>): Promise<WebhookServer> {
  const s = await startWebhookServer(...args);
  open.push(s);
  return s;
}

async function site(...args: Parameters<typeof startDelegationSite>): Promise<DelegationSite> {
  const s = await startDelegationSite(...args);
  open.push(s);
  return s;
}

/** A webhook that grants TICKET to Ada and denies everything else; the clock is set once the site is up. */
async function ticketServer(clockOf: () => () => number): Promise<WebhookServer> {
  return server({}, (request, res, req) =>
    partner(clockOf(), (scan) =>
      scan.text === TICKET ? { decision: 'grant', subject: 'Ada Lovelace', reason: 'day pass, hall B' } : { decision: 'deny', reason: 'no such ticket' },
    )(request, res, req),
  );
}

describe('delegated evaluation', () => {
  it('grants a ticket the webhook grants: signed request, door opened, subject name and reason in the audit event, no secret anywhere', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site((input) => {
      input.delegation = { url: `${hook.url}/postern`, secret: SECRET, scanners: ['lab-in'] };
    });
    clock = s.clock;

    const { decision } = await s.read('lab-in', `  ${TICKET}\r\n`);
    expect(decision).toMatchObject({ verdict: 'grant', reason: null, kind: 'delegated', issuer: null, subject: null, door: 'lab' });
    expect((s.controller.doorIo('lab') as SimulatedDoorIo).relayHistory).toEqual([false, true]);

    // What the partner received: the documented fields, signed with the shared secret.
    expect(hook.received).toHaveLength(1);
    const request = hook.received[0]!;
    expect(request.path).toBe('/postern');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.json).toEqual({ type: 'scan', id: expect.stringMatching(/^[0-9a-f-]{36}$/), site: 'test-site', door: 'lab', scanner: 'lab-in', text: TICKET, time: decision.at, nonce: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(checkSignature(request.headers['postern-signature'], request.body, SECRET, Math.floor(s.clock() / 1000))).toBe('ok');
    expect(checkSignature(request.headers['postern-signature'], request.body, 'another secret of at least 32 chars', Math.floor(s.clock() / 1000))).toBe('bad-signature');

    const events = await s.audit();
    const event = events.find((e) => e.seq === decision.auditSeq)!;
    expect(event).toMatchObject({ type: 'decision', door: 'lab', scanner: 'lab-in', verdict: 'grant', reason: null, kind: 'delegated', subject: null, issuer: null });
    expect(event.data).toEqual({
      length: TICKET.length + 4,
      delegation: { eventId: request.json.id, status: 200, subjectName: 'Ada Lovelace', reason: 'day pass, hall B', ms: expect.any(Number) },
    });

    const trail = JSON.stringify(events);
    expect(trail).not.toContain(SECRET);
    expect(trail).not.toContain(TICKET);
    expect(s.logs()).not.toContain(SECRET);
    expect(s.logs()).not.toContain(TICKET);
  });

  it('denies with delegate-denied when the webhook says no, keeping its reason', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site((input) => {
      input.delegation = { url: hook.url, secret: SECRET };
    });
    clock = s.clock;
    const { decision } = await s.read('front-in', 'TKT-FORGED-0000');
    expect(decision).toMatchObject({ verdict: 'deny', reason: 'delegate-denied', kind: 'delegated' });
    const event = (await s.audit()).find((e) => e.seq === decision.auditSeq)!;
    expect(event.data).toMatchObject({ delegation: { reason: 'no such ticket', status: 200 } });
    expect((s.controller.doorIo('front') as SimulatedDoorIo).relayHistory).toEqual([false]);
  });

  it('never sends a Postern code to the webhook: a code failing a check is denied with its own reason', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site((input) => {
      input.delegation = { url: hook.url, secret: SECRET };
    });
    clock = s.clock;
    const badMac = vectors.cases.find((c) => c.verdict === 'bad-mac')!.code;
    const partnerRotating = vectors.vectors.find((v) => v.name === 'partner rotating')!.code;
    expect((await s.read('front-in', badMac)).decision.reason).toBe('bad-mac');
    expect((await s.read('store-in', SITE_LINK)).decision.reason).toBe('out-of-scope');
    // Made for 1767226600, read at 1767225610: more than one step early.
    expect((await s.read('front-2', partnerRotating)).decision.reason).toBe('not-yet-valid');
    expect((await s.read('lab-in', SITE_LINK)).decision.verdict).toBe('grant');
    expect(hook.received).toHaveLength(0);
    // Text that only looks like a code (not 40 bytes) is no Postern code: it goes.
    expect((await s.read('lab-in', 'P1.AAAA')).decision.reason).toBe('delegate-denied');
    expect(hook.received.map((r) => r.json.text)).toEqual(['P1.AAAA']);
  });

  it('keeps unknown-format where no webhook is configured: not listed, door off, scanner off', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site((input) => {
      input.delegation = { url: hook.url, secret: SECRET, scanners: ['front-in', 'front-2', 'lab-in'] };
      input.doors![1]!.delegation = false; // lab
      input.scanners!.find((x) => x.id === 'front-2')!.delegation = { enabled: false };
    });
    clock = s.clock;
    expect((await s.read('store-in', TICKET)).decision).toMatchObject({ reason: 'unknown-format', kind: 'unknown' });
    expect((await s.read('lab-in', TICKET)).decision.reason).toBe('unknown-format');
    expect((await s.read('front-2', TICKET)).decision.reason).toBe('unknown-format');
    expect(hook.received).toHaveLength(0);
    expect((await s.read('front-in', TICKET)).decision.verdict).toBe('grant');
    expect(hook.received).toHaveLength(1);
  });

  it('uses the most specific block: the scanner over its door over the site', async () => {
    let clock = Date.now;
    const siteHook = await server({}, (r, res, req) => partner(clock, () => ({ decision: 'grant', subject: 'site' }))(r, res, req));
    const doorHook = await server({}, (r, res, req) => partner(clock, () => ({ decision: 'grant', subject: 'door' }))(r, res, req));
    const scannerHook = await server({}, (r, res, req) => partner(clock, () => ({ decision: 'grant', subject: 'scanner' }))(r, res, req));
    const s = await site((input) => {
      input.delegation = { url: siteHook.url, secret: SECRET, scanners: ['store-in'] };
      // The front door's own webhook, for both its scanners (neither is in the site's list) ...
      input.doors![0]!.delegation = { url: doorHook.url, secret: SECRET, timeoutMs: 800 };
      // ... except front-2, which has its own; lab-in inherits the site's webhook through `true`.
      input.scanners!.find((x) => x.id === 'front-2')!.delegation = { url: scannerHook.url, secret: SECRET };
      input.scanners!.find((x) => x.id === 'lab-in')!.delegation = true;
    });
    clock = s.clock;
    const names: Record<string, unknown> = {};
    for (const scanner of ['front-in', 'front-2', 'lab-in', 'store-in']) {
      const { decision } = await s.read(scanner, TICKET);
      expect(decision.verdict).toBe('grant');
      names[scanner] = ((await s.audit()).find((e) => e.seq === decision.auditSeq)!.data!.delegation as any).subjectName;
    }
    expect(names).toEqual({ 'front-in': 'door', 'front-2': 'scanner', 'lab-in': 'site', 'store-in': 'site' });
    expect([siteHook.received.length, doorHook.received.length, scannerHook.received.length]).toEqual([2, 1, 1]);
  });

  it('counts a webhook denial as a failure for the scanner throttle, and a grant as a success', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site((input) => {
      input.delegation = { url: hook.url, secret: SECRET };
      input.throttle = { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 30, maxLockoutSeconds: 60 };
    });
    clock = s.clock;
    const reasons: Array<string | null> = [];
    // Two denials, a grant (which clears them), two more denials: no lockout yet.
    for (const text of ['X-1', 'X-2', TICKET, 'X-3', 'X-4']) reasons.push((await s.read('front-in', text)).decision.reason);
    expect(reasons).toEqual(['delegate-denied', 'delegate-denied', null, 'delegate-denied', 'delegate-denied']);
    // The third denial in the window locks the scanner out; a locked-out scanner asks no webhook.
    expect((await s.read('front-in', 'X-5')).decision.reason).toBe('delegate-denied');
    expect((await s.read('front-in', TICKET)).decision.reason).toBe('throttled');
    expect(hook.received).toHaveLength(6);
    // Another scanner is not throttled.
    expect((await s.read('front-2', TICKET)).decision.verdict).toBe('grant');
  });

  it('reads the secret from secretEnv at start, and refuses to start without it, naming the variable only', async () => {
    let clock = Date.now;
    const hook = await ticketServer(() => clock);
    const s = await site(
      (input) => {
        input.delegation = { url: hook.url, secretEnv: 'POSTERN_TEST_WEBHOOK_SECRET_A' };
      },
      { env: { POSTERN_TEST_WEBHOOK_SECRET_A: SECRET } },
    );
    clock = s.clock;
    expect((await s.read('front-in', TICKET)).decision.verdict).toBe('grant');
    expect(process.env.POSTERN_TEST_WEBHOOK_SECRET_A).toBeUndefined();

    const refused = startDelegationSite((input) => {
      input.delegation = { url: hook.url, secretEnv: 'POSTERN_TEST_WEBHOOK_SECRET_B' };
    });
    await expect(refused).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFIG_INVALID', message: expect.stringContaining('POSTERN_TEST_WEBHOOK_SECRET_B is not set') });
    const short = startDelegationSite(
      (input) => {
        input.delegation = { url: hook.url, secretEnv: 'POSTERN_TEST_WEBHOOK_SECRET_C' };
      },
      { env: { POSTERN_TEST_WEBHOOK_SECRET_C: 'too-short-secret' } },
    );
    const error = await short.then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toContain('POSTERN_TEST_WEBHOOK_SECRET_C must hold at least 32 characters');
    expect(error?.message).not.toContain('too-short-secret');
  });

  it('stops at once with a webhook call in flight, records the scan as denied, and closes the connection', async () => {
    const hook = await server({}, () => undefined); // never answers
    const s = await site((input) => {
      input.delegation = { url: hook.url, secret: SECRET, timeoutMs: 5000 };
    });
    void s.read('front-in', TICKET);
    await expect.poll(() => hook.received.length).toBe(1);
    const started = performance.now();
    await s.stop();
    expect(performance.now() - started).toBeLessThan(1000);
    // The scan in flight was denied before the audit trail closed, not left waiting.
    const decision = (await s.audit()).find((e) => e.type === 'decision' && e.scanner === 'front-in');
    expect(decision).toMatchObject({ verdict: 'deny', reason: 'stopped', kind: 'unknown', data: { length: TICKET.length } });
    await expect.poll(() => hook.closedSockets).toBeGreaterThanOrEqual(1);
  });
});
