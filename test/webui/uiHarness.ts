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
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Accounts } from '../../controller/accounts/accounts.ts';
import type { UserRole } from '../../controller/accounts/accountTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_INDEX = path.join(ROOT, 'webui', 'dist', 'index.html');
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');

/**
 * The docs' screenshot `name` (docs/screenshots/), taken only when it is missing or with
 * POSTERN_UI_SCREENSHOTS=1, so that a test run leaves the checkout as it found it.
 */
export async function docScreenshot(page: Page, name: string): Promise<void> {
  const file = path.join(SCREENSHOTS, name);
  if (existsSync(file) && process.env.POSTERN_UI_SCREENSHOTS !== '1') return;
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
