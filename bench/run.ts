/**
 * Runs the benchmarks: `npm run bench` runs all, `npm run bench -- <name>` one of them.
 * Each prints its tables and writes bench/results/<name>.json. See BENCHMARKS.md.
 */
import { runApiFanout } from './apiFanout.ts';
import { runCameras } from './cameras.ts';
import { runCliCommands } from './cliCommands.ts';
import { runDecode } from './decode.ts';
import { runDecisionLatency } from './decisionLatency.ts';
import { runFsyncFloor } from './fsyncFloor.ts';
import { runHubSync } from './hubSync.ts';
import { runLargeStore, runLargeStore10m } from './largeStore.ts';
import { runLockedStore } from './lockedStore.ts';
import { runUiMeasures } from './uiMeasures.ts';
import { runViewerFlood } from './viewerFlood.ts';
import { dropAll } from './lib/postgres.ts';

const benchmarks: Record<string, () => Promise<void>> = {
  fsync: runFsyncFloor,
  latency: runDecisionLatency,
  'locked-store': runLockedStore,
  'large-store': runLargeStore,
  'large-store-10m': runLargeStore10m,
  // Before api-fanout: run after it in the same process, the page once never showed its sign-in form.
  ui: runUiMeasures,
  'api-fanout': runApiFanout,
  'viewer-flood': runViewerFlood,
  decode: runDecode,
  cameras: runCameras,
  cli: runCliCommands,
  hubSync: runHubSync,
};

const names = process.argv.slice(2).filter((a) => a !== '--');
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from: ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}

// Ctrl-C: drop the throwaway PostgreSQL databases before leaving.
process.once('SIGINT', () => {
  void dropAll().finally(() => process.exit(130));
});

for (const name of names.length > 0 ? names : Object.keys(benchmarks)) {
  const started = performance.now();
  await benchmarks[name]!();
  console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
await dropAll();
