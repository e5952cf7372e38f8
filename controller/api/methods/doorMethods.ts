import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { invalidParams } from '../jsonRpc.ts';
import { notFound } from './common.ts';
import { DoorCommandThrottle } from '../doorCommandThrottle.ts';

const door = z.strictObject({ door: z.string().min(1).max(64) });
const onOff = z.strictObject({ door: z.string().min(1).max(64), on: z.boolean() });
const HOUR = 3_600_000;
const MAX_BUCKETS = 1000;

/** Rows door.stats reads at a time, and what it costs against the rate limits. */
const STATS_PAGE = 1000;
const STATS_COST = 10;

export function doorMethods(api: ApiServices): MethodTable {
  const status = (id: string) => api.monitor.door(id) ?? notFound('door', id);
  // One throttle for the method table, so every API connection and web UI session shares it.
  const throttle = new DoorCommandThrottle();
  return {
    'doors.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => api.monitor.doors() }),
    'doors.get': method({ role: 'viewer', params: door, handler: ({ door: id }) => status(id) }),
    'doors.unlock': method({
      role: 'operator',
      params: z.strictObject({ door: z.string().min(1).max(64), seconds: z.number().positive().max(3600).default(5) }),
      handler: async ({ door: id, seconds }, { actor }) => {
        status(id);
        throttle.take(id);
        await api.doors.unlock(id, seconds, actor);
        return status(id);
      },
    }),
    'doors.lock': method({
      role: 'operator',
      params: door,
      handler: async ({ door: id }, { actor }) => {
        status(id);
        throttle.count(id);
        await api.doors.lock(id, actor);
        return status(id);
      },
    }),
    'doors.lockdown': method({
      role: 'operator',
      // No door: the whole site.
      params: z.strictObject({ door: z.string().min(1).max(64).optional(), on: z.boolean() }),
      handler: async ({ door: id, on }, { actor }) => {
        if (id !== undefined) status(id);
        // A site-wide lockdown is an emergency (and lifting one its end): never refused, only
        // counted at each door. Locking one door down secures it: never refused either. Only
        // lifting one door's lockdown may have to wait.
        if (id === undefined) for (const d of api.monitor.doors()) throttle.count(d.id);
        else if (on) throttle.count(id);
        else throttle.take(id);
        await api.doors.lockdown(id ?? null, on, actor);
        return id === undefined ? api.monitor.doors() : status(id);
      },
    }),
    'doors.passage': method({
      role: 'operator',
      params: onOff,
      handler: async ({ door: id, on }, { actor }) => {
        status(id);
        if (on) throttle.take(id);
        else throttle.count(id);
        await api.doors.passage(id, on, actor);
        return status(id);
      },
    }),
    'doors.acknowledge': method({
      role: 'operator',
      params: door,
      handler: async ({ door: id }, { actor }) => {
        status(id);
        throttle.take(id);
        await api.doors.acknowledge(id, actor);
        return status(id);
      },
    }),
    'door.stats': method({
      role: 'viewer',
      params: z.strictObject({
        door: z.string().min(1).max(64),
        since: z.number().int().nonnegative().optional(),
        until: z.number().int().nonnegative().optional(),
        bucketSeconds: z.number().int().min(60).max(86_400).default(3600),
      }),
      // It reads every decision of the window: more than any one page of a list.
      cost: () => STATS_COST,
      handler: async ({ door: id, since, until, bucketSeconds }) => {
        status(id);
        const end = until ?? Date.now();
        const start = since ?? end - 24 * HOUR;
        const bucketMs = bucketSeconds * 1000;
        if (end <= start) throw invalidParams('until', 'must be after since');
        if ((end - start) / bucketMs > MAX_BUCKETS) throw invalidParams('bucketSeconds', `at most ${MAX_BUCKETS} buckets: widen the buckets or narrow since..until`);
        const buckets = new Map<number, { start: number; grants: number; denies: number }>();
        for (let t = start - (start % bucketMs); t < end; t += bucketMs) buckets.set(t, { start: t, grants: 0, denies: 0 });
        // Paged by sequence so a busy door is counted whole, a page of decisions at a time.
        let afterSeq: number | undefined;
        for (;;) {
          // Small pages with a turn of the event loop between them: a long window of a busy door
          // never holds up the doors' timers or a scan for more than one page's read.
          await api.readBudget.take(STATS_PAGE);
          const page = await api.store.queryAudit({ controllerId: api.controllerId, door: id, since: start, until: end, afterSeq, limit: STATS_PAGE, order: 'asc' });
          for (const e of page) {
            if (e.type !== 'decision') continue;
            const bucket = buckets.get(e.at - (e.at % bucketMs));
            if (bucket) bucket[e.verdict === 'grant' ? 'grants' : 'denies']++;
          }
          if (page.length < STATS_PAGE) break;
          afterSeq = page.at(-1)!.seq;
          await yieldToEventLoop();
        }
        const series = [...buckets.values()];
        return {
          door: id,
          since: start,
          until: end,
          bucketSeconds,
          grants: series.reduce((n, b) => n + b.grants, 0),
          denies: series.reduce((n, b) => n + b.denies, 0),
          series,
          latencyMs: api.latency(id)?.percentiles() ?? null,
        };
      },
    }),
  };
}
