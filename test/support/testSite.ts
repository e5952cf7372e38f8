/** A site file for controller tests: three doors, simulated I/O, simulated and terminal scanners. */
import type { Controller } from '../../controller/controller.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { validateConfig } from '../../controller/config/loadConfig.ts';

export async function tempDir(prefix = 'postern-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export function testSiteInput(dataDir: string): SiteConfigInput {
  return {
    site: { id: 'test-site', name: 'Test site', defaultScope: null },
    dataDir,
    logLevel: 'silent',
    api: { port: 0 },
    throttle: { maxFailures: 5, windowSeconds: 10, lockoutSeconds: 2, maxLockoutSeconds: 10 },
    scopes: [
      { id: 7, name: 'staff', doors: ['front', 'lab'] },
      { id: 3, name: 'front only', doors: ['front'] },
    ],
    doors: [
      { id: 'front', name: 'Front', unlockSeconds: 0.2, heldOpenSeconds: 0.3, failMode: 'secure' },
      { id: 'lab', name: 'Lab', unlockSeconds: 0.2, heldOpenSeconds: 0.3, failMode: 'safe' },
      { id: 'store', name: 'Store', unlockSeconds: 0.2, heldOpenSeconds: 0.3 },
    ],
    scanners: [
      { id: 'front-in', door: 'front', driver: 'terminal', debounceMs: 0 },
      { id: 'lab-in', door: 'lab', driver: 'simulated', debounceMs: 0 },
      { id: 'store-in', door: 'store', driver: 'simulated', debounceMs: 0 },
    ],
  };
}

export function testSite(dataDir: string, patch: (input: SiteConfigInput) => void = () => {}) {
  const input = testSiteInput(dataDir);
  patch(input);
  return validateConfig(input);
}

/** Reads `text` at a simulated scanner of a running controller and resolves with its decision. */
export function scanAt(controller: Controller, scanner: string, text: string): Promise<Decision> {
  const decided = new Promise<Decision>((resolve) => {
    const off = controller.onDecision((d) => {
      if (d.scanner !== scanner) return;
      off();
      resolve(d);
    });
  });
  (controller.scannerDriver(scanner) as SimulatedScanner).read(text);
  return decided;
}

/** The site issuing key of the store in dataDir, made as a first start would make it. */
export async function siteKeyOf(dataDir: string): Promise<Buffer> {
  const store = openStore({ dataDir });
  await store.start();
  try {
    return await loadOrCreateSiteKey(store);
  } finally {
    await store.stop();
  }
}
