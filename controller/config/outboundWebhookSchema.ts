/**
 * Outbound webhooks in the site file: endpoints that receive the site's audit events as they are
 * recorded, signed like delegation's messages (docs/webhooks.md). The secret is given inline or
 * by the name of an environment variable, as for delegation.
 */
import { z } from 'zod';
import { exactlyOneSecret, secret, secretEnv, url } from './delegationSchema.ts';

export const WEBHOOK_EVENT_TYPES = ['decision', 'door', 'operator', 'system'] as const;

export const outboundWebhookSchema = z
  .strictObject({
    /** Names the endpoint in the API, the metrics and its delivery state file. */
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 of a-z, 0-9, _ and -, starting with a letter or digit'),
    url,
    secret: secret.optional(),
    secretEnv: secretEnv.optional(),
    /** Audit event types sent; default all. */
    types: z.array(z.enum(WEBHOOK_EVENT_TYPES)).min(1).optional(),
    /** Only events of these doors (events without a door, such as system events, always go); default every door. */
    doors: z.array(z.string()).min(1).optional(),
    /** How long one delivery waits for the receiver's answer. */
    timeoutMs: z.number().int().min(100).max(30_000).default(10_000),
    retry: z
      .strictObject({
        /** The wait after the first failure; each next one doubles, with jitter, up to maxDelaySeconds. */
        firstDelaySeconds: z.number().min(0.01).max(3600).default(1),
        maxDelaySeconds: z.number().min(0.01).max(86_400).default(300),
        /** Failed attempts before the event goes to the dead-letter list and the next one is sent. */
        maxAttempts: z.number().int().min(1).max(1000).default(12),
      })
      .prefault({}),
  })
  .superRefine(exactlyOneSecret);

export type OutboundWebhookConfig = z.output<typeof outboundWebhookSchema>;
