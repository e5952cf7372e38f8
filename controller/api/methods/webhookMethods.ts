/**
 * The outbound webhooks' delivery state over the API: where each endpoint is, what failed, and the
 * events given up on, which an integrator can send again once the receiver is fixed.
 */
import { z } from 'zod';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';

const webhook = z.string().min(1).max(64);

export function webhookMethods(api: ApiServices): MethodTable {
  const { webhooks } = api;
  if (webhooks === undefined) return {};
  return {
    'webhooks.list': method({ role: 'integrator', params: z.strictObject({}), handler: () => webhooks.list() }),
    'webhooks.deadLetters': method({ role: 'integrator', params: z.strictObject({ webhook }), handler: ({ webhook: id }) => webhooks.deadLetters(id) }),
    'webhooks.redeliver': method({
      role: 'integrator',
      params: z.strictObject({ webhook, id: z.string().min(1).max(300) }),
      handler: async ({ webhook: id, id: eventId }) => ({ webhook: id, id: eventId, ...(await webhooks.redeliver(id, eventId)) }),
    }),
  };
}
