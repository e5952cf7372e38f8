/**
 * The replay guard: one use per time step of a rotating code, in memory, kept long enough that a
 * wall clock stepping around cannot free a step used a moment ago.
 */
import { describe, expect, it } from 'vitest';
import { ROTATION_PERIOD_SECONDS } from '../../controller/credentials/credentialCodec.ts';
import { REPLAY_LOOKBACK_MS, ReplayGuard, oldestValidStep } from '../../controller/credentials/replayGuard.ts';

const PERIOD_MS = ROTATION_PERIOD_SECONDS * 1000;
const STEP = 117_815_040;
const at = (step: number) => step * PERIOD_MS;

describe('ReplayGuard', () => {
  it('gives each (issuer, subject, step) one claim', () => {
    const guard = new ReplayGuard(() => 0);
    const now = at(STEP);
    expect(guard.claim({ issuer: 0, subject: '9', step: STEP }, now)).toBe(true);
    expect(guard.claim({ issuer: 0, subject: '9', step: STEP }, now)).toBe(false);
    expect(guard.claim({ issuer: 0, subject: '9', step: STEP + 1 }, now)).toBe(true);
    expect(guard.claim({ issuer: 17, subject: '9', step: STEP }, now)).toBe(true);
    expect(guard.claim({ issuer: 0, subject: '10', step: STEP }, now)).toBe(true);
    expect(guard.size).toBe(4);
  });

  it('forgets a step once it is no longer valid and a lookback of real time has passed', () => {
    let monotonic = 0;
    const guard = new ReplayGuard(() => monotonic);
    guard.claim({ issuer: 0, subject: '9', step: STEP }, at(STEP));
    // Two periods on, the step is no longer valid, but not a lookback of real time has passed: kept.
    monotonic = 2 * PERIOD_MS;
    expect(guard.claim({ issuer: 0, subject: '1', step: STEP + 2 }, at(STEP + 2))).toBe(true);
    expect(guard.size).toBe(2);
    monotonic = REPLAY_LOOKBACK_MS + 1;
    guard.claim({ issuer: 0, subject: '2', step: STEP + 5 }, at(STEP + 5));
    expect(guard.size).toBe(2);
  });

  it('keeps a claim when the wall clock jumps ahead and back within the lookback', () => {
    let monotonic = 0;
    const guard = new ReplayGuard(() => monotonic);
    expect(guard.claim({ issuer: 0, subject: '9', step: STEP }, at(STEP))).toBe(true);
    monotonic = 1000;
    guard.claim({ issuer: 0, subject: '1', step: STEP + 100 }, at(STEP + 100)); // clock an hour ahead
    monotonic = 2000;
    expect(guard.claim({ issuer: 0, subject: '9', step: STEP }, at(STEP))).toBe(false); // and back
  });

  it('loads the uses made before a restart, counting each once', () => {
    const guard = new ReplayGuard(() => 0);
    const marks = [
      { issuer: 0, subject: '9', step: STEP },
      { issuer: 0, subject: '9', step: STEP }, // the grant found twice (journal and store): one claim
      { issuer: 12, subject: '5', step: STEP - 1 },
    ];
    expect(guard.load(marks, at(STEP))).toBe(2);
    expect(guard.claim({ issuer: 12, subject: '5', step: STEP - 1 }, at(STEP))).toBe(false);
  });

  it('names the oldest step still valid: one behind the current', () => {
    expect(oldestValidStep(at(STEP) + PERIOD_MS - 1)).toBe(STEP - 1);
    expect(oldestValidStep(at(STEP + 1))).toBe(STEP);
  });
});
