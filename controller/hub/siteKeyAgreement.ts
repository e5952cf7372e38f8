/**
 * Which issuing key a controller uses once it is enrolled at a site (docs/sync.md, "Enrolment").
 * Every controller of a site must hold the same key: an access link is MACed with it, and a link
 * issued at one controller (or through the hub) must open the doors of all of them. The hub keeps
 * the site's key; this decides, at each enrolment, between the hub's key and the one the
 * controller brings:
 *
 * - the site has none yet: the controller's becomes the site's (the first controller, often a
 *   standalone site with links already out, keeps every one of them working);
 * - the same key: nothing changes;
 * - another key, and the controller has issued no link with its own: it takes the site's;
 * - another key, and it has issued links: refused, unless the administrator said `--adopt-site-key`
 *   (those links then stop opening doors). Never the other way round: a controller cannot replace a
 *   site's key, which would void the links of every other controller.
 */
import { timingSafeEqual } from 'node:crypto';

/** What a controller says of its key at enrolment. */
export interface OfferedSiteKey {
  /** Its issuing key, 64 hex digits. */
  siteKey: string;
  /** Whether it has issued any access link with that key (even an expired or revoked one). */
  hasLinks: boolean;
  /** The administrator accepts that its links stop working (`postern enrol --adopt-site-key`). */
  adopt: boolean;
}

export type SiteKeyOutcome =
  /** The site had no key: the controller's is now the site's. */
  | { action: 'site-takes-controller-key'; siteKey: string }
  /** The controller already holds the site's key. */
  | { action: 'kept' }
  /** The controller takes the site's key. */
  | { action: 'adopt'; siteKey: string }
  /** Refused: the controller's own links would stop working. */
  | { action: 'conflict' };

export const SITE_KEY_PATTERN = /^[0-9a-f]{64}$/;

export function agreeSiteKey(siteKey: string | null, offered: OfferedSiteKey): SiteKeyOutcome {
  if (siteKey === null) return { action: 'site-takes-controller-key', siteKey: offered.siteKey };
  // Constant time: the comparison must not tell a guesser how much of the site's key it has right.
  if (timingSafeEqual(Buffer.from(siteKey, 'hex'), Buffer.from(offered.siteKey, 'hex'))) return { action: 'kept' };
  if (!offered.hasLinks || offered.adopt) return { action: 'adopt', siteKey };
  return { action: 'conflict' };
}
