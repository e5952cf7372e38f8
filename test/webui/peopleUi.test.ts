/**
 * People, not numbers, in the operator UI (Chromium against a real controller): links issued for
 * doors picked by name and for a named scope, listed with what they open and their status, found
 * by name, id or email (paging included); a scanned code's holder named in the feed and on the
 * door's page; the feed filtered by a holder's name; revoked and not-yet-valid links said so;
 * credentials and partners given scopes by name. Needs a build of the current webui/
 * (`npm run build:ui`).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { addUsers, ensureUiBuilt, haveChromium, launchChromium, launchSized, PHONE, requireAll, type Chromium } from './uiHarness.ts';

/* The page's globals, for callbacks that run in the browser (the tests' tsconfig has no DOM library). */
declare const document: any;

const PASSWORD = 'correct horse battery';
const runs = haveChromium || requireAll;
const title = runs ? 'people, not numbers, in the operator UI (Chromium)' : 'people in the operator UI: skipped: Chromium not installed (apt-get install chromium)';

/** A local date and time a year from now, as a datetime-local field takes it. */
function nextYearLocal(): string {
  const d = new Date(Date.now() + 365 * 86_400_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T10:00`;
}

describe.skipIf(!runs)(title, () => {
  let site: ApiSite;
  let browser: Chromium;
  let page: Page;
  let integrator: ApiClient;
  const ada = { id: '', code: '' };
  const grace = { id: '', code: '' };

  const linkRow = (id: string) => page.locator(`tr[data-link="${id}"]`);
  const cell = (row: ReturnType<typeof linkRow>, label: string) => row.locator(`td[data-label="${label}"]`);
  const feedRows = () => page.locator('#feed tbody tr');

  async function visit(route: string): Promise<void> {
    await page.goto(`${site.url}/#/${route}`);
    await page.locator('#page-h').waitFor();
  }

  /** Fills in and sends the link form; resolves with the new link's id and code, back on the list. */
  async function createLink(fill: () => Promise<void>, summary: string): Promise<{ id: string; code: string }> {
    await page.getByRole('heading', { name: 'New access link' }).waitFor();
    await fill();
    await page.getByRole('button', { name: 'Create link' }).click();
    const created = page.locator('section.created');
    await created.waitFor();
    expect(await page.getByTestId('link-summary').textContent()).toContain(summary);
    const id = (await created.getAttribute('data-link'))!;
    const code = (await page.getByTestId('link-code').textContent())!;
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('heading', { name: 'New access link' }).waitFor();
    return { id, code };
  }

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startApiSite();
    await addUsers(site.dataDir, [{ name: 'ada', password: PASSWORD, role: 'admin' }]);
    integrator = await ApiClient.connect(site.url, site.tokens.integrator);
    browser = await launchChromium();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    await page.goto(site.url + '/');
    await page.locator('input[name="name"]').fill('ada');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await page.locator('article[data-door="front"]').waitFor();
  }, 120_000);

  afterAll(async () => {
    integrator?.close();
    await browser?.close();
    await site?.stop();
  });

  it('issues links for doors picked by name and for a named scope, and lists what they open with their status', async () => {
    await visit('links');
    Object.assign(
      ada,
      await createLink(async () => {
        await page.locator('input[name="name"]').fill('Ada Lovelace');
        await page.locator('input[name="email"]').fill('ada.lovelace@example.org');
        await page.locator('.door-checks').getByLabel('Lab', { exact: true }).check();
      }, 'Opens Lab,'),
    );
    Object.assign(
      grace,
      await createLink(async () => {
        await page.locator('input[name="name"]').fill('Grace Hopper');
        await page.getByLabel('a scope of the site file').check();
        // The site file's scopes by name, with their doors: no scope number to know.
        const scope = page.locator('select[name="scope"]');
        expect(await scope.locator('option').allTextContents()).toEqual(['choose a scope', 'staff (Front, Lab)', 'front only (Front)']);
        await scope.selectOption({ label: 'staff (Front, Lab)' });
      }, 'Opens staff,'),
    );

    await linkRow(grace.id).waitFor();
    expect(await cell(linkRow(ada.id), 'opens').textContent()).toBe('Lab');
    expect(await cell(linkRow(ada.id), 'status').textContent()).toBe('active');
    expect(await cell(linkRow(grace.id), 'opens').textContent()).toBe('staff');
    expect(await cell(linkRow(grace.id), 'status').textContent()).toBe('active');
    expect(await cell(linkRow(grace.id), 'status').locator('.status').getAttribute('class')).toContain('st-active');
    // What the page showed is what the controller holds.
    expect(await integrator.call('links.get', { id: ada.id })).toMatchObject({ name: 'Ada Lovelace', scopeName: 'Lab', doors: ['lab'], status: 'active' });
    expect(await integrator.call('links.get', { id: grace.id })).toMatchObject({ scope: 7, scopeName: 'staff', status: 'active' });
  });

  it('searches the links by name, id and email, and pages through a search', async () => {
    const search = page.locator('input[name="search"]');
    const shownIds = () => page.locator('main tr[data-link]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-link')));
    await search.fill('hopper');
    await expect.poll(shownIds, { timeout: 15_000 }).toEqual([grace.id]);
    await search.fill(ada.id);
    await expect.poll(shownIds, { timeout: 15_000 }).toEqual([ada.id]);
    await search.fill('ADA.LOVELACE@');
    await expect.poll(shownIds, { timeout: 15_000 }).toEqual([ada.id]);
    await search.fill('nobody at all');
    await page.getByText('No link matches “nobody at all”.').waitFor();
    await search.fill('');
    await expect.poll(async () => (await shownIds()).length, { timeout: 15_000 }).toBe(2);

    // More than a page (200) of matches: "More" reads the next page of the same search.
    await visit('');
    for (let i = 0; i < 203; i++) await site.controller.issuing.createLink({ name: `Bulk visitor ${i}`, doors: ['store'] }, 'test');
    await visit('links');
    await linkRow(ada.id).waitFor();
    await search.fill('bulk visitor');
    // The list before the search has 200 rows too: wait for the search's own.
    await expect.poll(async () => !(await shownIds()).includes(ada.id), { timeout: 15_000 }).toBe(true);
    expect((await shownIds()).length).toBe(200);
    expect(await page.getByRole('button', { name: 'More' }).count()).toBe(1);
    await page.getByRole('button', { name: 'More' }).click();
    await expect.poll(async () => (await shownIds()).length, { timeout: 15_000 }).toBe(203);
    expect(await page.getByRole('button', { name: 'More' }).count()).toBe(0);
    const names = await page.locator('main tr[data-link] td[data-label="name"]').allTextContents();
    expect(names.every((n) => n.startsWith('Bulk visitor '))).toBe(true);
    expect(new Set(await shownIds()).size).toBe(203);
    await search.fill('');
  });

  it("names the holder of a scanned code in the feed, on the door's card and on its page", async () => {
    await visit('');
    expect(await integrator.call('scanner.read', { scanner: 'net-1', text: ada.code })).toMatchObject({ decided: true, verdict: 'grant', door: 'lab' });
    const line = `granted: Ada Lovelace (link ${ada.id})`;
    await page.locator('#feed tr.v-grant').filter({ hasText: line }).waitFor();
    await expect.poll(() => page.locator('article[data-door="lab"] .last-text').textContent(), { timeout: 15_000 }).toBe(line);

    await page.locator('article[data-door="lab"] h3 a').click();
    await page.locator('[data-detail="lab"]').waitFor();
    await page.locator('[data-detail="lab"] table.events tr.v-grant').filter({ hasText: line }).waitFor();
    // The page read again from the controller (audit.query) names the holder too.
    await page.reload();
    await page.locator('[data-detail="lab"] table.events tr.v-grant').filter({ hasText: line }).waitFor();
  });

  it("filters the feed by a holder's name, live events included, and by an id", async () => {
    await visit('');
    expect(await integrator.call('scanner.read', { scanner: 'net-1', text: grace.code })).toMatchObject({ verdict: 'grant' });
    await page.locator('#feed tr.v-grant').filter({ hasText: `Grace Hopper (link ${grace.id})` }).waitFor();

    const holder = page.locator('input[name="holder"]');
    await holder.fill('lovelace');
    const texts = () => feedRows().allTextContents();
    await expect.poll(async () => (await texts()).some((t) => t.includes('Grace Hopper')), { timeout: 15_000 }).toBe(false);
    const before = await texts();
    expect(before.length).toBeGreaterThanOrEqual(1);
    expect(before.every((t) => t.includes('Ada Lovelace'))).toBe(true);
    expect(before.some((t) => t.includes(`granted: Ada Lovelace (link ${ada.id})`))).toBe(true);

    // Live: Ada's next grant joins the filtered feed, Grace's does not.
    const grants = () => page.locator('#feed tr.v-grant').count();
    const grantsBefore = await grants();
    await integrator.call('scanner.read', { scanner: 'net-1', text: grace.code });
    await integrator.call('scanner.read', { scanner: 'net-1', text: ada.code });
    await expect.poll(grants, { timeout: 15_000 }).toBe(grantsBefore + 1);
    expect((await texts()).every((t) => t.includes('Ada Lovelace'))).toBe(true);

    // Digits are an id.
    await holder.fill(grace.id);
    await expect.poll(async () => (await texts()).filter((t) => t.includes('granted: Grace Hopper')).length, { timeout: 15_000 }).toBe(2);
    expect((await texts()).every((t) => t.includes(grace.id))).toBe(true);

    await holder.fill('nobody at all');
    await page.locator('#feed').getByText('No event matches these filters.').waitFor();
    await holder.fill('');
    await expect.poll(async () => (await texts()).some((t) => t.includes('Grace Hopper')) && (await texts()).some((t) => t.includes('Ada Lovelace')), { timeout: 15_000 }).toBe(true);
  });

  it('says "revoked" of a revoked link and "not yet valid" of one that starts later', async () => {
    await visit('links');
    const graceRow = linkRow(grace.id);
    await graceRow.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
    await graceRow.waitFor({ state: 'detached' });
    await page.getByLabel('show revoked').check();
    await expect.poll(() => cell(graceRow, 'status').textContent(), { timeout: 15_000 }).toBe('revoked');
    expect(await graceRow.getAttribute('data-status')).toBe('revoked');
    expect(await cell(graceRow, 'status').locator('.status').getAttribute('class')).toContain('st-revoked');
    expect(await cell(linkRow(ada.id), 'status').textContent()).toBe('active');
    expect((await integrator.call('links.get', { id: grace.id })).status).toBe('revoked');
    // Its code is denied, and the feed names whose it was.
    expect(await integrator.call('scanner.read', { scanner: 'net-1', text: grace.code })).toMatchObject({ verdict: 'deny', reason: 'revoked' });

    const later = await createLink(async () => {
      await page.locator('input[name="name"]').fill('Future Visitor');
      await page.locator('.door-checks').getByLabel('Front', { exact: true }).check();
      await page.locator('input[name="from"]').fill(nextYearLocal());
    }, 'Opens Front,');
    // New links come last, past the first page (links.list is oldest first): found by name.
    await page.locator('input[name="search"]').fill('future');
    await expect.poll(() => cell(linkRow(later.id), 'status').textContent(), { timeout: 15_000 }).toBe('not yet valid');
    expect(await cell(linkRow(later.id), 'status').locator('.status').getAttribute('class')).toContain('st-not-yet-valid');
    expect((await integrator.call('links.get', { id: later.id })).status).toBe('not-yet-valid');

    await visit('');
    await page.locator('#feed tr.v-deny').filter({ hasText: `denied: revoked, Grace Hopper (link ${grace.id})` }).waitFor();
  });

  it('makes a credential for a scope picked by name, and lists what it opens and its status', async () => {
    await visit('credentials');
    await page.getByRole('heading', { name: 'New rotating credential' }).waitFor();
    await page.locator('form input[name="name"]').fill('Margaret Member');
    await page.locator('form select[name="scope"]').selectOption({ label: 'front only (Front)' });
    await page.getByRole('button', { name: 'Create credential' }).click();
    const created = page.locator('section.created');
    await created.getByRole('heading', { name: 'Badge for Margaret Member' }).waitFor();
    const id = (await created.getAttribute('data-credential'))!;
    await page.getByRole('button', { name: 'Done' }).click();
    const row = page.locator(`tr[data-credential="${id}"]`);
    await row.waitFor();
    expect(await cell(row, 'opens').textContent()).toBe('front only');
    expect(await cell(row, 'status').textContent()).toBe('active');
    const listed = (await integrator.call('credentials.list', { search: 'margaret' })) as Array<Record<string, unknown>>;
    expect(listed).toEqual([expect.objectContaining({ id, scope: 3, scopeName: 'front only', status: 'active' })]);
    // The search box finds it by name.
    await page.locator('input[name="search"]').fill('MARGARET');
    await expect.poll(() => page.locator('main tr[data-credential]').count(), { timeout: 15_000 }).toBe(1);
  });

  it('gives a partner its scopes by name and lists their names', async () => {
    await visit('partners');
    await page.locator('input[name="id"]').fill('41');
    await page.locator('form input[name="name"]').fill('Acme Cleaning');
    const defaults = page.locator('select[name="defaultScope"]');
    expect(await defaults.locator('option').allTextContents()).toEqual(['none']);
    await page.getByRole('checkbox', { name: /^staff/ }).check();
    await page.getByRole('checkbox', { name: /^front only/ }).check();
    // The default is one of the ticked scopes.
    expect(await defaults.locator('option').allTextContents()).toEqual(['none', 'staff', 'front only']);
    await defaults.selectOption({ label: 'front only' });
    await page.getByRole('button', { name: 'Add partner' }).click();
    await page.locator('.secret code').waitFor();
    const row = page.locator('tr[data-partner="41"]');
    await row.waitFor();
    expect(await cell(row, 'allowed scopes').textContent()).toBe('staff, front only');
    expect(await cell(row, 'default scope').textContent()).toBe('front only');
    const partners = (await integrator.call('partners.list')) as Array<{ id: number; allowedScopes: number[]; defaultScope: number | null }>;
    const acme = partners.find((p) => p.id === 41)!;
    expect([...acme.allowedScopes].sort()).toEqual([3, 7]);
    expect(acme.defaultScope).toBe(3);
  });

  it('fits the new columns, search boxes and scope pickers on a 390 px phone', async () => {
    const phone = await launchSized(PHONE);
    try {
      const small = await phone.context.newPage();
      await small.goto(site.url + '/');
      await small.locator('input[name="name"]').fill('ada');
      await small.locator('input[name="password"]').fill(PASSWORD);
      await small.locator('button[type="submit"]').click();
      await small.locator('article[data-door="front"]').waitFor();
      for (const route of ['', 'links', 'credentials', 'partners']) {
        await small.goto(`${site.url}/#/${route}`);
        await small.locator('#page-h').waitFor();
        if (route !== '') await small.locator('main table tbody tr').first().waitFor();
        if (route === 'links') await small.getByLabel('a scope of the site file').check();
        const scroll = await small.evaluate(() => document.documentElement.scrollWidth);
        expect(scroll, `#/${route} at 390 px`).toBeLessThanOrEqual(390);
      }
      // A list row is a card whose cells say what they are.
      await small.goto(`${site.url}/#/links`);
      const status = small.locator(`tr[data-link="${ada.id}"] td[data-label="status"]`);
      await small.locator('input[name="search"]').fill('lovelace');
      await status.waitFor();
      expect(await status.evaluate((td) => getComputedStyle(td, '::before').content)).toBe('"status: "');
    } finally {
      await phone.close();
    }
  });
});

declare function getComputedStyle(element: unknown, pseudo?: string): { content: string };
