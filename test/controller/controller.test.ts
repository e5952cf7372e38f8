/**
 * The controller end to end on a real SQLite file: scan text in, relay command and audit event
 * out, through the real drivers, actors, verifier and store.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { verifyChain } from '../../controller/audit/auditChain.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { tempDir, testSite, siteKeyOf } from '../support/testSite.ts';

const running: Controller[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

async function start(dataDir: string, terminal = new PassThrough()) {
  const controller = new Controller({ config: testSite(dataDir), terminal });
  await controller.start();
  running.push(controller);
  return { controller, terminal };
}


function nextDecision(controller: Controller, count = 1): Promise<Decision[]> {
  return new Promise((resolve) => {
    const seen: Decision[] = [];
    const off = controller.onDecision((d) => {
      seen.push(d);
      if (seen.length === count) {
        off();
        resolve(seen);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function link(key: Buffer, scope: number, subject = 42n): string {
  const now = Math.floor(Date.now() / 1000);
  return encodeCredential({ kind: 'link', issuer: 0, subject, a: now - 60, b: now + 3600, scope }, key);
}

describe('controller', () => {
  it('locks every door before it reads the first scan, then opens for a valid code and relocks', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const terminal = new PassThrough();
    // The scan is typed before the controller starts: it must still be read after the doors lock.
    terminal.write(link(key, 7) + '\n');
    const controller = new Controller({ config: testSite(dataDir), terminal });
    const decided = nextDecision(controller);
    await controller.start();
    running.push(controller);
    const [decision] = await decided;
    expect(decision).toMatchObject({ door: 'front', scanner: 'front-in', verdict: 'grant', reason: null, kind: 'link', issuer: 0, subject: '42' });
    const front = controller.doorIo('front') as SimulatedDoorIo;
    expect(front.relayHistory.slice(0, 2)).toEqual([false, true]);
    expect((controller.doorIo('lab') as SimulatedDoorIo).relayHistory[0]).toBe(false);
    expect(controller.doorStatus('front')?.state).toBe('unlocked');
    await sleep(350);
    expect(controller.doorStatus('front')?.state).toBe('secured');
    expect(front.relayUnlocked).toBe(false);
  });

  it('writes the decision to the audit trail before the relay moves', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const { controller } = await start(dataDir);
    const lab = controller.doorIo('lab') as SimulatedDoorIo;
    const scanner = controller.scannerDriver('lab-in') as SimulatedScanner;
    const store = openStore({ dataDir });
    await store.start();
    let auditedBeforeRelay: boolean | undefined;
    const unsubscribe = lab.onRelay(async (unlocked) => {
      if (!unlocked) return;
      const events = await store.queryAudit({ controllerId: 'test-site', door: 'lab', verdict: 'grant' });
      auditedBeforeRelay = events.length === 1;
    });
    const decided = nextDecision(controller);
    scanner.read(link(key, 7, 77n));
    const [decision] = await decided;
    await sleep(20);
    expect(auditedBeforeRelay).toBe(true);
    const [event] = await store.queryAudit({ controllerId: 'test-site', door: 'lab', verdict: 'grant' });
    expect(event).toMatchObject({ type: 'decision', door: 'lab', scanner: 'lab-in', subject: '77', kind: 'link', issuer: 0, verdict: 'grant', reason: null, seq: decision!.auditSeq });
    unsubscribe();
    await store.stop();
  });

  it('denies out-of-scope, garbage, 100 KiB, binary and control-character scans and keeps deciding', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const { controller } = await start(dataDir);
    const scanner = controller.scannerDriver('store-in') as SimulatedScanner;
    const inputs = [
      link(key, 7),
      '',
      'HELLO-WORLD-TICKET-123',
      'P1.' + 'A'.repeat(100 * 1024),
      Buffer.from([0, 0xff, 0xfe, 0x80]).toString('latin1'),
      '\u0007\u001b[2J',
    ];
    const decided = nextDecision(controller, inputs.length);
    inputs.forEach((text) => scanner.read(text));
    const decisions = await decided;
    expect(decisions.map((d) => d.reason)).toEqual(['out-of-scope', 'unknown-format', 'unknown-format', 'unknown-format', 'unknown-format', 'throttled']);
    expect((controller.doorIo('store') as SimulatedDoorIo).relayHistory).toEqual([false]);
    // Another scanner is not slowed or throttled by that flood.
    const other = nextDecision(controller);
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(link(key, 7, 5n));
    expect((await other)[0]).toMatchObject({ door: 'lab', verdict: 'grant' });
  });

  it('refuses valid codes in lockdown, keeps the mode across a restart, and audits the operator', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const first = await start(dataDir);
    await first.controller.doors.lockdown(null, true, 'alice');
    expect(first.controller.doorStatus('front')?.state).toBe('lockdown');
    const denied = nextDecision(first.controller);
    (first.controller.scannerDriver('lab-in') as SimulatedScanner).read(link(key, 7));
    expect((await denied)[0]).toMatchObject({ verdict: 'deny', reason: 'lockdown' });
    await first.controller.stop();
    running.splice(running.indexOf(first.controller), 1);

    const second = await start(dataDir);
    expect(second.controller.doorStatus('lab')?.state).toBe('lockdown');
    await second.controller.doors.lockdown(null, false, 'alice');
    const granted = nextDecision(second.controller);
    (second.controller.scannerDriver('lab-in') as SimulatedScanner).read(link(key, 7));
    expect((await granted)[0]).toMatchObject({ verdict: 'grant' });

    const store = openStore({ dataDir });
    await store.start();
    const operator = await store.queryAudit({ controllerId: 'test-site', limit: 1000 });
    expect(operator.filter((e) => e.type === 'operator').map((e) => [e.reason, e.actor])).toEqual([
      ['lockdown.on', 'alice'],
      ['lockdown.off', 'alice'],
    ]);
    expect((await verifyChain(store.iterateAudit('test-site'))).ok).toBe(true);
    await store.stop();
  });

  it('raises forced-open and held-open alarms as door events in the audit trail', async () => {
    const dataDir = await tempDir();
    const { controller } = await start(dataDir);
    const front = controller.doorIo('front') as SimulatedDoorIo;
    front.setDoorOpen(true);
    expect(controller.doorStatus('front')?.state).toBe('forcedOpen');
    front.setDoorOpen(false);
    await controller.doors.acknowledge('front', 'bob');
    expect(controller.doorStatus('front')?.alarm).toBeNull();
    await controller.doors.unlock('front', 1, 'bob');
    front.setDoorOpen(true);
    await sleep(400);
    expect(controller.doorStatus('front')?.state).toBe('heldOpen');
    const store = openStore({ dataDir });
    await store.start();
    // A door's change is written with the next commit (deferred), so a loaded machine may show the
    // state a moment before the store has its event: read again until the last one is there.
    const doorEvents = async () => (await store.queryAudit({ controllerId: 'test-site', door: 'front', limit: 100 })).filter((e) => e.type === 'door').map((e) => e.reason);
    await vi.waitFor(async () => expect(await doorEvents()).toContain('heldOpen'), { timeout: 5000, interval: 20 });
    expect(await doorEvents()).toEqual(['forcedOpen', 'secured', 'unlocked', 'open', 'heldOpen']);
    await store.stop();
  });

  it('settles doors on stop: fail-secure locked, fail-safe released, scanners stopped', async () => {
    const dataDir = await tempDir();
    const { controller, terminal } = await start(dataDir);
    const front = controller.doorIo('front') as SimulatedDoorIo;
    const lab = controller.doorIo('lab') as SimulatedDoorIo;
    await controller.stop();
    running.splice(running.indexOf(controller), 1);
    expect(front.relayUnlocked).toBe(false);
    expect(lab.relayUnlocked).toBe(true);
    expect(terminal.listenerCount('data')).toBe(0);
    // The store is closed and can be opened again at once by a new controller.
    const again = await start(dataDir);
    expect(again.controller.doorStatus('front')?.state).toBe('secured');
  });
});
