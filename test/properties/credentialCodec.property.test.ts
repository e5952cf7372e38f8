/**
 * Properties of the code parser (controller/credentials/credentialCodec.ts, base32.ts) against
 * the text form and the 40 bytes of the credential format, version 1.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../../controller/credentials/base32.ts';
import {
  CODE_BYTES,
  decodeCredential,
  encodeCredential,
  MAX_SCAN_TEXT,
  NO_END,
  type CredentialFields,
} from '../../controller/credentials/credentialCodec.ts';
import { params } from './propertyRuns.ts';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const KINDS = { link: 1, rotating: 2, 'online-link': 3 } as const;

const fieldsArb: fc.Arbitrary<CredentialFields> = fc.record({
  kind: fc.constantFrom('link', 'rotating', 'online-link'),
  issuer: fc.oneof(fc.constantFrom(0, 1, 0xffff), fc.integer({ min: 0, max: 0xffff })),
  subject: fc.oneof(fc.constantFrom(0n, 1n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
  a: fc.oneof(fc.constantFrom(0, 1, NO_END - 1, NO_END), fc.integer({ min: 0, max: NO_END })),
  b: fc.oneof(fc.constantFrom(0, NO_END), fc.integer({ min: 0, max: NO_END })),
  scope: fc.oneof(fc.constantFrom(0, 1, 0x40000000, NO_END), fc.integer({ min: 0, max: NO_END })),
});

const keyArb = fc.uint8Array({ minLength: 0, maxLength: 64 });

/** The 40 bytes of a code, written out from the table of the spec (not with the codec). */
function specBytes(f: CredentialFields, key: Uint8Array): Buffer {
  const bytes = Buffer.alloc(40);
  bytes[0] = 0x01;
  bytes[1] = KINDS[f.kind];
  bytes.writeUInt16BE(f.issuer, 2);
  bytes.writeBigUInt64BE(f.subject, 4);
  bytes.writeUInt32BE(f.a, 12);
  bytes.writeUInt32BE(f.b, 16);
  bytes.writeUInt32BE(f.scope, 20);
  createHmac('sha256', key).update(bytes.subarray(0, 24)).digest().copy(bytes, 24, 0, 16);
  return bytes;
}

/** RFC 4648 base32 by bits, independently of base32.ts. */
function referenceBase32(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += BASE32[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

const whiteSpace = fc.string({ unit: fc.constantFrom(' ', '\t', '\r', '\n'), maxLength: 8 });

describe('credential codec properties', () => {
  it('encodes every kind and field range as P1. and 64 base32 characters that decode to the same fields', () => {
    fc.assert(
      fc.property(fieldsArb, keyArb, (fields, key) => {
        const code = encodeCredential(fields, key);
        expect(code).toMatch(/^P1\.[A-Z2-7]{64}$/);
        expect(code).toBe('P1.' + referenceBase32(specBytes(fields, key)));
        const decoded = decodeCredential(code);
        expect(decoded).toBeDefined();
        expect({ kind: decoded!.kind, issuer: decoded!.issuer, subject: decoded!.subject, a: decoded!.a, b: decoded!.b, scope: decoded!.scope }).toEqual(fields);
        const bytes = specBytes(fields, key);
        expect(Buffer.compare(decoded!.signed, bytes.subarray(0, 24))).toBe(0);
        expect(Buffer.compare(decoded!.mac, bytes.subarray(24))).toBe(0);
      }),
      params(1500),
    );
  });

  it('reads a code in any case with surrounding white space, CR and LF as the same code', () => {
    fc.assert(
      fc.property(fieldsArb, keyArb, whiteSpace, whiteSpace, fc.array(fc.boolean(), { minLength: 67, maxLength: 67 }), (fields, key, before, after, lower) => {
        const code = encodeCredential(fields, key);
        const cased = [...code].map((c, i) => (lower[i] ? c.toLowerCase() : c)).join('');
        const decoded = decodeCredential(before + cased + after);
        expect(decoded).toEqual(decodeCredential(code));
      }),
      params(700),
    );
  });

  it('never throws on arbitrary text, and whatever it accepts is the canonical spelling of its 40 bytes', () => {
    const near = fc
      .tuple(
        fc.constantFrom('P1.', 'p1.', 'P1', 'P2.', ' P1.', 'P1.\u0000', ''),
        fc.string({ unit: fc.constantFrom(...BASE32, ...BASE32.toLowerCase(), '=', '0', '1', '8', '9', '.', ' ', '\n', 'é', '\u00a0', '\ud83d'), minLength: 0, maxLength: 80 }),
      )
      .map(([prefix, body]) => prefix + body);
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
      near,
      fc.uint8Array({ maxLength: 60 }).map((b) => 'P1.' + base32Encode(b)),
      // Codes, in mixed case, with white space around, or with their tail cut or grown.
      fc
        .tuple(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.mixedCase(fc.constant('P1.')), whiteSpace, whiteSpace, fc.integer({ min: -3, max: 3 }))
        .map(([b, prefix, before, after, grow]) => {
          b[0] = 1;
          b[1] = 1 + (b[1]! % 3);
          const body = base32Encode(b);
          return before + prefix + (grow < 0 ? body.slice(0, grow) : body + 'A'.repeat(grow)) + after;
        }),
      fc.string({ maxLength: 40 }).map((s) => 'P1.' + s + 'A'.repeat(MAX_SCAN_TEXT)),
    );
    fc.assert(
      fc.property(text, (scan) => {
        const decoded = decodeCredential(scan);
        if (decoded === undefined) return;
        const trimmed = scan.trim();
        expect(scan.length).toBeLessThanOrEqual(MAX_SCAN_TEXT);
        expect(trimmed.slice(0, 3).toUpperCase()).toBe('P1.');
        const bytes = Buffer.concat([decoded.signed, decoded.mac]);
        expect(bytes.length).toBe(CODE_BYTES);
        expect(bytes[0]).toBe(1);
        expect(Object.values(KINDS)).toContain(bytes[1]);
        expect(referenceBase32(bytes)).toBe(trimmed.slice(3).toUpperCase());
      }),
      params(3000),
    );
  });

  it('takes 40 bytes as a code exactly when the version byte is 1 and the kind is 1, 2 or 3', () => {
    const bytes = fc.tuple(fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 255 })), fc.oneof(fc.constantFrom(1, 2, 3), fc.integer({ min: 0, max: 255 })), fc.uint8Array({ minLength: 38, maxLength: 38 }));
    fc.assert(
      fc.property(bytes, ([version, kind, rest]) => {
        const raw = Buffer.concat([Buffer.from([version, kind]), rest]);
        const decoded = decodeCredential('P1.' + referenceBase32(raw));
        if (version !== 1 || ![1, 2, 3].includes(kind)) {
          expect(decoded).toBeUndefined();
          return;
        }
        expect(decoded).toBeDefined();
        expect(KINDS[decoded!.kind]).toBe(kind);
        expect(decoded!.issuer).toBe(raw.readUInt16BE(2));
        expect(decoded!.subject).toBe(raw.readBigUInt64BE(4));
        expect([decoded!.a, decoded!.b, decoded!.scope]).toEqual([raw.readUInt32BE(12), raw.readUInt32BE(16), raw.readUInt32BE(20)]);
        expect(Buffer.compare(decoded!.mac, raw.subarray(24))).toBe(0);
      }),
      params(1000),
    );
  });

  it('base32: encodes as RFC 4648 without padding, decodes back, and accepts one spelling per byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.string({ unit: fc.constantFrom(...BASE32, ...BASE32.toLowerCase(), '1', '=', ' '), maxLength: 20 }), (bytes, text) => {
        const encoded = base32Encode(bytes);
        expect(encoded).toBe(referenceBase32(bytes));
        expect(Buffer.compare(base32Decode(encoded)!, Buffer.from(bytes))).toBe(0);
        expect(Buffer.compare(base32Decode(encoded.toLowerCase())!, Buffer.from(bytes))).toBe(0);
        const decoded = base32Decode(text);
        // Accepted text is exactly the encoding of what it decodes to, up to case.
        if (decoded !== undefined) expect(base32Encode(decoded)).toBe(text.toUpperCase());
        else expect(/^[A-Z2-7]*$/i.test(text) && [0, 2, 4, 5, 7].includes(text.length % 8) && referenceBase32(referenceBytes(text)) === text.toUpperCase()).toBe(false);
      }),
      params(1500),
    );
  });
});

/** Bytes of base32 text by bits, dropping the leftover bits (for the canonical check above). */
function referenceBytes(text: string): Buffer {
  const bits = [...text.toUpperCase()].map((c) => BASE32.indexOf(c).toString(2).padStart(5, '0')).join('');
  const out: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) out.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(out);
}
