/**
 * The `sync` topic: the hub sync link's status, the same object as sync.status answers, published
 * on the event hub when it changes. Only a controller with a hub publishes it (controller.ts).
 *
 * The link tells of every snapshot of its machine, most of them the same status again (each
 * heartbeat) or an outbox one event deeper (each audit append, so each scan): a status equal to the
 * last one published is not published again, and a busy site's changes are published at most once
 * per SYNC_PUBLISH_MS, the last one always (a change that comes sooner waits for the end of the
 * interval and goes with whatever came after it), so subscribers see the present within that time.
 */
import type { SyncLink, SyncStatus } from '../sync/syncLink.ts';

export const SYNC_PUBLISH_MS = 250;

/** Publishes the link's status at each change, as said above; returns the function that stops it. */
export function publishSyncStatus(link: Pick<SyncLink, 'onStatus'>, publish: (status: SyncStatus) => void, intervalMs = SYNC_PUBLISH_MS): () => void {
  let published = '';
  let publishedAt = -Infinity;
  let latest: SyncStatus | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (latest === undefined) return;
    const text = JSON.stringify(latest);
    if (text === published) return;
    published = text;
    publishedAt = performance.now();
    publish(latest);
  };
  const unsubscribe = link.onStatus((status) => {
    latest = status;
    if (timer !== undefined) return;
    const wait = publishedAt + intervalMs - performance.now();
    if (wait <= 0) flush();
    else timer = setTimeout(flush, wait);
  });
  return () => {
    unsubscribe();
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
}
