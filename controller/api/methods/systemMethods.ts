import { z } from 'zod';
import { TOPICS } from '../eventHub.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { invalidParams } from '../jsonRpc.ts';
import { notFound } from './common.ts';
import { MAX_SEARCH_CHARS } from '../../store/storeTypes.ts';

const MAX_SUBSCRIPTIONS = 16;
/** A holder filter matching more links and credentials than this is refused: narrow the name. */
const MAX_HOLDERS_MATCHED = 500;

export function systemMethods(api: ApiServices): MethodTable {
  return {
    'system.info': method({
      role: 'viewer',
      params: z.strictObject({}),
      handler: (_params, { principal }) => ({
        product: 'postern',
        version: api.version,
        site: { id: api.config.site.id, name: api.config.site.name },
        controllerId: api.controllerId,
        store: api.store.dialect,
        startedAt: api.startedAt,
        uptimeSeconds: Math.round((Date.now() - api.startedAt) / 1000),
        doors: api.config.doors.length,
        scanners: api.config.scanners.length,
        you: { kind: principal.kind, name: principal.name, role: principal.role },
      }),
    }),
    'audit.query': method({
      role: 'viewer',
      params: z.strictObject({
        controllerId: z.string().max(200).optional(),
        since: z.number().int().nonnegative().optional(),
        until: z.number().int().nonnegative().optional(),
        door: z.string().max(64).optional(),
        subject: z.string().regex(/^\d{1,20}$/).optional(),
        /** Text in the name of the site's link or credential the events are about. */
        holder: z.string().trim().min(1).max(MAX_SEARCH_CHARS).optional(),
        verdict: z.enum(['grant', 'deny']).optional(),
        afterSeq: z.number().int().nonnegative().optional(),
        beforeSeq: z.number().int().nonnegative().optional(),
        limit: z.number().int().min(1).max(1000).default(100),
        order: z.enum(['asc', 'desc']).default('asc'),
      }),
      handler: async ({ holder, ...query }) => {
        const subjects = holder === undefined ? undefined : await api.store.holderSubjects(holder, MAX_HOLDERS_MATCHED + 1);
        if (subjects !== undefined && subjects.length > MAX_HOLDERS_MATCHED) {
          throw invalidParams('holder', `more than ${MAX_HOLDERS_MATCHED} links and credentials have "${holder}" in their name; give more of the name`);
        }
        const found = await api.store.queryAudit({ ...query, subjects, controllerId: query.controllerId ?? api.controllerId });
        const events = await api.holderNames.name(found);
        // The next page goes on past the last event, in the order asked for.
        const last = events.at(-1);
        const next = events.length < query.limit || last === undefined ? null : query.order === 'asc' ? { afterSeq: last.seq } : { beforeSeq: last.seq };
        return { events, next };
      },
    }),
    subscribe: method({
      role: 'viewer',
      params: z.strictObject({
        topics: z.array(z.enum(TOPICS as [string, ...string[]])).min(1).max(TOPICS.length),
        doors: z.array(z.string().min(1).max(64)).min(1).max(1024).optional(),
      }),
      handler: ({ topics, doors }, { subscriber }) => {
        for (const d of doors ?? []) if (api.monitor.door(d) === undefined) notFound('door', d);
        if (api.events.countOf(subscriber) >= MAX_SUBSCRIPTIONS) throw invalidParams('topics', `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection: widen one instead`);
        return api.events.subscribe(subscriber, topics as typeof TOPICS[number][], doors ?? null);
      },
    }),
    unsubscribe: method({
      role: 'viewer',
      params: z.strictObject({ subscription: z.string().max(64) }),
      handler: ({ subscription }, { subscriber }) => {
        if (!api.events.unsubscribe(subscriber, subscription)) notFound('subscription', subscription);
        return { unsubscribed: subscription };
      },
    }),
  };
}
