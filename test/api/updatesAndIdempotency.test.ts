/**
 * links.update and credentials.update, and idempotency keys on creates: against a real controller,
 * with the codes scanned by a network scanner to show what the door does after each change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Idempotency } from '../../controller/api/idempotency.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let integrator: ApiClient;
let admin: ApiClient;
let viewer: ApiClient;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  site = await startApiSite();
  [integrator, admin, viewer] = await Promise.all([ApiClient.connect(site.url, site.tokens.integrator), ApiClient.connect(site.url, site.tokens.admin), ApiClient.connect(site.url, site.tokens.viewer)]);
});
afterAll(async () => {
  for (const c of [integrator, admin, viewer]) c?.close();
  await site?.stop();
});

const scan = (text: string) => integrator.call('scanner.read', { scanner: 'net-1', text });

describe('links.update', () => {
  it('renames in place, keeping the code, and audits it', async () => {
    const { link, code } = await integrator.call('links.create', { name: 'Old Name', scope: 7 });
    const updated = await integrator.call('links.update', { id: link.id, name: 'New Name', email: 'new@example.org' });
    expect(updated).toEqual({ link: expect.objectContaining({ id: link.id, name: 'New Name', email: 'new@example.org', status: 'active' }) });
    expect(await scan(code)).toMatchObject({ verdict: 'grant' });
    const events = (await viewer.call('audit.query', { subject: link.id })).events;
    expect(events.find((e: { reason: string }) => e.reason === 'link.update')).toMatchObject({ actor: 'token:integrator', data: { name: 'New Name', email: 'new@example.org' } });
  });

  it('replaces a link whose window or doors change: a new code opens, the old one is revoked', async () => {
    const { link, code } = await integrator.call('links.create', { name: 'Shifted', doors: ['lab'], notBefore: now() - 60, notAfter: now() + 3600 });
    const until = now() + 7200;
    const updated = await integrator.call('links.update', { id: link.id, notAfter: until });
    expect(updated).toMatchObject({ replaced: link.id, link: { name: 'Shifted', notAfter: until, doors: ['lab'], scopeName: 'Lab', status: 'active' }, code: expect.stringMatching(/^P1\./) });
    expect(updated.link.id).not.toBe(link.id);
    expect(await scan(code)).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(await scan(updated.code)).toMatchObject({ verdict: 'grant' });
    expect(await viewer.call('links.get', { id: link.id })).toMatchObject({ status: 'revoked' });
    const events = (await viewer.call('audit.query', { subject: link.id, order: 'asc' })).events.map((e: { reason: string; data: unknown }) => [e.reason, e.data]);
    expect(events).toContainEqual(['link.update', { replacedBy: updated.link.id }]);
    // A revoked link does not change; an unknown one is not found.
    expect((await integrator.request('links.update', { id: link.id, name: 'x' })).error).toMatchObject({ code: -32003 });
    expect((await integrator.request('links.update', { id: '12345', name: 'x' })).error).toMatchObject({ code: -32002 });
    expect((await viewer.request('links.update', { id: updated.link.id, name: 'x' })).error).toMatchObject({ code: -32001 });
  });
});

describe('credentials.update', () => {
  it("changes a credential's scope in place: its next code opens what the new scope opens", async () => {
    const { credential } = await integrator.call('credentials.create', { name: 'Member', scope: 3 });
    const updated = await integrator.call('credentials.update', { id: credential.id, scope: 7, name: 'Member Renamed' });
    expect(updated).toMatchObject({ id: credential.id, name: 'Member Renamed', scope: 7, scopeName: 'staff', status: 'active' });
    expect((await integrator.request('credentials.update', { id: credential.id, scope: 999 })).error).toMatchObject({ code: -32602, data: { field: 'scope' } });
    const events = (await viewer.call('audit.query', { subject: credential.id })).events.map((e: { reason: string }) => e.reason);
    expect(events).toEqual(['credential.create', 'credential.update']);
  });
});

describe('idempotency keys', () => {
  it('answers a repeated create with the first answer, and refuses the key with other parameters', async () => {
    const params = { name: 'Booked Guest', scope: 7, idempotencyKey: 'booking-4711-a' };
    const [first, second] = await Promise.all([integrator.call('links.create', params), integrator.call('links.create', params)]);
    expect(second).toEqual(first);
    const third = await integrator.call('links.create', params);
    expect(third).toEqual(first);
    expect((await viewer.call('links.list', { search: 'Booked Guest' })).length).toBe(1);
    expect((await integrator.request('links.create', { ...params, name: 'Someone Else' })).error).toMatchObject({ code: -32003, data: { field: 'idempotencyKey' } });
    // Keys belong to an account: another's same key is another create.
    const other = await ApiClient.connect(site.url, site.tokens.admin);
    expect((await other.call('links.create', params)).link.id).not.toBe(first.link.id);
    other.close();

    const cred = { name: 'Retry Member', scope: 3, idempotencyKey: 'member-0042-xyz' };
    const a = await integrator.call('credentials.create', cred);
    expect(await integrator.call('credentials.create', cred)).toEqual(a);

    const partner = { id: 88, name: 'Retry Partner', allowedScopes: [3], idempotencyKey: 'partner-88-key' };
    const p1 = await admin.call('partners.add', partner);
    expect(p1.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(await admin.call('partners.add', partner)).toEqual(p1);

    const tok = { name: 'ci-bot', role: 'viewer', idempotencyKey: 'token-ci-bot-1' };
    const t1 = await admin.call('tokens.create', tok);
    const again = await admin.request('tokens.create', tok);
    expect(again.error).toMatchObject({ code: -32003, message: expect.stringContaining(`made token ${t1.record.id} already`) });
    expect((await admin.request('links.create', { name: 'x', scope: 7, idempotencyKey: 'short' })).error).toMatchObject({ code: -32602, data: { field: 'idempotencyKey' } });
  });

  it('makes the thing under the claimed id when the first attempt ended between the claim and the create', async () => {
    const settings = new Map<string, string>();
    const store = {
      setSettingIfAbsent: async (k: string, v: string) => {
        if (!settings.has(k)) settings.set(k, v);
        return settings.get(k)!;
      },
      putSetting: async (k: string, v: string) => void settings.set(k, v),
    };
    const idempotency = new Idempotency(store);
    const made = new Map<string, string>();
    let ids = 0;
    const op = (fail: boolean) => ({
      reserve: () => `id-${++ids}`,
      create: async (id: string | undefined) => {
        if (fail) throw new Error('power cut');
        made.set(id!, 'thing');
        return { result: id!, ref: id! };
      },
      replay: async (id: string) => (made.has(id) ? id : undefined),
    });
    await expect(idempotency.run('token:x', 'links.create', 'key-12345', { a: 1 }, op(true))).rejects.toThrow('power cut');
    expect(await idempotency.run('token:x', 'links.create', 'key-12345', { a: 1 }, op(false))).toBe('id-1');
    expect(await idempotency.run('token:x', 'links.create', 'key-12345', { a: 1 }, op(false))).toBe('id-1');
    expect([...made.keys()]).toEqual(['id-1']);
  });
});
