/**
 * The operator UI's sync panel, live, in Chromium against a real controller whose site file has a
 * `hub` section pointing at the hub of test/sync/fakeHub.ts (a real WebSocket server speaking
 * docs/sync.md: welcome, snapshot, synced, audit acks, pongs with its own clock). A viewer signed in
 * on a desktop, a 360 px phone at pixel ratio 3 and a landscape tablet sees: live with the hub's
 * address; the clock alarm appear (and go) without a reload when the hub's clock is 8 s off; the
 * link leave live with its error when the hub goes away, and the audit events waiting for it. No
 * screen scrolls the panel sideways. A standalone controller says it is standalone.
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { tempDir, testSite } from '../support/testSite.ts';
import { FakeHub } from '../sync/fakeHub.ts';
import { addUsers, CHROMIUM, CHROMIUM_ARGS, ensureUiBuilt, haveChromium, requireAll } from './uiHarness.ts';

/* The page's globals, for callbacks that run in the browser (the tests' tsconfig has no DOM library). */
declare const document: any;
declare const window: any;
declare const getComputedStyle: (element: any) => any;
declare const axe: any;

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

const PASSWORD = 'correct horse battery';
const CREDENTIAL = 'pstc_webui_sync_panel_credential_0123456789';
/** Pings every 150 ms, so a change of the hub's clock is measured at once; retries within 0.4 s. */
const FAST = { backoffBaseMs: 200, backoffMaxMs: 400, heartbeatMs: 150, silenceMs: 3000, random: () => 1 };
const runs = haveChromium || requireAll;
const title = runs ? 'the sync panel of the operator UI (Chromium)' : 'the sync panel of the operator UI: skipped: Chromium not installed (apt-get install chromium)';

/** Each screen the panel must fit: a desktop, a 360 px phone at pixel ratio 3, a tablet in landscape. */
const SCREENS: Record<string, BrowserContextOptions> = {
  // bypassCSP: the pages' policy (script-src 'self') would refuse axe's injected script.
  desktop: { viewport: { width: 1280, height: 860 }, bypassCSP: true },
  phone: { viewport: { width: 360, height: 780 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
  tablet: { viewport: { width: 1024, height: 768 }, deviceScaleFactor: 2, hasTouch: true },
};

/** --s-secured and --s-forcedOpen of style.css, as computed styles give them. */
const GREEN = 'rgb(31, 122, 74)';
const RED = 'rgb(180, 35, 24)';
/** The same clock, give or take a loaded machine's round trip. */
const IN_STEP = /^(in step with the hub|0\.\d s (behind|ahead of) the hub)$/;

describe.skipIf(!runs)(title, () => {
  let hub: FakeHub;
  let controller: Controller;
  let standalone: ApiSite;
  let browser: Browser;
  const pages: Record<string, Page> = {};
  const panel = (page: Page) => page.locator('section.sync');
  const all = () => Object.entries(pages);

  async function signIn(page: Page, url: string): Promise<void> {
    await page.goto(url + '/');
    await page.locator('input[name="name"]').fill('vera');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await page.locator('article[data-door="front"]').waitFor();
  }

  /** Nothing of the panel reaches past its right edge, and the page does not scroll sideways. */
  async function expectFits(page: Page, screen: string, when: string): Promise<void> {
    const box = await panel(page).evaluate((section) => {
      const right = section.getBoundingClientRect().right;
      const over = [...section.querySelectorAll('*')].filter((e: any) => e.getBoundingClientRect().right > right + 0.5).map((e: any) => `${e.tagName}.${e.className}`);
      return { over, scroll: section.scrollWidth, client: section.clientWidth, page: document.documentElement.scrollWidth, inner: window.innerWidth };
    });
    expect(box.over, `${screen}, ${when}: past the panel's edge`).toEqual([]);
    expect(box.scroll, `${screen}, ${when}: the panel scrolls sideways`).toBeLessThanOrEqual(box.client);
    expect(box.page, `${screen}, ${when}: the page scrolls sideways`).toBeLessThanOrEqual(box.inner);
    expect(box.inner, `${screen}: the layout viewport`).toBe(SCREENS[screen]!.viewport!.width);
  }

  beforeAll(async () => {
    ensureUiBuilt();
    hub = await new FakeHub({ credential: CREDENTIAL }).start();
    const dataDir = await tempDir('postern-web-sync-');
    // Where `postern enrol` writes it: the controller finds it without hub.credentialFile.
    await writeFile(path.join(dataDir, 'hub-credential.test-site'), `${CREDENTIAL}\n`, { mode: 0o600 });
    await addUsers(dataDir, [{ name: 'vera', password: PASSWORD, role: 'viewer' }]);
    const config = testSite(dataDir, (input) => {
      input.hub = { url: hub.url };
    });
    controller = new Controller({ config, terminal: new PassThrough(), syncTiming: FAST });
    await controller.start();

    standalone = await startApiSite();
    await addUsers(standalone.dataDir, [{ name: 'vera', password: PASSWORD, role: 'viewer' }]);

    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    for (const [screen, options] of Object.entries(SCREENS)) {
      const page = await (await browser.newContext(options)).newPage();
      page.setDefaultTimeout(20_000);
      await signIn(page, controller.apiUrl!);
      pages[screen] = page;
    }
  });

  afterAll(async () => {
    await browser?.close();
    await controller?.stop();
    await standalone?.stop();
    await hub?.stop();
  });

  it('says live, in green and in words, with the hub\'s address, nothing behind and no alarm, to a viewer', async () => {
    expect(controller.syncStatus?.state).toBe('live');
    for (const [screen, page] of all()) {
      await page.locator('section.sync[data-sync="live"]').waitFor();
      const p = panel(page);
      expect(await p.locator('.sync-word').textContent(), screen).toBe('Live');
      expect(await p.locator('.sync-word').evaluate((e) => getComputedStyle(e).color)).toBe(GREEN);
      expect(await p.locator('.sync-state .dot').evaluate((e) => getComputedStyle(e).backgroundColor)).toBe(GREEN);
      expect(await p.locator('.sync-hub').textContent()).toBe(`${hub.url.replace(/^http/, 'ws')}/sync`);
      expect(await p.locator('.sync-lag').textContent()).toBe('0 changes behind');
      // The start's own events reach the hub: the outbox empties, live.
      await expect.poll(() => p.locator('.sync-outbox').textContent()).toBe('0 audit events not yet at the hub');
      expect(await p.locator('.sync-clock').textContent()).toMatch(IN_STEP);
      expect(await p.locator('[role="alert"]').count()).toBe(0);
      expect(await p.locator('.sync-error').count()).toBe(0);
      expect(await p.textContent()).toContain('site lisbon, controller ctl_1');
      expect(await p.textContent()).not.toContain('standalone');
    }
  });

  it('raises the clock alarm without a reload when the hub\'s clock is 8 s ahead, and clears it when the clocks agree', async () => {
    for (const [, page] of all()) await page.evaluate(() => (window.posternNotReloaded = true));
    hub.clockOffsetMs = 8000;
    for (const [screen, page] of all()) {
      const alarm = panel(page).getByRole('alert');
      await alarm.waitFor();
      expect(await alarm.textContent(), screen).toMatch(/Clock alarm: this controller's clock is (7\.9|8\.0|8\.1) s behind the hub's/);
      expect(await panel(page).locator('.sync-clock').textContent()).toMatch(/^(7\.9|8\.0|8\.1) s behind the hub$/);
      // Still live: the alarm is about the clock, not the link.
      expect(await panel(page).getAttribute('data-sync')).toBe('live');
      expect(await page.evaluate(() => window.posternNotReloaded)).toBe(true);
      await expectFits(page, screen, 'clock alarm');
    }
    expect(controller.syncStatus?.clockAlarm).toBe(true);

    hub.clockOffsetMs = 0;
    for (const [, page] of all()) {
      await panel(page).getByRole('alert').waitFor({ state: 'detached' });
      expect(await panel(page).locator('.sync-clock').textContent()).toMatch(IN_STEP);
    }
    // Behind the hub this time: the controller's clock is ahead.
    hub.clockOffsetMs = -8000;
    for (const [screen, page] of all()) {
      await expect.poll(() => panel(page).getByRole('alert').textContent().catch(() => ''), { timeout: 10_000 }).toMatch(/is (7\.9|8\.0|8\.1) s ahead of the hub's/);
      expect(await page.evaluate(() => window.posternNotReloaded), screen).toBe(true);
    }
  });

  it('leaves live when the hub goes away: the state in words, the error, and the audit events waiting for the hub', async () => {
    await hub.stop();
    for (const [screen, page] of all()) {
      const p = panel(page);
      await p.locator('.sync-error').waitFor();
      const state = await p.getAttribute('data-sync');
      expect(['backoff', 'connecting'], screen).toContain(state);
      expect(await p.locator('.sync-word').textContent()).toBe(state === 'backoff' ? 'Backoff' : 'Connecting');
      expect(await p.locator('.sync-word').textContent()).not.toBe('Live');
      // The panel shows the controller's own words for why.
      await expect.poll(async () => (await p.locator('.sync-error').textContent()) === controller.syncStatus?.lastError, { timeout: 10_000 }).toBe(true);
      expect(await p.locator('.sync-error').textContent()).not.toBe('');
    }
    // A backoff is red; the retries come and go (a connecting attempt is amber), so the state and its
    // colour are read together, until one read catches a backoff.
    const backoffColour = async () =>
      pages.desktop!.locator('section.sync').evaluate((section) => {
        const word = section.querySelector('.sync-word');
        return section.getAttribute('data-sync') === 'backoff' && word !== null ? getComputedStyle(word).color : undefined;
      });
    await expect.poll(backoffColour, { timeout: 10_000, interval: 20 }).toBe(RED);

    // Recorded while the hub is away: the outbox grows, live.
    await controller.issuing.createLink({ name: 'Visitor while the hub is away', doors: ['front'] }, 'test');
    const depth = controller.syncStatus!.outboxDepth;
    expect(depth).toBeGreaterThan(0);
    for (const [screen, page] of all()) {
      await expect.poll(() => panel(page).locator('.sync-outbox').textContent(), { timeout: 10_000 }).toBe(`${depth} audit event${depth === 1 ? '' : 's'} not yet at the hub`);
      // The last clock measured stands, and so does its alarm.
      expect(await panel(page).getByRole('alert').textContent()).toContain('ahead of the hub');
      expect(await page.evaluate(() => window.posternNotReloaded), screen).toBe(true);
      await expectFits(page, screen, 'hub gone');
    }
    // Red on white, white on red, the alarm's role: nothing serious for axe in the panel at its fullest.
    const page = pages.desktop!;
    await page.addScriptTag({ path: AXE });
    const violations: Array<{ id: string; impact: string }> = await page.evaluate(async () => (await axe.run({ include: [['section.sync']] }, { resultTypes: ['violations'] })).violations);
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);
  });

  it('says "standalone: no hub link" on a controller without a hub, in one short panel', async () => {
    for (const [screen, page] of all()) {
      await signIn(page, standalone.url);
      const p = page.locator('section.sync[data-sync="standalone"]');
      await p.waitFor();
      expect(await p.locator('.sync-state').textContent(), screen).toContain('standalone: no hub link');
      expect(await p.locator('.sync-state').textContent()).toContain('decides every scan from its own store');
      expect(await p.locator('dl, .sync-hub, [role="alert"]').count()).toBe(0);
      await expectFits(page, screen, 'standalone');
    }
  });
});
