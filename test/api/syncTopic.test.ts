/**
 * The `sync` topic (docs/api.md, notifications): a controller with a hub publishes its link's
 * status, the object sync.status answers, to a viewer's subscription at each change, merged to at
 * most one per SYNC_PUBLISH_MS and never the same status twice; a standalone controller accepts
 * the topic and publishes nothing on it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { publishSyncStatus } from '../../controller/api/syncFeed.ts';
import { Controller } from '../../controller/controller.ts';
import type { SyncStatus } from '../../controller/sync/syncLink.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { startApiSite } from '../support/apiSite.ts';
import { tempDir, testSite } from '../support/testSite.ts';
import { FakeHub, until } from '../sync/fakeHub.ts';

const CREDENTIAL = 'pstc_sync_topic_test_credential_0123456789';
const FAST = { backoffBaseMs: 50, backoffMaxMs: 100, heartbeatMs: 100, silenceMs: 3000, random: () => 1 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const status = (patch: Partial<SyncStatus>): SyncStatus => ({
  state: 'live', cursor: 0, lag: 0, outboxDepth: 0, auditAcked: 0, auditHead: 0, attempts: 0, lastError: null, auditProblem: null,
  clockOffsetMs: 0, clockAlarm: false, siteId: 'lisbon', controllerId: 'ctl_1', hub: 'ws://hub.test/sync', ...patch,
});

describe('publishSyncStatus', () => {
  it('publishes a change at once, not the same status twice, and a burst as its last status after the interval', async () => {
    let listener: ((s: SyncStatus) => void) | undefined;
    const link = { onStatus: (l: (s: SyncStatus) => void) => ((listener = l), () => (listener = undefined)) };
    const published: SyncStatus[] = [];
    const stop = publishSyncStatus(link, (s) => published.push(s), 100);
    listener!(status({ state: 'connecting' }));
    expect(published.map((s) => s.state)).toEqual(['connecting']);
    // Within the interval: held back, and only the last one goes.
    for (let depth = 1; depth <= 50; depth++) listener!(status({ outboxDepth: depth }));
    expect(published).toHaveLength(1);
    await until(() => published.length === 2, 1000, 'the burst published');
    expect(published[1]).toMatchObject({ state: 'live', outboxDepth: 50 });
    // The same status again (a heartbeat's snapshot): nothing.
    await new Promise((resolve) => setTimeout(resolve, 150));
    listener!(status({ outboxDepth: 50 }));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(published).toHaveLength(2);
    listener!(status({ clockAlarm: true, clockOffsetMs: 8000 }));
    expect(published).toHaveLength(3);
    // Stopped: a change held back is dropped, and the link is no longer listened to.
    listener!(status({ state: 'backoff' }));
    stop();
    expect(listener).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(published).toHaveLength(3);
  });
});

describe('the sync topic', () => {
  it('brings a viewer the link\'s status as sync.status gives it, live, from a controller with a hub', async () => {
    const hub = await new FakeHub({ credential: CREDENTIAL }).start();
    cleanups.push(() => hub.stop());
    const dataDir = await tempDir('postern-sync-topic-');
    await writeFile(path.join(dataDir, 'hub-credential.test-site'), `${CREDENTIAL}\n`, { mode: 0o600 });
    const config = testSite(dataDir, (input) => {
      input.hub = { url: hub.url };
    });
    const { viewer } = await makeTokens(dataDir, [{ name: 'viewer', role: 'viewer' }]);
    const controller = new Controller({ config, terminal: new PassThrough(), syncTiming: FAST });
    await controller.start();
    cleanups.push(() => controller.stop());
    const client = await ApiClient.connect(controller.apiUrl!, viewer);
    cleanups.push(() => client.close());
    await client.call('subscribe', { topics: ['sync'] });
    await until(() => controller.syncStatus?.state === 'live' && controller.syncStatus.outboxDepth === 0, 5000, 'live');

    hub.clockOffsetMs = 8000;
    await until(() => client.notifications.some((n) => n.data.clockAlarm === true), 5000, 'a sync event with the clock alarm');
    const alarm = client.notifications.find((n) => n.data.clockAlarm === true)!;
    expect(alarm.topic).toBe('sync');
    expect(alarm.data).toMatchObject({ state: 'live', hub: `${hub.url.replace(/^http/, 'ws')}/sync`, siteId: 'lisbon', controllerId: 'ctl_1' });
    expect(Object.keys(alarm.data).sort()).toEqual(Object.keys(await client.call('sync.status')).sort());
    // Numbered as every subscription is, and never the same status twice in a row.
    expect(client.notifications.map((n) => n.seq)).toEqual(client.notifications.map((_, i) => i + 1));
    const texts = client.notifications.map((n) => JSON.stringify(n.data));
    for (let i = 1; i < texts.length; i++) expect(texts[i]).not.toBe(texts[i - 1]);

    await hub.stop();
    await until(() => client.notifications.some((n) => n.data.state !== 'live' && n.data.lastError !== null), 5000, 'a sync event leaving live');
  });

  it('is accepted and stays silent on a standalone controller', async () => {
    const site = await startApiSite();
    cleanups.push(() => site.stop());
    const client = await ApiClient.connect(site.url, site.tokens.viewer);
    cleanups.push(() => client.close());
    expect(await client.call('sync.status')).toEqual({ state: 'standalone' });
    await client.call('subscribe', { topics: ['sync', 'link'] });
    // Something happens on the site: a link event comes, no sync event.
    const admin = await ApiClient.connect(site.url, site.tokens.admin);
    cleanups.push(() => admin.close());
    await admin.call('links.create', { name: 'Visitor', doors: ['front'] });
    await client.waitForNotifications(1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(client.notifications.map((n) => n.topic)).toEqual(['link']);
  });
});
