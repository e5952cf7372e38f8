/**
 * Every screenshot the docs show (README.md, docs/screenshots/), taken at a real device's size:
 * the operator pages on a 1440x900 desktop, the wall view on a 1920x1080 monitor, the kiosk on an
 * 800x900 tablet and the badge page on a 390x844 phone at device pixel ratio 3. Only
 * `npm run screenshots` (POSTERN_UI_SCREENSHOTS=1) runs it: an ordinary test run writes nothing
 * into the checkout. Needs Chromium and ffmpeg (the kiosk's fake camera), and a build of the
 * current webui/ (`npm run build:ui`).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { startBadgeSite, waitForCode, type BadgeSite } from '../badge/badgeHarness.ts';
import { ApiClient } from '../support/apiClient.ts';
import { kioskRuns, openKiosk, startKioskSite, type KioskSite } from './kioskHarness.ts';
import { addUsers, docScreenshot, ensureUiBuilt, launchSized, PHONE, takeScreenshots, type Chromium } from './uiHarness.ts';

const PASSWORD = 'correct horse battery';
const DESKTOP = { viewport: { width: 1440, height: 900 } };
const title = !takeScreenshots
  ? 'docs screenshots: skipped: run `npm run screenshots` (POSTERN_UI_SCREENSHOTS=1) to take them'
  : kioskRuns
    ? 'docs screenshots (docs/screenshots/)'
    : 'docs screenshots: skipped: Chromium or ffmpeg not installed';

describe.skipIf(!takeScreenshots || !kioskRuns)(title, () => {
  let site: BadgeSite;
  let browser: Chromium;
  let page: Page;
  // The lab's network scanner stays connected, as a real one would: the scanners panel reads Ready.
  let scanner: ApiClient;
  const card = (door: string) => page.locator(`article[data-door="${door}"]`);
  const waitState = (door: string, state: string) => page.locator(`article[data-door="${door}"][data-state="${state}"]`).first().waitFor({ timeout: 15_000 });

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startBadgeSite((input) => {
      input.site.name = 'Headquarters';
      input.doors = [
        { id: 'front', name: 'Front entrance', unlockSeconds: 1.5, heldOpenSeconds: 30, failMode: 'secure' },
        { id: 'lab', name: 'Lab', unlockSeconds: 1.5, heldOpenSeconds: 30, failMode: 'safe' },
        { id: 'store', name: 'Store room', unlockSeconds: 1.5, heldOpenSeconds: 30 },
      ];
    });
    await addUsers(site.dataDir, [{ name: 'otto', password: PASSWORD, role: 'operator' }]);
    browser = await launchSized(DESKTOP);
    page = await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(site.url + '/');
    await page.locator('input[name="name"]').fill('otto');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await waitState('front', 'secured');
    // Some traffic for the feed, the cards' last events and the door's chart: a visitor's grant,
    // two codes that are not Postern's.
    const { code } = await site.controller.issuing.createLink({ name: 'Visitor: Dana Reyes', doors: ['lab'] }, 'test');
    scanner = await ApiClient.connect(site.url, site.tokens.scanner);
    await scanner.call('scanner.read', { text: code });
    await waitState('lab', 'unlocked');
    await waitState('lab', 'secured');
    for (const text of ['https://example.org/menu', 'WIFI:S:guest;;']) await scanner.call('scanner.read', { text });
    await page.locator('#feed tr.v-deny').nth(1).waitFor();
  }, 120_000);

  afterAll(async () => {
    scanner?.close();
    await browser?.close();
    await site?.stop();
  });

  it("door-detail.png: a door's page", async () => {
    await card('lab').locator('h3 a').click();
    await page.locator('[data-detail="lab"] .chart svg rect.bar-grant:not([height="0"])').first().waitFor();
    await page.locator('[data-detail="lab"] table.events tr.v-grant').first().waitFor();
    await docScreenshot(page, 'door-detail.png');
    await page.goto(`${site.url}/#/`);
  });

  it('operator.png: the operator page with a forced-open alarm', async () => {
    (site.controller.doorIo('store') as SimulatedDoorIo).setDoorOpen(true);
    await waitState('store', 'forcedOpen');
    await page.getByRole('alert', { name: 'Alarms' }).waitFor();
    await docScreenshot(page, 'operator.png');
  });

  it('wall.png: the wall view at 1920x1080, an alarm not yet acknowledged and a door in lockdown', async () => {
    await site.controller.doors.lockdown('lab', true, 'test');
    await waitState('lab', 'lockdown');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${site.url}/#/wall`);
    await page.locator('.tile[data-door="store"].alarmed').waitFor();
    await page.locator('.tile[data-door="lab"][data-state="lockdown"]').waitFor();
    await docScreenshot(page, 'wall.png');
  });

  it('badge.png: an enrolled badge on a phone', async () => {
    const phone = await launchSized(PHONE);
    try {
      const badge = await phone.context.newPage();
      const { enrolUrl } = await site.addMember('Ada Member');
      await badge.goto(enrolUrl);
      await waitForCode(badge);
      await docScreenshot(badge, 'badge.png');
    } finally {
      await phone.close();
    }
  });

  it('kiosk.png: the kiosk page on a tablet, granting a visitor', async () => {
    // A site of its own: the kiosk's Chromium has a fake camera that shows a visitor's code.
    const kiosk: KioskSite = await startKioskSite([{ id: 'lab-kiosk', door: 'lab' }], ['lab']);
    try {
      const { page: tablet } = await openKiosk(kiosk, { viewport: { width: 800, height: 900 }, token: kiosk.tokens['lab-kiosk'] });
      await tablet.locator('.verdict.grant').waitFor({ timeout: 30_000 });
      await docScreenshot(tablet, 'kiosk.png');
    } finally {
      await kiosk.stop();
    }
  }, 240_000);
});
