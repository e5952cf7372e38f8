/**
 * The kiosk page in a real Chromium whose camera is a fake fed from a video file of a phone showing
 * a P1 code: the page sends frames over the API's WebSocket with its kiosk token, the controller
 * decodes them in its decode workers, and the door unlocks. Skipped when Chromium or ffmpeg is
 * missing, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { once } from 'node:events';
import type { Browser } from 'playwright-core';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { ApiClient } from '../support/apiClient.ts';
import type { ApiSite } from '../support/apiSite.ts';
import { kioskRuns, kioskSuite, startKioskSite, type KioskSite } from './kioskHarness.ts';
import { addUsers } from './uiHarness.ts';

describe.skipIf(!kioskRuns)(kioskSuite('the kiosk page in Chromium with a fake camera'), () => {
  let kiosk: KioskSite;
  let site: ApiSite;
  let browser: Browser;
  let kioskToken: string;

  beforeAll(async () => {
    kiosk = await startKioskSite([{ id: 'lab-kiosk', door: 'lab' }], ['lab']);
    ({ site, browser } = kiosk);
    kioskToken = kiosk.tokens['lab-kiosk']!;
  }, 240_000);

  afterAll(async () => {
    await kiosk?.stop();
  });

  it('shows the code to the camera, and the door unlocks', async () => {
    const decisions: Decision[] = [];
    const labStates: string[] = [];
    const stopDecisions = site.controller.onDecision((d) => decisions.push(d));
    const stopDoors = site.controller.onDoorChange((c) => c.door === 'lab' && labStates.push(c.to));
    const page = await browser.newPage({ viewport: { width: 800, height: 900 } });
    try {
      await page.goto(`${site.url}/kiosk#token=${kioskToken}`);
      // The token left the address bar (it stays in the tablet's storage).
      await expect.poll(() => new URL(page.url()).hash, { timeout: 10_000 }).toBe('');
      await page.locator('.verdict.grant').waitFor({ timeout: 30_000 });
      expect(await page.locator('#verdict').textContent()).toContain('Welcome');
      const grant = decisions.find((d) => d.scanner === 'lab-kiosk');
      expect(grant).toMatchObject({ door: 'lab', verdict: 'grant', kind: 'link' });
      expect(labStates).toContain('unlocked');

      // The scanner reports its health: frames from the page, decode time, reads.
      const status = site.controller.scannerStatus('lab-kiosk')!;
      expect(status.state).toBe('ready');
      expect(status.reads).toBeGreaterThanOrEqual(1);
      await expect.poll(() => site.controller.scannerStatus('lab-kiosk')?.health?.frames ?? 0, { timeout: 5000 }).toBeGreaterThan(3);
      // Integrators see the same over the API.
      const viewer = await ApiClient.connect(site.url, site.tokens.viewer);
      try {
        const viaApi = await viewer.call('scanners.get', { scanner: 'lab-kiosk' });
        expect(viaApi).toMatchObject({ id: 'lab-kiosk', driver: 'kiosk', state: 'ready', health: { badFrames: 0, warning: null } });
        expect(viaApi.health.frames).toBeGreaterThan(3);
        expect(viaApi.health.decodeMs).toBeGreaterThan(0);
        expect(viaApi.health.framesPerSecond).toBeGreaterThan(0);
      } finally {
        viewer.close();
      }
    } finally {
      stopDecisions();
      stopDoors();
      await page.close();
    }
  });

  it("shows the kiosk's health to security staff in the operator UI", async () => {
    await addUsers(site.dataDir, [{ name: 'vera', password: 'kiosk test password 1', role: 'viewer' }]);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${site.url}/`);
      await page.locator('input[name="name"]').fill('vera');
      await page.locator('input[name="password"]').fill('kiosk test password 1');
      await page.locator('button[type="submit"]').click();
      const kiosk = page.locator('li[data-scanner="lab-kiosk"]');
      await kiosk.locator('[data-health]').waitFor({ timeout: 30_000 });
      // The kiosk page closed: the scanner waits for its device again.
      expect(await kiosk.getAttribute('data-state')).toMatch(/^(disconnected|connecting)$/);
      expect(await kiosk.locator('[data-health]').textContent()).toMatch(/^\d+(\.\d)? fps · decode \d+(\.\d)? ms/);
      expect(await kiosk.textContent()).toContain('last error: the device closed its connection');
    } finally {
      await page.close();
    }
  });

  it('takes the token from the subprotocol list as browsers send it, and never echoes it', async () => {
    const accepted = new WebSocket(`${site.url.replace(/^http/, 'ws')}/api`, ['postern.v1', `bearer.${kioskToken}`]);
    await once(accepted, 'open');
    expect(accepted.protocol).toBe('postern.v1');
    accepted.close();
    const refused = new WebSocket(`${site.url.replace(/^http/, 'ws')}/api`, ['postern.v1', 'bearer.not-a-token']);
    const [error] = await once(refused, 'error');
    expect(String(error)).toMatch(/401/);
  });

  it('answers a garbage frame with a clear reason and keeps the scanner up', async () => {
    const kiosk = await ApiClient.connect(site.url, kioskToken);
    try {
      const garbage = await kiosk.call('scanner.frame', { image: Buffer.from('definitely not a picture').toString('base64') });
      expect(garbage).toEqual({ scanner: 'lab-kiosk', code: false, bad: 'frame is not a JPEG or PNG image' });
      // A JPEG cut short after its header: zxing finds no picture in it.
      const truncated = await kiosk.call('scanner.frame', { image: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46]).toString('base64') });
      expect(truncated).toMatchObject({ scanner: 'lab-kiosk', code: false });
      const notBase64 = await kiosk.request('scanner.frame', { image: '%%% not base64 %%%' });
      expect(notBase64.error).toMatchObject({ code: -32602 });
      expect(site.controller.scannerStatus('lab-kiosk')!.state).toBe('ready');
      await expect.poll(() => site.controller.scannerStatus('lab-kiosk')?.health?.badFrames ?? 0, { timeout: 5000 }).toBeGreaterThanOrEqual(1);
    } finally {
      kiosk.close();
    }
  });
});
