/**
 * Badge enrolment from the operator web UI, in Chromium: an admin makes a rotating credential on
 * the Credentials page, which shows its one-time enrolment link (credentials.enrol) as text and as
 * a QR; a phone (a second, mobile Chromium at ratio 3) opens the link the QR holds, shows its
 * badge, and the door grants the code read off the phone's screen. Skipped when Chromium is not
 * installed, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { buildUiIfMissing, CHROMIUM, CHROMIUM_ARGS, startBadgeSite, waitForCode, type BadgeSite } from '../badge/badgeHarness.ts';
import { ApiClient } from '../support/apiClient.ts';
import { decodeQrPng } from '../support/qrDecode.ts';
import { addUsers, haveChromium, launchChromium, requireAll, type Chromium } from './uiHarness.ts';

const PASSWORD = 'correct horse battery';
/**
 * Where the site tells phones to go (badge.publicUrl). The test site's API listens on a port
 * chosen at start, so the phone opens the link's path and fragment at that address instead.
 */
const PUBLIC_URL = 'https://doors.example.org';
const runs = haveChromium || requireAll;

describe.skipIf(!runs)(runs ? 'badge enrolment from the operator web UI in Chromium' : 'badge enrolment from the web UI: skipped: Chromium not installed', () => {
  let site: BadgeSite;
  let desk: Chromium;
  let phones: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`POSTERN_TEST_REQUIRE_ALL=1 but Chromium is not at ${CHROMIUM}`);
    buildUiIfMissing();
    site = await startBadgeSite((input) => {
      input.badge = { ...input.badge, publicUrl: PUBLIC_URL };
    });
    await addUsers(site.dataDir, [{ name: 'ada', password: PASSWORD, role: 'admin' }]);
    desk = await launchChromium();
    page = desk.context.pages()[0] ?? (await desk.context.newPage());
    page.setDefaultTimeout(30_000);
    phones = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 240_000);

  afterAll(async () => {
    await phones?.close();
    await desk?.close();
    await site?.stop();
  });

  it('shows a new credential with its enrolment link and QR; a phone that opens it gets a badge the door grants', async () => {
    await page.goto(`${site.url}/#/credentials`);
    await page.locator('input[name="name"]').fill('ada');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await page.getByRole('heading', { name: 'New rotating credential' }).waitFor();
    await page.locator('form input[name="name"]').fill('Grace Member');
    await page.locator('form select[name="scope"]').selectOption('7');
    await page.getByRole('button', { name: 'Create credential' }).click();

    const created = page.locator('section.created');
    await created.getByRole('heading', { name: 'Badge for Grace Member' }).waitFor();
    const credentialId = (await created.getAttribute('data-credential'))!;
    const link = (await created.getByTestId('enrol-link').textContent())!;
    expect(link).toMatch(new RegExp(`^${PUBLIC_URL}/badge#enrol=[A-Za-z0-9_-]{43}$`));
    // The QR holds the link, as the phone's camera reads it off the operator's screen.
    const qr = created.getByRole('img', { name: /QR code of the enrolment link/ });
    expect(await decodeQrPng(await qr.screenshot())).toEqual([link]);
    // The secret is there too, for a badge of another kind, shown this once.
    await created.getByText('Secret, shown this once').click();
    expect(await created.getByTestId('credential-secret').textContent()).toMatch(/^[0-9a-f]{64}$/);
    // Made by the signed-in user, in the trail.
    await expect
      .poll(async () => {
        const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
        try {
          const { events } = (await viewer.call('audit.query', { subject: credentialId })) as { events: Array<{ reason: string; actor: string }> };
          return events.map((e) => `${e.reason} ${e.actor}`);
        } finally {
          viewer.close();
        }
      })
      .toEqual(expect.arrayContaining(['credential.create user:ada', 'credential.enrol-link user:ada']));

    const phone = await phones.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true, serviceWorkers: 'block' });
    try {
      const badge = await phone.newPage();
      const { pathname, hash } = new URL(link);
      await badge.goto(`${site.url}${pathname}${hash}`);
      await waitForCode(badge);
      expect(await badge.locator('#holder').textContent()).toBe('Grace Member');
      const [text] = await decodeQrPng(await badge.screenshot());
      expect(decodeCredential(text!)).toMatchObject({ kind: 'rotating', subject: BigInt(credentialId) });
      expect(await site.scan(text!)).toMatchObject({ decided: true, verdict: 'grant', door: 'lab' });
    } finally {
      await phone.close();
    }

    // The link worked once: a second phone is told so.
    const late = await phones.newContext({ serviceWorkers: 'block' });
    try {
      const badge = await late.newPage();
      const { pathname, hash } = new URL(link);
      await badge.goto(`${site.url}${pathname}${hash}`);
      await badge.getByText('This enrolment link was used already or has expired').waitFor();
    } finally {
      await late.close();
    }

    await page.getByRole('button', { name: 'Done' }).click();
    await page.locator(`tr[data-credential="${credentialId}"]`).waitFor();
  });
});
