/**
 * The frames a controller may send on the sync link (docs/sync.md, "Protocol"), as zod schemas: a
 * frame that does not parse is answered with an `error` frame and the link is closed.
 */
import { z } from 'zod';

/** At most this many events in one `audit` frame. */
export const MAX_AUDIT_BATCH = 500;

const text = z.string().max(10_000);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const whole = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const auditEvent = z.object({
  controllerId: z.string().min(1).max(200),
  seq: whole.min(1),
  at: whole,
  type: z.string().min(1).max(64),
  door: text.nullable(),
  scanner: text.nullable(),
  subject: text.nullable(),
  kind: text.nullable(),
  issuer: z.number().int().nullable(),
  verdict: text.nullable(),
  reason: text.nullable(),
  actor: text.nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
  prevHash: hex64,
  hash: hex64,
});

export const controllerFrame = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    cursor: whole,
    chain: z.string().min(1).max(200),
    time: z.number(),
    // The newest event of its chain: lets the hub see at once a trail cut short or rewritten at the site.
    head: z.object({ seq: whole, hash: hex64 }).optional(),
  }),
  z.object({ type: z.literal('audit'), events: z.array(auditEvent).min(1).max(MAX_AUDIT_BATCH) }),
  z.object({ type: z.literal('ping'), id: z.union([z.string().max(200), z.number()]), time: z.number().optional() }),
]);

export type ControllerFrame = z.infer<typeof controllerFrame>;

/** The frame, or a one-line reason it is not one. */
export function parseFrame(data: string): { frame: ControllerFrame } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { problem: 'a frame is a JSON text' };
  }
  const parsed = controllerFrame.safeParse(value);
  if (parsed.success) return { frame: parsed.data };
  const issue = parsed.error.issues[0];
  return { problem: issue === undefined ? 'not a frame' : `${issue.path.join('.') || 'frame'}: ${issue.message}` };
}

/** Close codes of the link besides the standard ones. */
export const CloseCodes = {
  /** The protocol was broken (a frame that does not parse, out of turn): the standard "policy violation". */
  PROTOCOL: 1008,
  /** Another link of the same controller took over. */
  REPLACED: 4001,
  /** The credential stopped working: the controller was revoked, or enrolled again with a new one. */
  CREDENTIAL_ENDED: 4003,
  /** No hello in time, or silent too long. */
  IDLE: 4008,
} as const;
