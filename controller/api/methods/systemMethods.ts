import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { z } from 'zod';
import type { NamedAuditEvent } from '../../issuing/holderNames.ts';
import { chainHead, refuseTooFarBehind, replayAudit } from '../auditReplay.ts';
import { TOPICS, type Topic } from '../eventHub.ts';
import type { ApiServices } from '../apiServices.ts';
import { listCost, method, type MethodTable } from '../methodTypes.ts';
import { invalidParams } from '../jsonRpc.ts';
import { notFound } from './common.ts';
import { MAX_SEARCH_CHARS } from '../../store/storeTypes.ts';

const MAX_SUBSCRIPTIONS = 16;
/** Rows audit.query reads at a time, with a turn of the event loop between slices. */
const AUDIT_SLICE = 200;
const REPLAY_COST = 10;
const DEFAULT_AUDIT_LIMIT = 100;
/** The largest audit.query answer, in bytes of JSON (and at most half of api.maxBufferedBytes). */
const MAX_ANSWER_BYTES = 512 * 1024;
/** A holder filter matching more links and credentials than this is refused: narrow the name. */
const MAX_HOLDERS_MATCHED = 500;
/**
 * An audit event's subject: a link's, credential's or partner's decimal id, or the id of a user
 * or API token (`usr_...`, `tok_...`) for the account events.
 */
const auditSubject = z.string().regex(/^(?:\d{1,20}|(?:usr|tok)_[0-9a-f]{1,32})$/, 'a decimal id, or a usr_ or tok_ id');
const AUDIT_TYPES = ['decision', 'door', 'operator', 'system'] as const;
/** Subscribe parameters that only the audit topic uses. */
const AUDIT_ONLY = ['after', 'verdict', 'types', 'scanners', 'subjects'] as const;

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
        subject: auditSubject.optional(),
        /** Text in the name of the site's link or credential the events are about. */
        holder: z.string().trim().min(1).max(MAX_SEARCH_CHARS).optional(),
        verdict: z.enum(['grant', 'deny']).optional(),
        afterSeq: z.number().int().nonnegative().optional(),
        beforeSeq: z.number().int().nonnegative().optional(),
        limit: z.number().int().min(1).max(1000).default(DEFAULT_AUDIT_LIMIT),
        order: z.enum(['asc', 'desc']).default('asc'),
      }),
      cost: (params) => listCost(params, DEFAULT_AUDIT_LIMIT),
      handler: async ({ holder, ...query }) => {
        const subjects = holder === undefined ? undefined : await api.store.holderSubjects(holder, MAX_HOLDERS_MATCHED + 1);
        if (subjects !== undefined && subjects.length > MAX_HOLDERS_MATCHED) {
          throw invalidParams('holder', `more than ${MAX_HOLDERS_MATCHED} links and credentials have "${holder}" in their name; give more of the name`);
        }
        // Read in slices with a turn of the event loop between them, and only as much as fits the
        // answer's byte budget: the size is bounded while the answer is made, not checked after.
        const budget = Math.min(MAX_ANSWER_BYTES, Math.floor(api.config.api.maxBufferedBytes / 2));
        const events: NamedAuditEvent[] = [];
        let bytes = 0;
        let cursor = { afterSeq: query.afterSeq, beforeSeq: query.beforeSeq };
        let more = true;
        while (more && events.length < query.limit) {
          const want = Math.min(AUDIT_SLICE, query.limit - events.length);
          await api.readBudget.take(want);
          const slice = await api.holderNames.name(await api.store.queryAudit({ ...query, ...cursor, limit: want, subjects, controllerId: query.controllerId ?? api.controllerId }));
          for (const event of slice) {
            const size = JSON.stringify(event).length + 1;
            if (events.length > 0 && bytes + size > budget) {
              more = false;
              break;
            }
            events.push(event);
            bytes += size;
          }
          if (slice.length < want) break;
          const last = events.at(-1)!;
          cursor = query.order === 'asc' ? { ...cursor, afterSeq: last.seq } : { ...cursor, beforeSeq: last.seq };
          if (more && events.length < query.limit) await yieldToEventLoop();
        }
        // The next page goes on past the last event, in the order asked for; a page cut short by
        // the byte budget has a next page too.
        const last = events.at(-1);
        const full = events.length === query.limit || !more;
        const next = !full || last === undefined ? null : query.order === 'asc' ? { afterSeq: last.seq } : { beforeSeq: last.seq };
        return { events, next };
      },
    }),
    subscribe: method({
      role: 'viewer',
      params: z.strictObject({
        topics: z.array(z.enum(TOPICS as [Topic, ...Topic[]])).min(1).max(TOPICS.length),
        doors: z.array(z.string().min(1).max(64)).min(1).max(1024).optional(),
        /** Replays this controller's audit events with a greater seq before going live. */
        after: z.number().int().nonnegative().optional(),
        verdict: z.enum(['grant', 'deny']).optional(),
        types: z.array(z.enum(AUDIT_TYPES)).min(1).max(AUDIT_TYPES.length).optional(),
        scanners: z.array(z.string().min(1).max(64)).min(1).max(1024).optional(),
        subjects: z.array(auditSubject).min(1).max(1024).optional(),
      }),
      // A replay reads the store from `after` on: more work than a live subscription.
      cost: ({ after }) => (after === undefined ? 1 : REPLAY_COST),
      handler: async (params, { subscriber }) => {
        const { topics, doors, after, verdict, types, scanners, subjects } = params;
        for (const d of doors ?? []) if (api.monitor.door(d) === undefined) notFound('door', d);
        for (const s of scanners ?? []) if (api.monitor.scanner(s) === undefined) notFound('scanner', s);
        if (!topics.includes('audit')) {
          const given = AUDIT_ONLY.find((key) => params[key] !== undefined);
          if (given !== undefined) throw invalidParams(given, 'only for the audit topic: add "audit" to topics');
        }
        const full = () => {
          if (api.events.countOf(subscriber) >= MAX_SUBSCRIPTIONS) throw invalidParams('topics', `at most ${MAX_SUBSCRIPTIONS} subscriptions per connection: widen one instead`);
        };
        full();
        const audit = { verdict, types, scanners, subjects };
        if (after === undefined) return api.events.subscribe(subscriber, topics, doors ?? null, { audit });
        const deps = { events: api.events, store: api.store, holderNames: api.holderNames, controllerId: api.controllerId };
        const stored = await chainHead(deps);
        refuseTooFarBehind(after, stored);
        full(); // again: other subscribes of this connection may have run meanwhile
        // The head and the registration in one turn of the event loop: that is the seam (auditReplay.ts).
        const head = Math.max(stored, api.events.auditHead);
        const { subscription } = api.events.subscribe(subscriber, topics, doors ?? null, { audit, replaying: true });
        const { replayed } = await replayAudit(deps, subscription, after, head, subscriber.unsent?.bind(subscriber));
        return { subscription, replayed, head };
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
