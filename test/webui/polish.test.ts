/**
 * The operator UI's finish, in Chromium against a real controller (issue 12, point 7): no page
 * scrolls sideways on a 390 px phone, the confirmation dialog keeps the keyboard, an unknown route
 * says "not found", scanners' read counts follow the reads, a kiosk without its tablet waits
 * rather than "connecting", no "Send by email" without SMTP, one line for a standalone site's sync link,
 * and one h1 per page. Needs a build of the current webui/src (`npm run build:ui`).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { addUsers, ensureUiBuilt, haveChromium, launchSized, PHONE, requireAll, type Chromium } from './uiHarness.ts';

/* The page's globals, for callbacks that run in the browser (the tests' tsconfig has no DOM library). */
declare const document: any;
declare const innerWidth: number;

const PASSWORD = 'correct horse battery';
const runs = haveChromium || requireAll;
const title = runs ? 'operator UI polish in Chromium' : 'operator UI polish: skipped: Chromium not installed (apt-get install chromium)';

/** Every page of the operator UI, by route. */
const PAGES = ['', 'door/lab', 'links', 'credentials', 'partners', 'accounts', 'wall'];

describe.skipIf(!runs)(title, () => {
  let site: ApiSite;
  let browser: Chromium;
  let page: Page;
  let admin: ApiClient;

  async function visit(route: string): Promise<void> {
    await page.goto(`${site.url}/#/${route}`);
    await page.locator('#page-h').waitFor();
    // Admin pages load their lists after the first render: wait for a table or an empty list.
    if (['links', 'credentials', 'partners', 'accounts'].includes(route)) await page.locator('main table tbody tr').first().waitFor();
  }

  beforeAll(async () => {
    ensureUiBuilt();
    // A kiosk scanner whose tablet never connects; no email section (no SMTP).
    site = await startApiSite((input) => {
      input.scanners = [...(input.scanners ?? []), { id: 'kiosk-store', door: 'store', driver: 'kiosk', debounceMs: 0 }];
    });
    await addUsers(site.dataDir, [{ name: 'ada', password: PASSWORD, role: 'admin' }]);
    admin = await ApiClient.connect(site.url, site.tokens.admin);
    // Rows with long values in every table, the cause of sideways scrolling on a phone.
    await admin.call('links.create', { name: 'A visitor with a rather long name for a narrow screen', email: 'a.very.long.address.of.a.visitor@example.org', doors: ['front', 'lab'] });
    await admin.call('credentials.create', { name: 'Contractor badge with a long name', scope: 7 });
    await admin.call('partners.add', { id: 12, name: 'A partner company with a long name', allowedScopes: [7, 3], defaultScope: 7 });
    browser = await launchSized(PHONE);
    page = await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(site.url + '/');
    // The sign-in form: one h1, and no sideways scrolling either.
    await page.locator('input[name="name"]').waitFor();
    expect(await page.locator('h1').count()).toBe(1);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.locator('input[name="name"]').fill('ada');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await page.locator('article[data-door="front"]').waitFor();
  });

  afterAll(async () => {
    admin?.close();
    await browser?.close();
    await site?.stop();
  });

  it('scrolls no page sideways at 390 px and gives each page exactly one h1', async () => {
    // The sign-in form has its own h1.
    for (const route of PAGES) {
      await visit(route);
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
      // innerWidth too: a mobile browser widens its layout viewport to fit wide content.
      expect(widths.inner).toBe(390);
      expect(widths.scroll, `#/${route} at 390 px`).toBeLessThanOrEqual(widths.inner);
      expect(await page.locator('h1').count(), `h1 on #/${route}`).toBe(1);
    }
  });

  it('keeps Tab inside the confirmation dialog; Escape closes it and returns focus', async () => {
    await visit('links');
    const revoke = page.locator('main table tbody tr').first().getByRole('button', { name: 'Revoke' });
    await revoke.click();
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor();
    // The dialog opens on its confirming button; Tab goes round the two buttons and stays.
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    expect(await focused()).toBe('Revoke');
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press('Tab');
      seen.push(await focused());
      expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    }
    expect(seen).toEqual(['Cancel', 'Revoke', 'Cancel', 'Revoke']);
    await page.keyboard.press('Shift+Tab');
    expect(await focused()).toBe('Cancel');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await revoke.evaluate((b) => b === document.activeElement)).toBe(true);
    // Nothing was revoked: the row still offers its Revoke button.
    expect(await revoke.isVisible()).toBe(true);
  });

  it('says "not found" with a link home on an unknown route', async () => {
    await page.goto(`${site.url}/#/nope`);
    await page.locator('.not-found').waitFor();
    expect(await page.locator('h1').textContent()).toBe('Not found');
    expect(await page.locator('h1').count()).toBe(1);
    await page.locator('.not-found').getByRole('link', { name: 'Back to the doors' }).click();
    await page.locator('article[data-door="front"]').waitFor();
  });

  it('counts a scanner\'s reads live, and a kiosk without a tablet is waiting for one', async () => {
    await visit('');
    const reads = page.locator('li[data-scanner="net-1"] .sc-reads');
    await expect.poll(() => reads.textContent()).toBe('0 reads');
    const scanner = await ApiClient.connect(site.url, site.tokens.scanner);
    try {
      await scanner.call('scanner.read', { scanner: 'net-1', text: 'junk-1' });
      await expect.poll(() => reads.textContent(), { timeout: 15_000 }).toBe('1 reads');
      await scanner.call('scanner.read', { scanner: 'net-1', text: 'junk-2' });
      await expect.poll(() => reads.textContent(), { timeout: 15_000 }).toBe('2 reads');
    } finally {
      scanner.close();
    }
    const kiosk = page.locator('li[data-scanner="kiosk-store"]');
    expect(await kiosk.getAttribute('data-state')).toBe('connecting');
    expect(await kiosk.locator('.sc-state').textContent()).toBe('Waiting for a tablet');
    expect(await kiosk.getAttribute('class')).not.toContain('sc-connecting');
  });

  it('offers no "Send by email" without SMTP, but still the .eml download', async () => {
    await visit('links');
    await page.locator('input[name="name"]').fill('Mail-less visitor');
    await page.locator('.door-checks input[value="front"]').check();
    await page.getByRole('button', { name: 'Create link' }).click();
    await page.locator('[data-testid="link-code"]').waitFor();
    await page.getByRole('button', { name: 'Download .eml' }).waitFor();
    expect(await page.getByRole('button', { name: 'Send by email' }).count()).toBe(0);
  });

  it('says in one line that a standalone site has no hub link', async () => {
    await visit('');
    const sync = page.locator('section.sync[data-sync="standalone"]');
    await sync.waitFor();
    expect(await sync.locator('.sync-state').textContent()).toContain('standalone: no hub link');
    // One line, not a panel of figures about a link there is not.
    expect(await sync.locator('p, dl').count()).toBe(1);
  });
});
