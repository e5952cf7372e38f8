/**
 * The badge page on phone screens, in a real Chromium emulating phones (mobile viewport, touch) at
 * device pixel ratios 1, 2 and 3, upright and on its side: the QR lies wholly inside the screen,
 * fills the width it is given, is drawn with a whole number of device pixels per module and its
 * quiet zone (checked pixel by pixel on a screenshot of the whole page), and the screenshot of the
 * page, as a phone's screen shows it, decodes with zxing-wasm to a code the door grants.
 * Before, qrcode's toCanvas set the canvas's CSS width in device pixels: 652 CSS px on a 390 px
 * screen at ratio 2, cut off on both sides. Skipped when Chromium is not installed, unless
 * POSTERN_TEST_REQUIRE_ALL=1. POSTERN_BADGE_SCREENSHOTS=<dir> keeps the screenshots there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { exactBacking, QUIET_ZONE } from '../../webui/badge/qrCanvas.js';
import { decodeQrPng } from '../support/qrDecode.ts';
import { buildUiIfMissing, CHROMIUM, CHROMIUM_ARGS, haveChromium, requireAll, startBadgeSite, waitForCode, type BadgeSite } from './badgeHarness.ts';

const SCREENSHOTS = process.env.POSTERN_BADGE_SCREENSHOTS;

interface Screen {
  width: number;
  height: number;
  dpr: number;
}

/**
 * Two common phone sizes at the whole ratios phones have, one at Android's 2.625 (whose exact CSS
 * sizes are 8 px apart), and one phone on its side.
 */
const SCREENS: Screen[] = [
  ...[1, 2, 3].map((dpr) => ({ width: 390, height: 844, dpr })),
  ...[1, 2, 2.625, 3].map((dpr) => ({ width: 412, height: 915, dpr })),
  { width: 844, height: 390, dpr: 3 },
];

const label = (s: Screen) => `${s.width}x${s.height} at ratio ${s.dpr}`;

/** What the page drew, as the page sees it (an expression: the test's TypeScript has no DOM types). */
interface Drawn {
  box: { x: number; y: number; width: number; height: number };
  frame: { width: number; height: number };
  backing: { width: number; height: number };
  modules: number;
  scale: number;
  dpr: number;
  /** Where the first module starts on the canvas, in backing pixels. */
  left: number;
  top: number;
}
const DRAWN = `(() => {
  const qr = document.getElementById('qr');
  const box = qr.getBoundingClientRect();
  const frame = document.getElementById('qr-frame').getBoundingClientRect();
  return {
    box: { x: box.x, y: box.y, width: box.width, height: box.height },
    frame: { width: frame.width, height: frame.height },
    backing: { width: qr.width, height: qr.height },
    modules: Number(qr.dataset.modules),
    scale: Number(qr.dataset.scale),
    dpr: window.devicePixelRatio,
    left: Number(qr.dataset.left),
    top: Number(qr.dataset.top),
  };
})()`;

/** What the test's functions run in the page use of it (the test's TypeScript has no DOM types). */
interface PageGlobals {
  document: { getElementById(id: string): { getBoundingClientRect(): { bottom: number } } };
}

/**
 * Pixels of the screenshot, in the QR's square with its quiet zone, that are not exactly the colour
 * of their module, pure black or white, when the first module's top left corner is device pixel
 * (x0, y0) and each module `scale` device pixels wide.
 */
function wrongPixels(image: PNG, text: string, x0: number, y0: number, scale: number): number {
  const matrix = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const quiet = QUIET_ZONE * scale;
  let wrong = 0;
  for (let y = -quiet; y < matrix.size * scale + quiet; y++) {
    for (let x = -quiet; x < matrix.size * scale + quiet; x++) {
      const row = Math.floor(y / scale);
      const col = Math.floor(x / scale);
      const dark = row >= 0 && col >= 0 && row < matrix.size && col < matrix.size && matrix.get(row, col) === 1;
      const px = x0 + x;
      const py = y0 + y;
      if (px < 0 || py < 0 || px >= image.width || py >= image.height) {
        wrong++;
        continue;
      }
      const i = (py * image.width + px) * 4;
      const want = dark ? 0 : 255;
      if (image.data[i] !== want || image.data[i + 1] !== want || image.data[i + 2] !== want) wrong++;
    }
  }
  return wrong;
}

/**
 * The fewest wrong pixels over where the first module may be: the canvas's layout box in CSS
 * pixels times the ratio, plus the module's offset on the canvas, give or take the device pixel
 * that the browser's snapping to device pixels may move it by.
 */
function fewestWrongPixels(png: Buffer, text: string, drawn: Drawn): number {
  const image = PNG.sync.read(png);
  const x = Math.round(drawn.box.x * drawn.dpr) + drawn.left;
  const y = Math.round(drawn.box.y * drawn.dpr) + drawn.top;
  let fewest = Infinity;
  for (const dy of [0, -1, 1]) for (const dx of [0, -1, 1]) fewest = Math.min(fewest, wrongPixels(image, text, x + dx, y + dy, drawn.scale));
  return fewest;
}

/** Checks what the page drew at `screen` and reads the QR off a screenshot of the page: its text. */
async function readScreen(page: Page, screen: Screen, credentialId: string, name: string, capture = () => page.screenshot({ fullPage: false })): Promise<string> {
  const drawn = await page.evaluate<Drawn>(DRAWN);
  expect(drawn.dpr).toBe(screen.dpr);

  // Wholly on the screen: no module and no part of the quiet zone cut off.
  const { box } = drawn;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.y).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(screen.width);
  expect(box.y + box.height).toBeLessThanOrEqual(screen.height);
  const layoutBox = (await page.locator('#qr').boundingBox())!;
  expect(layoutBox.x + layoutBox.width).toBeLessThanOrEqual(screen.width);
  expect(layoutBox.y + layoutBox.height).toBeLessThanOrEqual(screen.height);

  // Sharp: a whole number of device pixels per module, and one canvas pixel per device pixel
  // (the canvas's CSS size times the ratio is its backing size, give or take the pixel a ratio
  // such as 2.625 leaves the browser to round, which the page then draws on).
  const total = drawn.modules + 2 * QUIET_ZONE;
  expect(Number.isInteger(drawn.scale) && drawn.scale >= 1).toBe(true);
  expect(Math.min(drawn.backing.width, drawn.backing.height)).toBeGreaterThanOrEqual(total * drawn.scale);
  expect(Math.abs(box.width * screen.dpr - drawn.backing.width)).toBeLessThanOrEqual(1);
  expect(Math.abs(box.height * screen.dpr - drawn.backing.height)).toBeLessThanOrEqual(1);

  // Fills what it is given: one more device pixel per module would not fit the frame.
  const side = Math.min(drawn.frame.width, drawn.frame.height);
  expect(box.width).toBeLessThanOrEqual(side + 0.01);
  expect(exactBacking(total * (drawn.scale + 1), screen.dpr)).toBeGreaterThan(Math.floor(side * screen.dpr + 1e-6));
  // And the frame is most of the screen's narrow side, as a scanner wants it.
  expect(box.width).toBeGreaterThanOrEqual(0.75 * Math.min(screen.width, screen.height));

  // What the phone's screen shows: the whole page, in device pixels.
  const png = await capture();
  if (SCREENSHOTS) {
    await mkdir(SCREENSHOTS, { recursive: true });
    await writeFile(path.join(SCREENSHOTS, `badge-${name}.png`), png);
  }
  const image = PNG.sync.read(png);
  expect({ width: image.width, height: image.height }).toEqual({ width: Math.round(screen.width * screen.dpr), height: Math.round(screen.height * screen.dpr) });
  const texts = await decodeQrPng(png);
  expect(texts).toHaveLength(1);
  const text = texts[0]!;
  expect(decodeCredential(text)).toMatchObject({ kind: 'rotating', subject: BigInt(credentialId) });
  // Pixel for pixel: every module exactly `scale` device pixels of pure black or white, quiet zone included.
  expect(fewestWrongPixels(png, text, drawn)).toBe(0);
  return text;
}

const GRANT = { decided: true, verdict: 'grant', door: 'lab' };

describe.skipIf(!haveChromium && !requireAll)(haveChromium || requireAll ? 'the badge page on phone screens in Chromium' : 'the badge page on phone screens: skipped: Chromium not installed', () => {
  let site: BadgeSite;
  let browser: Browser;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`POSTERN_TEST_REQUIRE_ALL=1 but Chromium is not at ${CHROMIUM}`);
    buildUiIfMissing();
    site = await startBadgeSite();
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await site?.stop();
  });

  /** A phone of this screen, with a badge of its own (a code is granted once per site). */
  async function phone(screen: Screen, holder: string): Promise<{ context: BrowserContext; page: Page; credentialId: string }> {
    const { credentialId, enrolUrl } = await site.addMember(holder);
    // No service worker: each phone is fresh, and its cache is badgePage.test.ts's subject.
    const context = await browser.newContext({
      viewport: { width: screen.width, height: screen.height },
      deviceScaleFactor: screen.dpr,
      isMobile: true,
      hasTouch: true,
      serviceWorkers: 'block',
    });
    const page = await context.newPage();
    await page.goto(enrolUrl);
    await waitForCode(page);
    return { context, page, credentialId };
  }

  for (const screen of SCREENS) {
    it(`shows a QR the door grants on a ${label(screen)} screen`, async () => {
      const { context, page, credentialId } = await phone(screen, `Member ${label(screen)}`);
      try {
        const text = await readScreen(page, screen, credentialId, `${screen.width}x${screen.height}@${screen.dpr}`);
        expect(await site.scan(text)).toMatchObject(GRANT);
      } finally {
        await context.close();
      }
    });
  }

  it('draws the code again when the phone turns and when the pixel ratio changes', async () => {
    const upright: Screen = { width: 390, height: 844, dpr: 3 };
    const { context, page, credentialId } = await phone(upright, 'Member turning');
    try {
      const before = await page.evaluate<Drawn>(DRAWN);
      const turned: Screen = { width: 844, height: 390, dpr: 3 };
      await page.setViewportSize({ width: turned.width, height: turned.height });
      // Drawn for the new frame, whose side comes from the screen's height now.
      // A function, not a string: the page's content security policy forbids eval.
      await page.waitForFunction((height) => (globalThis as unknown as PageGlobals).document.getElementById('qr').getBoundingClientRect().bottom <= height, turned.height);
      const turnedText = await readScreen(page, turned, credentialId, 'turned-844x390@3');
      expect(await site.scan(turnedText)).toMatchObject(GRANT);
      // Laid out anew: the code now left of the name, not under it.
      const after = await page.evaluate<Drawn>(DRAWN);
      expect(after.box.y).toBeLessThan(before.box.y);
      expect(after.frame).not.toEqual(before.frame);

      // A new ratio (zoom, another screen) with the same CSS size: the page hears it from the media query.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Emulation.setDeviceMetricsOverride', { width: turned.width, height: turned.height, deviceScaleFactor: 2, mobile: true });
      await page.locator('#qr[data-dpr="2"]').waitFor();
      // Playwright's screenshot keeps the context's ratio: Chromium's own capture shows the new one.
      const capture = async () => Buffer.from((await cdp.send('Page.captureScreenshot', { format: 'png' })).data, 'base64');
      const text = await readScreen(page, { ...turned, dpr: 2 }, credentialId, 'turned-844x390@2', capture);
      // The door takes each code once: the same time step's code again is a replay, a new one a grant.
      expect(await site.scan(text)).toMatchObject(text === turnedText ? { decided: true, verdict: 'deny', reason: 'replayed' } : GRANT);
    } finally {
      await context.close();
    }
  });
});
