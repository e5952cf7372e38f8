/** The benchmark site: N doors with simulated I/O, one scanner per door (simulated unless told), one scope of every door. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import type { SiteConfig, SiteConfigInput } from '../../controller/config/configSchema.ts';
import { validateConfig } from '../../controller/config/loadConfig.ts';

export const BENCH_SCOPE = 1;
export const UNLOCK_SECONDS = 0.05;

export function doorId(index: number): string {
  return `door-${String(index).padStart(2, '0')}`;
}

export function scannerId(index: number): string {
  return `${doorId(index)}-in`;
}

type ScannerInput = NonNullable<SiteConfigInput['scanners']>[number];

const simulatedScanner = (door: string, index: number): ScannerInput => ({ id: scannerId(index), door, driver: 'simulated', debounceMs: 0 });

export function benchSite(dataDir: string, doorCount = 64, scanner: (door: string, index: number) => ScannerInput = simulatedScanner): SiteConfig {
  const doors = Array.from({ length: doorCount }, (_, i) => doorId(i));
  return validateConfig(
    {
      site: { id: 'bench-site', name: 'Benchmark site', defaultScope: BENCH_SCOPE },
      dataDir,
      logLevel: 'silent',
      // No operator API: nothing here talks to it, and a fixed port would clash between runs.
      api: { enabled: false },
      // Generous: a benchmark that mixes in denials must not lock its scanners out.
      throttle: { maxFailures: 1000, windowSeconds: 1, lockoutSeconds: 1, maxLockoutSeconds: 1 },
      scopes: [{ id: BENCH_SCOPE, name: 'every door', doors }],
      doors: doors.map((id) => ({ id, name: id, unlockSeconds: UNLOCK_SECONDS, heldOpenSeconds: 3600, failMode: 'secure' as const })),
      scanners: doors.map(scanner),
    },
    'benchmark site',
  );
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export async function writeResults(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  await writeFile(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}
