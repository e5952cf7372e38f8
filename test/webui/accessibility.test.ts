/**
 * axe-core (the engine of the browsers' accessibility audits) on every page Postern serves, in
 * Chromium against a real controller: the sign-in form, each page of the operator UI signed in
 * as an admin (on a desktop and on a phone), the kiosk page and the badge page with an enrolled
 * badge. A violation of impact serious or critical fails, with axe's rule, its help and the
 * elements it names. Needs a build of the current webui/ (`npm run build:ui`).
 */
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTokens } from '../support/apiClient.ts';
import { startBadgeSite, waitForCode, type BadgeSite } from '../badge/badgeHarness.ts';
import { addUsers, ensureUiBuilt, haveChromium, launchSized, PHONE, requireAll, type Chromium } from './uiHarness.ts';

/* The page's globals, for callbacks that run in the browser (the tests' tsconfig has no DOM library). */
declare const axe: any;
declare const document: any;

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const PASSWORD = 'correct horse battery';
const runs = haveChromium || requireAll;
const title = runs ? 'accessibility (axe-core) in Chromium' : 'accessibility: skipped: Chromium not installed (apt-get install chromium)';

/** The operator UI's pages, by route; #/nope is the "not found" page. */
const ROUTES = ['', 'door/lab', 'links', 'credentials', 'partners', 'accounts', 'wall', 'nope'];

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/** axe's serious and critical violations on the page as it is now, as lines for a failure message. */
async function seriousViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => typeof axe !== 'undefined'))) await page.addScriptTag({ path: AXE });
  const violations: Violation[] = await page.evaluate(async () => (await axe.run(document, { resultTypes: ['violations'] })).violations);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe.skipIf(!runs)(title, () => {
  let site: BadgeSite;
  let desktop: Chromium;
  let phone: Chromium;
  let enrolUrl: string;

  async function signIn(page: Page): Promise<void> {
    await page.goto(site.url + '/');
    await page.locator('input[name="password"]').waitFor();
    await page.locator('input[name="name"]').fill('ada');
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.locator('button[type="submit"]').click();
    await page.locator('article[data-door="front"]').waitFor();
  }

  /** Opens `route` and waits for what it loads after its first render. */
  async function visit(page: Page, route: string): Promise<void> {
    await page.goto(`${site.url}/#/${route}`);
    await page.locator('#page-h').waitFor();
    if (['links', 'credentials', 'partners', 'accounts'].includes(route)) await page.locator('main table tbody tr').first().waitFor();
    if (route === 'door/lab') await page.locator('[data-detail="lab"]').waitFor();
  }

  beforeAll(async () => {
    ensureUiBuilt();
    site = await startBadgeSite((input) => {
      input.scanners = [...(input.scanners ?? []), { id: 'lab-kiosk', door: 'lab', driver: 'kiosk', debounceMs: 0 }];
      input.decoder = { workers: 1 };
    });
    await addUsers(site.dataDir, [{ name: 'ada', password: PASSWORD, role: 'admin' }]);
    // A row in every table, so that the tables are checked with content.
    await site.controller.issuing.createLink({ name: 'Visitor', doors: ['lab'] }, 'test');
    await site.controller.issuing.addPartner({ id: 12, name: 'Tickets Inc', allowedScopes: [7] }, 'test');
    ({ enrolUrl } = await site.addMember('Ada Member'));
    // bypassCSP: the pages' policy (script-src 'self') would refuse axe's injected script.
    desktop = await launchSized({ viewport: { width: 1440, height: 900 }, bypassCSP: true });
    phone = await launchSized({ ...PHONE, bypassCSP: true });
  }, 120_000);

  afterAll(async () => {
    await phone?.close();
    await desktop?.close();
    await site?.stop();
  });

  it('finds nothing serious on the sign-in form', async () => {
    const page = await desktop.context.newPage();
    await page.goto(site.url + '/');
    await page.locator('input[name="password"]').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.close();
  });

  for (const [device, which] of [
    ['desktop', () => desktop],
    ['phone', () => phone],
  ] as const) {
    it(`finds nothing serious on any page of the operator UI (${device}, admin)`, async () => {
      const page = await which().context.newPage();
      await signIn(page);
      const found: Record<string, string[]> = {};
      for (const route of ROUTES) {
        await visit(page, route);
        const violations = await seriousViolations(page);
        if (violations.length > 0) found[`#/${route}`] = violations;
      }
      expect(found).toEqual({});
      await page.close();
    });
  }

  it('finds nothing serious on the kiosk page, set up or not', async () => {
    const page = await desktop.context.newPage();
    // Without a token: the page says it is not set up.
    await page.goto(`${site.url}/kiosk`);
    await page.waitForLoadState('networkidle');
    expect(await seriousViolations(page), 'kiosk without a token').toEqual([]);
    await page.close();
    // With its token (this browser has no camera: the page says so, as a tablet without one would).
    const { 'lab-kiosk': token } = await makeTokens(site.dataDir, [{ name: 'lab-kiosk', role: 'scanner', scanner: 'lab-kiosk' }]);
    const setUp = await desktop.context.newPage();
    await setUp.goto(`${site.url}/kiosk#token=${token}`);
    await expect.poll(() => new URL(setUp.url()).hash, { timeout: 10_000 }).toBe('');
    await setUp.waitForLoadState('networkidle');
    expect(await seriousViolations(setUp), 'kiosk with its token').toEqual([]);
    await setUp.close();
  });

  it('finds nothing serious on the badge page, empty and with an enrolled badge', async () => {
    const context = await phone.context.browser()!.newContext({ ...PHONE, bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(`${site.url}/badge`);
      await page.waitForLoadState('networkidle');
      expect(await seriousViolations(page), 'empty badge page').toEqual([]);
      // A page of its own: the enrolment link differs from /badge by its fragment only, which
      // would not load the page again.
      await page.close();
      const enrolled = await context.newPage();
      await enrolled.goto(enrolUrl);
      await waitForCode(enrolled);
      expect(await seriousViolations(enrolled), 'enrolled badge').toEqual([]);
    } finally {
      await context.close();
    }
  });
});
