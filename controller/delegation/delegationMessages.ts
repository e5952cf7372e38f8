/**
 * The two JSON messages of delegated evaluation (docs/partners.md, "Webhooks"): the scan the
 * controller sends, and the decision the partner answers with.
 */
import { z } from 'zod';

/** What the controller POSTs. */
export interface DelegationRequest {
  type: 'scan';
  /** Unique per request; in the audit event too, so both sides can find the same scan. */
  id: string;
  site: string;
  door: string;
  scanner: string;
  /** The text as read, without surrounding white space. */
  text: string;
  /** unix milliseconds, when the scan was read */
  time: number;
  /** Random, to be echoed in the answer: an answer recorded for another request does not fit this one. */
  nonce: string;
}

/** Longest subject name and reason kept from an answer. */
export const MAX_SUBJECT_CHARS = 200;
export const MAX_REASON_CHARS = 500;

/** Keys other than these are ignored, so that a partner may add its own. */
const answerSchema = z.object({
  nonce: z.string(),
  decision: z.enum(['grant', 'deny']),
  subject: z.string().max(MAX_SUBJECT_CHARS).nullable().optional(),
  reason: z.string().max(MAX_REASON_CHARS).nullable().optional(),
});

export interface DelegationAnswer {
  decision: 'grant' | 'deny';
  subject?: string;
  reason?: string;
}

/** The answer, or why it is not one: it must be a JSON object of the shape above, with our nonce. */
export function parseAnswer(body: Buffer, nonce: string): DelegationAnswer | 'malformed' | 'nonce-mismatch' {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return 'malformed';
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'malformed';
  // The nonce first: an answer to another request is named as such, whatever else it holds.
  if ((json as { nonce?: unknown }).nonce !== nonce) return 'nonce-mismatch';
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) return 'malformed';
  const answer: DelegationAnswer = { decision: parsed.data.decision };
  if (parsed.data.subject) answer.subject = parsed.data.subject;
  if (parsed.data.reason) answer.reason = parsed.data.reason;
  return answer;
}
