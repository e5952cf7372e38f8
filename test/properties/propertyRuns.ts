/**
 * How many cases each property runs. Seeds are random on every run; a failure prints its seed and
 * path (`{ seed: -1337963568, path: "46:2:2" }`), and this replays that counterexample:
 *
 *     FC_SEED=-1337963568 FC_PATH=46:2:2 npx vitest run test/properties/<file> -t '<test name>'
 *
 * POSTERN_PROPERTY_SCALE multiplies every count (e.g. 10 for a long hunt; the default keeps the
 * folder well under a minute on two cores).
 */
import type { Parameters } from 'fast-check';

const scale = Number(process.env.POSTERN_PROPERTY_SCALE ?? '1');

export function runs(numRuns: number): number {
  return Math.max(1, Math.round(numRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** fc.assert parameters: `numRuns` cases, replaying FC_SEED (and FC_PATH) when they are set. */
export function params<T>(numRuns: number): Parameters<T> {
  const seed = process.env.FC_SEED;
  const replay = seed === undefined ? {} : { seed: Number(seed), ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) };
  return { numRuns: runs(numRuns), ...replay };
}
