/**
 * Every case of test/fixtures/credential-vectors.json through the real Verifier on a real SQLite
 * store, each case on its own with fresh replay and throttle state, as the spec says.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openVectorSite, type VectorSite } from '../support/vectorSite.ts';
import { vectors } from '../support/vectors.ts';

describe('verifier against the shared vectors', () => {
  let site: VectorSite | undefined;
  afterEach(async () => {
    await site?.close();
    site = undefined;
  });

  vectors.cases.forEach((c, i) => {
    it(`case ${i + 1}: ${JSON.stringify(c.code.slice(0, 24))}… at ${c.door} → ${c.verdict}${c.note ? ` (${c.note})` : ''}`, async () => {
      site = await openVectorSite();
      const result = await site.verifier.verify({ text: c.code, door: c.door, scanner: 'scanner-1', now: c.now * 1000 });
      expect(result.outcome).toBe(c.verdict);
    });
  });

  it('grants a rotating code once per site: a second scan at any door is replayed', async () => {
    site = await openVectorSite();
    const { code, door, now } = vectors.replay;
    const first = await site.verifier.verify({ text: code, door, scanner: 'front-1', now: now * 1000 });
    const second = await site.verifier.verify({ text: code, door: 'lab', scanner: 'lab-1', now: now * 1000 + 5000 });
    const third = await site.verifier.verify({ text: code, door, scanner: 'front-1', now: now * 1000 + 6000 });
    expect([first.outcome, second.outcome, third.outcome]).toEqual(['grant', 'replayed', 'replayed']);
  });

  it('denies every vector code once its subject is revoked', async () => {
    site = await openVectorSite();
    const link = vectors.vectors[0]!;
    await site.store.revoke(0, String(link.subject), 'lost');
    const result = await site.verifier.verify({ text: link.code, door: 'front', scanner: 's', now: (link.not_before! + 10) * 1000 });
    expect(result).toMatchObject({ outcome: 'revoked', kind: 'link', issuer: 0, subject: '42' });
  });

  it('treats a removed partner as unknown-issuer', async () => {
    site = await openVectorSite();
    const partnerLink = vectors.vectors.find((v) => v.issuer === 17 && v.kind === 'link')!;
    await site.store.removePartner(17);
    const result = await site.verifier.verify({ text: partnerLink.code, door: 'front', scanner: 's', now: (partnerLink.not_before! + 100) * 1000 });
    expect(result.outcome).toBe('unknown-issuer');
  });
});
