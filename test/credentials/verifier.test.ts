import { afterEach, describe, expect, it } from 'vitest';
import { encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import { openVectorSite, type VectorSite } from '../support/vectorSite.ts';
import { vectors } from '../support/vectors.ts';

const siteKey = Buffer.from(vectors.site_key, 'hex');
const NOW = 1_767_225_610_000;
const nowSeconds = Math.floor(NOW / 1000);

function siteLink(subject: bigint, scope: number, kind: 'link' | 'online-link' = 'link'): string {
  return encodeCredential({ kind, issuer: 0, subject, a: nowSeconds - 60, b: nowSeconds + 3600, scope }, siteKey);
}

describe('verifier beyond the vectors', () => {
  let site: VectorSite | undefined;
  afterEach(async () => {
    await site?.close();
    site = undefined;
  });

  it('throttles repeated failures on one scanner without slowing valid codes on another', async () => {
    site = await openVectorSite({ throttle: { maxFailures: 3, windowMs: 10_000, lockoutMs: 5_000, maxLockoutMs: 60_000 } });
    const valid = siteLink(1n, 7);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) outcomes.push((await site.verifier.verify({ text: `garbage-${i}`, door: 'front', scanner: 'attacked', now: NOW + i })).outcome);
    expect(outcomes).toEqual(['unknown-format', 'unknown-format', 'unknown-format', 'throttled']);
    // While locked out, even a valid code on that scanner is refused: the lockout answers first.
    expect((await site.verifier.verify({ text: valid, door: 'front', scanner: 'attacked', now: NOW + 10 })).outcome).toBe('throttled');
    expect((await site.verifier.verify({ text: valid, door: 'front', scanner: 'other', now: NOW + 10 })).outcome).toBe('grant');
    // After the lockout the scanner decides again.
    expect((await site.verifier.verify({ text: valid, door: 'front', scanner: 'attacked', now: NOW + 5_100 })).outcome).toBe('grant');
  });

  it('confirms online-only links live and counts their uses', async () => {
    site = await openVectorSite();
    await site.store.createLink({ id: '500', name: 'once', email: null, scope: 7, notBefore: nowSeconds - 60, notAfter: nowSeconds + 3600, onlineOnly: true, maxUses: 1, createdBy: 'test' });
    const code = siteLink(500n, 7, 'online-link');
    expect((await site.verifier.verify({ text: code, door: 'front', scanner: 'a', now: NOW })).outcome).toBe('grant');
    expect((await site.verifier.verify({ text: code, door: 'front', scanner: 'b', now: NOW })).outcome).toBe('used-up');
    const unknown = siteLink(501n, 7, 'online-link');
    expect((await site.verifier.verify({ text: unknown, door: 'front', scanner: 'c', now: NOW })).outcome).toBe('revoked');
  });

  it('opens exactly the doors of a door set made for a link', async () => {
    site = await openVectorSite();
    const scope = await site.store.doorSetScope(['store', 'lab']);
    const code = siteLink(600n, scope);
    expect((await site.verifier.verify({ text: code, door: 'store', scanner: 'a', now: NOW })).outcome).toBe('grant');
    expect((await site.verifier.verify({ text: code, door: 'lab', scanner: 'a', now: NOW })).outcome).toBe('grant');
    expect((await site.verifier.verify({ text: code, door: 'front', scanner: 'a', now: NOW })).outcome).toBe('out-of-scope');
    expect((await site.verifier.verify({ text: siteLink(601n, 0x4fff_ffff), door: 'front', scanner: 'b', now: NOW })).outcome).toBe('out-of-scope');
  });

  it('lets a rotating credential name only its own scope, and a partner only its allowed ones', async () => {
    site = await openVectorSite();
    const secret = Buffer.from(vectors.credential_9001_secret, 'hex');
    const step = timeStep(nowSeconds);
    const otherScope = encodeCredential({ kind: 'rotating', issuer: 0, subject: 9001n, a: step, b: 0, scope: 3 }, secret);
    expect((await site.verifier.verify({ text: otherScope, door: 'front', scanner: 'a', now: NOW })).outcome).toBe('out-of-scope');
    const partnerSecret = Buffer.from(vectors.partner_17_secret, 'hex');
    const partnerScope7 = encodeCredential({ kind: 'link', issuer: 17, subject: 9n, a: nowSeconds - 1, b: nowSeconds + 60, scope: 7 }, partnerSecret);
    expect((await site.verifier.verify({ text: partnerScope7, door: 'front', scanner: 'b', now: NOW })).outcome).toBe('out-of-scope');
    const unknownPartner = encodeCredential({ kind: 'link', issuer: 18, subject: 9n, a: nowSeconds - 1, b: nowSeconds + 60, scope: 3 }, partnerSecret);
    expect((await site.verifier.verify({ text: unknownPartner, door: 'front', scanner: 'c', now: NOW })).outcome).toBe('unknown-issuer');
    const unknownCredential = encodeCredential({ kind: 'rotating', issuer: 0, subject: 9002n, a: step, b: 0, scope: 0 }, secret);
    expect((await site.verifier.verify({ text: unknownCredential, door: 'front', scanner: 'd', now: NOW })).outcome).toBe('bad-mac');
  });

  it('denies with store-unavailable when the store is gone, and keeps deciding', async () => {
    site = await openVectorSite();
    await site.store.stop();
    const link = siteLink(700n, 7);
    expect((await site.verifier.verify({ text: link, door: 'front', scanner: 'a', now: NOW })).outcome).toBe('store-unavailable');
    // A code that needs no store is still judged on its own.
    expect((await site.verifier.verify({ text: 'not a code', door: 'front', scanner: 'a', now: NOW })).outcome).toBe('unknown-format');
  });
});
