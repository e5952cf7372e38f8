/**
 * Properties of the verifier (controller/credentials/verifier.ts) on a real SQLite store: every
 * verdict is the one the spec's rules give, in the spec's order (credential format, "Verdict
 * rules") and then the standalone site's confirmation policy, worked out here from the site's plain
 * data; altered codes are never granted.
 */
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeCredential,
  encodeCredential,
  NO_END,
  type CredentialFields,
  type CredentialKindName,
} from '../../controller/credentials/credentialCodec.ts';
import type { Outcome, Verifier } from '../../controller/credentials/verifier.ts';
import { params } from './propertyRuns.ts';
import { DOORS, openPropertySite, type PropertySite } from './propertySite.ts';

/** The reasons of the spec's verdict rules (and `unknown-format` of its text form). */
const SPEC_REASONS = ['unknown-format', 'bad-mac', 'unknown-issuer', 'not-yet-valid', 'expired', 'revoked', 'out-of-scope', 'replayed', 'offline', 'throttled'];

let site: PropertySite;
beforeAll(async () => {
  site = await openPropertySite();
});
afterAll(async () => {
  await site?.close();
});

/** Rotating codes granted so far: the store keeps their replay marks across cases, so does the model. */
const granted = new Set<string>();

type KeyChoice = 'right' | 'wrong' | 'confused';

interface Case {
  fields: CredentialFields;
  key: KeyChoice;
  door: string;
  nowMs: number;
  withDefault: boolean;
}

function partnerRotatingKey(secret: Buffer, subject: bigint): Buffer {
  const s = Buffer.alloc(8);
  s.writeBigUInt64BE(subject);
  return createHmac('sha256', secret).update(Buffer.from('postern/rotating/v1', 'ascii')).update(s).digest();
}

/** A key no one of the site holds, the same for the same fields (so that a seed replays a case exactly). */
function strangerKey(fields: CredentialFields): Buffer {
  return createHash('sha256').update(`stranger/${fields.kind}/${fields.issuer}/${fields.subject}`).digest();
}

/** The key the spec says a code is signed with ("Keys"), or a wrong one of the kinds implementations confuse. */
function keyFor(fields: CredentialFields, choice: KeyChoice): Buffer {
  if (choice === 'wrong') return strangerKey(fields);
  const subject = fields.subject.toString();
  const partner = site.partners.get(fields.issuer);
  if (fields.issuer === 0) {
    if (fields.kind !== 'rotating') return choice === 'right' ? site.siteKey : site.partners.get(17)!.secret;
    const own = site.credentials.get(subject)?.secret ?? strangerKey(fields);
    return choice === 'right' ? own : site.siteKey;
  }
  const secret = partner?.secret ?? strangerKey(fields);
  if (fields.kind !== 'rotating') return choice === 'right' ? secret : site.siteKey;
  // A partner's rotating code is signed with the derived key, never the partner secret itself.
  return choice === 'right' ? partnerRotatingKey(secret, fields.subject) : secret;
}

/** The spec's verdict rules, in order, on the site's plain data. */
function expectedOutcome(c: Case, record: boolean): Outcome {
  const { fields } = c;
  const subject = fields.subject.toString();
  // 1. MAC under the issuer's key; an unknown or disabled partner is unknown-issuer.
  let defaultScope: number | null;
  let allowed: number[] | null;
  if (fields.issuer === 0) {
    if (fields.kind === 'rotating') {
      const credential = site.credentials.get(subject);
      if (credential === undefined) return 'bad-mac';
      defaultScope = credential.scope;
      allowed = [credential.scope];
    } else {
      defaultScope = c.withDefault ? site.siteDefaultScope : null;
      allowed = null;
    }
  } else {
    const partner = site.partners.get(fields.issuer);
    if (partner === undefined || !partner.enabled) return 'unknown-issuer';
    defaultScope = partner.defaultScope;
    allowed = partner.allowedScopes;
  }
  if (c.key !== 'right') return 'bad-mac';
  // 2. Validity window.
  const now = Math.floor(c.nowMs / 1000);
  if (fields.kind === 'rotating') {
    const step = Math.floor(now / 15);
    if (fields.a < step - 1) return 'expired';
    if (fields.a > step + 1) return 'not-yet-valid';
  } else {
    if (now < fields.a) return 'not-yet-valid';
    if (fields.b !== NO_END && now > fields.b) return 'expired';
  }
  // 3. Revocation.
  if (site.revoked.has(`${fields.issuer}/${subject}`)) return 'revoked';
  // 4. Scope.
  const scope = fields.scope === 0 ? defaultScope : allowed === null || allowed.includes(fields.scope) ? fields.scope : null;
  const doors = scope === null ? undefined : site.scopes.get(scope);
  if (doors === undefined || !doors.has(c.door)) return 'out-of-scope';
  // 5. Replay of rotating codes.
  if (fields.kind === 'rotating') {
    const mark = `${fields.issuer}/${subject}/${fields.a}`;
    if (granted.has(mark)) return 'replayed';
    if (record) granted.add(mark);
  }
  // Then the site's policy: live confirmation of online-only links by the standalone hub, which
  // knows the site's own links (one it does not know is refused as revoked) and cannot ask a
  // partner (offline).
  if (fields.kind === 'online-link') {
    if (fields.issuer !== 0) return 'offline';
    if (!site.onlineLinks.has(subject)) return 'revoked';
  }
  return 'grant';
}

function verifierOf(c: Case): Verifier {
  return c.withDefault ? site.verifiers.withDefault : site.verifiers.withoutDefault;
}

const u32 = (n: number): number => Math.min(NO_END, Math.max(0, Math.trunc(n)));
const huge = fc.integer({ min: -(2 ** 32), max: 2 ** 32 });
/** Seconds from now to not-before (mostly past) and to not-after (mostly future), bounds included. */
const toNotBefore = fc.oneof(fc.constantFrom(-1, 0, 1), { weight: 3, arbitrary: fc.integer({ min: -90_000, max: 0 }) }, fc.integer({ min: -90_000, max: 90_000 }), huge);
const toNotAfter = fc.oneof(fc.constantFrom(-1, 0, 1), { weight: 3, arbitrary: fc.integer({ min: 0, max: 90_000 }) }, fc.integer({ min: -90_000, max: 90_000 }), huge);
const toStep = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -2, max: 2 }) }, fc.integer({ min: -(2 ** 31), max: 2 ** 31 }));
const nowSeconds = fc.integer({ min: 1_500_000_000, max: 2_100_000_000 });
const subjectArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0n, 7n, 1000n, 1001n, 5000n, 5001n, 5002n, 9001n, 9002n, 9003n) },
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);
const issuerArb = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(0, 17, 19) }, { weight: 1, arbitrary: fc.constantFrom(18, 20) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }) });
const scopeArb = (doorSet: number) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 9, doorSet, 5, doorSet + 1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: NO_END }) });
const doorArb = fc.constantFrom(...DOORS, 'nowhere');

/** A door, half the time one of the scope the code names (or of every scope when it names none). */
function doorFor(scope: number, door: string | number): string {
  if (typeof door === 'string') return door;
  const doors = [...(site.scopes.get(scope) ?? site.scopes.get(9)!)];
  return doors[door % doors.length]!;
}

function caseArb(): fc.Arbitrary<Case & { twice: boolean }> {
  return fc
    .record({
      kind: fc.constantFrom<CredentialKindName>('link', 'online-link', 'rotating'),
      issuer: issuerArb,
      subject: subjectArb,
      /** Site rotating codes: mostly of a credential the site has. */
      held: fc.constantFrom(undefined, 9001n, 9003n),
      now: nowSeconds,
      ms: fc.integer({ min: 0, max: 999 }),
      offA: toNotBefore,
      offB: fc.option(toNotAfter, { nil: undefined, freq: 4 }),
      stepOffset: toStep,
      scope: scopeArb(site.doorSetScope),
      key: fc.constantFrom<KeyChoice>('right', 'right', 'right', 'right', 'wrong', 'confused'),
      door: fc.oneof(doorArb, { weight: 2, arbitrary: fc.nat(10) }),
      withDefault: fc.boolean(),
      twice: fc.boolean(),
    })
    .map((r) => {
      const rotating = r.kind === 'rotating';
      const a = rotating ? u32(Math.floor(r.now / 15) + r.stepOffset) : u32(r.now + r.offA);
      const b = rotating ? 0 : r.offB === undefined ? NO_END : u32(r.now + r.offB);
      const subject = rotating && r.issuer === 0 ? (r.held ?? r.subject) : r.subject;
      return {
        fields: { kind: r.kind, issuer: r.issuer, subject, a, b, scope: r.scope },
        key: r.key,
        door: doorFor(r.scope, r.door),
        nowMs: r.now * 1000 + r.ms,
        withDefault: r.withDefault,
        twice: r.twice,
      };
    });
}

describe('verifier properties', () => {
  it('gives every code the verdict of the spec rules, the first failing rule naming the reason', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb(), async (c) => {
        const code = encodeCredential(c.fields, keyFor(c.fields, c.key));
        // Twice: a rotating code granted once is replayed; any other verdict stays the same.
        for (let i = 0; i < (c.twice ? 2 : 1); i++) {
          const want = expectedOutcome(c, true);
          const got = await verifierOf(c).verify({ text: code, door: c.door, scanner: site.nextScanner(), now: c.nowMs });
          // A rotating code's step comes back for its record (the durable mark of its use).
          const step = c.fields.kind === 'rotating' ? { step: c.fields.a } : {};
          expect(got).toEqual({ outcome: want, kind: c.fields.kind, issuer: c.fields.issuer, subject: c.fields.subject.toString(), scope: c.fields.scope, ...step });
        }
      }),
      params(1500),
    );
  });

  it('grants a valid link only at a door of its scope and inside its window, bounds included', async () => {
    const linkCase = fc
      .record({
        issuer: fc.constantFrom(0, 17, 19),
        kind: fc.constantFrom<CredentialKindName>('link', 'online-link'),
        subject: fc.bigInt({ min: 10_000n, max: 2n ** 64n - 1n }),
        notBefore: nowSeconds,
        length: fc.oneof(fc.constantFrom(0, 1, 59), fc.integer({ min: 0, max: 400_000 }), fc.constant(undefined)),
        // Seconds from not-before: the bounds and their neighbours most of all.
        at: fc.oneof(fc.constantFrom('before', 'start', 'end', 'after'), fc.integer({ min: -500_000, max: 500_000 })),
        ms: fc.integer({ min: 0, max: 999 }),
        scope: scopeArb(site.doorSetScope),
        door: fc.oneof(doorArb, fc.nat(10)),
        withDefault: fc.boolean(),
      })
      .map((r): Case & { inWindow: boolean; inScope: boolean; confirmable: boolean } => {
        const notAfter = r.length === undefined ? NO_END : r.notBefore + r.length;
        const end = r.length === undefined ? r.notBefore + 10 ** 6 : notAfter;
        const at = r.at === 'before' ? r.notBefore - 1 : r.at === 'start' ? r.notBefore : r.at === 'end' ? end : r.at === 'after' ? end + 1 : r.notBefore + r.at;
        const fields: CredentialFields = { kind: r.kind, issuer: r.issuer, subject: r.subject, a: r.notBefore, b: notAfter, scope: r.scope };
        const partner = site.partners.get(r.issuer);
        const scopeId = r.scope !== 0 ? (partner === undefined || partner.allowedScopes.includes(r.scope) ? r.scope : null) : partner ? partner.defaultScope : r.withDefault ? site.siteDefaultScope : null;
        const doors = scopeId === null ? undefined : site.scopes.get(scopeId);
        return {
          fields,
          key: 'right',
          door: doorFor(r.scope, r.door),
          nowMs: at * 1000 + r.ms,
          withDefault: r.withDefault,
          inWindow: r.notBefore <= at && (notAfter === NO_END || at <= notAfter),
          inScope: doors?.has(doorFor(r.scope, r.door)) ?? false,
          // The standalone hub cannot confirm a partner's online-only code (offline).
          confirmable: r.kind === 'link' || r.issuer === 0,
        };
      })
      // Online-only links of the site issuer are granted only when the hub knows them (the model test covers them).
      .filter((c) => !(c.fields.kind === 'online-link' && c.fields.issuer === 0));
    await fc.assert(
      fc.asyncProperty(linkCase, async (c) => {
        const code = encodeCredential(c.fields, keyFor(c.fields, 'right'));
        const { outcome } = await verifierOf(c).verify({ text: code, door: c.door, scanner: site.nextScanner(), now: c.nowMs });
        expect(outcome === 'grant').toBe(c.inWindow && c.inScope && c.confirmable);
        if (!c.inWindow) expect(['not-yet-valid', 'expired']).toContain(outcome);
        else if (!c.inScope) expect(outcome).toBe('out-of-scope');
        else if (!c.confirmable) expect(outcome).toBe('offline');
      }),
      params(800),
    );
  });

  it('never grants a code with one character changed, dropped or added, or cut short or made longer', async () => {
    const VALID = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const validCase = fc
      .record({
        pick: fc.constantFrom('site-link', 'online-link', 'partner-link', 'partner-rotating', 'site-rotating'),
        subject: fc.bigInt({ min: 10_000n, max: 2n ** 64n - 1n }),
        now: nowSeconds,
        ms: fc.integer({ min: 0, max: 999 }),
      })
      .map(({ pick, subject, now, ms }): Case => {
        const step = Math.floor(now / 15);
        const [kind, issuer, s, a, b, scope]: [CredentialKindName, number, bigint, number, number, number] =
          pick === 'site-link' ? ['link', 0, subject, now - 60, now + 60, 2]
          : pick === 'online-link' ? ['online-link', 0, 5000n, now - 60, NO_END, 0]
          : pick === 'partner-link' ? ['link', 17, subject, now, now, 4]
          : pick === 'partner-rotating' ? ['rotating', 17, subject, step, 0, 0]
          : ['rotating', 0, 9001n, step, 0, 2];
        // A door of each code's scope: site 2 and credential 9001's 2 hold front, partner 17's 4 back, its default 3 lab.
        const door = issuer === 0 ? 'front' : kind === 'rotating' ? 'lab' : 'back';
        return { fields: { kind, issuer, subject: s, a, b, scope }, key: 'right', door, nowMs: now * 1000 + ms, withDefault: true };
      });
    const char = fc.oneof(fc.constantFrom(...VALID, ...VALID.toLowerCase(), '.', '0', '1', '8', '9', '=', '-'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
    const edit = fc.oneof(
      fc.record({ op: fc.constant('replace' as const), at: fc.nat(66), char }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(66) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(67), char }),
      fc.record({ op: fc.constant('swap' as const), at: fc.nat(65) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat(66) }),
      fc.record({ op: fc.constant('drop-front' as const), at: fc.integer({ min: 1, max: 67 }) }),
      fc.record({ op: fc.constant('extend' as const), text: fc.string({ unit: char, minLength: 1, maxLength: 8 }), front: fc.boolean() }),
    );
    type Edit = { op: string; at?: number; char?: string; text?: string; front?: boolean };
    const apply = (code: string, e: Edit): string => {
      const at = e.at ?? 0;
      switch (e.op) {
        case 'replace': return code.slice(0, at) + e.char + code.slice(at + 1);
        case 'delete': return code.slice(0, at) + code.slice(at + 1);
        case 'insert': return code.slice(0, at) + e.char + code.slice(at);
        case 'swap': return code.slice(0, at) + code[at + 1] + code[at] + code.slice(at + 2);
        case 'truncate': return code.slice(0, at);
        case 'drop-front': return code.slice(at);
        default: return e.front ? e.text + code : code + e.text;
      }
    };
    await fc.assert(
      fc.asyncProperty(validCase, fc.array(edit, { minLength: 1, maxLength: 6 }), async (c, edits) => {
        const code = encodeCredential(c.fields, keyFor(c.fields, 'right'));
        const verify = (text: string) => site.verifiers.withDefault.verify({ text, door: c.door, scanner: site.nextScanner(), now: c.nowMs });
        // The code itself, and in another case with white space around it, is granted (once per step if rotating).
        expect((await verify(code)).outcome).toBe(expectedOutcome(c, true));
        expect((await verify(`  ${code.toLowerCase()}\r\n`)).outcome).toBe(c.fields.kind === 'rotating' ? 'replayed' : 'grant');
        for (const e of edits) {
          const altered = apply(code, e);
          // Changes that leave the code the same are not changes: case, and white space around it.
          if (altered.trim().toUpperCase() === code) continue;
          const decoded = decodeCredential(altered);
          const partner = decoded && site.partners.get(decoded.issuer);
          const want = decoded === undefined ? 'unknown-format' : decoded.issuer !== 0 && !partner?.enabled ? 'unknown-issuer' : 'bad-mac';
          const { outcome } = await verify(altered);
          expect(SPEC_REASONS).toContain(outcome);
          expect({ altered, outcome }).toEqual({ altered, outcome: want });
        }
      }),
      params(300),
    );
  });

  it('throttles a scanner on its own failures only: its verdicts are the same whatever other scanners see', async () => {
    const options = { maxFailures: 3, windowMs: 1000, lockoutMs: 500, maxLockoutMs: 4000 };
    const scan = fc.record({
      scanner: fc.constantFrom('a', 'a', 'b', 'c'),
      valid: fc.constantFrom(true, false, false),
      // Milliseconds since the previous scan, around the throttle's window and lockouts.
      gap: fc.oneof(fc.constantFrom(0, 1, 499, 500, 999, 1000, 1001), { weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }) }, fc.integer({ min: 0, max: 5000 })),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(scan, { minLength: 1, maxLength: 30 }), nowSeconds, async (scans, start) => {
        const subject = 70_000n;
        const valid = encodeCredential({ kind: 'link', issuer: 0, subject, a: start - 10, b: NO_END, scope: 2 }, site.siteKey);
        let t = start * 1000;
        const timed = scans.map((s) => ({ ...s, at: (t += s.gap) }));
        const run = async (list: typeof timed) => {
          const verifier = site.verifierWithThrottle(options);
          const outcomes: Outcome[] = [];
          for (const s of list) outcomes.push((await verifier.verify({ text: s.valid ? valid : 'NOT-A-CODE', door: 'front', scanner: s.scanner, now: s.at })).outcome);
          return outcomes;
        };
        const together = await run(timed);
        for (const scanner of ['a', 'b', 'c']) {
          const own = timed.filter((s) => s.scanner === scanner);
          const alone = await run(own);
          expect({ scanner, outcomes: together.filter((_, i) => timed[i]!.scanner === scanner) }).toEqual({ scanner, outcomes: alone });
          // Throttled only after maxFailures failures of its own, never longer than maxLockoutMs after
          // the last; and surely (for lockoutMs at least) once maxFailures came within windowMs.
          let failures = 0;
          let lastFailure = -Infinity;
          let recent: number[] = [];
          let lockedUntil = -Infinity;
          own.forEach((s, i) => {
            if (alone[i] === 'throttled') {
              expect(failures).toBeGreaterThanOrEqual(options.maxFailures);
              expect(s.at - lastFailure).toBeLessThan(options.maxLockoutMs);
              return;
            }
            expect({ at: s.at, lockedUntil, outcome: alone[i] }).toEqual({ at: s.at, lockedUntil, outcome: s.at < lockedUntil ? 'throttled' : s.valid ? 'grant' : 'unknown-format' });
            if (alone[i] === 'grant') recent = [];
            else {
              failures++;
              lastFailure = s.at;
              recent = [...recent.filter((t) => t > s.at - options.windowMs), s.at];
              if (recent.length >= options.maxFailures) {
                lockedUntil = s.at + options.lockoutMs;
                recent = [];
              }
            }
          });
        }
      }),
      params(150),
    );
  });
});
