/**
 * The sync link's frames, both ways (docs/sync.md, "Protocol"), as zod schemas, with the limits
 * and close codes both ends keep: the hub parses what a controller sends, the controller what the
 * hub sends, each before anything acts on a frame. A frame that does not fit ends the link (an
 * `error` frame and close from the hub; a protocol error at the controller), never a half-applied
 * change. One module, so the two ends cannot drift apart.
 */
import { z } from 'zod';

/** At most this many bytes per frame, either way. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** At most this many events in one `audit` frame. */
export const MAX_AUDIT_BATCH = 500;

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

/** The longest reason a revocation carries: a snapshot chunk's byte bound assumes short ones. */
export const MAX_REASON_LENGTH = 1000;

/** A subject as everywhere in Postern (the store and the hub check it alike): the decimal uint64 of the codes. */
export const SUBJECT_PATTERN = /^(0|[1-9][0-9]{0,19})$/;

const text = z.string().max(10_000);
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const whole = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const subject = z.string().regex(SUBJECT_PATTERN);

// ---- controller → hub

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

export const controllerFrameSchema = z.discriminatedUnion('type', [
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
  // An online-only code read at a door, to be confirmed (and its use counted) by the hub for the whole
  // site. `maxUses` only when this controller issued the link and holds it: the hub learns the limit
  // from the first confirm that brings one (null: no limit).
  z.object({
    type: z.literal('confirm'),
    id: whole,
    issuer: z.number().int().min(0).max(0xffff),
    subject,
    maxUses: whole.min(1).nullable().optional(),
  }),
  // The answer to a hub's `call`: the method's result, or its JSON-RPC error.
  z.object({
    type: z.literal('result'),
    id: whole,
    result: z.unknown().optional(),
    error: z.object({ code: z.number().int(), message: z.string().max(10_000), data: z.unknown().optional() }).optional(),
  }),
]);

export type ControllerFrame = z.output<typeof controllerFrameSchema>;

// ---- hub → controller

/** A snapshot's revocation: the hub may leave out `kind` and `cursor` there (the snapshot has one cursor). */
export const revocationSchema = z.object({
  cursor: whole.optional(),
  kind: z.literal('revocation').optional(),
  issuer: z.number().int().min(0).max(0xffff),
  subject,
  revokedAt: z.number().optional(),
  reason: z.string().max(MAX_REASON_LENGTH).nullable().optional(),
});

/** A change item: its cursor and kind are required; revocation is the only kind yet. */
const changeItem = revocationSchema.extend({ cursor: whole, kind: z.literal('revocation') });

export const hubFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), siteId: z.string(), controllerId: z.string(), hubTime: z.number(), auditAcked: whole }),
  // A snapshot comes in chunks of one cursor; `last` marks the final one (absent: a snapshot of one frame).
  z.object({ type: z.literal('snapshot'), cursor: whole, revocations: z.array(revocationSchema), last: z.boolean().optional() }),
  z.object({ type: z.literal('changes'), cursor: whole, items: z.array(changeItem) }),
  z.object({ type: z.literal('synced'), cursor: whole }),
  z.object({ type: z.literal('auditAck'), seq: whole }),
  z.object({ type: z.literal('auditRejected'), seq: whole, problem: z.string() }),
  z.object({ type: z.literal('pong'), id: z.union([z.number(), z.string()]), hubTime: z.number() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
  // The hub's answer to a `confirm`: `busy` when the controller has too many confirms in flight.
  z.object({ type: z.literal('confirmed'), id: whole, answer: z.enum(['ok', 'unknown', 'revoked', 'exhausted', 'busy']), uses: whole.optional() }),
  // An admin API method of this site, called at the hub by one of its accounts (docs/sync.md, "Calls").
  z.object({
    type: z.literal('call'),
    id: whole,
    method: z.string().min(1).max(100),
    params: z.unknown().optional(),
    account: z.object({ name: z.string().min(1).max(200), role: z.string().min(1).max(50) }),
  }),
]);

export type HubFrame = z.output<typeof hubFrameSchema>;
export type Revocation = z.output<typeof revocationSchema>;
export type ChangeItem = z.output<typeof changeItem>;

/**
 * The frame, or a one-line reason it is none. Unknown frame types are refused too: the hub and the
 * controller speak one protocol version.
 */
export function parseFrame<S extends z.ZodType>(schema: S, data: string): { frame: z.output<S> } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { problem: 'a frame is a JSON text' };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { frame: parsed.data };
  const type = typeof json === 'object' && json !== null && 'type' in json ? String((json as { type: unknown }).type) : '(none)';
  const issue = parsed.error.issues[0];
  return { problem: `a frame of type ${type} that does not fit the protocol${issue === undefined ? '' : `: ${issue.path.join('.') || 'frame'}: ${issue.message}`}` };
}
