/**
 * Verifies scan text against docs/credential-format.md, every check in the spec's order,
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
import type { ReplayGuard } from './replayGuard.ts';
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
  /** A rotating code's time step: its grant's record keeps it, so a restart knows the step is used. */
  step?: number;
}

/**
 * Decides text that is no Postern code by asking a partner's webhook (controller/delegation).
 * Returns undefined when no webhook decides this scanner's reads; the promise never rejects.
 */
export interface ScanDelegation {
  delegate(scan: ScanContext): Promise<{ outcome: 'grant' | DelegatedDenial; audit: Record<string, unknown> }> | undefined;
}

/** Live confirmation of an online-only link: the hub's (hubConfirmer.ts), or on a standalone site the store's (localHub.ts). */
export interface OnlineLinkConfirmer {
  confirm(issuer: number, subject: string): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted' | 'offline'>;
}

export interface VerifierDependencies {
  siteKey: Buffer;
  store: Pick<Store, 'getCredentialKey' | 'isRevoked'>;
  /** Single use of rotating codes (replayGuard.ts). */
  replay: Pick<ReplayGuard, 'claim'>;
  partners: PartnerDirectory;
  scopes: ScopeDirectory;
  throttle: ScanThrottle;
  onlineLinks: OnlineLinkConfirmer;
  /** Scope that code scope 0 of the site issuer means (site file `site.defaultScope`). */
  siteDefaultScope: number | null;
  /** Text that is no Postern code goes here where a webhook is configured (docs/credential-format.md, "Text form"). */
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
        ...(credential.kind === 'rotating' ? { step: credential.a } : {}),
      };
    }
    if (result.outcome === 'grant') throttle.recordSuccess(scan.scanner);
    else throttle.recordFailure(scan.scanner, scan.now);
    return result;
  }

  /**
   * The checks in order, each a named step: the format's own (spec) checks, then the site's policy
   * steps. The first step that answers decides; a code no step refuses is granted.
   */
  private async check(credential: DecodedCredential, scan: ScanContext): Promise<Outcome> {
    const subject = credential.subject.toString();
    const issuer = await this.issuerKey(credential, subject);
    const context: StepContext = { credential, subject, scan, issuer };
    for (const step of [...this.specSteps, ...this.policySteps]) {
      const outcome = await step.check(context);
      if (outcome !== undefined) return outcome;
    }
    return 'grant';
  }

  /** The credential format's checks, in the order docs/credential-format.md gives them. */
  private readonly specSteps: readonly DecisionStep[] = [
    {
      name: 'mac',
      check: ({ credential, issuer }) => {
        if (issuer === 'unknown-issuer') return 'unknown-issuer';
        if (issuer === undefined || !macMatches(issuer.key, credential)) return 'bad-mac';
        return undefined;
      },
    },
    {
      name: 'window',
      check: ({ credential, scan }) => {
        const nowSeconds = Math.floor(scan.now / 1000);
        if (credential.kind === 'rotating') {
          const step = timeStep(nowSeconds);
          if (credential.a < step - 1) return 'expired';
          if (credential.a > step + 1) return 'not-yet-valid';
          return undefined;
        }
        if (nowSeconds < credential.a) return 'not-yet-valid';
        if (credential.b !== NO_END && nowSeconds > credential.b) return 'expired';
        return undefined;
      },
    },
    {
      name: 'revocation',
      check: async ({ credential, subject }) => ((await this.deps.store.isRevoked(credential.issuer, subject)) ? 'revoked' : undefined),
    },
    {
      name: 'scope',
      check: async ({ credential, issuer, scan }) => {
        const scopeId = typeof issuer === 'object' ? this.effectiveScope(credential, issuer) : undefined;
        const doors = scopeId === undefined ? undefined : await this.deps.scopes.doorsOf(scopeId);
        return doors === undefined || !doors.has(scan.door) ? 'out-of-scope' : undefined;
      },
    },
    {
      // One use per time step for rotating codes; a code an earlier check refuses claims nothing.
      name: 'replay',
      check: ({ credential, subject, scan }) =>
        credential.kind === 'rotating' && !this.deps.replay.claim({ issuer: credential.issuer, subject, step: credential.a }, scan.now) ? 'replayed' : undefined,
    },
  ];

  /**
   * The site's own steps after the format's. Live confirmation of online-only codes is the first,
   * one step whoever confirms: a site with a hub asks it (hubConfirmer.ts: it counts the uses of
   * every controller of the site, and a partner's code once per site; with the link down the answer
   * is `offline` at once); on a standalone site the local hub confirms (and counts) the site's own
   * links from the store, and has no way to confirm a partner's, so those are denied `offline`.
   * Schedules, anti-passback and the hub's confirmation of other kinds come here as further steps.
   */
  private readonly policySteps: readonly DecisionStep[] = [
    {
      name: 'confirmation',
      check: async ({ credential, subject }) => {
        if (credential.kind !== 'online-link') return undefined;
        const answer = await this.deps.onlineLinks.confirm(credential.issuer, subject);
        if (answer === 'ok') return undefined;
        if (answer === 'offline') return 'offline';
        if (answer === 'exhausted') return 'used-up';
        return 'revoked';
      },
    },
  ];

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

/** What a step sees of the read: the decoded code, its issuer's key (or why there is none), the scan. */
interface StepContext {
  credential: DecodedCredential;
  subject: string;
  scan: ScanContext;
  issuer: IssuerKey | 'unknown-issuer' | undefined;
}

/** One named check of the decision; undefined lets the read go on to the next step. */
export interface DecisionStep {
  name: string;
  check(context: StepContext): Outcome | undefined | Promise<Outcome | undefined>;
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
