import { randomBytes } from 'node:crypto';
import type { Store } from '../store/storeTypes.ts';

const SITE_KEY_SETTING = 'site.issuingKey';

/**
 * The site's issuing key: made on first start and kept in the store. setSettingIfAbsent makes
 * two processes starting at once agree on one key.
 */
export async function loadOrCreateSiteKey(store: Pick<Store, 'getSetting' | 'setSettingIfAbsent'>): Promise<Buffer> {
  const existing = await store.getSetting(SITE_KEY_SETTING);
  const hex = existing ?? (await store.setSettingIfAbsent(SITE_KEY_SETTING, randomBytes(32).toString('hex')));
  return Buffer.from(hex, 'hex');
}

/**
 * Replaces the site's issuing key with its hub site's (`postern enrol`, siteKeyAgreement.ts): every
 * access link issued with the old key stops verifying. A running controller keeps the key it
 * started with until it is restarted.
 */
export async function replaceSiteKey(store: Pick<Store, 'putSetting'>, key: Buffer): Promise<void> {
  await store.putSetting(SITE_KEY_SETTING, key.toString('hex'));
}
