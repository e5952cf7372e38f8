/**
 * The badge page in a real Chromium: enrol with the link `postern credential create` would print,
 * read the QR off the screen with zxing-wasm, present it at a network scanner over the API (grant,
 * then `replayed`), and show codes again with the browser offline (the service worker's cache).
 * Skipped when Chromium is not installed, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { rm } from 'node:fs/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCredential, encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { decodeQrPng } from '../support/qrDecode.ts';
import { tempDir } from '../support/testSite.ts';
import { buildUiIfMissing, CHROMIUM, CHROMIUM_ARGS, haveChromium, requireAll, startBadgeSite, STORED_BADGE, waitForCode, type BadgeSite } from './badgeHarness.ts';

/** The QR on the page, as text: a screenshot of the canvas, decoded. */
async function readQr(page: Page): Promise<string> {
  const texts = await decodeQrPng(await page.locator('#qr').screenshot());
  expect(texts).toHaveLength(1);
  return texts[0]!;
}

describe.skipIf(!haveChromium && !requireAll)(haveChromium || requireAll ? 'the badge page in Chromium' : 'the badge page: skipped: Chromium not installed', () => {
  let site: BadgeSite;
  let context: BrowserContext;
  let profile: string;
  let credentialId: string;
  let secret: Buffer;
  let enrolUrl: string;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`POSTERN_TEST_REQUIRE_ALL=1 but Chromium is not at ${CHROMIUM}`);
    buildUiIfMissing();
    site = await startBadgeSite();
    ({ credentialId, secret, enrolUrl } = await site.addMember('Ada Member'));
    profile = await tempDir('postern-chromium-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 390, height: 760 },
      serviceWorkers: 'allow',
    });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await site?.stop();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it('serves the page with a strict content security policy', async () => {
    const response = await fetch(`${site.url}/badge`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${site.url}/badge-sw.js`)).status).toBe(200);
    expect((await fetch(`${site.url}/badge/manifest.webmanifest`)).status).toBe(200);
  });

  it('enrols, shows a QR the door grants once, and keeps showing codes offline', async () => {
    const page = context.pages()[0] ?? (await context.newPage());
    const enrolRequests: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/badge/enrol')) enrolRequests.push(r.url());
    });
    await page.goto(enrolUrl);
    await waitForCode(page);
    expect(await page.locator('#holder').textContent()).toBe('Ada Member');
    expect(await page.locator('#site').textContent()).toBe('Test site');
    // The token left the address bar, and never travelled in a URL.
    expect(new URL(page.url()).hash).toBe('');
    expect(enrolRequests).toEqual([`${site.url}/badge/enrol`]);
    const stored = JSON.parse(await page.evaluate<string>(STORED_BADGE));
    expect(stored).toMatchObject({ credentialId, secret: secret.toString('hex'), name: 'Ada Member', site: 'Test site' });
    expect(await page.locator('#countdown').textContent()).toMatch(/^New code in (1[0-5]|[1-9]) s$/);

    const text = await readQr(page);
    const decoded = decodeCredential(text)!;
    expect(decoded).toMatchObject({ kind: 'rotating', issuer: 0, subject: BigInt(credentialId), b: 0, scope: 0 });
    expect(encodeCredential(decoded, secret)).toBe(text);

    expect(await site.scan(text)).toMatchObject({ decided: true, verdict: 'grant', door: 'lab' });
    expect(await site.scan(text)).toMatchObject({ decided: true, verdict: 'deny', reason: 'replayed' });

    // Offline: the service worker serves the page and its assets; the codes need no request.
    await page.evaluate('navigator.serviceWorker.ready.then(() => true)');
    await context.setOffline(true);
    try {
      await page.reload();
      await waitForCode(page);
      expect(await page.evaluate('navigator.serviceWorker.controller?.scriptURL')).toBe(`${site.url}/badge-sw.js`);
      const offline = decodeCredential(await readQr(page))!;
      expect(offline).toMatchObject({ kind: 'rotating', subject: BigInt(credentialId) });
      expect(Math.abs(offline.a - decoded.a)).toBeLessThanOrEqual(2);
    } finally {
      await context.setOffline(false);
    }
  });

  it('forgets the badge when asked', async () => {
    const page = context.pages()[0]!;
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('#forget').click();
    await page.locator('#empty').waitFor({ state: 'visible' });
    expect(await page.evaluate(STORED_BADGE)).toBeNull();
    await page.reload();
    await page.locator('#empty').waitFor({ state: 'visible' });
  });
});
