/**
 * An alarm cannot be missed (issue 12, point 3), in Chromium against a real controller: a door
 * forced open and closed again keeps the alarm colour until acknowledged; the title and the
 * favicon change and come back; the tone sounds and mutes for the session; a desktop notification
 * is made once allowed (never asked on load); the lockdown banner on every page and on a phone;
 * the wall view at 1920x1080.
 *
 * An init script records what the page does with AudioContext and Notification, so that the test
 * sees the tone's context running and the notifications made without a sound card or a desktop.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { addUsers, CHROMIUM, CHROMIUM_ARGS, ensureUiBuilt, haveChromium, launchChromium, requireAll, type Chromium } from './uiHarness.ts';

const PASSWORD = 'correct horse battery';
const runs = haveChromium || requireAll;
const title = runs ? 'alarms in the operator web UI (Chromium)' : 'alarms in the operator web UI: skipped: Chromium not installed (apt-get install chromium)';

/** The alarm colours of style.css (--s-forcedOpen), and the secured green (--s-secured). */
const FORCED_RED = 'rgb(180, 35, 24)';
const SECURED_GREEN = 'rgb(31, 122, 74)';

/*
 * The page's globals, for the callbacks that run in the browser: the tests' tsconfig has no DOM
 * library (adding it would retype the Node code), so they are declared here, for this file only.
 */
type Browserish = any;
declare const window: Browserish;
declare const document: Browserish;
declare const sessionStorage: Browserish;
declare const Notification: Browserish;
declare const getComputedStyle: Browserish;
declare const innerWidth: number;
declare const innerHeight: number;
declare const devicePixelRatio: number;

/** Runs in the page before its scripts: records AudioContexts and Notifications, changes nothing. */
function recordAlerts(): void {
  window.__audioContexts = [];
  window.__notifications = [];
  window.__permissionRequests = 0;
  window.__oscillators = 0;
  const createOscillator = window.AudioContext.prototype.createOscillator;
  window.AudioContext.prototype.createOscillator = function (this: Browserish) {
    window.__oscillators++;
    return createOscillator.call(this);
  };
  const OriginalAudioContext = window.AudioContext;
  window.AudioContext = new Proxy(OriginalAudioContext, {
    construct(target: Browserish, args: unknown[]) {
      const context = Reflect.construct(target, args) as Browserish;
      window.__audioContexts.push(context);
      return context;
    },
  });
  const OriginalNotification = window.Notification;
  if (!OriginalNotification) return;
  const requestPermission = OriginalNotification.requestPermission.bind(OriginalNotification);
  window.Notification = new Proxy(OriginalNotification, {
    construct(target: Browserish, args: [string, object?]) {
      const record = { title: args[0], options: args[1], closed: false };
      window.__notifications.push(record);
      const n = Reflect.construct(target, args) as Browserish;
      const close = n.close.bind(n);
      n.close = () => {
        record.closed = true;
        close();
      };
      return n;
    },
    get(target: Browserish, key: string | symbol) {
      if (key === 'requestPermission') {
        return () => {
          window.__permissionRequests++;
          return requestPermission();
        };
      }
      return Reflect.get(target, key, target);
    },
  });
}

describe.skipIf(!runs)(title, () => {
  let site: ApiSite;
  let browser: Chromium;
  let page: Page;
  let base: string;
  const io = (door: string) => site.controller.doorIo(door) as SimulatedDoorIo;
  const card = (door: string) => page.locator(`article.card[data-door="${door}"]`);
  const tile = (door: string) => page.locator(`article.tile[data-door="${door}"]`);
  const waitState = (door: string, state: string) => page.locator(`article[data-door="${door}"][data-state="${state}"]`).first().waitFor({ timeout: 15_000 });
  const borderColour = (door: string) => card(door).evaluate((el) => getComputedStyle(el).borderLeftColor);
  const favicon = () => page.locator('link[rel~="icon"]').getAttribute('href');
  const dataAlert = () => page.evaluate(() => document.documentElement.dataset.alert ?? null);
  const audioStates = () => page.evaluate(() => window.__audioContexts.map((c: Browserish) => c.state));

  async function signIn(p: Page, name = 'otto'): Promise<void> {
    await p.locator('input[name="name"]').fill(name);
    await p.locator('input[name="password"]').fill(PASSWORD);
    await p.locator('button[type="submit"]').click();
  }

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startApiSite();
    await addUsers(site.dataDir, [{ name: 'otto', password: PASSWORD, role: 'operator' }]);
    base = site.url.replace(/\/$/, '');
    browser = await launchChromium();
    await browser.context.addInitScript(recordAlerts);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    await browser?.close();
    await site?.stop();
  });

  let normalIcon: string | null = null;

  it('signs in quiet: plain title and favicon, no tone, and notifications asked for only from a click', async () => {
    await page.goto(base + '/');
    await signIn(page);
    await waitState('store', 'secured');
    expect(await page.title()).toBe('Postern');
    normalIcon = await favicon();
    expect(normalIcon).toMatch(/^data:image\/svg\+xml,/);
    expect(await dataAlert()).toBeNull();
    expect(await page.getByRole('button', { name: 'Mute alarm sound' }).count()).toBe(0);
    // Never asked on load: only the operator's click asks.
    expect(await page.evaluate(() => Notification.permission)).toBe('default');
    expect(await page.evaluate(() => window.__permissionRequests)).toBe(0);
    // The operator's click asks the browser; headless Chromium has no one to answer its prompt, so
    // the test grants the permission as the operator would, and the page follows the change.
    await page.getByRole('button', { name: 'Allow desktop notifications' }).click();
    await expect.poll(() => page.evaluate(() => window.__permissionRequests)).toBe(1);
    await browser.context.grantPermissions(['notifications'], { origin: base });
    await page.getByRole('button', { name: 'Allow desktop notifications' }).waitFor({ state: 'detached' });
    expect(await page.evaluate(() => Notification.permission)).toBe('granted');
  });

  it('keeps a forced door that closed again in the alarm colour, with title, favicon, tone and notification, until acknowledged', async () => {
    expect(await borderColour('store')).toBe(SECURED_GREEN);
    io('store').setDoorOpen(true);
    await waitState('store', 'forcedOpen');
    await expect.poll(() => page.title()).toBe('(!) 1 alarm · Postern');
    await expect.poll(favicon).not.toBe(normalIcon);
    expect(await favicon()).toMatch(/^data:image\/svg\+xml,/);

    // The tone: an AudioContext, running (the sign-in click was the gesture).
    await expect.poll(dataAlert).toBe('sounding');
    expect(await audioStates()).toContain('running');
    // Beeps are scheduled (ahead, on the audio clock), not just a context opened.
    expect(await page.evaluate(() => window.__oscillators)).toBeGreaterThan(0);

    await expect.poll(() => page.evaluate(() => window.__notifications.map((n: Browserish) => n.title))).toEqual(['Forced open: Store']);
    expect(await page.evaluate(() => window.__notifications[0].options?.body)).toMatch(/^Test site: the door is still open/);

    io('store').setDoorOpen(false);
    await waitState('store', 'secured');
    // Secured again, but not acknowledged: the alarm colour stays, and so does everything else.
    expect(await card('store').getAttribute('class')).toContain('alarmed');
    expect(await borderColour('store')).toBe(FORCED_RED);
    expect(await card('store').locator('.alarm-line').textContent()).toContain('door closed again');
    expect(await borderColour('front')).toBe(SECURED_GREEN);
    expect(await page.title()).toBe('(!) 1 alarm · Postern');
    expect(await dataAlert()).toBe('sounding');
    // One notification per alarm, not one per change of its door.
    expect(await page.evaluate(() => window.__notifications.length)).toBe(1);
  });

  it('mutes the tone for the session with one click, across a reload, and unmutes', async () => {
    await page.getByRole('button', { name: 'Mute alarm sound' }).click();
    await expect.poll(dataAlert).toBe('muted');
    await expect.poll(audioStates).not.toContain('running');
    expect(await page.evaluate(() => sessionStorage.getItem('postern.alarmSoundMuted'))).toBe('1');
    // The alarm itself is still there: only the sound is off.
    expect(await page.title()).toBe('(!) 1 alarm · Postern');

    await page.reload();
    await waitState('store', 'secured');
    await expect.poll(dataAlert).toBe('muted');
    expect(await audioStates()).not.toContain('running');
    await page.getByRole('button', { name: 'Unmute alarm sound' }).click();
    await expect.poll(dataAlert).toBe('sounding');
    expect(await audioStates()).toContain('running');
    expect(await page.evaluate(() => sessionStorage.getItem('postern.alarmSoundMuted'))).toBeNull();
  });

  it('puts everything back once acknowledged', async () => {
    const banner = page.getByRole('alert', { name: 'Alarms' });
    await banner.getByRole('button', { name: 'Acknowledge' }).click();
    await banner.waitFor({ state: 'detached' });
    await expect.poll(() => card('store').getAttribute('class')).not.toContain('alarmed');
    expect(await borderColour('store')).toBe(SECURED_GREEN);
    await expect.poll(() => page.title()).toBe('Postern');
    expect(await favicon()).toBe(normalIcon);
    await expect.poll(dataAlert).toBeNull();
    await expect.poll(audioStates).not.toContain('running');
    expect(await page.getByRole('button', { name: 'Mute alarm sound' }).count()).toBe(0);
    // The alarm's notification (made after the reload) is closed with it.
    await expect.poll(() => page.evaluate(() => window.__notifications.map((n: Browserish) => n.closed))).toEqual([true]);
  });

  it('shows the lockdown banner on every page, for some doors and for the site, and removes it when lifted', async () => {
    await site.controller.doors.lockdown('store', true, 'test');
    const lockdown = page.getByRole('alert', { name: 'Lockdown' });
    await lockdown.waitFor();
    expect(await lockdown.textContent()).toContain('Store locked down (1 of 3 doors)');
    await page.locator('article.card[data-door="lab"] h3 a').click();
    await page.locator('[data-detail="lab"]').waitFor();
    await lockdown.waitFor();
    await site.controller.doors.lockdown(null, true, 'test');
    await expect.poll(() => page.locator('#lockdown-banner').getAttribute('data-lockdown')).toBe('site');
    expect(await lockdown.textContent()).toContain('every door is locked down');
    await site.controller.doors.lockdown(null, false, 'test');
    await lockdown.waitFor({ state: 'detached' });
    await page.locator('a', { hasText: '← All doors' }).click();
    await page.locator('#door-grid').waitFor();
  });

  it('shows the wall view at 1920x1080: every door a large tile, alarm tiles in the alarm colour, live, one click each way', async () => {
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.getByRole('link', { name: 'Wall view' }).click();
    await page.locator('#wall-grid').waitFor();
    expect(page.url()).toMatch(/#\/wall$/);
    expect(await page.locator('article.tile').count()).toBe(3);

    io('store').setDoorOpen(true);
    await waitState('store', 'forcedOpen');
    io('store').setDoorOpen(false);
    await waitState('store', 'secured');
    await site.controller.doors.lockdown('lab', true, 'test');
    await waitState('lab', 'lockdown');
    await page.getByRole('alert', { name: 'Lockdown' }).waitFor();
    expect(await tile('store').locator('.tile-word').textContent()).toBe('Forced open');

    const tiles = await page.locator('article.tile').evaluateAll((els) =>
      els.map((el: Browserish) => {
        const word = el.querySelector('.tile-word');
        const box = el.getBoundingClientRect();
        return {
          door: el.getAttribute('data-door'),
          fontSize: parseFloat(getComputedStyle(word).fontSize),
          fontWeight: Number(getComputedStyle(word).fontWeight),
          background: getComputedStyle(el).backgroundColor,
          colour: getComputedStyle(word).color,
          inView: box.top >= 0 && box.bottom <= innerHeight && box.left >= 0 && box.right <= innerWidth,
        };
      }),
    );
    for (const t of tiles) {
      expect(t.fontSize, `state word of ${t.door}`).toBeGreaterThanOrEqual(48);
      expect(t.fontWeight).toBeGreaterThanOrEqual(700);
      expect(t.inView, `${t.door} on screen`).toBe(true);
    }
    const byDoor = Object.fromEntries(tiles.map((t) => [t.door, t]));
    expect(byDoor.store.background).toBe(FORCED_RED);
    expect(byDoor.store.colour).toBe('rgb(255, 255, 255)');
    expect(byDoor.front.background).not.toBe(FORCED_RED);
    // Dark: the page behind the tiles.
    expect(await page.locator('.wall-app').evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(11, 16, 22)');
    expect(await page.title()).toBe('(!) 1 alarm · Postern');

    // Acknowledged from the wall: the tile goes back to its state's colours, live.
    await tile('store').getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => tile('store').getAttribute('class')).not.toContain('alarmed');
    expect(await tile('store').locator('.tile-word').textContent()).toBe('Secured');
    await expect.poll(() => page.title()).toBe('Postern');
    await site.controller.doors.lockdown('lab', false, 'test');
    await waitState('lab', 'secured');

    await page.getByRole('link', { name: '← Operator view' }).click();
    await page.locator('#door-grid').waitFor();
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  describe('on a phone (390x844, DPR 3)', () => {
    let phoneBrowser: Browser;
    afterAll(async () => {
      await phoneBrowser?.close();
    });

    it('shows the lockdown banner within the screen, the alarm colour, and a tone held until the first click in a new tab', async () => {
      phoneBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
      const context = await phoneBrowser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true });
      const phone = await context.newPage();
      phone.setDefaultTimeout(30_000);
      await phone.goto(base + '/');
      await signIn(phone);
      await phone.locator('article[data-door="store"][data-state="secured"]').waitFor();
      expect(await phone.evaluate(() => devicePixelRatio)).toBe(3);

      await site.controller.doors.lockdown(null, true, 'test');
      const lockdown = phone.getByRole('alert', { name: 'Lockdown' });
      await lockdown.waitFor();
      const box = (await lockdown.boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(await lockdown.textContent()).toContain('every door is locked down');

      io('front').setDoorOpen(true);
      await phone.locator('article[data-door="front"][data-state="forcedOpen"]').waitFor();
      io('front').setDoorOpen(false);
      await phone.locator('article[data-door="front"][data-state="lockdown"]').waitFor();
      // Forced open under lockdown, closed again: the card keeps the alarm colour, not lockdown purple.
      expect(await phone.locator('article.card[data-door="front"]').evaluate((el) => getComputedStyle(el).borderLeftColor)).toBe(FORCED_RED);

      // A second tab on the same session had no click yet: the browser holds the tone, the page
      // says so, and its button (any click would do) lets it sound.
      const second = await context.newPage();
      // Headless Chromium lets any page play sound (with or without --autoplay-policy), and
      // counts the new tab as already clicked: this script applies a desktop browser's rule, no
      // sound before a click or key press in the page, so that the page's answer to it is seen.
      await second.addInitScript(() => {
        let clicked = false;
        for (const type of ['pointerdown', 'keydown']) window.addEventListener(type, (e: Browserish) => void (clicked ||= e.isTrusted), { capture: true });
        const resume = window.AudioContext.prototype.resume;
        window.AudioContext.prototype.resume = function (this: Browserish) {
          return clicked ? resume.call(this) : new Promise(() => undefined);
        };
        const Original = window.AudioContext;
        window.AudioContext = new Proxy(Original, {
          construct(target: Browserish, args: unknown[]) {
            const context: Browserish = Reflect.construct(target, args);
            if (!clicked) void context.suspend();
            return context;
          },
        });
      });
      await second.goto(base + '/');
      await second.locator('article[data-door="front"][data-state="lockdown"]').waitFor();
      const secondAlert = () => second.evaluate(() => document.documentElement.dataset.alert ?? null);
      await expect.poll(secondAlert).toBe('blocked');
      await second.getByRole('button', { name: 'Turn on alarm sound' }).click();
      await expect.poll(secondAlert).toBe('sounding');
      await second.getByRole('button', { name: 'Turn on alarm sound' }).waitFor({ state: 'detached' });
      await second.close();
      await site.controller.doors.lockdown(null, false, 'test');
      await lockdown.waitFor({ state: 'detached' });
      await phone.getByRole('alert', { name: 'Alarms' }).getByRole('button', { name: 'Acknowledge' }).click();
      await phone.getByRole('alert', { name: 'Alarms' }).waitFor({ state: 'detached' });
      await context.close();
    });
  });
});
