import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../../controller/credentials/base32.ts';
import {
  decodeCredential,
  derivePartnerRotatingKey,
  encodeCredential,
  MAX_SCAN_TEXT,
  redactScan,
} from '../../controller/credentials/credentialCodec.ts';
import { vectors } from '../support/vectors.ts';

const keyFor = (v: (typeof vectors.vectors)[number]): Buffer => {
  if (v.kind === 'rotating') {
    return v.issuer === 0
      ? Buffer.from(vectors.credential_9001_secret, 'hex')
      : derivePartnerRotatingKey(Buffer.from(vectors.partner_17_secret, 'hex'), BigInt(v.subject));
  }
  return Buffer.from(v.issuer === 0 ? vectors.site_key : vectors.partner_17_secret, 'hex');
};

describe('credential codec against test/fixtures/credential-vectors.json', () => {
  for (const v of vectors.vectors) {
    it(`reproduces "${v.name}" byte for byte`, () => {
      const a = v.kind === 'rotating' ? v.step! : v.not_before!;
      const b = v.kind === 'rotating' ? 0 : v.not_after!;
      const code = encodeCredential({ kind: v.kind, issuer: v.issuer, subject: BigInt(v.subject), a, b, scope: v.scope }, keyFor(v));
      expect(code).toBe(v.code);
      const decoded = decodeCredential(v.code)!;
      expect(decoded).toMatchObject({ kind: v.kind, issuer: v.issuer, subject: BigInt(v.subject), a, b, scope: v.scope });
    });
  }

  it('derives the partner rotating secret of the vectors', () => {
    const v = vectors.vectors.find((x) => x.derived_secret)!;
    expect(derivePartnerRotatingKey(Buffer.from(vectors.partner_17_secret, 'hex'), BigInt(v.subject)).toString('hex')).toBe(v.derived_secret);
  });
});

describe('decodeCredential on anything else', () => {
  const site = vectors.vectors[0]!.code;
  it.each([
    ['empty', ''],
    ['white space', ' \r\n\t'],
    ['prefix only', 'P1.'],
    ['short', 'P1.AAAA'],
    ['wrong prefix', 'P2.' + site.slice(3)],
    ['a character outside base32', site.slice(0, -1) + '1'],
    ['one character too many', site + 'A'],
    ['100 KiB', 'P1.' + 'A'.repeat(100 * 1024)],
    ['binary', Buffer.from([0, 1, 2, 0xff, 0xfe]).toString('latin1')],
    ['invalid UTF-8 as replacement characters', Buffer.from([0x50, 0x31, 0x2e, 0xc3, 0x28]).toString('utf8')],
    ['control characters', 'P1.\u0000\u0007' + site.slice(5)],
  ])('%s is not a Postern code', (_, text) => {
    expect(decodeCredential(text)).toBeUndefined();
  });

  it('rejects a version byte other than 1 and unknown kinds', () => {
    const bytes = base32Decode(site.slice(3))!;
    expect(decodeCredential('P1.' + base32Encode(Buffer.concat([Buffer.from([2]), bytes.subarray(1)])))).toBeUndefined();
    expect(decodeCredential('P1.' + base32Encode(Buffer.concat([Buffer.from([1, 9]), bytes.subarray(2)])))).toBeUndefined();
  });

  it('caps the text before parsing', () => {
    expect(decodeCredential(' '.repeat(MAX_SCAN_TEXT) + site)).toBeUndefined();
    expect(decodeCredential(' '.repeat(MAX_SCAN_TEXT - site.length) + site)).toBeDefined();
  });

  it('never logs a whole code', () => {
    expect(redactScan(site)).not.toContain(site.slice(3, 20));
    expect(redactScan(site)).toMatch(/^P1\.AEA…\[67 chars\]$/);
  });
});

describe('base32', () => {
  it('round-trips every length and refuses non-canonical trailing bits', () => {
    for (let n = 0; n < 42; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
    expect(base32Decode('AB')).toBeUndefined(); // 'B' leaves a set bit past the last byte
  });
});
