/**
 * A whole controller with `hub` in its site file, against the hub of fakeHub.ts: a revocation made
 * at the hub denies the next scan of that code, the cursor survives a restart, the clock alarm
 * shows in sync.status and /metrics, and a standalone controller says so.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Controller } from '../../controller/controller.ts';
import { createLogger } from '../../controller/logger.ts';
import { HUB_REVOKE } from '../../controller/sync/applyChanges.ts';
import { CLOCK_ALARM } from '../../controller/sync/clockAlarm.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { startApiSite } from '../support/apiSite.ts';
import { scanAt, tempDir, testSite } from '../support/testSite.ts';
import { FakeHub, until } from './fakeHub.ts';

const CREDENTIAL = 'pstc_controller_test_credential_0123456789';
const FAST = { backoffBaseMs: 50, backoffMaxMs: 100, heartbeatMs: 100, silenceMs: 3000, random: () => 1 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function hubSite(options: { clockOffsetMs?: number } = {}) {
  const hub = await new FakeHub({ credential: CREDENTIAL, clockOffsetMs: options.clockOffsetMs }).start();
  cleanups.push(() => hub.stop());
  const dataDir = await tempDir('postern-sync-ctl-');
  const credentialFile = path.join(dataDir, 'hub-credential.test-site');
  await writeFile(credentialFile, `${CREDENTIAL}\n`, { mode: 0o600 });
  // The default credential file: the test proves the controller finds it without hub.credentialFile.
  const config = testSite(dataDir, (input) => {
    input.hub = { url: hub.url };
  });
  const { viewer } = await makeTokens(dataDir, [{ name: 'viewer', role: 'viewer' }]);
  let logs = '';
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const make = () => new Controller({ config, terminal: new PassThrough(), logger: createLogger('debug', output), syncTiming: FAST });
  let controller = make();
  await controller.start();
  cleanups.push(() => controller.stop());
  return {
    hub,
    dataDir,
    get controller() {
      return controller;
    },
    async restart() {
      await controller.stop();
      controller = make();
      await controller.start();
    },
    logs: () => logs,
    viewer: viewer!,
    metrics: async () => (await fetch(`${controller.apiUrl}/metrics`, { headers: { authorization: `Bearer ${viewer}` } })).text(),
    status: async () => {
      const client = await ApiClient.connect(controller.apiUrl!, viewer);
      try {
        return await client.call('sync.status');
      } finally {
        client.socket.close();
      }
    },
  };
}

describe('a controller with a hub', () => {
  it('denies a code at the next scan once the hub revokes it, records it by `hub`, and keeps the cursor across a restart', async () => {
    const site = await hubSite();
    await until(() => site.controller.syncStatus?.state === 'live', 5000, 'live');
    const { link, code } = await site.controller.issuing.createLink({ name: 'Visitor', doors: ['lab'] }, 'test');
    expect((await scanAt(site.controller, 'lab-in', code)).verdict).toBe('grant');

    site.hub.revoke(0, link.id, 'reported lost');
    await until(() => site.controller.syncStatus?.cursor === 1, 5000, 'the revocation applied');
    const denied = await scanAt(site.controller, 'lab-in', code);
    expect(denied).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    const client = await ApiClient.connect(site.controller.apiUrl!, site.viewer);
    const { events } = await client.call('audit.query', { limit: 1000 });
    client.socket.close();
    expect(events.find((e: any) => e.reason === HUB_REVOKE)).toMatchObject({ type: 'operator', actor: 'hub', subject: link.id, issuer: 0 });

    // Revoked at the hub while the controller is down: the restarted one asks from cursor 1 and gets only that change.
    await site.controller.stop();
    site.hub.revoke(0, '777');
    await site.restart();
    await until(() => site.controller.syncStatus?.state === 'live', 5000, 'live again');
    const hello = site.hub.hellos.at(-1);
    expect(hello).toMatchObject({ cursor: 1, chain: 'test-site' });
    expect(site.hub.connections.at(-1)!.frames.some((f) => f.type === 'hello' && f.cursor === 0)).toBe(false);
    // The store stamped the link itself as revoked: the operator's lists show it so.
    expect((await site.controller.issuing.getLink(link.id)).revokedAt).not.toBeNull();
    expect(site.controller.syncStatus).toMatchObject({ cursor: 2, lag: 0 });
    expect(site.logs()).not.toContain(CREDENTIAL);
  });

  it('shows the link in sync.status and /metrics, without the credential', async () => {
    const site = await hubSite();
    await until(() => site.controller.syncStatus?.state === 'live', 5000, 'live');
    await until(() => site.hub.held.length > 0 && site.controller.syncStatus?.outboxDepth === 0, 5000, 'audit uploaded');
    const status = await site.status();
    expect(status).toMatchObject({ state: 'live', cursor: 0, lag: 0, outboxDepth: 0, lastError: null, clockAlarm: false, auditProblem: null, hub: `${site.hub.url.replace('http', 'ws')}/sync` });
    expect(JSON.stringify(status)).not.toContain(CREDENTIAL);
    const metrics = await site.metrics();
    expect(metrics).toMatch(/^postern_sync_state\{state="live"\} 1$/m);
    expect(metrics).toMatch(/^postern_sync_state\{state="backoff"\} 0$/m);
    expect(metrics).toMatch(/^postern_sync_outbox_depth 0$/m);
    expect(metrics).toMatch(/^postern_sync_lag 0$/m);
    expect(metrics).toMatch(/^postern_sync_clock_alarm 0$/m);
  });

  it('raises the clock alarm when the hub is 6 s ahead, and clears it when the clocks agree again', async () => {
    const site = await hubSite({ clockOffsetMs: 6000 });
    await until(() => site.controller.syncStatus?.clockAlarm, 5000, 'the clock alarm');
    const status = await site.status();
    expect(status.clockAlarm).toBe(true);
    expect(status.clockOffsetMs).toBeGreaterThan(5500);
    expect(status.clockOffsetMs).toBeLessThan(6500);
    const metrics = await site.metrics();
    expect(metrics).toMatch(/^postern_sync_clock_alarm 1$/m);
    const offset = Number(/^postern_sync_clock_offset_seconds (\S+)$/m.exec(metrics)?.[1]);
    expect(offset).toBeGreaterThan(5.5);
    expect(offset).toBeLessThan(6.5);
    expect(site.logs()).toContain('clock alarm');

    site.hub.clockOffsetMs = 0;
    await until(() => site.controller.syncStatus?.clockAlarm === false, 5000, 'the alarm cleared');
    expect(await site.metrics()).toMatch(/^postern_sync_clock_alarm 0$/m);
    // The alarm's audit event is appended as the status changes and is readable once durable, which
    // can be a commit later than the status a loaded machine shows: read until both are there, every
    // 200 ms, a pace the viewer's rate limit allows.
    const client = await ApiClient.connect(site.controller.apiUrl!, site.viewer);
    const alarms = async () => (await client.call('audit.query', { limit: 100 })).events.filter((e: any) => e.reason === CLOCK_ALARM);
    await vi.waitFor(async () => expect(await alarms()).toHaveLength(2), { timeout: 5000, interval: 200 });
    expect((await alarms()).map((e: any) => e.data.raised)).toEqual([true, false]);
    client.socket.close();
  });

  it('refuses to start when the credential file is missing, naming the file', async () => {
    const dataDir = await tempDir('postern-sync-nocred-');
    const config = testSite(dataDir, (input) => {
      input.hub = { url: 'ws://127.0.0.1:9/sync' };
    });
    const controller = new Controller({ config, terminal: new PassThrough() });
    await expect(controller.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFIG_UNREADABLE', message: expect.stringContaining(path.join(dataDir, 'hub-credential.test-site')) });
    // A failed start leaves nothing running: the same store opens again.
    const standalone = new Controller({ config: testSite(dataDir), terminal: new PassThrough() });
    await standalone.start();
    await standalone.stop();
  });
});

describe('a standalone controller', () => {
  it('answers sync.status with { state: standalone } and has no postern_sync_* metrics', async () => {
    const site = await startApiSite();
    cleanups.push(() => site.stop());
    const client = await ApiClient.connect(site.url, site.tokens.viewer);
    expect(await client.call('sync.status')).toEqual({ state: 'standalone' });
    client.socket.close();
    const metrics = await (await fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.viewer}` } })).text();
    expect(metrics).toContain('postern_audit_outbox_pending');
    expect(metrics).not.toContain('postern_sync_');
  });
});
