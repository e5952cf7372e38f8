/**
 * Single-use codes read at the same moment by two network scanners at two doors: never two grants
 * for one code, and the audit trail agrees with every answer. A few hundred pairs here; `npm run
 * soak` races ten thousand (test/reliability/soak.ts). See harness/racing.ts.
 */
import { describe, expect, it } from 'vitest';
import { postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { runRacing } from './harness/racing.ts';
import type { StoreKind } from './harness/site.ts';

const PAIRS = Number(process.env.POSTERN_RELIABILITY_PAIRS ?? 200);
const pgUp = await postgresAvailable();

async function run(store: StoreKind): Promise<void> {
  const result = await runRacing({ store, pairs: PAIRS, deadlineMs: 120_000 });
  expect(result.failures.list, `seed ${result.seed}`).toEqual([]);
  expect(result.pairs).toBe(PAIRS);
  expect(result.doubleGrants).toBe(0);
  expect(result.oneGrant + result.noGrant.total).toBe(PAIRS);
  expect(result.decisionsVerified).toBe(2 * PAIRS);
  expect(result.grantsInChain).toBe(PAIRS);
  expect(result.verify).toMatch(new RegExp(`^race-${store}: \\d+ events, chain intact$`, 'm'));
}

describe('racing single-use codes on two scanners', () => {
  it(`SQLite: ${PAIRS} pairs, one grant each, the audit agrees`, { timeout: 180_000 }, () => run('sqlite'));
});

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('racing single-use codes on two scanners, PostgreSQL', pgUp), () => {
  it(`PostgreSQL: ${PAIRS} pairs, one grant each, the audit agrees`, { timeout: 180_000 }, () => run('postgres'));
});
