/**
 * Event-loop delay of this thread over a stretch of time: perf_hooks.monitorEventLoopDelay with a
 * 1 ms resolution. Node records the time between turns of a 1 ms timer, so an idle loop shows about
 * 1 ms; the lag is that minus the 1 ms (as @fastify/under-pressure reads it). Both are kept.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

export interface LoopDelay {
  /** Node's histogram: time between turns of a 1 ms timer, ms. */
  raw: { p50: number; p99: number; max: number; mean: number };
  /** raw minus the 1 ms resolution, ms. */
  lag: { p50: number; p99: number; max: number };
  seconds: number;
}

export function watchLoop(): { stop(): LoopDelay } {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  return {
    stop() {
      h.disable();
      const m = (ns: number) => Math.round((ns / 1e6) * 1000) / 1000;
      const lag = (ns: number) => Math.max(0, Math.round((ns / 1e6 - 1) * 1000) / 1000);
      return {
        raw: { p50: m(h.percentile(50)), p99: m(h.percentile(99)), max: m(h.max), mean: m(h.mean) },
        lag: { p50: lag(h.percentile(50)), p99: lag(h.percentile(99)), max: lag(h.max) },
        seconds: Math.round(((performance.now() - t0) / 1000) * 100) / 100,
      };
    },
  };
}
