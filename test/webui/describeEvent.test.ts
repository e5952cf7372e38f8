/**
 * The feed's one-line descriptions of audit events (webui/src/format.js), for the kinds of decision
 * security staff see: Postern codes, codes of partners, and codes a partner's webhook decided.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript of the web UI, without type declarations
import { describeEvent } from '../../webui/src/format.js';

describe('describeEvent', () => {
  it('names the code and its issuer', () => {
    expect(describeEvent({ type: 'decision', verdict: 'grant', kind: 'link', subject: '42', issuer: 0 })).toBe('granted: link 42');
    expect(describeEvent({ type: 'decision', verdict: 'deny', reason: 'out-of-scope', kind: 'rotating', subject: '9', issuer: 17 })).toBe('denied: out-of-scope, rotating 9 (partner 17)');
    expect(describeEvent({ type: 'decision', verdict: 'deny', reason: 'unknown-format', kind: 'unknown', subject: null, data: { length: 12 } })).toBe('denied: unknown-format');
  });

  it("shows what a partner's webhook said: the holder it named and why", () => {
    const grant = { type: 'decision', verdict: 'grant', kind: 'delegated', subject: null, data: { length: 14, delegation: { status: 200, subjectName: 'Ada Ticket', reason: 'match day' } } };
    expect(describeEvent(grant)).toBe('granted: partner webhook: Ada Ticket (match day)');
    const timeout = { type: 'decision', verdict: 'deny', reason: 'delegate-error', kind: 'delegated', subject: null, data: { length: 14, delegation: { detail: 'bad-signature' } } };
    expect(describeEvent(timeout)).toBe('denied: delegate-error, partner webhook (bad-signature)');
  });
});
