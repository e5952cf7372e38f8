/**
 * Scanners through the whole controller: rotating codes granted once per site, a scanner that is
 * unplugged and comes back without a restart, and a scanner that reads faster than it can be
 * decided.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import { encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { Issuing } from '../../controller/issuing/issuing.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { tempDir, testSite } from '../support/testSite.ts';

let controller: Controller | undefined;
afterEach(async () => {
  await controller?.stop();
  controller = undefined;
});

function collect(c: Controller, count: number): Promise<Decision[]> {
  return new Promise((resolve) => {
    const seen: Decision[] = [];
    const off = c.onDecision((d) => {
      seen.push(d);
      if (seen.length === count) {
        off();
        resolve(seen);
      }
    });
  });
}

/** A test site whose store holds one rotating credential (Grace, scope 7). */
async function siteWithCredential() {
  const dataDir = await tempDir();
  const config = testSite(dataDir);
  const store = openStore({ dataDir });
  await store.start();
  const issuing = new Issuing({ store, siteKey: await loadOrCreateSiteKey(store), config, audit: { append: async () => ({}) as never } });
  const { credential, secret } = await issuing.createCredential({ name: 'Grace', scope: 7 }, 'test');
  await store.stop();
  return { config, credential, secret };
}

describe('controller scanners', () => {
  it('grants a rotating credential once per site: the same code at another scanner is replayed', async () => {
    const { config, credential, secret } = await siteWithCredential();

    const terminal = new PassThrough();
    controller = new Controller({ config, terminal });
    await controller.start();
    const code = encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(credential.id), a: timeStep(Date.now() / 1000), b: 0, scope: 0 }, secret);
    const decided = collect(controller, 1);
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(code);
    expect((await decided)[0]).toMatchObject({ verdict: 'grant', kind: 'rotating', subject: credential.id });
    const replay = collect(controller, 1);
    terminal.write(`${code}\n`);
    expect((await replay)[0]).toMatchObject({ verdict: 'deny', reason: 'replayed', scanner: 'front-in', door: 'front' });
  });

  it('keeps a rotating code used across a restart: its grant, reloaded from the audit trail, is the mark', async () => {
    const { config, credential, secret } = await siteWithCredential();
    const step = timeStep(Date.now() / 1000);
    const codeAt = (a: number) => encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(credential.id), a, b: 0, scope: 0 }, secret);

    controller = new Controller({ config, terminal: new PassThrough() });
    await controller.start();
    const granted = collect(controller, 1);
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(codeAt(step));
    expect((await granted)[0]).toMatchObject({ verdict: 'grant', kind: 'rotating' });
    await controller.stop();

    controller = new Controller({ config, terminal: new PassThrough() });
    await controller.start();
    const after = collect(controller, 2);
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(codeAt(step));
    await new Promise((r) => setTimeout(r, 50));
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(codeAt(step + 1));
    const [again, next] = await after;
    expect(again).toMatchObject({ verdict: 'deny', reason: 'replayed' });
    // Only that step is used: the next one of the same credential opens.
    expect(next).toMatchObject({ verdict: 'grant', kind: 'rotating' });
  });

  it('moves an unplugged scanner to disconnected and back to ready without a restart', async () => {
    controller = new Controller({ config: testSite(await tempDir()), terminal: new PassThrough() });
    await controller.start();
    await new Promise((r) => setTimeout(r, 10));
    expect(controller.scannerStatus('lab-in')?.state).toBe('ready');
    (controller.scannerDriver('lab-in') as SimulatedScanner).unplug('USB device removed');
    expect(controller.scannerStatus('lab-in')?.state).toBe('disconnected');
    expect(controller.scannerStatus('lab-in')?.lastError).toBe('USB device removed');
    // The first reconnect comes after the initial backoff of 500 ms.
    await new Promise((r) => setTimeout(r, 700));
    expect(controller.scannerStatus('lab-in')?.state).toBe('ready');
  });

  it('denies reads beyond what one scanner can have waiting, without losing any decision', async () => {
    const dataDir = await tempDir();
    controller = new Controller({ config: testSite(dataDir, (c) => void (c.throttle = { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 })), terminal: new PassThrough() });
    await controller.start();
    const total = 100;
    const decided = collect(controller, total);
    const scanner = controller.scannerDriver('lab-in') as SimulatedScanner;
    for (let i = 0; i < total; i++) scanner.read(`flood-${i}`);
    const decisions = await decided;
    const reasons = decisions.map((d) => d.reason);
    expect(reasons.filter((r) => r === 'unknown-format').length).toBeGreaterThanOrEqual(32);
    expect(reasons.filter((r) => r === 'throttled').length).toBeGreaterThan(0);
    expect(new Set(decisions.map((d) => d.auditSeq)).size).toBe(total);
  });
});
