/**
 * Links and credentials as people see them: with a status in one word and the scope they open by
 * name and doors. The API, the web UI and the command line all show these, so they say the same.
 *
 * The status checks go in the order a person asks: is it withdrawn, is it spent, and only then is
 * it in its window. The window follows the verifier's own rule (credentials/verifier.ts, step
 * "window"), so "active" means a scan now would pass that step.
 */
import { NO_END } from '../credentials/credentialCodec.ts';
import type { CredentialRecord, LinkRecord, Store } from '../store/storeTypes.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ScopeNames } from './scopeNames.ts';

export type LinkStatus = 'active' | 'not-yet-valid' | 'expired' | 'revoked' | 'used-up';
export type CredentialStatus = 'active' | 'revoked';

/** What a scope opens, as a link or credential shows it. */
interface ScopeShown {
  /** null when the scope is not (or no longer) one of the site's */
  scopeName: string | null;
  /** Door ids, in the site file's order. */
  doors: string[];
}

export interface LinkView extends LinkRecord, ScopeShown {
  status: LinkStatus;
}

export interface CredentialView extends CredentialRecord, ScopeShown {
  status: CredentialStatus;
}

export function linkStatus(link: LinkRecord, nowMs: number): LinkStatus {
  if (link.revokedAt !== null) return 'revoked';
  if (link.maxUses !== null && link.uses >= link.maxUses) return 'used-up';
  const nowSeconds = Math.floor(nowMs / 1000);
  if (nowSeconds < link.notBefore) return 'not-yet-valid';
  if (link.notAfter !== NO_END && nowSeconds > link.notAfter) return 'expired';
  return 'active';
}

export function credentialStatus(credential: CredentialRecord): CredentialStatus {
  return credential.revokedAt === null ? 'active' : 'revoked';
}

export class HolderViews {
  readonly scopes: ScopeNames;

  constructor(
    config: Pick<SiteConfig, 'scopes' | 'doors'>,
    store: Pick<Store, 'listDoorSets'>,
    private readonly clock: () => number = Date.now,
  ) {
    this.scopes = new ScopeNames(config, store);
  }

  async link(link: LinkRecord): Promise<LinkView> {
    return { ...link, ...(await this.#scopeShown(link.scope)), status: linkStatus(link, this.clock()) };
  }

  async credential(credential: CredentialRecord): Promise<CredentialView> {
    return { ...credential, ...(await this.#scopeShown(credential.scope)), status: credentialStatus(credential) };
  }

  async #scopeShown(scope: number): Promise<ScopeShown> {
    const named = await this.scopes.describe(scope);
    return { scopeName: named?.name ?? null, doors: named?.doors ?? [] };
  }
}
