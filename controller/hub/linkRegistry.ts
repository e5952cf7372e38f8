/**
 * The open sync links of this hub process, by controller and by site, and what the change feed
 * tells them. One link per controller across every hub: each new link is announced with a `!link`
 * notification, and PostgreSQL delivers notifications to every listener in one order, so every hub
 * agrees which link is newest. On a `!link`, links of that controller announced before it (those
 * whose own notification this hub has seen) are closed; a link not yet announced is newer and stays.
 */
import type { FeedListener } from './changeFeed.ts';
import { CloseCodes } from '../sync/syncFrames.ts';
import type { SyncSession } from './syncSession.ts';

export class LinkRegistry implements FeedListener {
  private readonly byController = new Map<string, Set<SyncSession>>();

  /** Adds a new link; the controller's other links on this hub are older: closed at once. */
  add(session: SyncSession): void {
    const id = session.controller.id;
    for (const old of this.byController.get(id) ?? []) old.close(CloseCodes.REPLACED, 'replaced');
    const set = this.byController.get(id) ?? new Set();
    set.add(session);
    this.byController.set(id, set);
  }

  remove(session: SyncSession): void {
    const set = this.byController.get(session.controller.id);
    if (set === undefined) return;
    set.delete(session);
    if (set.size === 0) this.byController.delete(session.controller.id);
  }

  all(): SyncSession[] {
    return [...this.byController.values()].flatMap((set) => [...set]);
  }

  onChange(siteId: string, cursor: number): void {
    for (const session of this.all()) if (session.siteId === siteId) session.changed(cursor);
  }

  onClose(controllerId: string): void {
    for (const session of this.byController.get(controllerId) ?? []) session.recheck();
  }

  onLink(controllerId: string, nonce: string): void {
    for (const session of [...(this.byController.get(controllerId) ?? [])]) {
      if (session.nonce === nonce) session.announced = true;
      else if (session.announced) session.close(CloseCodes.REPLACED, 'replaced');
    }
  }

  /** Notifications may have been lost: every link checks its credential and looks for changes. */
  onReconnect(): void {
    for (const session of this.all()) {
      // Its own `!link` may be among the lost: it is older than any link announced from now on.
      session.announced = true;
      session.recheck();
      session.catchUp();
    }
  }
}
