/** The webhook signature, checked against an HMAC written out here, and every way a header can be off. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSignature, signatureHeader, SIGNATURE_TOLERANCE_SECONDS } from '../../controller/delegation/webhookSignature.ts';

const SECRET = 'a-webhook-secret-of-at-least-32-characters';
const BODY = '{"type":"scan","nonce":"00ff"}';
const T = 1767225600;
const hex = (t: number, body = BODY, secret = SECRET) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

describe('webhook signature', () => {
  it('is t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    expect(signatureHeader(SECRET, T, BODY)).toBe(`t=${T},v1=${hex(T)}`);
    expect(checkSignature(`t=${T},v1=${hex(T)}`, Buffer.from(BODY), SECRET, T)).toBe('ok');
  });

  it(`accepts a timestamp up to ${SIGNATURE_TOLERANCE_SECONDS} s either way, and calls anything further stale`, () => {
    const header = `t=${T},v1=${hex(T)}`;
    expect(checkSignature(header, BODY, SECRET, T + 300)).toBe('ok');
    expect(checkSignature(header, BODY, SECRET, T - 300)).toBe('ok');
    expect(checkSignature(header, BODY, SECRET, T + 301)).toBe('stale');
    expect(checkSignature(header, BODY, SECRET, T - 301)).toBe('stale');
  });

  it('accepts any one of several v1 values (a secret being rotated), in any order and case', () => {
    const other = hex(T, BODY, 'the-previous-secret-also-32-characters');
    expect(checkSignature(`t=${T},v1=${other},v1=${hex(T)}`, BODY, SECRET, T)).toBe('ok');
    expect(checkSignature(`v1=${hex(T).toUpperCase()}, t=${T}`, BODY, SECRET, T)).toBe('ok');
  });

  it('tells unsigned from a bad signature, and checks the MAC before the time', () => {
    expect(checkSignature(undefined, BODY, SECRET, T)).toBe('unsigned');
    expect(checkSignature([], BODY, SECRET, T)).toBe('unsigned');
    for (const header of [
      '',
      'garbage',
      `t=${T}`,
      `v1=${hex(T)}`,
      `t=abc,v1=${hex(T)}`,
      `t=${T},v1=${hex(T).slice(2)}`,
      `t=${T},v0=${hex(T)}`,
      `t=${T + 1},v1=${hex(T)}`,
      `t=${T},v1=${hex(T, BODY + ' ')}`,
      `t=${T},v1=${hex(T, BODY, 'another-secret-of-32-characters-or-more')}`,
    ]) {
      expect(checkSignature(header, BODY, SECRET, T), header).toBe('bad-signature');
    }
    // A repeated header is refused, not guessed at.
    expect(checkSignature([`t=${T},v1=${hex(T)}`, `t=${T},v1=${hex(T)}`], BODY, SECRET, T)).toBe('bad-signature');
    // A forged old message is a bad signature, not "stale": stale is only said of a genuine one.
    expect(checkSignature(`t=${T - 1000},v1=${'0'.repeat(64)}`, BODY, SECRET, T)).toBe('bad-signature');
  });
});
