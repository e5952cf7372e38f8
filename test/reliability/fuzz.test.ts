/**
 * Random and mutated texts through `scanner.read`: the controller never crashes, stays responsive,
 * and answers each with the verdict the spec gives it. A few thousand cases here; `npm run soak`
 * sends a hundred thousand per store (test/reliability/soak.ts). See harness/fuzz.ts.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from './harness/fuzz.ts';

const CASES = Number(process.env.POSTERN_RELIABILITY_FUZZ ?? 3000);

describe('fuzzing scanner.read', () => {
  it(`SQLite: ${CASES} cases, every answer the spec's, the controller alive and responsive`, { timeout: 180_000 }, async () => {
    const result = await runFuzz({ store: 'sqlite', cases: CASES, deadlineMs: 120_000 });
    expect(result.failures.list, `seed ${result.seed}`).toEqual([]);
    expect(result.cases).toBe(CASES);
    expect(result.grants).toBeGreaterThan(0);
    expect(result.probe.sent).toBeGreaterThan(0);
    expect(result.probe.granted).toBe(result.probe.sent);
    expect(result.verify).toMatch(/^fuzz-sqlite: \d+ events, chain intact$/m);
  });
});
