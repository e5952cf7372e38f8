/**
 * The hub's web UI (webui/hub.html, served by the hub at `/`) in Chromium, against a real hub over
 * a throwaway PostgreSQL database and a real controller linked to it (issue 15, point 1):
 * - a wrong token is refused and the page says so; the right one signs in;
 * - the all-sites overview shows both sites: Lisbon with its controller online, Porto (a controller
 *   slot never enrolled) offline and alarming;
 * - the site picker opens Lisbon's page (#/site/lisbon): its doors, read from the controller
 *   through site.call; an admin makes an access link there (its code shown) and sees it listed,
 *   revokes a subject for the site, revokes a link and a credential with their buttons, and sees
 *   the credentials and partners the controller holds;
 * - an operator unlocks and locks a door of the live site by keyboard, the controller's relay
 *   following, and gets no Revoke for links or credentials;
 * - Porto's page says its controllers are offline rather than failing; Lisbon's page, open while
 *   its controller goes, drops what it had read;
 * - a viewer gets no write controls;
 * - no page scrolls sideways on a 390 px phone at DPR 3 or a 1024x768 tablet, one h1 each.
 * Needs a build of the current webui/src (`npm run build:ui`; built here when hub.html is missing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubAccounts } from '../../controller/hub/hubAccounts.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { postgresAvailable } from '../support/postgres.ts';
import { ControllerSite, hubDatabase, hubHttpUrl, startHub, until, type HubDatabaseFixture } from '../sync/hubSite.ts';
import { haveChromium, launchSized, PHONE, requireAll, ROOT, type Chromium } from './uiHarness.ts';

/* The page's globals, for callbacks that run in the browser (the tests' tsconfig has no DOM library). */
declare const document: any;
declare const innerWidth: number;
declare const sessionStorage: any;
declare const axe: any;

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const pgUp = await postgresAvailable();
const runs = (haveChromium && pgUp) || requireAll;
const title = runs
  ? "the hub's web UI in Chromium"
  : `the hub's web UI: skipped: ${haveChromium ? '' : 'Chromium not installed (apt-get install chromium)'}${!haveChromium && !pgUp ? '; ' : ''}${pgUp ? '' : 'PostgreSQL not reachable (set POSTERN_TEST_PG_URL or start it)'}`;

const OFFLINE_TEXT = "This site's controllers are offline";
const TABLET = { viewport: { width: 1024, height: 768 }, deviceScaleFactor: 1, isMobile: true, hasTouch: true };

/** Builds webui/dist when it has no hub page (a checkout built before the hub page existed). */
function ensureHubUiBuilt(): void {
  if (existsSync(path.join(ROOT, 'webui', 'dist', 'hub.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'webui/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}

describe.skipIf(!runs)(title, () => {
  let fixture: HubDatabaseFixture;
  let hub: Hub;
  let site: ControllerSite;
  let url: string;
  const tokens: Record<'admin' | 'operator' | 'viewer', string> = { admin: '', operator: '', viewer: '' };
  const browsers: Chromium[] = [];
  let leaving = '';
  let departed = '';

  async function browse(options: Parameters<typeof launchSized>[0]): Promise<Page> {
    const browser = await launchSized(options);
    browsers.push(browser);
    const page = await browser.context.newPage();
    page.setDefaultTimeout(20_000);
    return page;
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.goto(`${url}/`);
    await page.locator('input[name="token"]').fill(token);
    await page.locator('button[type="submit"]').click();
    await page.locator('header.top select[name="site"]').waitFor();
  }

  /**
   * No sideways scrolling at this width (the document no wider than the viewport), one h1, and no
   * serious or critical axe-core violation (as test/webui/accessibility.test.ts checks the
   * controller's pages).
   */
  async function pageChecks(page: Page, what: string): Promise<void> {
    const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(widths.scroll, `${what}: scrollWidth ${widths.scroll} > clientWidth ${widths.client}`).toBeLessThanOrEqual(widths.client);
    expect(await page.locator('h1').count(), `h1 on ${what}`).toBe(1);
    if (!(await page.evaluate(() => typeof axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
    const violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> = await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations);
    const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect(serious, what).toEqual([]);
  }

  beforeAll(async () => {
    ensureHubUiBuilt();
    fixture = await hubDatabase();
    await fixture.admin.addSite('lisbon', 'Lisbon office');
    await fixture.admin.addSite('porto', 'Porto warehouse with a rather long name for a narrow phone');
    const { code } = await fixture.admin.addController('lisbon', 'front desk');
    // A slot never enrolled: Porto has a controller, and it is offline.
    await fixture.admin.addController('porto', 'loading bay');
    const accounts = new HubAccounts(fixture.admin.store.db);
    tokens.admin = (await accounts.add('ada', 'admin')).token;
    tokens.viewer = (await accounts.add('vic', 'viewer')).token;
    tokens.operator = (await accounts.add('otto', 'operator')).token;
    hub = await startHub(fixture.db.url);
    url = hubHttpUrl(hub);
    site = await ControllerSite.create();
    await site.enrol(url, code);
    await site.start({ hubUrl: url });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live');
    // A link that stays: every page lists at least this one.
    await site.issue('Standing visitor');
    // What the admin revokes with the rows' buttons.
    leaving = (await site.issue('Leaving visitor')).id;
    // A credential and a partner that stay, and a credential to revoke: the panels list what the controller holds.
    await site.running.issuing.createCredential({ name: 'Night guard', scope: 7 }, 'test');
    departed = (await site.running.issuing.createCredential({ name: 'Departed contractor', scope: 3 }, 'test')).credential.id;
    await site.running.issuing.addPartner({ id: 42, name: 'Parking partner', allowedScopes: [3, 7] }, 'test');
  }, 60_000);

  afterAll(async () => {
    for (const browser of browsers) await browser.close().catch(() => undefined);
    await site?.stop();
    await hub?.stop();
    await fixture?.close();
  });

  it('refuses a wrong token, signs in with the right one, shows every site, and an admin manages an online site', async () => {
    const page = await browse({ viewport: { width: 1280, height: 860 } });
    await page.goto(`${url}/`);
    await page.locator('input[name="token"]').waitFor();
    expect(await page.locator('h1').count()).toBe(1);
    await page.locator('input[name="token"]').fill('ph_nope_notarealtoken');
    await page.locator('button[type="submit"]').click();
    await expect.poll(() => page.locator('#login-error').textContent()).toContain('refused this token');
    // Nothing kept of a refused token.
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    // By keyboard: Enter in the token field signs in.
    await page.locator('input[name="token"]').fill(tokens.admin);
    await page.locator('input[name="token"]').press('Enter');
    await page.locator('ul.site-grid').waitFor();
    expect(await page.locator('.user').textContent()).toContain('ada');
    // The token is in this tab's sessionStorage only: not in the URL.
    expect(page.url()).not.toContain(tokens.admin);

    // The overview: Lisbon online and well, Porto offline and alarming, in words.
    const lisbon = page.locator('article[data-site="lisbon"]');
    const porto = page.locator('article[data-site="porto"]');
    await page.locator('article[data-site="lisbon"][data-alarm="no"]').waitFor();
    expect(await lisbon.locator('.site-online').textContent()).toContain('1 of 1 controller online');
    expect(await porto.getAttribute('data-alarm')).toBe('yes');
    expect(await porto.locator('.site-online').textContent()).toContain('0 of 1 controller online');
    expect(await porto.locator('.site-alarms').textContent()).toContain('loading bay is offline');
    expect(await page.locator('h1').textContent()).toBe('All sites');

    // The site picker opens Lisbon's page, by a hash that can be linked to.
    await page.locator('select[name="site"]').selectOption('lisbon');
    await page.waitForURL(/#\/site\/lisbon$/);
    await expect.poll(() => page.locator('h1').textContent()).toBe('Lisbon office');
    await page.locator('.hub-doors li[data-door="lab"]').waitFor();
    expect(await page.locator('.hub-doors li').count()).toBe(3);
    expect(await page.locator('tr[data-controller][data-online="yes"]').count()).toBe(1);
    // The site's newest events, from the trail its controller uploaded to the hub.
    await page.locator('section[aria-labelledby="events-h"] tbody tr').first().waitFor();

    // An access link made at the site through the hub: its code shown once, then listed.
    const form = page.locator('[data-testid="link-form"]');
    await form.locator('input[name="name"]').fill('Hub visitor');
    await form.locator('input[name="door"][value="lab"]').check();
    await form.locator('button[type="submit"]').click();
    const code = page.locator('[data-testid="link-code"]');
    await code.waitFor();
    expect((await code.textContent())?.length).toBeGreaterThan(10);
    expect(await page.locator('.created canvas[role="img"]').count()).toBe(1);
    const linkId = await page.locator('section.created').getAttribute('data-link');
    await page.locator('section.created button', { hasText: 'Done' }).click();
    await page.locator(`tr[data-link="${linkId}"]`).waitFor();
    expect(await page.locator(`tr[data-link="${linkId}"]`).textContent()).toContain('Hub visitor');
    // The link is the controller's own: it opens the lab.
    const made = await site.running.issuing.getLink(linkId!);
    expect(made.name).toBe('Hub visitor');

    // A subject revoked for the site: written at the hub, reaches the controller.
    const revoke = page.locator('[data-testid="revoke-form"]');
    await revoke.locator('input[name="subject"]').fill(linkId!);
    await revoke.locator('input[name="reason"]').fill('lost phone');
    await revoke.locator('button[type="submit"]').click();
    await expect.poll(() => revoke.locator('.ok').textContent()).toContain(`Subject ${linkId} is revoked`);
    await until(async () => (await site.running.issuing.getLink(linkId!)).status === 'revoked', 5000, 'the revocation at the controller');

    // The credentials and partners the controller holds, scopes by name.
    const guard = page.locator('tr[data-credential]', { hasText: 'Night guard' });
    await guard.waitFor();
    expect(await guard.locator('td[data-label="opens"]').textContent()).toBe('staff');
    expect(await guard.getAttribute('data-status')).toBe('active');
    expect(await page.locator('tr[data-partner="42"]').textContent()).toContain('Parking partner');
    expect(await page.locator('tr[data-partner="42"] td[data-label="scopes allowed"]').textContent()).toBe('front only, staff');

    // A link revoked with its row's button, after the dialog: gone from the list (which lists the
    // ones in force), revoked at the controller. Then a credential the same way.
    const revokeRow = async (row: string, question: string) => {
      await page.locator(row).locator('button', { hasText: 'Revoke' }).click();
      const dialog = page.locator('[role="alertdialog"]');
      expect(await dialog.textContent()).toContain(question);
      await dialog.locator('button', { hasText: 'Revoke' }).click();
      await page.locator(row).waitFor({ state: 'detached' });
    };
    await revokeRow(`tr[data-link="${leaving}"]`, 'Revoke the link of Leaving visitor?');
    expect((await site.running.issuing.getLink(leaving)).status).toBe('revoked');
    await revokeRow(`tr[data-credential="${departed}"]`, 'Revoke the credential of Departed contractor?');
    expect((await site.running.issuing.listCredentials({ includeRevoked: true })).find((c) => c.id === departed)?.status).toBe('revoked');

    // Porto's page: offline, said plainly, no failure.
    await page.goto(`${url}/#/site/porto`);
    await page.locator('[data-testid="site-offline"]').waitFor();
    expect(await page.locator('[data-testid="site-offline"]').first().textContent()).toContain(OFFLINE_TEXT);
    // The offline sentence shows at once (from the overview); the hub's events come with their own read.
    await expect.poll(() => page.locator('section[aria-labelledby="events-h"]').textContent()).toContain('No event uploaded yet');
    expect(await page.locator('.site-page .error').count()).toBe(0);
    expect(await page.locator('[data-testid="link-form"]').count()).toBe(0);
  });

  it('lets an operator unlock and lock a door of the live site, and gives the revoke form but no link form or Revoke buttons (those need the controller integrator role, which only a hub admin has)', async () => {
    const page = await browse({ viewport: { width: 1280, height: 860 } });
    await signIn(page, tokens.operator);
    await page.goto(`${url}/#/site/lisbon`);
    await page.locator('[data-testid="revoke-form"]').waitFor();
    await page.locator('tr[data-link]', { hasText: 'Standing visitor' }).waitFor();
    await page.locator('tr[data-credential]', { hasText: 'Night guard' }).waitFor();
    expect(await page.locator('[data-testid="link-form"]').count()).toBe(0);
    expect(await page.locator('tr[data-link] button').count()).toBe(0);
    expect(await page.locator('tr[data-credential] button').count()).toBe(0);

    // By keyboard: the door's Unlock asks first, its confirm button has the focus, Enter sends it.
    const lab = page.locator('.hub-doors li[data-door="lab"]');
    expect(site.running.doorStatus('lab')?.relayUnlocked).toBe(false);
    await lab.locator('button', { hasText: 'Unlock' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.locator('[role="alertdialog"]');
    expect(await dialog.textContent()).toContain('Unlock Lab for 5 seconds?');
    // The dialog moves the focus to its confirm button just after it shows: Enter goes there then.
    await expect.poll(() => dialog.locator('button', { hasText: 'Unlock' }).evaluate((button) => button === document.activeElement)).toBe(true);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    await until(() => site.running.doorStatus('lab')?.relayUnlocked === true, 5000, 'the lab unlocked at the controller');
    // The state is read again after the command, not at the next poll only.
    await page.locator('.hub-doors li[data-door="lab"][data-state="unlocked"]').waitFor({ timeout: 4000 });
    expect(await lab.locator('.error').count()).toBe(0);

    // Lock now ends the unlock before its 5 s.
    await lab.locator('button', { hasText: 'Lock now' }).click();
    await dialog.locator('button', { hasText: 'Lock now' }).click();
    await until(() => site.running.doorStatus('lab')?.relayUnlocked === false, 3000, 'the lab locked again at the controller');
    await page.locator('.hub-doors li[data-door="lab"][data-state="secured"]').waitFor({ timeout: 4000 });

    // A command the controller refuses (the door locked down at the site while the dialog was
    // open): the refusal in words beside that door, and the door's new state read.
    const store = page.locator('.hub-doors li[data-door="store"]');
    await store.locator('button', { hasText: 'Unlock' }).click();
    await site.running.doors.lockdown('store', true, 'test');
    try {
      await dialog.locator('button', { hasText: 'Unlock' }).click();
      await expect.poll(() => store.locator('.error').textContent()).toContain('lockdown');
      await page.locator('.hub-doors li[data-door="store"][data-state="lockdown"]').waitFor({ timeout: 4000 });
      expect(await store.locator('button', { hasText: 'Unlock' }).isDisabled()).toBe(true);
      expect(site.running.doorStatus('store')?.relayUnlocked).toBe(false);
    } finally {
      await site.running.doors.lockdown('store', false, 'test');
    }
  });

  it('gives a viewer no write controls', async () => {
    const page = await browse({ viewport: { width: 1280, height: 860 } });
    await signIn(page, tokens.viewer);
    await page.goto(`${url}/#/site/lisbon`);
    await page.locator('.hub-doors li[data-door="lab"]').waitFor();
    await page.locator('tr[data-link]', { hasText: 'Standing visitor' }).waitFor();
    // Credentials and partners are read by viewers too.
    await page.locator('tr[data-credential]', { hasText: 'Night guard' }).waitFor();
    await page.locator('tr[data-partner="42"]').waitFor();
    expect(await page.locator('[data-testid="link-form"]').count()).toBe(0);
    expect(await page.locator('[data-testid="revoke-form"]').count()).toBe(0);
    expect(await page.locator('main button').count()).toBe(0);
    expect(await page.locator('.user').textContent()).toContain('viewer');
    // Signing out forgets the token: a reload asks for it again.
    await page.locator('header button', { hasText: 'Sign out' }).click();
    await page.locator('input[name="token"]').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await page.locator('input[name="token"]').waitFor();
  });

  it('scrolls no page sideways on a 390 px phone at DPR 3 or a 1024x768 tablet', async () => {
    for (const [name, options] of [
      ['phone', PHONE],
      ['tablet', TABLET],
    ] as const) {
      // bypassCSP: the page's policy (script-src 'self') would refuse axe's injected script. The
      // other tests run under the policy, WebSocket to /api included.
      const page = await browse({ ...options, bypassCSP: true });
      await page.goto(`${url}/`);
      await page.locator('input[name="token"]').waitFor();
      await pageChecks(page, `${name}: sign-in`);
      await signIn(page, tokens.admin);
      await page.locator('article[data-site="porto"]').waitFor();
      await pageChecks(page, `${name}: overview`);
      await page.goto(`${url}/#/site/lisbon`);
      await page.locator('.hub-doors li[data-door="lab"]').waitFor();
      await page.locator('tr[data-link]').first().waitFor();
      await page.locator('tr[data-credential]').first().waitFor();
      await page.locator('tr[data-partner]').first().waitFor();
      await pageChecks(page, `${name}: Lisbon`);
      // A door command's dialog fits too; Escape closes it unsent, the focus back on its button.
      const unlock = page.locator('.hub-doors li[data-door="lab"] button', { hasText: 'Unlock' });
      await unlock.click();
      await page.locator('[role="alertdialog"]').waitFor();
      await pageChecks(page, `${name}: Lisbon, a door's dialog`);
      await page.keyboard.press('Escape');
      await page.locator('[role="alertdialog"]').waitFor({ state: 'detached' });
      expect(await unlock.evaluate((button) => button === document.activeElement)).toBe(true);
      expect(site.running.doorStatus('lab')?.relayUnlocked).toBe(false);
      await page.goto(`${url}/#/site/porto`);
      await page.locator('[data-testid="site-offline"]').first().waitFor();
      await pageChecks(page, `${name}: Porto`);
      if (name === 'phone') expect(await page.evaluate(() => innerWidth)).toBe(390);
    }
    // Eight pages through axe in two browsers: more than the default minute on a loaded machine.
  }, 150_000);

  it('follows a controller going offline within seconds, and reconnects and reads again when the hub comes back', async () => {
    const page = await browse({ viewport: { width: 1280, height: 860 } });
    await signIn(page, tokens.admin);
    await page.locator('article[data-site="lisbon"][data-alarm="no"]').waitFor();

    // Lisbon's page open while its controller goes: the offline sentence, and none of what it had read.
    await page.goto(`${url}/#/site/lisbon`);
    await page.locator('tr[data-partner]').first().waitFor();
    await site.stop();
    await page.locator('[data-testid="site-offline"]').first().waitFor({ timeout: 15_000 });
    for (const stale of ['.hub-doors li', 'tr[data-link]', 'tr[data-credential]', 'tr[data-partner]']) expect(await page.locator(stale).count(), stale).toBe(0);

    // The overview is read every few seconds: the controller's link closing shows without a reload.
    await page.goto(`${url}/#/`);
    await page.locator('article[data-site="lisbon"][data-alarm="yes"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('article[data-site="lisbon"] .site-alarms').textContent()).toContain('front desk is offline');

    // The hub restarts on the same port: the page says it lost the hub, then signs in again by itself.
    const { port } = hub.address();
    await hub.stop();
    await page.locator('#connection-banner').waitFor();
    hub = await startHub(fixture.db.url, { port });
    await site.start({ hubUrl: url });
    await until(() => site.running.syncStatus?.state === 'live', 10_000, 'the link live again');
    await page.locator('#connection-banner').waitFor({ state: 'detached', timeout: 20_000 });
    await page.locator('article[data-site="lisbon"][data-alarm="no"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('input[name="token"]').count()).toBe(0);
  });
});
