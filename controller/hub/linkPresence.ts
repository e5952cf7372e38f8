/**
 * Which controllers have a sync link open, on any hub: each hub writes the link's nonce and its own
 * id into the controller's row when a link opens and clears it (only if it is still that link's)
 * when it closes, so every hub answers sites.overview alike. A hub that dies clears nothing: a link
 * counts as open only while the controller's last-seen time (written at hello and at least every
 * minute of pings, syncSession.ts) is recent, so such a row goes stale by itself.
 */
import type { HubDb } from './hubDatabase.ts';

/** A link not heard from for this long counts as closed (pings stamp last_seen_at once a minute). */
export const PRESENCE_STALE_MS = 150_000;
/** A clock offset is written again when it moved by this much (pings come every 5 s: not each one). */
const OFFSET_WRITE_STEP_MS = 500;

export class LinkPresence {
  /** The offset last written for each open link (by nonce). */
  private readonly offsets = new Map<string, number>();

  constructor(
    private readonly db: HubDb,
    /** This hub process: named in site-offline answers of the other hubs. */
    readonly hubId: string,
    private readonly clock: () => number = Date.now,
  ) {}

  async opened(controllerId: string, nonce: string): Promise<void> {
    await this.db.updateTable('hub_controllers').set({ online_link: nonce, online_hub: this.hubId, last_seen_at: this.clock() }).where('id', '=', controllerId).execute();
  }

  /** Clears the row only when it still names this link: a newer link (here or on another hub) keeps its own. */
  async closed(controllerId: string, nonce: string): Promise<void> {
    this.offsets.delete(nonce);
    await this.db.updateTable('hub_controllers').set({ online_link: null, online_hub: null }).where('id', '=', controllerId).where('online_link', '=', nonce).execute();
  }

  /**
   * The controller's clock as its hello or a ping gave it: the offset from this hub's clock (the
   * frame's time in flight included, a few ms on a sane network) is written when it first comes and
   * when it has moved since, so every hub's overview shows the same.
   */
  async clockSeen(controllerId: string, nonce: string, controllerTime: number): Promise<void> {
    const offset = Math.round(controllerTime - this.clock());
    const last = this.offsets.get(nonce);
    if (last !== undefined && Math.abs(offset - last) < OFFSET_WRITE_STEP_MS) return;
    this.offsets.set(nonce, offset);
    await this.db.updateTable('hub_controllers').set({ clock_offset_ms: offset }).where('id', '=', controllerId).execute();
  }

  /** This hub is stopping: the links it held are no longer open (those that moved to another hub already keep theirs). */
  async clearHub(): Promise<void> {
    this.offsets.clear();
    await this.db.updateTable('hub_controllers').set({ online_link: null, online_hub: null }).where('online_hub', '=', this.hubId).execute();
  }

  /** Whether a row's link counts as open now. */
  isOnline(row: { online_link: string | null; last_seen_at: number | null; revoked_at: number | null }): boolean {
    return row.online_link !== null && row.revoked_at === null && row.last_seen_at !== null && this.clock() - row.last_seen_at < PRESENCE_STALE_MS;
  }

  /** The hub processes other than this one holding an open link of a controller of the site. */
  async otherHubsOf(siteId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('hub_controllers')
      .select(['online_link', 'online_hub', 'last_seen_at', 'revoked_at'])
      .where('site_id', '=', siteId)
      .where('online_link', 'is not', null)
      .execute();
    return [...new Set(rows.filter((r) => this.isOnline(r) && r.online_hub !== null && r.online_hub !== this.hubId).map((r) => r.online_hub!))];
  }
}
