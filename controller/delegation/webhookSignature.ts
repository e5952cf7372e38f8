/**
 * The signature of a webhook message, both ways, in the scheme most webhook senders use:
 *
 *     Postern-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 *
 * The timestamp is inside the MAC, so an old message cannot be replayed with a new time, and a
 * message older (or newer) than the tolerance is refused even with a good MAC. A header may carry
 * several v1 values, so that a sender can sign with an old and a new secret while both ends rotate.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Lower case, as node:http gives header names. */
export const SIGNATURE_HEADER = 'postern-signature';

/** How far a message's timestamp may be from the receiver's clock, either way. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureCheck = 'ok' | 'unsigned' | 'bad-signature' | 'stale';

export function signatureHex(secret: Uint8Array | string, timestamp: number, body: Uint8Array | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** The header value for `body`, signed at `nowSeconds`. */
export function signatureHeader(secret: Uint8Array | string, nowSeconds: number, body: Uint8Array | string): string {
  return `t=${nowSeconds},v1=${signatureHex(secret, nowSeconds, body)}`;
}

/**
 * Checks a header against the body as received (the raw bytes: a re-serialised body would not
 * match). The MAC is checked before the time, so `stale` is only said of a genuine message.
 */
export function checkSignature(
  header: string | string[] | undefined,
  body: Uint8Array | string,
  secret: Uint8Array | string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): SignatureCheck {
  if (header === undefined || (Array.isArray(header) && header.length === 0)) return 'unsigned';
  // A repeated header is refused rather than guessed at.
  if (Array.isArray(header)) return 'bad-signature';
  let timestamp: number | undefined;
  const macs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) macs.push(value.toLowerCase());
  }
  if (timestamp === undefined || macs.length === 0) return 'bad-signature';
  const expected = Buffer.from(signatureHex(secret, timestamp, body), 'hex');
  // Every candidate is compared, in constant time each, so the time taken says nothing of which matched.
  let matched = false;
  for (const mac of macs) matched = timingSafeEqual(expected, Buffer.from(mac, 'hex')) || matched;
  if (!matched) return 'bad-signature';
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return 'stale';
  return 'ok';
}
