/**
 * A kiosk tablet whose browser gives no camera says why, on the tablet, in its language, with what
 * to do: opened over http:// from another machine (no secure context: HTTPS is needed, at which
 * address), the camera refused (the site settings), no camera at all, a camera in use by another
 * app (the page tries again by itself). Real Chromium each time: an insecure origin through
 * --host-resolver-rules, a refusal without the flag that grants the camera, no camera from a fake
 * capture system with no device; only "in use" is made by the page's getUserMedia failing once,
 * as it does while another app holds the camera (a headless browser has no such app). And every
 * one of these notices fits the kiosk's screens without scrolling, in big letters.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript of the web UI, without type declarations
import { say } from '../../webui/kiosk/messages.js';
import { KIOSK_MIN_FONT_PX, KIOSK_SCREENS, kioskCameraRuns, kioskCameraSuite, launchKioskBrowser, startKioskServer, type KioskServer } from './kioskHarness.ts';

/** A name that is not localhost: a page from it over http:// is no secure context. */
const TABLET_HOST = 'tablet.test';
const FAKE_CAMERA = ['--use-fake-device-for-media-stream'];
/** Grants the camera without asking, as a tablet whose user allowed it. */
const ALLOW_CAMERA = ['--use-fake-ui-for-media-stream'];

const SCREENS = KIOSK_SCREENS;
const MIN_FONT_PX = KIOSK_MIN_FONT_PX;
const CAMERA_NOTICES = ['insecure', 'cameraDenied', 'cameraMissing', 'cameraBusy', 'noCamera'];

interface Notice {
  key: string;
  kind: string;
  text: string;
  detail: string;
  detailHidden: boolean;
  lang: string;
  secure: boolean;
  hash: string;
  stored: string | null;
  fontSize: number;
  detailFontSize: number;
  fits: boolean;
  scroll: { width: number; height: number };
  viewport: { width: number; height: number };
}

/** What the page shows once its verdict is message `key`. */
async function noticeOf(page: Page, key: string): Promise<Notice> {
  const handle = await page.waitForFunction(
    (wanted) => {
      // The page's globals: the tests are compiled without the DOM's types. A function, not a
      // string: the kiosk's Content-Security-Policy forbids eval.
      const { document, getComputedStyle, innerWidth, innerHeight, isSecureContext, location, localStorage } = globalThis as any;
      const verdict = document.getElementById('verdict');
      if (verdict.dataset.message !== wanted) return null;
      const message = document.getElementById('message');
      const detail = document.getElementById('detail');
      const box = verdict.getBoundingClientRect();
      const inside = (element: any) => {
        const r = element.getBoundingClientRect();
        return r.top >= box.top && r.bottom <= box.bottom && r.left >= box.left && r.right <= box.right;
      };
      return {
        key: verdict.dataset.message,
        kind: verdict.className,
        text: message.textContent,
        detail: detail.textContent,
        detailHidden: detail.hidden,
        lang: document.documentElement.lang,
        secure: isSecureContext,
        hash: location.hash,
        stored: localStorage.getItem('postern.kiosk.token'),
        fontSize: parseFloat(getComputedStyle(message).fontSize),
        detailFontSize: parseFloat(getComputedStyle(detail).fontSize),
        // The verdict inside the screen, its words inside the verdict, none clipped.
        fits:
          box.left >= 0 && box.top >= 0 && box.right <= innerWidth && box.bottom <= innerHeight &&
          inside(message) && (detail.hidden || inside(detail)) &&
          verdict.scrollHeight <= verdict.clientHeight && verdict.scrollWidth <= verdict.clientWidth,
        scroll: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
        viewport: { width: innerWidth, height: innerHeight },
      };
    },
    key,
    { timeout: 30_000 },
  );
  return (await handle.jsonValue()) as Notice;
}

describe.skipIf(!kioskCameraRuns)(kioskCameraSuite('the kiosk says what is missing when the browser gives it no camera'), () => {
  let server: KioskServer;
  let token: string;
  let port: string;
  const browsers: Browser[] = [];

  const launch = async (args: string[]) => {
    const browser = await launchKioskBrowser(args);
    browsers.push(browser);
    return browser;
  };
  const open = async (browser: Browser, url: string, locale = 'en-US'): Promise<{ page: Page; context: BrowserContext }> => {
    const context = await browser.newContext({ viewport: SCREENS[0], locale });
    const page = await context.newPage();
    await page.goto(url);
    return { page, context };
  };

  beforeAll(async () => {
    server = await startKioskServer([{ id: 'lab-kiosk', door: 'lab' }]);
    token = server.tokens['lab-kiosk']!;
    port = new URL(server.site.url).port;
  }, 120_000);

  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await server?.stop();
  });

  it('opened over http:// from another machine: says HTTPS is needed, at which address, and how to set it up', async () => {
    const browser = await launch([`--host-resolver-rules=MAP ${TABLET_HOST} 127.0.0.1`, ...FAKE_CAMERA, ...ALLOW_CAMERA]);
    for (const [locale, lang] of [
      ['en-US', 'en'],
      ['de-DE', 'de'],
    ] as const) {
      const { page, context } = await open(browser, `http://${TABLET_HOST}:${port}/kiosk#token=${token}`, locale);
      try {
        const notice = await noticeOf(page, 'insecure');
        expect(notice.secure).toBe(false);
        expect(notice.lang).toBe(lang);
        expect(notice.kind).toBe('verdict problem');
        expect(notice.text).toBe(say(lang, 'insecure'));
        expect(notice.detailHidden).toBe(false);
        // The address to use instead: the same host and port, over HTTPS; and how to get there.
        expect(notice.detail).toContain(`https://${TABLET_HOST}:${port}/kiosk#token=`);
        expect(notice.detail).toContain('postern tls create');
        expect(notice.detail).toContain('docs/drivers.md');
        expect(notice.detail).toBe(say(lang, 'insecureDetail', { url: `https://${TABLET_HOST}:${port}/kiosk#token=…` }));
        // The token left the address bar and was not kept by this origin, which can do nothing with it.
        expect(notice.hash).toBe('');
        expect(notice.stored).toBeNull();
        expect(notice.fits).toBe(true);
        expect(notice.fontSize).toBeGreaterThanOrEqual(MIN_FONT_PX);
      } finally {
        await context.close();
      }
    }
    // The same page from 127.0.0.1 is a secure context: it gets the camera and connects.
    const { page, context } = await open(browser, `http://127.0.0.1:${port}/kiosk#token=${token}`);
    try {
      const idle = await noticeOf(page, 'idle');
      expect(idle.secure).toBe(true);
      expect(idle.text).toBe(say('en', 'idle'));
      await expect.poll(() => page.locator('#link').textContent(), { timeout: 10_000 }).toBe(say('en', 'connected'));
    } finally {
      await context.close();
    }
  });

  it('camera refused: says it is blocked and how to allow it in the site settings', async () => {
    // A camera, but no flag that grants it: the browser refuses, as after a tap on "Block".
    const browser = await launch(FAKE_CAMERA);
    for (const [locale, lang] of [
      ['en-US', 'en'],
      ['de-DE', 'de'],
    ] as const) {
      const { page, context } = await open(browser, `http://127.0.0.1:${port}/kiosk#token=${token}`, locale);
      try {
        const notice = await noticeOf(page, 'cameraDenied');
        expect(notice.secure).toBe(true);
        expect(notice.text).toBe(say(lang, 'cameraDenied'));
        expect(notice.detail).toBe(say(lang, 'cameraDeniedDetail'));
        expect(notice.detail).toMatch(lang === 'en' ? /Allow the camera.*reload the page/ : /Erlauben Sie die Kamera.*neu laden/);
        expect(notice.fits).toBe(true);
        expect(await page.locator('#link').textContent()).toBe(say(lang, 'notConnected'));
      } finally {
        await context.close();
      }
    }
  });

  it('no camera: says none was found, and that the page tries again', async () => {
    // The camera is granted, but there is none: a fake capture system with no device, whatever the machine has.
    const browser = await launch(['--use-fake-device-for-media-stream=device-count=0', ...ALLOW_CAMERA]);
    const { page, context } = await open(browser, `http://127.0.0.1:${port}/kiosk#token=${token}`);
    try {
      const notice = await noticeOf(page, 'cameraMissing');
      expect(notice.text).toBe('No camera found');
      expect(notice.detail).toMatch(/^This tablet has no camera the browser can use \(.+\)\. Connect or turn on a camera: the page tries again by itself\.$/);
      expect(notice.fits).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('camera in use by another app: says so, then starts by itself once the camera is free', async () => {
    const browser = await launch([...FAKE_CAMERA, ...ALLOW_CAMERA]);
    const context = await browser.newContext({ viewport: SCREENS[0], locale: 'de-DE' });
    // The first request fails as Chromium fails it while another app holds the camera; the next gets the camera.
    await context.addInitScript(() => {
      const media = (globalThis as any).navigator.mediaDevices;
      const real = media.getUserMedia.bind(media);
      let calls = 0;
      media.getUserMedia = (constraints: unknown) => (++calls === 1 ? Promise.reject(new DOMException('Could not start video source', 'NotReadableError')) : real(constraints));
    });
    const page = await context.newPage();
    try {
      await page.goto(`http://127.0.0.1:${port}/kiosk#token=${token}`);
      const notice = await noticeOf(page, 'cameraBusy');
      expect(notice.text).toBe('Die Kamera wird von einer anderen App benutzt');
      expect(notice.detail).toBe(say('de', 'cameraBusyDetail', { error: 'Could not start video source' }));
      expect(notice.fits).toBe(true);
      // Nobody reloads a kiosk: it asks again and starts.
      const idle = await noticeOf(page, 'idle');
      expect(idle.text).toBe(say('de', 'idle'));
      await expect.poll(() => page.locator('#link').textContent(), { timeout: 10_000 }).toBe(say('de', 'connected'));
    } finally {
      await context.close();
    }
  });

  it('any other refusal: says the camera is not available, with the browser\'s reason, and does not ask again', async () => {
    const browser = await launch([...FAKE_CAMERA, ...ALLOW_CAMERA]);
    const context = await browser.newContext({ viewport: SCREENS[0], locale: 'en-US' });
    // As when a permissions policy forbids the camera to the page.
    await context.addInitScript(() => {
      const media = (globalThis as any).navigator.mediaDevices;
      (globalThis as any).cameraCalls = 0;
      media.getUserMedia = () => {
        (globalThis as any).cameraCalls++;
        return Promise.reject(new DOMException('Access to the feature "camera" is disallowed by permissions policy', 'SecurityError'));
      };
    });
    const page = await context.newPage();
    try {
      await page.goto(`http://127.0.0.1:${port}/kiosk#token=${token}`);
      const notice = await noticeOf(page, 'noCamera');
      expect(notice.text).toBe('The camera is not available');
      expect(notice.detail).toBe('The browser gave no camera to this page: Access to the feature "camera" is disallowed by permissions policy. Reload the page to try again.');
      await page.waitForTimeout(6000);
      expect(await page.evaluate(() => (globalThis as any).cameraCalls)).toBe(1);
    } finally {
      await context.close();
    }
  });

  it('fits each of these notices on every screen, in big letters, in English and German', async () => {
    const browser = await launch([...FAKE_CAMERA, ...ALLOW_CAMERA]);
    const url = `https://${TABLET_HOST}:${port}/kiosk#token=…`;
    for (const locale of ['en-US', 'de-DE']) {
      // Without a token the page is idle after its notice: nothing replaces what is set below.
      const { page, context } = await open(browser, `http://127.0.0.1:${port}/kiosk`, locale);
      try {
        await noticeOf(page, 'notSetUp');
        const lang = locale.slice(0, 2);
        for (const screen of SCREENS) {
          await page.setViewportSize(screen);
          for (const key of CAMERA_NOTICES) {
            // A long error text from the browser, as the detail may carry one.
            const vars = { url, error: 'Requested device not found: the device could not be started' };
            await page.evaluate(
              ({ key, text, detail }) => {
                const { document } = globalThis as any;
                document.getElementById('message').textContent = text;
                const line = document.getElementById('detail');
                line.textContent = detail;
                line.hidden = false;
                const verdict = document.getElementById('verdict');
                verdict.className = 'verdict problem';
                verdict.dataset.message = key;
              },
              { key, text: say(lang, key), detail: say(lang, `${key}Detail`, vars) },
            );
            const notice = await noticeOf(page, key);
            const where = `${screen.width}x${screen.height} ${lang} ${key}`;
            expect(notice.viewport, where).toEqual(screen);
            expect(notice.scroll, where).toEqual(screen);
            expect(notice.fits, where).toBe(true);
            expect(notice.fontSize, where).toBeGreaterThanOrEqual(MIN_FONT_PX);
            // The detail says what to do: readable by whoever stands at the tablet.
            expect(notice.detailFontSize, where).toBeGreaterThanOrEqual(18);
          }
        }
      } finally {
        await context.close();
      }
    }
  });
});
