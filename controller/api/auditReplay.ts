/**
 * `subscribe` with `after`: the audit events of this controller's chain since a seq, read from the
 * store and sent on the new subscription before it goes live, so that a client that reconnects
 * misses nothing and gets nothing twice.
 *
 * The seam: the subscription is registered first with its live deliveries held back (eventHub.ts),
 * and the head is taken at that same moment. Every event above that head is published later, so it
 * is held back; every event up to it is in the store, or soon will be (the trail tells listeners
 * before the store has the event). The replay reads the store from `after` in pages by seq until it
 * has sent the head (and everything below the first event held back), then the hub sends what it
 * held back except the seqs the replay sent, and the subscription is live. The audit seq is the one
 * key both sides share, so overlap is dropped by seq and never by timing.
 *
 * Bounds: at most MAX_REPLAY events are replayed (a client further behind is told to page with
 * audit.query first), pages of PAGE events are read and named one at a time (one store read and
 * one name lookup each, the event loop free in between), and the live notifications held back meanwhile
 * are bounded by the hub (MAX_HELD).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { HolderNames } from '../issuing/holderNames.ts';
import type { Store } from '../store/storeTypes.ts';
import { MAX_HELD, type EventHub } from './eventHub.ts';
import { RpcError, RpcErrorCodes } from './jsonRpc.ts';

/** The most events a subscription replays; documented in docs/api.md (subscribe). */
export const MAX_REPLAY = 100_000;
/** Events read, named and sent per page. */
const PAGE = 500;
/** How long the replay waits for the store to get events the trail has appended already. */
const STORE_WAIT_MS = 5_000;
/** Bytes a subscriber may have unsent before the replay waits for it to read. */
const PAUSE_BYTES = 256 * 1024;

export interface AuditReplayDeps {
  events: EventHub;
  store: Pick<Store, 'queryAudit'>;
  holderNames: HolderNames;
  controllerId: string;
  /** Overrides STORE_WAIT_MS (tests). */
  storeWaitMs?: number;
}

/**
 * The newest seq of the chain as far as anyone can know now: the store's, or the hub's when it has
 * published a newer one. Read before registering, for the refusal of a client too far behind.
 */
export async function chainHead(deps: AuditReplayDeps): Promise<number> {
  const [newest] = await deps.store.queryAudit({ controllerId: deps.controllerId, order: 'desc', limit: 1 });
  return Math.max(newest?.seq ?? 0, deps.events.auditHead);
}

export function refuseTooFarBehind(after: number, head: number): void {
  if (head - after <= MAX_REPLAY) return;
  throw new RpcError(
    RpcErrorCodes.invalidParams,
    `after: ${head - after} audit events since seq ${after}, more than the ${MAX_REPLAY} a subscription replays: read them with audit.query (afterSeq ${after}, pages of up to 1000), then subscribe with after = the last seq read`,
    { code: ErrorCodes.INVALID_ARGUMENT, field: 'after', head, maxReplay: MAX_REPLAY },
  );
}

/**
 * Runs the replay of a subscription registered with `replaying` at the moment the head was
 * `head`, and makes it live. Resolves with the number of events sent; on failure the subscription
 * is ended and the error says why.
 */
export async function replayAudit(
  deps: AuditReplayDeps,
  subscription: string,
  after: number,
  head: number,
  unsent: (() => number) | undefined,
): Promise<{ replayed: number }> {
  const { events, store, holderNames, controllerId } = deps;
  // An `after` beyond the head replays nothing: live from here, with nothing left out.
  let last = Math.min(after, head);
  let replayed = 0;
  let waitingSince: number | undefined;
  let backoff = 10;
  try {
    for (;;) {
      const state = events.replayState(subscription);
      if (state === undefined) return { replayed }; // the connection is gone: nobody to answer
      if (state.overflow) {
        throw new RpcError(
          RpcErrorCodes.conflict,
          `more than ${MAX_HELD} live notifications came while the replay ran: subscribe again with after = the last audit seq received`,
          { code: ErrorCodes.CONFLICT, field: 'after', through: last },
        );
      }
      // Below the first event held back nothing may be missing, or the seam would have a gap.
      const target = Math.max(head, (state.firstHeldAuditSeq ?? 0) - 1);
      if (last >= target) break;
      const page = await store.queryAudit({ controllerId, afterSeq: last, limit: PAGE, order: 'asc' });
      if (page.length === 0) {
        // Appended and published, not in the store yet: the trail is still writing it.
        waitingSince ??= Date.now();
        if (Date.now() - waitingSince > (deps.storeWaitMs ?? STORE_WAIT_MS)) {
          throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `the store does not have audit event ${last + 1} yet: subscribe again with after = ${last}`);
        }
        await delay(backoff);
        backoff = Math.min(backoff * 2, 250);
        continue;
      }
      waitingSince = undefined;
      backoff = 10;
      for (const event of await holderNames.name(page)) {
        const sent = events.replayAudit(subscription, event);
        if (sent === 'gone') return { replayed };
        if (sent === 'sent') replayed++;
        last = event.seq;
      }
      // The socket gets its turn between pages; a reader that lags makes the replay wait for it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (unsent !== undefined && unsent() > PAUSE_BYTES && events.replayState(subscription) !== undefined) await delay(10);
    }
  } catch (error) {
    events.endSubscription(subscription);
    throw error;
  }
  events.endReplay(subscription, last);
  return { replayed };
}
