/**
 * V8's heap growth for the controller process.
 *
 * A controller runs for months and decides in bursts (a shift arriving, a fuzzing client). By
 * default V8 lets the old generation grow to up to four times what survived the last full
 * collection before it collects again, so one burst leaves the process holding ~300 MB that is
 * almost all garbage (29 MB live after a full GC, BENCHMARKS.md "large-store"). At 50 % growth the
 * same burst peaks under 200 MB for ~15 % less burst throughput, which a door never notices.
 *
 * Set at run time (`v8.setFlagsFromString`), because `postern` is started by people and units that
 * should not need node options; V8 reads this flag at every full GC, so setting it before the
 * controller starts is enough. A value given on node's own command line is left alone.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function tuneHeapForController(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return false;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
