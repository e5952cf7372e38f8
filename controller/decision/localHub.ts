/**
 * The hub as standalone mode has it: in the same process, over the same store, so an online-only
 * link of the site is confirmed (and its use counted) with a store call under a hard timeout. A
 * partner's online-only code cannot be confirmed here (only the partner knows its uses), so it is
 * never granted: `offline`.
 */
import type { Store } from '../store/storeTypes.ts';
import type { OnlineLinkConfirmer } from '../credentials/verifier.ts';
import { settleWithin } from '../settleWithin.ts';

export class LocalHub implements OnlineLinkConfirmer {
  constructor(
    private readonly store: Pick<Store, 'useOnlineLink'>,
    private readonly timeoutMs = 1000,
  ) {}

  async confirm(issuer: number, subject: string): Promise<'ok' | 'unknown' | 'revoked' | 'exhausted' | 'offline'> {
    // Deny by default: an online-only code is granted on a live confirmation or not at all.
    if (issuer !== 0) return 'offline';
    return settleWithin(this.store.useOnlineLink(subject).catch(() => 'offline' as const), this.timeoutMs, 'offline' as const);
  }
}
