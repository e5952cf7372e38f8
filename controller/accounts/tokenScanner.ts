/**
 * Which scanner a 'scanner' token may read for: only network and kiosk scanners read over the API,
 * so a token for any other kind could do nothing. One check for `postern token create --scanner`
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
