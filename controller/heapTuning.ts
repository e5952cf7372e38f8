/**
 * V8's heap growth for the controller process.
 *
 * A controller runs for months and decides in bursts (a shift arriving, a fuzzing client). By
 * default V8 lets the old generation grow to up to four times what survived the last full
 * collection before it collects again, so one burst leaves the process holding ~300 MB that is
 * almost all garbage (29 MB live after a full GC, BENCHMARKS.md "large-store"). At 50 % growth the
 * same burst peaks under 200 MB for ~15 % less burst throughput, which a door never notices.
 *
 * But 50 % of a small live heap is little room: with ~30 MB live, 15 MB promoted brings the next full
 * collection. Under a steady flood of API reads that was one every ~3 s, and each held the scans of
 * the following tens of milliseconds (its marking threads take a core of two, then its pause): the
 * flood's slowest scans were those (BENCHMARKS.md, viewer-flood). So the old generation may always
 * grow to OLD_GENERATION_FLOOR_MB before a full collection: the growth is set again after each one,
 * from what survived it. A heap above the floor's reach grows by 50 % as before, so a burst (whose
 * live heap is larger) peaks where it did.
 *
 * The flag is the process's: the heaps of its worker threads (the store's writer, the decoders)
 * grow by the same percentage at their own full collections; they hold a few MB each.
 *
 * Set at run time (`v8.setFlagsFromString`), because `postern` is started by people and units that
 * should not need node options; V8 reads this flag at every full GC, so setting it before the
 * controller starts, and again after each full GC, is enough. A value given on node's own command
 * line is left alone.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;
/** The old generation may grow to at least this before a full collection. */
export const OLD_GENERATION_FLOOR_MB = 64;
/**
 * The most the floor may ask for. The growth set after one full collection applies at the next,
 * to what survives that one: when the live heap grows meanwhile (a burst starting), a large
 * percentage would let the burst's heap grow far past the floor for one collection.
 */
const MAX_GROWING_PERCENT = 150;
/** The young generation's spaces: what is left is the old generation. */
const YOUNG_SPACES = new Set(['new_space', 'new_large_object_space']);

/**
 * The growth that lets an old generation of `oldGenerationBytes` (as a full collection left it)
 * reach the floor: at least HEAP_GROWING_PERCENT, at most MAX_GROWING_PERCENT.
 */
export function growingPercentFor(oldGenerationBytes: number): number {
  const floor = OLD_GENERATION_FLOOR_MB * 1024 * 1024;
  if (!(oldGenerationBytes > 0)) return MAX_GROWING_PERCENT;
  const toFloor = Math.ceil((floor / oldGenerationBytes - 1) * 100);
  return Math.min(MAX_GROWING_PERCENT, Math.max(HEAP_GROWING_PERCENT, toFloor));
}

/** Bytes in the old generation now (right after a full collection: what survived it). */
export function oldGenerationBytes(): number {
  return getHeapSpaceStatistics()
    .filter((space) => !YOUNG_SPACES.has(space.space_name))
    .reduce((sum, space) => sum + space.space_used_size, 0);
}

/**
 * Sets the growth now and after every full collection; false (and nothing set) when node's command
 * line gave one. The observer lives as long as the process.
 */
export function tuneHeapForController(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return false;
  // 50 % until the first full collection says what is live: the heap at start is not.
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  new PerformanceObserver((list) => {
    if (!list.getEntries().some((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) return;
    setFlagsFromString(`--heap-growing-percent=${growingPercentFor(oldGenerationBytes())}`);
  }).observe({ entryTypes: ['gc'] });
  return true;
}
