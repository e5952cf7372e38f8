/**
 * Verifies scan text against shared/spec/credential-format.md, every check in the spec's order,
 * the first that fails giving the reason. The throttle is the exception: a scanner in lockout is
 * answered before any check, so a flood costs no key lookups and teaches an attacker nothing.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/storeTypes.ts';
import {
  computeMac,
  decodeCredential,
  derivePartnerRotatingKey,
  NO_END,
  timeStep,
  type CredentialKindName,
  type DecodedCredential,
} from './credentialCodec.ts';
import type { PartnerDirectory } from './partnerDirectory.ts';
import type { ScanThrottle } from './scanThrottle.ts';
import type { ScopeDirectory } from './scopeDirectory.ts';

export type DenyReason =
  | 'unknown-format'
  | 'bad-mac'
  | 'unknown-issuer'
  | 'not-yet-valid'
  | 'expired'
  | 'revoked'
  | 'out-of-scope'
  | 'replayed'
  | 'offline'
  | 'used-up'
  | 'throttled'
  | 'store-unavailable'
  | DelegatedDenial;

/** Why a webhook's decision is a denial: it said no, it did not answer in time, or its answer is no answer. */
export type DelegatedDenial = 'delegate-denied' | 'delegate-timeout' | 'delegate-error';

export type Outcome = 'grant' | DenyReason;

export interface Verification {
  outcome: Outcome;
  /** 'delegated': no Postern code, decided by a webhook */
  kind: CredentialKindName | 'unknown' | 'delegated';
  issuer: number | null;
  /** decimal subject id, null when the text is no Postern code */
  subject: string | null;
  scope: number | null;
  /** Delegated decisions: what the audit event records of the webhook's answer (no secret, no text). */
  delegation?: Record<string, unknown>;
}

/**
 * Decides text that is no Postern code by asking a partner's webhook (controller/delegation).
 * Returns undefined when no webhook decides this scanner's reads; the promise never rejects.
 */
export interface ScanDelegation {
  delegate(scan: ScanContext): Promise<{ outcome: 'grant' | DelegatedDenial; audit: Record<string, unknown> }> | undefined;
}

/** Live confirmation of an online-only link; the standalone hub answers from the store. */
export interface OnlineLinkConfirmer {
  confirm(issuer: number, subject: string): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted' | 'offline'>;
}

export interface VerifierDependencies {
  siteKey: Buffer;
  store: Pick<Store, 'getCredentialKey' | 'isRevoked' | 'markRotatingUse'>;
  partners: PartnerDirectory;
  scopes: ScopeDirectory;
  throttle: ScanThrottle;
  onlineLinks: OnlineLinkConfirmer;
  /** Scope that code scope 0 of the site issuer means (site file `site.defaultScope`). */
  siteDefaultScope: number | null;
  /** Text that is no Postern code goes here where a webhook is configured (shared spec, "Text form"). */
  delegation?: ScanDelegation;
}

export interface ScanContext {
  text: string;
  door: string;
  scanner: string;
  /** unix milliseconds */
  now: number;
}

export class Verifier {
  constructor(private readonly deps: VerifierDependencies) {}

  async verify(scan: ScanContext): Promise<Verification> {
    const { throttle } = this.deps;
    if (throttle.isLockedOut(scan.scanner, scan.now)) {
      return { outcome: 'throttled', kind: 'unknown', issuer: null, subject: null, scope: null };
    }
    const credential = decodeCredential(scan.text);
    let result: Verification;
    if (credential === undefined) {
      // Only text that is no Postern code is delegated; a Postern code failing a check keeps its own reason.
      const delegated = await this.deps.delegation?.delegate(scan);
      result = delegated
        ? { outcome: delegated.outcome, kind: 'delegated', issuer: null, subject: null, scope: null, delegation: delegated.audit }
        : { outcome: 'unknown-format', kind: 'unknown', issuer: null, subject: null, scope: null };
    } else {
      const outcome = await this.check(credential, scan).catch((): Outcome => 'store-unavailable');
      result = {
        outcome,
        kind: credential.kind,
        issuer: credential.issuer,
        subject: credential.subject.toString(),
        scope: credential.scope,
      };
    }
    if (result.outcome === 'grant') throttle.recordSuccess(scan.scanner);
    else throttle.recordFailure(scan.scanner, scan.now);
    return result;
  }

  private async check(credential: DecodedCredential, scan: ScanContext): Promise<Outcome> {
    const { store } = this.deps;
    const subject = credential.subject.toString();

    // 1. MAC under the issuer's key.
    const issuer = await this.issuerKey(credential, subject);
    if (issuer === 'unknown-issuer') return 'unknown-issuer';
    if (issuer === undefined || !macMatches(issuer.key, credential)) return 'bad-mac';

    // 2. Validity window.
    const nowSeconds = Math.floor(scan.now / 1000);
    if (credential.kind === 'rotating') {
      const step = timeStep(nowSeconds);
      if (credential.a < step - 1) return 'expired';
      if (credential.a > step + 1) return 'not-yet-valid';
    } else {
      if (nowSeconds < credential.a) return 'not-yet-valid';
      if (credential.b !== NO_END && nowSeconds > credential.b) return 'expired';
    }

    // 3. Revocation.
    if (await store.isRevoked(credential.issuer, subject)) return 'revoked';

    // 4. Scope.
    const scopeId = this.effectiveScope(credential, issuer);
    const doors = scopeId === undefined ? undefined : await this.deps.scopes.doorsOf(scopeId);
    if (doors === undefined || !doors.has(scan.door)) return 'out-of-scope';

    // 5. One use per step for rotating codes; live confirmation for online-only links.
    if (credential.kind === 'rotating') {
      if (!(await store.markRotatingUse(credential.issuer, subject, credential.a))) return 'replayed';
    } else if (credential.kind === 'online-link') {
      const answer = await this.deps.onlineLinks.confirm(credential.issuer, subject);
      if (answer === 'offline') return 'offline';
      if (answer === 'exhausted') return 'used-up';
      if (answer !== 'ok') return 'revoked';
    }
    return 'grant';
  }

  /**
   * The key a code's MAC must verify under, and the default scope it brings. undefined when the
   * issuer is known but has no key for this subject (an unknown rotating credential).
   */
  private async issuerKey(
    credential: DecodedCredential,
    subject: string,
  ): Promise<IssuerKey | 'unknown-issuer' | undefined> {
    if (credential.issuer === 0) {
      if (credential.kind !== 'rotating') return { key: this.deps.siteKey, defaultScope: this.deps.siteDefaultScope, allowedScopes: null };
      const held = await this.deps.store.getCredentialKey(subject);
      // A holder knows its own secret, so it may only ever name its own scope.
      return held && { key: held.secret, defaultScope: held.scope, allowedScopes: [held.scope] };
    }
    const partner = await this.deps.partners.get(credential.issuer);
    if (partner === undefined || !partner.enabled) return 'unknown-issuer';
    const key = credential.kind === 'rotating' ? derivePartnerRotatingKey(partner.secret, credential.subject) : partner.secret;
    return { key, defaultScope: partner.defaultScope, allowedScopes: partner.allowedScopes };
  }

  private effectiveScope(credential: DecodedCredential, issuer: IssuerKey): number | undefined {
    if (credential.scope === 0) return issuer.defaultScope ?? undefined;
    if (issuer.allowedScopes !== null && !issuer.allowedScopes.includes(credential.scope)) return undefined;
    return credential.scope;
  }
}

interface IssuerKey {
  key: Uint8Array;
  defaultScope: number | null;
  /** null: any scope of the site */
  allowedScopes: readonly number[] | null;
}

function macMatches(key: Uint8Array, credential: DecodedCredential): boolean {
  return timingSafeEqual(computeMac(key, credential.signed), credential.mac);
}
