/**
 * postern start sets V8's heap growth itself, unless node's own command line already chose one:
 * after each full collection, enough for the old generation to reach the floor, from 50 % to 150 %
 * of what survived it. What the setting does to a controller's memory and latency is measured in
 * the large-store and viewer-flood benchmarks; here, what it sets and that it collects a small heap
 * less often.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { growingPercentFor, HEAP_GROWING_PERCENT, oldGenerationBytes, OLD_GENERATION_FLOOR_MB, tuneHeapForController } from '../../controller/heapTuning.ts';

const MODULE = fileURLToPath(new URL('../../controller/heapTuning.ts', import.meta.url));
const MB = 1024 * 1024;

/** Runs `script` (given `m`, the module) in a fresh node with these options; returns what it printed, parsed. */
function inChild<T>(nodeOptions: string[], script: string, env: NodeJS.ProcessEnv = process.env): T {
  const run = `import(${JSON.stringify(MODULE)}).then(async (m) => console.log(JSON.stringify(await (${script})(m))))`;
  return JSON.parse(execFileSync(process.execPath, [...nodeOptions, '--import', 'tsx', '-e', run], { encoding: 'utf8', env }).trim()) as T;
}

/**
 * Full collections while ~16 MB of short-lived objects (each batch lives ~0.1 s, long enough to be
 * promoted) go through a heap with little live: the flood's pattern. `tuned` runs the controller's
 * tuning, else the plain 50 % growth it used before the floor.
 */
const PROMOTING_WORKLOAD = `async (m) => {
  const v8 = await import('node:v8');
  const { PerformanceObserver, constants } = await import('node:perf_hooks');
  if (process.env.TUNED === '1') m.tuneHeapForController(); else v8.setFlagsFromString('--heap-growing-percent=50');
  let full = 0;
  new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
  const kept = [];
  for (let t = 0; t < 60; t++) {
    const batch = [];
    for (let i = 0; i < 20000; i++) batch.push({ a: i, b: 'x' + i, c: [i] });
    kept.push(batch);
    if (kept.length > 5) kept.shift();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  return full;
}`;

function fullCollections(tuned: boolean): number {
  return inChild<number>([], PROMOTING_WORKLOAD, { ...process.env, TUNED: tuned ? '1' : '0' });
}

describe('tuneHeapForController', () => {
  it('sets the growth in a process started without one', () => {
    expect(inChild<boolean>([], '(m) => m.tuneHeapForController()')).toBe(true);
  });

  it('leaves a growth given on node’s command line alone', () => {
    expect(inChild<boolean>(['--heap-growing-percent=20'], '(m) => m.tuneHeapForController()')).toBe(false);
    expect(tuneHeapForController(['--heap-growing-percent=20'])).toBe(false);
  });

  it('lets a small heap grow to the floor, a large one by 50 %', () => {
    const floor = OLD_GENERATION_FLOOR_MB * MB;
    expect(growingPercentFor(floor / 2)).toBe(100);
    expect(growingPercentFor(40 * MB)).toBe(Math.ceil((floor / (40 * MB) - 1) * 100));
    // Never less than 50 %, never more than 150 % (a live heap that grows meanwhile must not
    // take the next collection far past the floor).
    expect(growingPercentFor(floor)).toBe(HEAP_GROWING_PERCENT);
    expect(growingPercentFor(200 * MB)).toBe(HEAP_GROWING_PERCENT);
    expect(growingPercentFor(4 * MB)).toBe(150);
    expect(growingPercentFor(0)).toBe(150);
    expect(growingPercentFor(Number.NaN)).toBe(150);
  });

  it('measures the old generation without the young one', () => {
    const old = oldGenerationBytes();
    expect(old).toBeGreaterThan(1 * MB);
    expect(old).toBeLessThan(process.memoryUsage().heapUsed + 1);
  });

  it('collects a small heap that promotes steadily less often than 50 % growth alone', () => {
    const plain = fullCollections(false);
    const tuned = fullCollections(true);
    // 10 against 5 on node 20 here, every run: the floor's growth is capped at 150 %, so this small
    // heap is collected half as often, not never.
    expect(plain).toBeGreaterThanOrEqual(4);
    expect(tuned).toBeLessThan(plain * 0.75);
  });
});
