/** Logs never hold a secret or a whole code, at any level. */
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import { encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { tempDir, testSite } from '../support/testSite.ts';

describe('logging', () => {
  it('logs decisions at trace level without the code or the site key', async () => {
    const dataDir = await tempDir();
    const store = openStore({ dataDir });
    await store.start();
    const siteKey = await loadOrCreateSiteKey(store);
    await store.stop();

    let logged = '';
    const sink = new Writable({ write: (chunk, _enc, done) => ((logged += chunk.toString()), done()) });
    const controller = new Controller({ config: testSite(dataDir), terminal: new PassThrough(), logger: createLogger('trace', sink) });
    await controller.start();
    const now = Math.floor(Date.now() / 1000);
    const code = encodeCredential({ kind: 'link', issuer: 0, subject: 99n, a: now - 5, b: now + 60, scope: 7 }, siteKey);
    const decided = new Promise<Decision>((resolve) => controller.onDecision(resolve));
    (controller.scannerDriver('lab-in') as SimulatedScanner).read(code);
    await decided;
    await controller.stop();

    expect(logged).toContain('"msg":"decision"');
    expect(logged).toContain('"verdict":"grant"');
    expect(logged).not.toContain(code.slice(3, 40));
    expect(logged).not.toContain(siteKey.toString('hex'));
  });
});
