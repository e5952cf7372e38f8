/**
 * The badge page's code generator (webui/badge/rotatingCode.js, plain browser JS on WebCrypto),
 * run under Node against the shared vectors and the server's own encoder.
 */
import { describe, expect, it } from 'vitest';
import { encodeCredential, timeStep as serverTimeStep } from '../../controller/credentials/credentialCodec.ts';
import { base32, importSecret, rotatingCode, secondsLeft, timeStep } from '../../webui/badge/rotatingCode.js';
import { vectors } from '../support/vectors.ts';

describe('badge rotating code (webui/badge/rotatingCode.js)', () => {
  it('gives exactly the "rotating badge" vector for credential 9001', async () => {
    const vector = vectors.vectors.find((v) => v.name === 'rotating badge')!;
    expect(vector.subject).toBe(9001);
    expect(await rotatingCode(String(vector.subject), vectors.credential_9001_secret, vector.generated_at!)).toBe(vector.code);
  });

  it('accepts an imported key as well as the hex secret', async () => {
    const vector = vectors.vectors.find((v) => v.name === 'rotating badge')!;
    const key = await importSecret(vectors.credential_9001_secret);
    expect(await rotatingCode('9001', key, vector.generated_at!)).toBe(vector.code);
  });

  it('agrees with the server encoder for other ids, secrets and times', async () => {
    for (const [id, secretHex, at] of [
      ['1', '00'.repeat(32), 0],
      ['18446744073709551615', 'ff'.repeat(32), 1_767_226_614.999],
      ['281474976710655', '5ec7e7'.repeat(10) + '5ec7', 4_000_000_000],
    ] as const) {
      const expected = encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(id), a: serverTimeStep(at), b: 0, scope: 0 }, Buffer.from(secretHex, 'hex'));
      expect(await rotatingCode(id, secretHex, at)).toBe(expected);
    }
  });

  it('changes every 15 s and counts down', () => {
    expect(timeStep(1_767_226_600)).toBe(117_815_106);
    expect(timeStep(1_767_226_604.9)).toBe(117_815_106);
    expect(timeStep(1_767_226_605)).toBe(117_815_107);
    expect(secondsLeft(1_767_226_605)).toBe(15);
    expect(secondsLeft(1_767_226_619.5)).toBe(1);
  });

  it('encodes base32 as RFC 4648 does', () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(base32(ascii(''))).toBe('');
    expect(base32(ascii('f'))).toBe('MY');
    expect(base32(ascii('foobar'))).toBe('MZXW6YTBOI');
  });

  it('refuses a secret that is not 32 bytes of hex', async () => {
    await expect(rotatingCode('9001', 'abc', 0)).rejects.toThrow(/hex/);
    await expect(rotatingCode('9001', '00'.repeat(16), 0)).rejects.toThrow(/32 bytes/);
  });
});
