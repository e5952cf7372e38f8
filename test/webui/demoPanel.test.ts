/**
 * The demo panel of a door's page (issue 12, point 6), in Chromium against a real controller with
 * simulated doors: "Force open (demo)" raises the forced-open alarm and "Hold open (demo)" the
 * held-open one, each shown on the door's card; "Close (demo)" ends it. A viewer, who may not call
 * the demo methods, sees no panel.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { addUsers, ensureUiBuilt, haveChromium, launchChromium, requireAll, type Chromium } from './uiHarness.ts';

const PASSWORD = 'correct horse battery';
const runs = haveChromium || requireAll;
const title = runs ? 'the demo panel of a door page (Chromium)' : 'the demo panel of a door page: skipped: Chromium not installed (apt-get install chromium)';

describe.skipIf(!runs)(title, () => {
  let site: ApiSite;
  let browser: Chromium;
  let page: Page;
  let base: string;
  const card = () => page.locator('.detail article.card[data-door="store"]');
  const waitState = (state: string) => page.locator(`.detail article.card[data-door="store"][data-state="${state}"]`).waitFor({ timeout: 15_000 });
  const button = (name: string) => page.getByRole('button', { name, exact: true });

  async function signIn(name: string): Promise<void> {
    await page.goto(`${base}/#/door/store`);
    await page.locator('input[name="name"]').fill(name);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await waitState('secured');
  }

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startApiSite();
    await addUsers(site.dataDir, [
      { name: 'otto', password: PASSWORD, role: 'operator' },
      { name: 'vera', password: PASSWORD, role: 'viewer' },
    ]);
    base = site.url.replace(/\/$/, '');
    browser = await launchChromium();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    await browser?.close();
    await site?.stop();
  });

  it('Force open (demo) raises the forced-open alarm on the card; Close (demo) closes the door, the alarm waits to be acknowledged', async () => {
    await signIn('otto');
    const panel = page.getByRole('region', { name: 'Demo: simulated door' });
    await panel.waitFor();
    // A closed door has nothing to close.
    expect(await button('Close (demo)').isDisabled()).toBe(true);

    await button('Force open (demo)').click();
    await waitState('forcedOpen');
    expect(await card().locator('.alarm-line').textContent()).toContain('Forced open');
    expect(await card().getAttribute('class')).toContain('alarmed');
    // The command is in the door's recent events, by the signed-in operator.
    await page.locator('table.events td', { hasText: 'demo.force-open by user:otto' }).first().waitFor();

    await button('Close (demo)').click();
    await waitState('secured');
    expect(await card().locator('.alarm-line').textContent()).toContain('door closed again');
    await card().getByRole('button', { name: 'Acknowledge' }).click();
    await card().locator('.alarm-line').waitFor({ state: 'detached' });
  });

  it('Hold open (demo) lets someone in who keeps the door open: held-open alarm on the card; Close (demo) ends it', async () => {
    await button('Hold open (demo)').click();
    // The test site's heldOpenSeconds is 0.3: the alarm follows on its own (the brief `open` before
    // it is not waited for, as a busy page may render both changes at once).
    await waitState('heldOpen');
    expect(await card().locator('.alarm-line').textContent()).toContain('Held open');
    // Forcing an open door makes no sense: the button says why it is off.
    expect(await button('Force open (demo)').isDisabled()).toBe(true);
    expect(await button('Force open (demo)').getAttribute('title')).toBe('the door is open');

    await button('Close (demo)').click();
    await waitState('secured');
    expect(await card().locator('.alarm-line').textContent()).toContain('door closed again');
  });

  it('shows no demo panel to a viewer, who may not call the demo methods', async () => {
    await page.getByRole('button', { name: /sign out/i }).click();
    await signIn('vera');
    await page.getByRole('region', { name: 'Door status' }).waitFor();
    expect(await page.getByRole('region', { name: 'Demo: simulated door' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: /\(demo\)/ }).count()).toBe(0);
  });
});
