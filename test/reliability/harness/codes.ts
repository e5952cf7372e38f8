/**
 * Postern QR codes made and read from the published format alone (docs/credential-format.md), with
 * no import of the controller: what a partner or a scanner vendor would write. The reliability
 * suites use it to make fresh single-use codes at will and to know what a fuzzed text should get.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const PERIOD_SECONDS = 15;
export const NO_END = 0xffffffff;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const BASE32_ALPHABET = ALPHABET;

export type Kind = 'link' | 'rotating' | 'online-link';
const KIND_BYTE: Record<Kind, number> = { link: 1, rotating: 2, 'online-link': 3 };
const KIND_NAME: Record<number, Kind> = { 1: 'link', 2: 'rotating', 3: 'online-link' };

export interface CodeFields {
  /** Written as is: tests may give any byte, the spec's kinds are 1, 2, 3. */
  kindByte: number;
  version?: number;
  issuer: number;
  subject: bigint;
  a: number;
  b: number;
  scope: number;
}

export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** Exactly 64 characters of the alphabet (either case) to 40 bytes; anything else undefined. */
function base32Decode64(text: string): Buffer | undefined {
  if (text.length !== 64) return undefined;
  const out = Buffer.alloc(40);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // ASCII only: 'ſ'.toUpperCase() is 'S', but 'ſ' is no base32 character.
    const value = code < 128 ? ALPHABET.indexOf(String.fromCharCode(code).toUpperCase()) : -1;
    if (value < 0) return undefined;
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >>> bits) & 0xff;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

export function signedBytes(fields: CodeFields): Buffer {
  const body = Buffer.alloc(24);
  body[0] = fields.version ?? 1;
  body[1] = fields.kindByte;
  body.writeUInt16BE(fields.issuer, 2);
  body.writeBigUInt64BE(fields.subject, 4);
  body.writeUInt32BE(fields.a >>> 0, 12);
  body.writeUInt32BE(fields.b >>> 0, 16);
  body.writeUInt32BE(fields.scope >>> 0, 20);
  return body;
}

export function mac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac('sha256', key).update(signed).digest().subarray(0, 16);
}

export function encode(fields: CodeFields, key: Uint8Array): string {
  const body = signedBytes(fields);
  return 'P1.' + base32(Buffer.concat([body, mac(key, body)]));
}

/** HMAC-SHA256(partner secret, "postern/rotating/v1" || subject as 8 bytes). */
export function partnerRotatingKey(partnerSecret: Uint8Array, subject: bigint): Buffer {
  const subjectBytes = Buffer.alloc(8);
  subjectBytes.writeBigUInt64BE(subject);
  return createHmac('sha256', partnerSecret).update('postern/rotating/v1').update(subjectBytes).digest();
}

export function stepOf(unixMs: number): number {
  return Math.floor(unixMs / 1000 / PERIOD_SECONDS);
}

/** A partner's rotating code for `subject`, of the step that holds `unixMs`. */
export function partnerRotating(partner: { id: number; secret: Buffer }, subject: bigint, scope: number, unixMs = Date.now()): string {
  return encode({ kindByte: 2, issuer: partner.id, subject, a: stepOf(unixMs), b: 0, scope }, partnerRotatingKey(partner.secret, subject));
}

/** A site badge's rotating code (issuer 0, its own secret). */
export function siteRotating(secret: Buffer, subject: bigint, scope: number, step: number): string {
  return encode({ kindByte: 2, issuer: 0, subject, a: step, b: 0, scope }, secret);
}

export interface Decoded {
  version: number;
  kindByte: number;
  kind: Kind | undefined;
  issuer: number;
  subject: bigint;
  a: number;
  b: number;
  scope: number;
  signed: Buffer;
  mac: Buffer;
  bytes: Buffer;
}

/**
 * Reads text as the format says a controller does ("Text form"): at most 256 characters, surrounding
 * white space removed, "P1." in either case, 64 base32 characters in either case, version 1 and a
 * kind of 1, 2 or 3. `whiteSpace` chooses what white space is: 'unicode' is the Unicode White_Space
 * property, 'javascript' what String.prototype.trim() removes (the same, and U+FEFF). undefined:
 * not a Postern code.
 */
export function decode(text: string, whiteSpace: 'unicode' | 'javascript' = 'unicode', maxLength = 256): Decoded | undefined {
  if (text.length > maxLength) return undefined;
  const trimmed = whiteSpace === 'javascript' ? text.trim() : text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
  if (!/^[Pp]1\./.test(trimmed)) return undefined;
  const bytes = base32Decode64(trimmed.slice(3));
  if (bytes === undefined || bytes[0] !== 1 || KIND_NAME[bytes[1]!] === undefined) return undefined;
  return {
    version: bytes[0]!,
    kindByte: bytes[1]!,
    kind: KIND_NAME[bytes[1]!],
    issuer: bytes.readUInt16BE(2),
    subject: bytes.readBigUInt64BE(4),
    a: bytes.readUInt32BE(12),
    b: bytes.readUInt32BE(16),
    scope: bytes.readUInt32BE(20),
    signed: bytes.subarray(0, 24),
    mac: bytes.subarray(24, 40),
    bytes,
  };
}

export function kindByte(kind: Kind): number {
  return KIND_BYTE[kind];
}

/** A fresh random subject below 2^53 (so it is exact in JSON too), never repeated in this process. */
const handedOut = new Set<bigint>();
export function freshSubject(): bigint {
  for (;;) {
    const subject = randomBytes(8).readBigUInt64BE(0) >> 11n; // 53 bits
    if (subject === 0n || handedOut.has(subject)) continue;
    handedOut.add(subject);
    return subject;
  }
}

/** Every reason docs/architecture.md lists for a denial ("Reasons a scan is denied"). */
export const KNOWN_DENY_REASONS = new Set([
  'unknown-format',
  'delegate-denied',
  'delegate-timeout',
  'delegate-error',
  'bad-mac',
  'unknown-issuer',
  'not-yet-valid',
  'expired',
  'revoked',
  'out-of-scope',
  'replayed',
  'offline',
  'used-up',
  'throttled',
  'store-unavailable',
  'lockdown',
  'door-fault',
  'passage',
  'forced-open',
  'stopped',
  'decision-failed',
]);
