/**
 * The rotating code a badge shows, exactly as docs/credential-format.md defines it
 * (kind 2, issuer 0): 40 bytes, the last 16 the first half of HMAC-SHA256 under the credential's
 * own secret over the first 24, as `P1.` and base32. Plain ES module, WebCrypto only, so the same
 * file runs in the browser and under Node 20 (test/badge/badgeCode.test.ts).
 */

export const PERIOD_SECONDS = 15;
export const CODE_PREFIX = 'P1.';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const SIGNED_BYTES = 24;
const MAC_BYTES = 16;

/** RFC 4648 base32, upper case, no padding. */
export function base32(bytes) {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** 64 hex characters to 32 bytes; throws on anything else. */
export function hexToBytes(hex) {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(hex)) throw new Error('the secret is not hex');
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export function timeStep(unixSeconds) {
  return Math.floor(unixSeconds / PERIOD_SECONDS);
}

/** Whole seconds until the next code (1..15). */
export function secondsLeft(unixSeconds) {
  return PERIOD_SECONDS - Math.floor(unixSeconds - timeStep(unixSeconds) * PERIOD_SECONDS);
}

function subtleCrypto() {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new Error('this browser offers no WebCrypto here (the badge page needs https, or localhost)');
  return subtle;
}

/** The secret as a non-extractable HMAC key: import it once, sign every 15 s. */
export function importSecret(secretHex) {
  const secret = hexToBytes(secretHex);
  if (secret.length !== 32) throw new Error('the secret is not 32 bytes');
  return subtleCrypto().importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/** Bytes 0..23 of a site rotating code: version 1, kind 2, issuer 0, subject, step, 0, scope 0. */
export function signedBytes(credentialId, step) {
  const subject = BigInt(credentialId);
  if (subject < 0n || subject > 0xffffffffffffffffn) throw new Error('the credential id is not an unsigned 64-bit number');
  const bytes = new Uint8Array(SIGNED_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0x01);
  view.setUint8(1, 0x02);
  view.setUint16(2, 0);
  view.setBigUint64(4, subject);
  view.setUint32(12, step);
  view.setUint32(16, 0);
  view.setUint32(20, 0);
  return bytes;
}

/**
 * The code of credential `credentialId` (decimal string) at `unixSeconds`. `key` is what
 * importSecret gave, or the secret itself as hex.
 */
export async function rotatingCode(credentialId, key, unixSeconds) {
  const cryptoKey = typeof key === 'string' ? await importSecret(key) : key;
  const signed = signedBytes(credentialId, timeStep(unixSeconds));
  const mac = new Uint8Array(await subtleCrypto().sign('HMAC', cryptoKey, signed)).subarray(0, MAC_BYTES);
  const code = new Uint8Array(SIGNED_BYTES + MAC_BYTES);
  code.set(signed);
  code.set(mac, SIGNED_BYTES);
  return CODE_PREFIX + base32(code);
}
