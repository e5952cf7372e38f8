/**
 * The frames the hub sends a controller (docs/sync.md, Protocol), checked before anything acts on
 * them: a frame that does not fit is a protocol error that ends the link, never a half-applied change.
 */
import { z } from 'zod';

/** At most this many bytes per frame, either way (docs/sync.md). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

const cursor = z.number().int().nonnegative();
const seq = z.number().int().nonnegative();
/** A subject as everywhere in Postern (the store and the hub check it alike): the decimal uint64 of the codes. */
const subject = z.string().regex(/^(0|[1-9][0-9]{0,19})$/);

/** A snapshot's revocation: the hub may leave out `kind` and `cursor` there (the snapshot has one cursor). */
export const revocationSchema = z.object({
  cursor: cursor.optional(),
  kind: z.literal('revocation').optional(),
  issuer: z.number().int().min(0).max(0xffff),
  subject,
  revokedAt: z.number().optional(),
  reason: z.string().nullable().optional(),
});

/** A change item: its cursor and kind are required; revocation is the only kind yet. */
const changeItem = revocationSchema.extend({ cursor, kind: z.literal('revocation') });

export const hubFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), siteId: z.string(), controllerId: z.string(), hubTime: z.number(), auditAcked: seq }),
  // A snapshot comes in chunks of one cursor; `last` marks the final one (absent: a snapshot of one frame).
  z.object({ type: z.literal('snapshot'), cursor, revocations: z.array(revocationSchema), last: z.boolean().optional() }),
  z.object({ type: z.literal('changes'), cursor, items: z.array(changeItem) }),
  z.object({ type: z.literal('synced'), cursor }),
  z.object({ type: z.literal('auditAck'), seq }),
  z.object({ type: z.literal('auditRejected'), seq, problem: z.string() }),
  z.object({ type: z.literal('pong'), id: z.union([z.number(), z.string()]), hubTime: z.number() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);

export type HubFrame = z.output<typeof hubFrameSchema>;
export type Revocation = z.output<typeof revocationSchema>;
export type ChangeItem = z.output<typeof changeItem>;

/** The frame, or why it is none. Unknown frame types are refused too: the hub and the controller speak one protocol version. */
export function parseHubFrame(text: string): { frame: HubFrame } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'a frame that is not JSON' };
  }
  const parsed = hubFrameSchema.safeParse(json);
  if (parsed.success) return { frame: parsed.data };
  const type = typeof json === 'object' && json !== null && 'type' in json ? String((json as { type: unknown }).type) : '(none)';
  return { problem: `a frame of type ${type} that does not fit the protocol: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
}
