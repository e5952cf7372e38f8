/** The methods an integrator scripts with, role by role, against a real controller. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCredential, encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
const clients: Record<string, ApiClient> = {};
beforeAll(async () => {
  site = await startApiSite();
  for (const role of ['viewer', 'operator', 'integrator', 'admin', 'scanner'] as const) clients[role] = await ApiClient.connect(site.url, site.tokens[role]);
});
afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  await site.stop();
});

describe('roles', () => {
  it('lets a viewer read but not act, an operator act on doors, and audits the account', async () => {
    expect(await clients.viewer!.call('doors.list')).toHaveLength(3);
    const refused = await clients.viewer!.request('doors.unlock', { door: 'front', seconds: 1 });
    expect(refused.error).toMatchObject({ code: -32001, message: expect.stringContaining('operator'), data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    const unlocked = await clients.operator!.call('doors.unlock', { door: 'front', seconds: 1 });
    expect(unlocked).toMatchObject({ id: 'front', state: 'unlocked', relayUnlocked: true });
    expect((await clients.operator!.request('links.create', { name: 'x', scope: 7 })).error.code).toBe(-32001);
    const audit = await clients.viewer!.call('audit.query', { door: 'front', order: 'desc', limit: 5 });
    expect(audit.events.find((e: { type: string }) => e.type === 'operator')).toMatchObject({ reason: 'door.unlock', actor: 'token:operator', data: { seconds: 1 } });
  });

  it('keeps a scanner token to scanner.read for its own scanner', async () => {
    expect((await clients.scanner!.request('doors.list')).error.code).toBe(-32001);
    expect((await clients.scanner!.request('scanner.read', { text: 'x', scanner: 'lab-in' })).error.code).toBe(-32001);
    expect((await clients.viewer!.request('scanner.read', { text: 'x', scanner: 'net-1' })).error.code).toBe(-32001);
  });
});

describe('doors', () => {
  it('locks down one door and the site, with passage and alarm acknowledgement', async () => {
    const op = clients.operator!;
    expect(await op.call('doors.lockdown', { door: 'lab', on: true })).toMatchObject({ state: 'lockdown', mode: 'lockdown' });
    expect((await op.request('doors.passage', { door: 'lab', on: true })).error).toMatchObject({ code: -32003 });
    const all = await op.call('doors.lockdown', { on: true });
    expect(all.map((d: { state: string }) => d.state)).toEqual(['lockdown', 'lockdown', 'lockdown']);
    await op.call('doors.lockdown', { on: false });
    expect(await op.call('doors.passage', { door: 'store', on: true })).toMatchObject({ state: 'passage', relayUnlocked: true });
    expect(await op.call('doors.passage', { door: 'store', on: false })).toMatchObject({ state: 'secured', relayUnlocked: false });
    const lab = site.controller.doorIo('lab') as SimulatedDoorIo;
    lab.setDoorOpen(true);
    expect(await op.call('doors.get', { door: 'lab' })).toMatchObject({ state: 'forcedOpen', alarm: { kind: 'forced-open', active: true } });
    lab.setDoorOpen(false);
    expect(await op.call('doors.acknowledge', { door: 'lab' })).toMatchObject({ state: 'secured', alarm: null });
  });

  it('reports door.stats: grants and denies over time, and latency percentiles', async () => {
    const { code } = await clients.integrator!.call('links.create', { name: 'stats', scope: 7 });
    for (const text of [code, 'junk-1', 'junk-2']) await clients.integrator!.call('scanner.read', { scanner: 'net-1', text });
    const stats = await clients.viewer!.call('door.stats', { door: 'lab' });
    expect(stats).toMatchObject({ door: 'lab', grants: 1, denies: 2, bucketSeconds: 3600 });
    expect(stats.series.length).toBeGreaterThanOrEqual(24);
    expect(stats.latencyMs).toMatchObject({ samples: 3, p50: expect.any(Number), p99: expect.any(Number) });
  });
});

describe('bounded answers', () => {
  it('refuses door.stats with too many buckets, pages audit.query both ways, pages lists, caps subscriptions', async () => {
    const v = clients.viewer!;
    expect((await v.request('door.stats', { door: 'lab', since: 0, bucketSeconds: 60 })).error).toMatchObject({ code: -32602, data: { field: 'bucketSeconds' } });
    const first = await v.call('audit.query', { order: 'desc', limit: 3 });
    expect(first.next).toEqual({ beforeSeq: first.events[2].seq });
    const second = await v.call('audit.query', { order: 'desc', limit: 3, ...first.next });
    expect(second.events[0].seq).toBe(first.events[2].seq - 1);
    const forward = await v.call('audit.query', { order: 'asc', limit: 2 });
    expect((await v.call('audit.query', { order: 'asc', limit: 2, ...forward.next })).events[0].seq).toBe(forward.events[1].seq + 1);
    for (const name of ['page-a', 'page-b', 'page-c']) await clients.integrator!.call('links.create', { name, scope: 3 });
    const all = await v.call('links.list', { limit: 1000 });
    const page = await v.call('links.list', { limit: 2, offset: 1 });
    expect(page.map((l: { id: string }) => l.id)).toEqual(all.slice(1, 3).map((l: { id: string }) => l.id));
    const watcher = await ApiClient.connect(site.url, site.tokens.viewer);
    for (let i = 0; i < 16; i++) await watcher.call('subscribe', { topics: ['door'] });
    expect((await watcher.request('subscribe', { topics: ['door'] })).error).toMatchObject({ code: -32602, message: expect.stringContaining('at most 16') });
    watcher.close();
  });
});

describe('issuing over the API', () => {
  it('creates, lists and revokes links; the code opens the door once made, and not once revoked', async () => {
    const { link, code } = await clients.integrator!.call('links.create', { name: 'Visitor', email: 'v@example.org', doors: ['lab'] });
    expect(decodeCredential(code)).toMatchObject({ kind: 'link', subject: BigInt(link.id) });
    const list = await clients.viewer!.call('links.list');
    expect(list.find((l: { id: string }) => l.id === link.id)).toMatchObject({ name: 'Visitor' });
    expect(JSON.stringify(list)).not.toContain(code.slice(3));
    expect(await clients.scanner!.call('scanner.read', { text: code })).toMatchObject({ scanner: 'net-1', decided: true, verdict: 'grant', door: 'lab' });
    await clients.integrator!.call('links.revoke', { id: link.id });
    expect(await clients.scanner!.call('scanner.read', { text: code })).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect((await clients.integrator!.request('links.create', { name: 'x', doors: ['vault'] })).error).toMatchObject({ code: -32602, data: { field: 'doors' } });
  });

  it('creates rotating credentials whose secret is answered once and works at the door', async () => {
    const { credential, secret } = await clients.integrator!.call('credentials.create', { name: 'Member', scope: 7 });
    expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await clients.viewer!.call('credentials.list'))).not.toContain(secret);
    const code = encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(credential.id), a: timeStep(Date.now() / 1000), b: 0, scope: 0 }, Buffer.from(secret, 'hex'));
    expect(await clients.scanner!.call('scanner.read', { text: code })).toMatchObject({ verdict: 'grant' });
    expect(await clients.scanner!.call('scanner.read', { text: code })).toMatchObject({ verdict: 'deny', reason: 'replayed' });
    await clients.integrator!.call('credentials.revoke', { id: credential.id });
  });

  it('bounds a read as the drivers do, in UTF-16 units: 4,096 pass, 4,097 (or 2,049 emoji) are refused', async () => {
    expect(await clients.scanner!.call('scanner.read', { text: 'X'.repeat(4096) })).toMatchObject({ decided: true, verdict: 'deny', reason: 'unknown-format' });
    for (const text of ['X'.repeat(4097), '😀'.repeat(2049)]) {
      expect((await clients.scanner!.request('scanner.read', { text })).error).toMatchObject({ code: -32602, data: { field: 'text' } });
    }
  });

  it('lets only an admin manage partners, never echoing a chosen secret', async () => {
    expect((await clients.integrator!.request('partners.add', { id: 17, name: 'P', allowedScopes: [3] })).error.code).toBe(-32001);
    const chosen = 'a0'.repeat(32);
    const added = await clients.admin!.call('partners.add', { id: 17, name: 'Tickets', allowedScopes: [3], defaultScope: 3, secret: chosen });
    expect(added.secret).toBeUndefined();
    expect(JSON.stringify(await clients.viewer!.call('partners.list'))).not.toContain(chosen);
    expect(await clients.admin!.call('partners.remove', { id: 17 })).toEqual({ id: 17, removed: true });
  });
});

describe('network scanners', () => {
  it('is ready while its device is connected and disconnected when it leaves', async () => {
    expect(await clients.viewer!.call('scanners.get', { scanner: 'net-1' })).toMatchObject({ driver: 'network', state: 'ready', door: 'lab' });
    clients.scanner!.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(await clients.viewer!.call('scanners.get', { scanner: 'net-1' })).toMatchObject({ state: 'disconnected' });
    clients.scanner = await ApiClient.connect(site.url, site.tokens.scanner);
    await new Promise((r) => setTimeout(r, 50));
    expect(await clients.viewer!.call('scanners.get', { scanner: 'net-1' })).toMatchObject({ state: 'ready' });
  });
});

describe('subscriptions', () => {
  it('delivers every door change in order with consecutive sequence numbers, filtered by door', async () => {
    const watcher = await ApiClient.connect(site.url, site.tokens.viewer);
    const { subscription } = await watcher.call('subscribe', { topics: ['door', 'audit'], doors: ['front'] });
    await clients.operator!.call('doors.unlock', { door: 'front', seconds: 1 });
    await clients.operator!.call('doors.lock', { door: 'front' });
    await clients.operator!.call('doors.unlock', { door: 'lab', seconds: 1 });
    const events = await watcher.waitForNotifications(4);
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.notifications.every((n) => n.subscription === subscription)).toBe(true);
    expect(watcher.notifications.map((n) => n.seq)).toEqual(watcher.notifications.map((_, i) => i + 1));
    const doorStates = events.filter((n) => n.topic === 'door').map((n) => n.data.state);
    expect(doorStates).toEqual(['unlocked', 'secured']);
    expect(events.filter((n) => n.topic === 'audit').every((n) => n.data.door === 'front')).toBe(true);
    expect(await watcher.call('unsubscribe', { subscription })).toEqual({ unsubscribed: subscription });
    const count = watcher.notifications.length;
    await clients.operator!.call('doors.unlock', { door: 'front', seconds: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.notifications.length).toBe(count);
    expect((await watcher.request('unsubscribe', { subscription })).error.code).toBe(-32002);
    watcher.close();
  });

  it('tells link changes to link subscribers', async () => {
    const watcher = await ApiClient.connect(site.url, site.tokens.viewer);
    await watcher.call('subscribe', { topics: ['link'] });
    const { link } = await clients.integrator!.call('links.create', { name: 'Watched', scope: 3 });
    await clients.integrator!.call('links.revoke', { id: link.id });
    const events = await watcher.waitForNotifications(2);
    expect(events.map((n) => [n.topic, n.data.change, (n.data.link as { id: string }).id])).toEqual([
      ['link', 'created', link.id],
      ['link', 'revoked', link.id],
    ]);
    watcher.close();
  });
});
