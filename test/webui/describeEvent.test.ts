/**
 * The feed's one-line descriptions of audit events (webui/src/format.js), for the kinds of decision
 * security staff see: Postern codes, codes of partners, and codes a partner's webhook decided; with
 * the holder's name beside its id where the controller knows it. Also the feed's live filter
 * (matchesFilter), which must keep what audit.query's filter would answer, and the links' status.
 */
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript of the web UI, without type declarations
import { describeEvent, holderTerms, linkStatus, statusWord } from '../../webui/src/format.js';
// @ts-expect-error plain JavaScript of the web UI, without type declarations
import { filterParams, matchesFilter } from '../../webui/src/connection.js';

describe('describeEvent', () => {
  it('names the code and its issuer', () => {
    expect(describeEvent({ type: 'decision', verdict: 'grant', kind: 'link', subject: '42', issuer: 0 })).toBe('granted: link 42');
    expect(describeEvent({ type: 'decision', verdict: 'deny', reason: 'out-of-scope', kind: 'rotating', subject: '9', issuer: 17 })).toBe('denied: out-of-scope, rotating 9 (partner 17)');
    expect(describeEvent({ type: 'decision', verdict: 'deny', reason: 'unknown-format', kind: 'unknown', subject: null, data: { length: 12 } })).toBe('denied: unknown-format');
  });

  it("names the holder beside the id, and a partner's code after the partner", () => {
    const grant = { type: 'decision', verdict: 'grant', kind: 'link', subject: '281474976710655', issuer: 0, holder: 'Ada Lovelace', partner: null };
    expect(describeEvent(grant)).toBe('granted: Ada Lovelace (link 281474976710655)');
    expect(describeEvent({ ...grant, verdict: 'deny', reason: 'revoked' })).toBe('denied: revoked, Ada Lovelace (link 281474976710655)');
    expect(describeEvent({ ...grant, kind: 'rotating', subject: '77', holder: 'Grace Member' })).toBe('granted: Grace Member (rotating 77)');
    // Without a name: as before the names.
    expect(describeEvent({ ...grant, holder: null })).toBe('granted: link 281474976710655');
    const partner = { type: 'decision', verdict: 'grant', kind: 'rotating', subject: '555', issuer: 17, holder: null, partner: 'Acme Cleaning' };
    expect(describeEvent(partner)).toBe('granted: Acme Cleaning, subject 555 (partner 17)');
    expect(describeEvent({ ...partner, verdict: 'deny', reason: 'revoked' })).toBe('denied: revoked, Acme Cleaning, subject 555 (partner 17)');
    expect(describeEvent({ ...partner, partner: null })).toBe('granted: rotating 555 (partner 17)');
  });

  it("shows what a partner's webhook said: the holder it named and why", () => {
    const grant = { type: 'decision', verdict: 'grant', kind: 'delegated', subject: null, data: { length: 14, delegation: { status: 200, subjectName: 'Ada Ticket', reason: 'match day' } } };
    expect(describeEvent(grant)).toBe('granted: partner webhook: Ada Ticket (match day)');
    // The webhook's own name for the holder stays, whatever else is known; the partner is named.
    expect(describeEvent({ ...grant, holder: 'Ada Ticket', partner: 'Tickets Inc', issuer: 12 })).toBe('granted: Tickets Inc webhook: Ada Ticket (match day)');
    const timeout = { type: 'decision', verdict: 'deny', reason: 'delegate-error', kind: 'delegated', subject: null, data: { length: 14, delegation: { detail: 'bad-signature' } } };
    expect(describeEvent(timeout)).toBe('denied: delegate-error, partner webhook (bad-signature)');
  });

  it('names whose link or subject an operator action was about', () => {
    expect(describeEvent({ type: 'operator', reason: 'link.revoke', subject: '42', issuer: 0, holder: 'Ada Lovelace', actor: 'user:ada', data: null })).toBe('link.revoke Ada Lovelace (42) by user:ada');
    expect(describeEvent({ type: 'operator', reason: 'link.revoke', subject: '42', issuer: 0, holder: null, actor: 'user:ada', data: null })).toBe('link.revoke 42 by user:ada');
    expect(describeEvent({ type: 'operator', reason: 'partner.revokeSubject', subject: '555', issuer: 17, holder: null, partner: 'Acme Cleaning', actor: 'cli:root', data: null })).toBe(
      'partner.revokeSubject Acme Cleaning, subject 555 (partner 17) by cli:root',
    );
    expect(describeEvent({ type: 'operator', reason: 'door.unlock', subject: null, holder: null, actor: 'user:otto', data: { seconds: 5 } })).toBe('door.unlock 5 s by user:otto');
  });
});

describe('the feed filter by holder', () => {
  const filter = { door: '', verdict: '', subject: '', holder: '' };
  const ada = { type: 'decision', door: 'lab', verdict: 'grant', kind: 'link', subject: '42', issuer: 0, holder: 'Ada Lovelace', partner: null };

  it('takes digits for an id and other text for part of a name', () => {
    expect(holderTerms(' 42 ')).toEqual({ subject: '42', holder: '' });
    expect(holderTerms('love')).toEqual({ subject: '', holder: 'love' });
    expect(holderTerms('Room 42')).toEqual({ subject: '', holder: 'Room 42' });
    expect(holderTerms('  ')).toEqual({ subject: '', holder: '' });
    expect(filterParams({ ...filter, holder: 'love' })).toEqual({ holder: 'love' });
    expect(filterParams({ ...filter, subject: '42' })).toEqual({ subject: '42' });
  });

  it("keeps a live event whose site holder's name contains the text, whatever its case", () => {
    expect(matchesFilter(ada, { ...filter, holder: 'LOVE' })).toBe(true);
    expect(matchesFilter(ada, { ...filter, holder: 'grace' })).toBe(false);
    expect(matchesFilter({ ...ada, holder: null }, { ...filter, holder: 'love' })).toBe(false);
    expect(matchesFilter(ada, { ...filter, holder: 'love', door: 'front' })).toBe(false);
    // audit.query's holder is a site link's or credential's: not a webhook's name, nor a partner's code.
    const delegated = { type: 'decision', verdict: 'grant', kind: 'delegated', subject: null, issuer: 12, holder: 'Ada Ticket', data: { delegation: { subjectName: 'Ada Ticket' } } };
    expect(matchesFilter(delegated, { ...filter, holder: 'ada' })).toBe(false);
    expect(matchesFilter({ ...ada, issuer: 17, holder: 'Ada' }, { ...filter, holder: 'ada' })).toBe(false);
  });
});

describe('link status', () => {
  const now = 1_800_000_000_000;
  const link = { notBefore: now / 1000 - 60, notAfter: now / 1000 + 60, revokedAt: null, maxUses: null, uses: 0 };
  it("takes the controller's word, else works it out", () => {
    expect(linkStatus({ ...link, status: 'used-up' }, now)).toBe('used-up');
    expect(linkStatus(link, now)).toBe('active');
    expect(linkStatus({ ...link, notBefore: now / 1000 + 10 }, now)).toBe('not-yet-valid');
    expect(linkStatus({ ...link, notAfter: now / 1000 - 10 }, now)).toBe('expired');
    expect(linkStatus({ ...link, notAfter: 4294967295 }, now)).toBe('active');
    expect(linkStatus({ ...link, revokedAt: now }, now)).toBe('revoked');
    expect(linkStatus({ ...link, maxUses: 2, uses: 2 }, now)).toBe('used-up');
    // In docs/api.md's order: used up before out of its window.
    expect(linkStatus({ ...link, maxUses: 1, uses: 1, notAfter: now / 1000 - 10 }, now)).toBe('used-up');
    expect(linkStatus({ ...link, revokedAt: now, maxUses: 1, uses: 1 }, now)).toBe('revoked');
    expect(['active', 'not-yet-valid', 'expired', 'revoked', 'used-up'].map(statusWord)).toEqual(['active', 'not yet valid', 'expired', 'revoked', 'used up']);
  });
});
