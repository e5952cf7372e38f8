/**
 * People, not numbers, over the API: scopes by name, links and credentials with their status and
 * what they open, search by name, and audit events that name whom they are about, in answers and
 * live. Against a real controller on SQLite, with codes read by a network scanner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import { NamedAuditFeed } from '../../controller/api/namedAuditFeed.ts';
import { HolderNames, type NamedAuditEvent } from '../../controller/issuing/holderNames.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let integrator: ApiClient;
let viewer: ApiClient;
let admin: ApiClient;
const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  site = await startApiSite();
  [integrator, viewer, admin] = await Promise.all([ApiClient.connect(site.url, site.tokens.integrator), ApiClient.connect(site.url, site.tokens.viewer), ApiClient.connect(site.url, site.tokens.admin)]);
});
afterAll(async () => {
  for (const c of [integrator, viewer, admin]) c?.close();
  await site?.stop();
});

describe('scopes and links by name', () => {
  it('names door sets by their doors and lists them with the site file scopes', async () => {
    const { link } = await integrator.call('links.create', { name: 'Ada Lovelace', doors: ['lab', 'front'] });
    // Doors in the site file's order, named, never the door set's number.
    expect(link).toMatchObject({ scopeName: 'Front, Lab', doors: ['front', 'lab'], status: 'active' });
    expect(link.scope).toBeGreaterThanOrEqual(1073741824);
    const scopes = await viewer.call('scopes.list');
    expect(scopes).toEqual([
      { id: 7, name: 'staff', doors: ['front', 'lab'], source: 'site' },
      { id: 3, name: 'front only', doors: ['front'], source: 'site' },
      { id: link.scope, name: 'Front, Lab', doors: ['front', 'lab'], source: 'door-set' },
    ]);
    const { credential } = await integrator.call('credentials.create', { name: 'Grace Member', scope: 3 });
    expect(credential).toMatchObject({ scopeName: 'front only', doors: ['front'], status: 'active' });
  });

  it('gives each link its status: active, not yet valid, expired, revoked, used up', async () => {
    const now = nowSeconds();
    const create = (name: string, extra: Record<string, unknown>) => integrator.call('links.create', { name, scope: 7, ...extra });
    const make = async (name: string, extra: Record<string, unknown>) => (await create(name, extra)).link;
    const later = await make('Status later', { notBefore: now + 3600, notAfter: now + 7200 });
    const past = await make('Status past', { notBefore: now - 7200, notAfter: now - 3600 });
    const revoked = await make('Status revoked', {});
    await integrator.call('links.revoke', { id: revoked.id });
    const { link: once, code } = await create('Status once', { onlineOnly: true, maxUses: 1 });
    expect(once.status).toBe('active');
    // Its one use, confirmed by this standalone site's own store.
    expect(await integrator.call('scanner.read', { scanner: 'net-1', text: code })).toMatchObject({ verdict: 'grant' });
    expect(later.status).toBe('not-yet-valid');
    expect(past.status).toBe('expired');
    const listed = await viewer.call('links.list', { search: 'status', includeRevoked: true });
    expect(Object.fromEntries(listed.map((l: { name: string; status: string }) => [l.name, l.status]))).toEqual({
      'Status later': 'not-yet-valid',
      'Status past': 'expired',
      'Status revoked': 'revoked',
      'Status once': 'used-up',
    });
    expect(await viewer.call('links.get', { id: once.id })).toMatchObject({ status: 'used-up', scopeName: 'staff' });
  });

  it('searches links and credentials by name, id and email, in pages', async () => {
    const { link } = await integrator.call('links.create', { name: 'Search Target', email: 'target@example.org', scope: 3 });
    const names = async (method: string, params: Record<string, unknown>) => (await viewer.call(method, params)).map((r: { name: string }) => r.name);
    expect(await names('links.list', { search: 'search targ' })).toEqual(['Search Target']);
    expect(await names('links.list', { search: 'TARGET@' })).toEqual(['Search Target']);
    expect(await names('links.list', { search: link.id })).toEqual(['Search Target']);
    expect(await names('credentials.list', { search: 'grace' })).toEqual(['Grace Member']);
    expect(await names('links.list', { search: 'status', includeRevoked: true, limit: 2, offset: 2 })).toEqual(['Status revoked', 'Status once']);
    const tooLong = await viewer.request('links.list', { search: 'x'.repeat(201) });
    expect(tooLong.error).toMatchObject({ code: -32602, data: { field: 'search' } });
  });
});

describe('audit events name their holder', () => {
  it('names a link holder in audit.query, filters by holder name, and pushes the name live', async () => {
    const watcher = await ApiClient.connect(site.url, site.tokens.viewer);
    await watcher.call('subscribe', { topics: ['audit'], doors: ['lab'] });
    const { link, code } = await integrator.call('links.create', { name: 'Feed Person', scope: 7 });
    const read = await integrator.call('scanner.read', { scanner: 'net-1', text: code });
    expect(read).toMatchObject({ verdict: 'grant' });

    const notes = await waitFor(watcher, (n) => n.data.type === 'decision' && n.data.subject === link.id);
    expect(notes.data).toMatchObject({ holder: 'Feed Person', partner: null, verdict: 'grant' });

    const page = await viewer.call('audit.query', { holder: 'feed pers', order: 'desc', limit: 10 });
    expect(page.events.length).toBeGreaterThanOrEqual(2); // the link's making and its grant
    expect(page.events.every((e: NamedAuditEvent) => e.subject === link.id && e.holder === 'Feed Person')).toBe(true);
    expect(page.events.map((e: NamedAuditEvent) => e.type)).toEqual(expect.arrayContaining(['decision', 'operator']));
    expect((await viewer.call('audit.query', { holder: 'no such person here' })).events).toEqual([]);
    // A garbled read has no subject: no name, and nothing invented.
    await integrator.call('scanner.read', { scanner: 'net-1', text: 'not-a-code' });
    const latest = (await viewer.call('audit.query', { door: 'lab', verdict: 'deny', order: 'desc', limit: 1 })).events[0];
    expect(latest).toMatchObject({ verdict: 'deny', holder: null, partner: null });
    watcher.close();
  });

  it("names a partner's code by the partner", async () => {
    const secret = Buffer.alloc(32, 7);
    await admin.call('partners.add', { id: 41, name: 'Acme Cleaning', allowedScopes: [7], defaultScope: 7, secret: secret.toString('hex') });
    const now = nowSeconds();
    const code = encodeCredential({ kind: 'link', issuer: 41, subject: 555n, a: now - 60, b: now + 3600, scope: 7 }, secret);
    expect(await integrator.call('scanner.read', { scanner: 'net-1', text: code })).toMatchObject({ verdict: 'grant' });
    const [event] = (await viewer.call('audit.query', { subject: '555', order: 'desc', limit: 1 })).events;
    expect(event).toMatchObject({ issuer: 41, subject: '555', partner: 'Acme Cleaning', holder: null });
  });
});

describe('the live feed with a store that does not answer', () => {
  it('publishes in order and at most the bound late, without the name it could not read', async () => {
    let answer: (names: Map<string, string>) => void = () => {};
    const store = {
      holderNames: () => new Promise<Map<string, string>>((resolve) => (answer = resolve)),
      listPartners: async () => [],
    };
    const published: NamedAuditEvent[] = [];
    const feed = new NamedAuditFeed(new HolderNames(store), (e) => published.push(e), 50);
    const event = (seq: number, subject: string | null): AuditEvent => ({
      controllerId: 'c', seq, at: seq, type: subject ? 'decision' : 'door', door: 'lab', scanner: null, subject, kind: null, issuer: subject ? 0 : null, verdict: null, reason: null, actor: null, data: null, prevHash: '', hash: '',
    });
    feed.push(event(1, '42'));
    feed.push(event(2, null)); // needs no name, but must not pass the event before it
    expect(published).toEqual([]);
    await feed.idle();
    expect(published.map((e) => [e.seq, e.holder])).toEqual([[1, null], [2, null]]);
    // The store answers late: the name is remembered for the next event of that holder.
    answer(new Map([['42', 'Late Name']]));
    await new Promise((r) => setTimeout(r, 0));
    feed.push(event(3, '42'));
    expect(published.at(-1)).toMatchObject({ seq: 3, holder: 'Late Name' });
  });
});

async function waitFor(client: ApiClient, match: (n: { data: Record<string, unknown> }) => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = client.notifications.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('no matching notification');
    await new Promise((r) => setTimeout(r, 10));
  }
}
