/**
 * Online-only codes (kind 3) confirmed live with the hub, for a controller whose site file has
 * `hub` (docs/sync.md, "Confirmations"; docs/credential-format.md, step 7). The hub counts the uses
 * of every controller of the site, so a link of "2 entries" opens two doors in all, at any of them;
 * a partner's online-only code is confirmed once per site.
 *
 * Deny by default, and never slowly when the link is down:
 * - no link open (not welcomed, or closed) → `offline` at once, without waiting for anything;
 * - a link of the site (issuer 0) this controller holds and revoked → `revoked` without asking; one
 *   it holds goes with its limit (what is left of it: uses counted here before the site had a hub
 *   stay used), so the hub learns it; one it does not hold goes without (the hub knows it from the
 *   controller that made it, or answers `unknown`);
 * - no answer within the hard timeout (1 s, the store read included) → `offline`; `busy` → `offline`.
 *
 * The hub is the record of the uses: the local link's `uses` is not moved here (it keeps what was
 * counted while the site was standalone).
 */
import type { OnlineLinkConfirmer } from '../credentials/verifier.ts';
import type { Store } from '../store/storeTypes.ts';
import { settleWithin } from '../settleWithin.ts';
import type { HubRequests } from '../sync/hubRequests.ts';

type Answer = Awaited<ReturnType<OnlineLinkConfirmer['confirm']>>;

export interface HubConfirmerDependencies {
  requests: Pick<HubRequests, 'open' | 'confirm'>;
  store: Pick<Store, 'getLink'>;
  /** The hard timeout of a confirmation, in ms (default 1000: docs/credential-format.md). */
  timeoutMs?: number;
  clock?: () => number;
}

export class HubConfirmer implements OnlineLinkConfirmer {
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly deps: HubConfirmerDependencies) {
    this.timeoutMs = deps.timeoutMs ?? 1000;
    // A monotonic clock: the deadline must not move with the wall clock.
    this.clock = deps.clock ?? (() => performance.now());
  }

  async confirm(issuer: number, subject: string): Promise<Answer> {
    const { requests } = this.deps;
    if (!requests.open) return 'offline';
    const deadline = this.clock() + this.timeoutMs;
    let maxUses: number | null | undefined;
    if (issuer === 0) {
      const held = await this.localLink(subject);
      if (held === 'timeout') return 'offline';
      if (held !== undefined) {
        if (held.revokedAt !== null) return 'revoked';
        if (held.maxUses !== null && held.uses >= held.maxUses) return 'exhausted';
        maxUses = held.maxUses === null ? null : held.maxUses - held.uses;
      }
    }
    const { answer } = await requests.confirm(issuer, subject, maxUses, deadline - this.clock());
    return answer === 'busy' ? 'offline' : answer;
  }

  /** The link as this controller's store holds it; 'timeout' when the store did not answer in time (the read goes on). */
  private localLink(subject: string): Promise<Awaited<ReturnType<Store['getLink']>> | 'timeout'> {
    return settleWithin(this.deps.store.getLink(subject), this.timeoutMs, 'timeout' as const);
  }
}
