/**
 * kill -9 under scan load, on SQLite and on PostgreSQL: a few kills here; `npm run soak` runs a
 * thousand (test/reliability/soak.ts). See harness/killLoop.ts for what must hold.
 */
import { describe, expect, it } from 'vitest';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { runKillLoop, type KillLoopResult } from './harness/killLoop.ts';
import type { StoreKind } from './harness/site.ts';

const KILLS = Number(process.env.POSTERN_RELIABILITY_KILLS ?? 5);
const pgUp = await postgresAvailable();

function expectSound(result: KillLoopResult): void {
  // Every failure is listed, with what the harness saw, before the counts are checked.
  expect(result.failures.list, `seed ${result.seed}`).toEqual([]);
  expect(result.kills).toBe(KILLS);
  expect(result.grantsAnswered).toBeGreaterThan(0);
  expect(result.grantsVerified).toBe(result.grantsAnswered);
  // After each start that was not killed while starting, and once more at the end.
  expect(result.doorChecks).toBe(result.killsUnderLoad + 2);
  expect(result.verify).toMatch(new RegExp(`^kill-${result.store}: \\d+ events, chain intact$`, 'm'));
}

async function run(store: StoreKind): Promise<void> {
  const result = await runKillLoop({ store, kills: KILLS, deadlineMs: 150_000 });
  expectSound(result);
}

describe('kill -9 under scan load', () => {
  it(`SQLite: ${KILLS} kills; every answered grant is in the chain once, the chain verifies, the doors are secured`, { timeout: 240_000 }, () => run('sqlite'));
});

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('kill -9 under scan load on PostgreSQL', pgUp), () => {
  it(`PostgreSQL: ${KILLS} kills; every answered grant is in the chain once, the chain verifies, the doors are secured`, { timeout: 240_000 }, () => run('postgres'));
});

/**
 * The same loop with the store failing just before most kills (harness/storeFault.ts): every grant
 * answered must still be in the chain after the restart, from the store or the local journal
 * (docs/reliability.md, guarantees 1 and 3). Off unless POSTERN_RELIABILITY_STORE_FAULTS=1 (it takes
 * a few minutes, and `npm run soak -- --only fault` runs it long). On PostgreSQL it fails while the
 * controller does not make its data directory, where the journal lives, when DATABASE_URL is set.
 */
const storeFaults = process.env.POSTERN_RELIABILITY_STORE_FAULTS === '1';
const FAULT_KILLS = Number(process.env.POSTERN_RELIABILITY_FAULT_KILLS ?? 6);
const faultsName = (store: string) =>
  storeFaults ? `kill -9 while the store fails, ${store}` : `kill -9 while the store fails, ${store} (skipped: set POSTERN_RELIABILITY_STORE_FAULTS=1)`;

async function runFaults(store: StoreKind): Promise<void> {
  const result = await runKillLoop({ store, kills: FAULT_KILLS, storeFaults: true, deadlineMs: 200_000 });
  expect(result.failures.list, `seed ${result.seed}`).toEqual([]);
  expect(result.grantsLost).toBe(0);
  expect(result.grantsVerified).toBe(result.grantsAnswered);
  expect(result.verify).toMatch(new RegExp(`^fault-${store}: \\d+ events, chain intact$`, 'm'));
}

describe.skipIf(!storeFaults)(faultsName('SQLite'), () => {
  it(`SQLite: ${FAULT_KILLS} kills, most while another process holds the write lock; every answered grant survives`, { timeout: 300_000 }, () => runFaults('sqlite'));
});

describe.skipIf(!storeFaults || (!pgUp && !requireAll))(storeFaults ? postgresSuiteName(faultsName('PostgreSQL'), pgUp) : faultsName('PostgreSQL'), () => {
  it(`PostgreSQL: ${FAULT_KILLS} kills, most while the connections are cut or stalled; every answered grant survives`, { timeout: 300_000 }, () => runFaults('postgres'));
});
