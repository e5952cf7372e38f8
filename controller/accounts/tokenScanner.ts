/**
 * What a token may be tied to, checked against the site: the scanner a 'scanner' token reads for
 * (only network and kiosk scanners read over the API, so a token for any other kind could do
 * nothing), and the doors a door-limited token may use. One check each for `postern token create`
 * and the API's tokens.create.
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { ScannerConfig, SiteConfig } from '../config/configSchema.ts';

/** The site's scanner `id` when it reads over the API; INVALID_ARGUMENT (field scanner) otherwise. */
export function requireApiScanner(config: Pick<SiteConfig, 'scanners'>, id: string): ScannerConfig {
  const readers = config.scanners.filter((s) => s.driver === 'network' || s.driver === 'kiosk');
  const reader = readers.find((s) => s.id === id);
  if (reader !== undefined) return reader;
  throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `scanner: no network or kiosk scanner "${id}" in this site; it has ${readers.map((s) => s.id).join(', ') || 'none'}`, {
    details: { field: 'scanner' },
  });
}

/** Every id of `doors` is a door of the site; INVALID_ARGUMENT (field doors) otherwise. */
export function requireSiteDoors(config: Pick<SiteConfig, 'doors'>, doors: readonly string[]): void {
  const known = new Set(config.doors.map((d) => d.id));
  const unknown = doors.filter((d) => !known.has(d));
  if (unknown.length === 0) return;
  throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `doors: no door ${unknown.map((d) => `"${d}"`).join(', ')} in this site; it has ${[...known].join(', ')}`, { details: { field: 'doors' } });
}
