/**
 * What the kiosk page's browser tests share: a running site with kiosk scanners and a token for
 * each, a visitor's link, and Chromium whose fake camera plays a video of a phone showing that
 * link's code (made with ffmpeg). Every page of the browser sees the same camera, so one link can
 * be granted at one kiosk and denied at another.
 */
import { rm } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { makeTokens } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { haveFfmpeg, makeQrVideo } from '../support/qrVideo.ts';
import { tempDir } from '../support/testSite.ts';
import { CHROMIUM, CHROMIUM_ARGS, ensureUiBuilt, haveChromium, requireAll } from './uiHarness.ts';

/** Kiosk tests run where Chromium and ffmpeg are, and fail without them when CI requires all. */
/** The screens a kiosk must fit: landscape tablets, a portrait tablet and a phone. */
export const KIOSK_SCREENS = [
  { width: 1024, height: 768 },
  { width: 1280, height: 800 },
  { width: 800, height: 1280 },
  { width: 390, height: 844 },
];
/** Readable at arm's length: the kiosk's main words are at least this tall (CSS px) on every screen. */
export const KIOSK_MIN_FONT_PX = 32;

export const kioskRuns = (haveChromium && haveFfmpeg) || requireAll;

/** The suite's title, saying why it is skipped when it is. */
export function kioskSuite(name: string): string {
  return kioskRuns ? name : `${name}: skipped: ${haveChromium ? 'ffmpeg' : 'Chromium'} not installed`;
}

export interface KioskSpec {
  /** The scanner's id, and the name of its token. */
  id: string;
  door: string;
}

export interface KioskSite {
  site: ApiSite;
  browser: Browser;
  /** Each kiosk's scanner token, by scanner id. */
  tokens: Record<string, string>;
  /** The visitor's link that the camera shows. */
  code: string;
  stop(): Promise<void>;
}

/**
 * Starts a site with `kiosks` (debounce 3 s, as a real kiosk: the camera keeps showing the code),
 * issues a link for `linkDoors` and launches Chromium with a camera that shows it in a loop.
 */
export async function startKioskSite(kiosks: KioskSpec[], linkDoors: string[] = ['lab']): Promise<KioskSite> {
  if (!haveChromium || !haveFfmpeg) throw new Error('POSTERN_TEST_REQUIRE_ALL=1 but Chromium or ffmpeg is missing');
  const server = await startKioskServer(kiosks);
  let browser: Browser | undefined;
  const dir = await tempDir('postern-kiosk-');
  const stop = async () => {
    await browser?.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { code } = await server.site.controller.issuing.createLink({ name: 'Kiosk visitor', doors: linkDoors }, 'test');
    // Chromium's fake camera plays a Y4M file in a loop.
    const camera = await makeQrVideo(dir, 'phone', code, { format: 'y4m', leadIn: 0.5, shown: 2.5, codeSize: 220 });
    // A fake camera that plays the video, and camera permission without asking.
    browser = await launchKioskBrowser(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera}`]);
    return { site: server.site, browser, tokens: server.tokens, code, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export interface KioskPageOptions {
  viewport?: { width: number; height: number };
  /** The browser's language (navigator.language(s) and Accept-Language), e.g. 'de-DE'. */
  locale?: string;
  /** The kiosk's token; without one the page says it is not set up. */
  token?: string;
}

/** Opens the kiosk page in a context of its own (its own storage, language and screen). */
export async function openKiosk(kiosk: KioskSite, options: KioskPageOptions = {}): Promise<{ page: Page; context: BrowserContext }> {
  const context = await kiosk.browser.newContext({
    viewport: options.viewport ?? { width: 800, height: 900 },
    ...(options.locale ? { locale: options.locale } : {}),
  });
  const page = await context.newPage();
  await page.goto(`${kiosk.site.url}/kiosk${options.token ? `#token=${options.token}` : ''}`);
  // The token left the address bar (it stays in the tablet's storage).
  if (options.token) await expect.poll(() => new URL(page.url()).hash, { timeout: 10_000 }).toBe('');
  return { page, context };
}

/**
 * The camera tests (kioskCamera.test.ts) need Chromium but no video: they run where it is, and
 * fail without it when CI requires all.
 */
export const kioskCameraRuns = haveChromium || requireAll;

/** The camera suite's title, saying why it is skipped when it is. */
export function kioskCameraSuite(name: string): string {
  return kioskCameraRuns ? name : `${name}: skipped: Chromium not installed`;
}

export interface KioskServer {
  site: ApiSite;
  /** Each kiosk's scanner token, by scanner id. */
  tokens: Record<string, string>;
  stop(): Promise<void>;
}

/** A site with `kiosks` and a token for each, without a browser: each test launches the Chromium it needs. */
export async function startKioskServer(kiosks: KioskSpec[]): Promise<KioskServer> {
  if (!haveChromium) throw new Error('POSTERN_TEST_REQUIRE_ALL=1 but Chromium is missing');
  ensureUiBuilt();
  const site = await startApiSite((input) => {
    input.scanners = [...(input.scanners ?? []), ...kiosks.map(({ id, door }) => ({ id, door, driver: 'kiosk' as const, debounceMs: 3000 }))];
    input.decoder = { workers: 1 };
  });
  try {
    const tokens = (await makeTokens(
      site.dataDir,
      kiosks.map(({ id }) => ({ name: id, role: 'scanner' as const, scanner: id })),
    )) as Record<string, string>;
    return { site, tokens, stop: () => site.stop() };
  } catch (error) {
    await site.stop();
    throw error;
  }
}

/** Headless Chromium with `args` (camera flags, host resolver rules) beside the usual ones. */
export function launchKioskBrowser(args: string[]): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...args] });
}
