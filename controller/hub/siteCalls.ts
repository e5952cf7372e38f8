/**
 * site.call of the hub's API (docs/hub-api.md): one of a site's own API methods, run at a live
 * controller of that site through its sync link. The hub sends `{type:'call', id, method, params,
 * account}` and waits for the `result` of that id from that same link; the controller runs it
 * through its own API (hubCalls.ts there), with its role checks, limits and audit.
 *
 * - Only links of the site named are candidates: a call never reaches another site's controller.
 * - A link on this hub first; when the site's controllers are linked to other hubs only, the call
 *   is handed to one of them through PostgreSQL (callRelay.ts), which runs it at its own link. A
 *   handed call is run there only (callHere), never handed on again.
 * - A result is taken only from the link the call went to; a late one (after the timeout) is dropped.
 * - A link that closes settles its calls at once with site-offline: nobody waits for an answer
 *   that cannot come.
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { RpcError } from '../api/jsonRpc.ts';
import type { ControllerFrame } from '../sync/syncFrames.ts';
import type { HubAccount } from './hubAccounts.ts';
import type { LinkPresence } from './linkPresence.ts';
import type { SyncSession } from './syncSession.ts';

export const SITE_CALL_TIMEOUT_MS = 10_000;

type ResultFrame = Extract<ControllerFrame, { type: 'result' }>;

interface Pending {
  session: SyncSession;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

export interface SiteCallsDeps {
  /** The links open on this hub (LinkRegistry.all). */
  links(): SyncSession[];
  presence: LinkPresence;
  timeoutMs?: number;
  /** Hands a call to another hub that holds a link of the site (CallRelay.forward). */
  forward?(targetHub: string, siteId: string, method: string, params: unknown, account: Pick<HubAccount, 'name' | 'role'>): Promise<unknown>;
}

export class SiteCalls {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly deps: SiteCallsDeps) {}

  /** Runs `method` at a live controller of `siteId` as `account`; its result, or its error as the controller gave it. */
  async call(siteId: string, method: string, params: unknown, account: Pick<HubAccount, 'name' | 'role'>): Promise<unknown> {
    if (this.liveLink(siteId) === undefined && this.deps.forward !== undefined) {
      const elsewhere = await this.deps.presence.otherHubsOf(siteId);
      if (elsewhere.length > 0) return this.deps.forward(elsewhere[0]!, siteId, method, params, account);
    }
    return this.callHere(siteId, method, params, account);
  }

  /** The newest live link of the site on this hub: after a reconnect the older one is on its way out. */
  private liveLink(siteId: string): SyncSession | undefined {
    return this.deps
      .links()
      .filter((s) => s.siteId === siteId && s.isLive)
      .at(-1);
  }

  /** Runs the call at a link of the site on this hub only (a call another hub handed here). */
  async callHere(siteId: string, method: string, params: unknown, account: Pick<HubAccount, 'name' | 'role'>): Promise<unknown> {
    const session = this.liveLink(siteId);
    if (session === undefined) {
      throw new PosternError(ErrorCodes.SITE_OFFLINE, `site ${siteId}: no controller of the site is linked to the hub now`, { details: { site: siteId } });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new PosternError(ErrorCodes.SITE_TIMEOUT, `site ${siteId}: controller ${session.controller.id} did not answer ${method} within ${(this.deps.timeoutMs ?? SITE_CALL_TIMEOUT_MS) / 1000} s`));
      }, this.deps.timeoutMs ?? SITE_CALL_TIMEOUT_MS);
      this.pending.set(id, { session, resolve, reject, timer });
      if (!session.sendCall({ type: 'call', id, method, params, account: { name: account.name, role: account.role } })) {
        this.settle(id, () => reject(new PosternError(ErrorCodes.SITE_OFFLINE, `site ${siteId}: the controller's link closed`)));
      }
    });
  }

  /** A `result` frame of a link (SessionDeps.onResult). */
  result(session: SyncSession, frame: ResultFrame): void {
    const pending = this.pending.get(frame.id);
    if (pending === undefined || pending.session !== session) return;
    this.settle(frame.id, () => {
      if (frame.error === undefined) return pending.resolve(frame.result ?? null);
      // The controller's own JSON-RPC error, passed on as it is (its code, message and data).
      const data = typeof frame.error.data === 'object' && frame.error.data !== null && !Array.isArray(frame.error.data) ? (frame.error.data as Record<string, unknown>) : undefined;
      pending.reject(new RpcError(frame.error.code, frame.error.message, data));
    });
  }

  /** A link closed: its calls end now. */
  closed(session: SyncSession): void {
    for (const [id, pending] of this.pending) {
      if (pending.session === session) this.settle(id, () => pending.reject(new PosternError(ErrorCodes.SITE_OFFLINE, `site ${session.siteId}: the controller's link closed before it answered`)));
    }
  }

  /** The hub is stopping: every call ends. */
  closeAll(): void {
    for (const pending of [...this.pending.values()]) this.closed(pending.session);
  }

  private settle(id: number, then: () => void): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    then();
  }
}
