/**
 * What the browser tests of the operator UI share: Chromium (Debian's, driven by playwright-core),
 * the built pages, and web UI users in a running site's store.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { Accounts } from '../../controller/accounts/accounts.ts';
import type { UserRole } from '../../controller/accounts/accountTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_INDEX = path.join(ROOT, 'webui', 'dist', 'index.html');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

/** `npm run screenshots` sets it: the only run that writes into docs/screenshots/. */
export const takeScreenshots = process.env.POSTERN_UI_SCREENSHOTS === '1';

/**
 * The docs' screenshot `name` (docs/screenshots/), taken only with POSTERN_UI_SCREENSHOTS=1
 * (test/webui/screenshots.test.ts), never by an ordinary test run: a test leaves the checkout as
 * it found it, even where a screenshot is missing.
 */
export async function docScreenshot(page: Page, name: string): Promise<void> {
  if (!takeScreenshots) return;
  const file = path.join(SCREENSHOTS, name);
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: file, fullPage: false });
}

export const haveChromium = existsSync(CHROMIUM);
/** CI sets POSTERN_TEST_REQUIRE_ALL=1: a missing browser is then a failure, not a skip. */
export const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';

/** Builds webui/dist when there is none (a fresh clone that ran no `npm run build`). */
export function ensureUiBuilt(): void {
  if (existsSync(DIST_INDEX)) return;
  execFileSync('npx', ['vite', 'build', '--config', 'webui/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless as root in a sandbox-less container, and no background traffic to a closed network. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium with a fresh profile; no network beyond what the pages ask for. */
export async function launchChromium(): Promise<Chromium> {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const profile = await mkdtemp(path.join(tmpdir(), 'postern-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 860 },
    acceptDownloads: true,
    args: CHROMIUM_ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A phone: 390x844 CSS px at device pixel ratio 3, touch, as an iPhone 12 to 15 is. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/**
 * Chromium with one context of the given size (a persistent context cannot change its device
 * pixel ratio per page): for the phone, and the desktop screenshots at 1440x900.
 */
export async function launchSized(options: BrowserContextOptions): Promise<Chromium> {
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ ...options, acceptDownloads: true });
  return {
    context,
    async close() {
      await context.close();
      await browser.close();
    },
  };
}

/** Adds web UI users to the store of a site (the controller may be running, as with the CLI). */
export async function addUsers(dataDir: string, users: Array<{ name: string; password: string; role: UserRole }>): Promise<void> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
  await audit.start();
  try {
    const accounts = new Accounts({ store, audit });
    for (const user of users) await accounts.createUser(user, 'test');
  } finally {
    await audit.stop();
    await store.stop();
  }
}
