/**
 * What the browser tests of the badge page share: Debian's Chromium, a running site with members
 * made as `postern credential create` makes them (a credential, then a one-time enrolment link
 * from a second connection to the site's store), the QR read off the screen, and the door's
 * answer to it at a network scanner over the API.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { createEnrolment } from '../../controller/badge/enrolment.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ApiClient } from '../support/apiClient.ts';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { ROOT } from '../support/runCli.ts';
import { ensureUiBuilt } from '../webui/uiHarness.ts';

export const CHROMIUM = process.env.POSTERN_CHROMIUM ?? '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/** CI sets POSTERN_TEST_REQUIRE_ALL=1: a missing browser is then a failure, not a skip. */
export const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
export { CHROMIUM_ARGS } from '../webui/uiHarness.ts';
/** Run in the page (the test's own TypeScript has no DOM types). */
export const STORED_BADGE = "localStorage.getItem('postern.badge.v1')";

/** Builds webui/dist (the operator UI and the badge page come from one build) when there is none. */
export function buildUiIfMissing(): void {
  if (!existsSync(path.join(ROOT, 'webui', 'dist', 'badge.html'))) ensureUiBuilt();
}

export interface Member {
  credentialId: string;
  secret: Buffer;
  /** The one-time link the holder opens on their phone. */
  enrolUrl: string;
}

export interface BadgeSite extends ApiSite {
  /** A new rotating credential and its enrolment link. */
  addMember(name: string, scope?: number): Promise<Member>;
  /** Another one-time enrolment link for a credential, as `postern credential create` makes it. */
  enrolmentLink(credentialId: string): Promise<string>;
  /** scanner.read of `text` at the lab door's network scanner, over the API. */
  scan(text: string): Promise<unknown>;
}

export async function startBadgeSite(patch?: (input: SiteConfigInput) => void): Promise<BadgeSite> {
  const site = await startApiSite(patch);
  const enrolmentLink = async (credentialId: string): Promise<string> => {
    // What the command line does while the controller runs: a second connection to the store.
    const store = openStore({ dataDir: site.dataDir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'test-site/admin' });
    await audit.start();
    try {
      return (await createEnrolment({ store, audit }, { credentialId, baseUrl: site.url, actor: 'test' })).url;
    } finally {
      await audit.stop();
      await store.stop();
    }
  };
  return {
    ...site,
    enrolmentLink,
    async addMember(name, scope = 7) {
      const { credential, secret } = await site.controller.issuing.createCredential({ name, scope }, 'test');
      return { credentialId: credential.id, secret, enrolUrl: await enrolmentLink(credential.id) };
    },
    async scan(text) {
      const scanner = await ApiClient.connect(site.url, site.tokens.scanner);
      try {
        return await scanner.call('scanner.read', { text });
      } finally {
        scanner.close();
      }
    },
  };
}

/** Waits for the page to show a code (the canvas is marked with its time step once drawn). */
export async function waitForCode(page: Page): Promise<void> {
  await page.locator('#qr[data-step]').waitFor({ state: 'visible', timeout: 15_000 });
}

