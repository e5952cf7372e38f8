/** The web UI's socket.io connection: who connects, hello, rpc with roles and audit, live events, session ends. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { connectWeb, loginAs, startWebSite, USERS, waitFor, type WebSite } from '../support/webSite.ts';

/** The first arguments of the next `name` event. */
function once(socket: Socket, name: string): Promise<any[]> {
  return new Promise((resolve) => socket.once(name, (...args: any[]) => resolve(args)));
}

let site: WebSite;
beforeAll(async () => {
  site = await startWebSite({ patch: (c) => (c.api = { port: 0, allowedOrigins: ['https://ops.example.org'] }) });
});
afterAll(() => site.stop());

describe('who gets a socket', () => {
  for (const transports of [['polling', 'websocket'], ['websocket']]) {
    it(`refuses no cookie, a made-up cookie, a foreign Origin and an ended session (${transports.join('+')})`, async () => {
      await expect(connectWeb(site.url, undefined, { transports })).rejects.toThrow();
      await expect(connectWeb(site.url, 'postern_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', { transports })).rejects.toThrow();
      const cookie = await loginAs(site.url, USERS.viewer);
      await expect(connectWeb(site.url, cookie, { transports, origin: 'https://evil.example.com' })).rejects.toThrow();
      const allowed = await connectWeb(site.url, cookie, { transports, origin: 'https://ops.example.org' });
      allowed.close();
      const own = await connectWeb(site.url, cookie, { transports, origin: site.url });
      own.close();
      await fetch(`${site.url}/auth/logout`, { method: 'POST', headers: { cookie } });
      await expect(connectWeb(site.url, cookie, { transports })).rejects.toThrow();
    });
  }

  it('says hello with the user, the methods the role may call, the site and the version', async () => {
    const client = await connectWeb(site.url, await loginAs(site.url, USERS.operator));
    expect(client.hello).toMatchObject({
      user: { name: 'otto', role: 'operator' },
      site: { id: 'test-site', name: 'Test site' },
      controllerId: 'test-site',
    });
    expect(client.hello.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(client.hello.allowed).toEqual(expect.arrayContaining(['doors.unlock', 'doors.list', 'subscribe', 'audit.query']));
    expect(client.hello.allowed).not.toContain('partners.add');
    client.close();
  });
});

describe('rpc', () => {
  it('checks roles: a viewer may read but not unlock (-32001)', async () => {
    const client = await connectWeb(site.url, await loginAs(site.url, USERS.viewer));
    const list = await client.rpc('doors.list');
    expect(list.result.map((d: any) => d.id)).toEqual(['front', 'lab', 'store']);
    const unlock = await client.rpc('doors.unlock', { door: 'front', seconds: 1 });
    expect(unlock.error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    expect(unlock.error.message).toContain('operator');
    expect((await client.rpc('no.such.method')).error.code).toBe(-32601);
    expect((await client.rpc('doors.get', { door: 42 })).error).toMatchObject({ code: -32602, data: { field: 'door' } });
    expect((await client.rpc('doors.get', { door: 'nowhere' })).error.code).toBe(-32002);
    client.close();
  });

  it("runs an operator's unlock, audited with actor user:<name>", async () => {
    const client = await connectWeb(site.url, await loginAs(site.url, USERS.operator));
    const unlock = await client.rpc('doors.unlock', { door: 'lab', seconds: 0.5 });
    expect(unlock.error).toBeUndefined();
    expect(unlock.result).toMatchObject({ id: 'lab' });
    const audit = await client.rpc('audit.query', { door: 'lab', order: 'desc', limit: 20 });
    const event = audit.result.events.find((e: any) => e.type === 'operator' && e.actor === 'user:otto');
    expect(event).toBeDefined();
    expect(event.door).toBe('lab');
    client.close();
  });

  it('delivers live events in order, numbered by seq, to the subscription', async () => {
    const client = await connectWeb(site.url, await loginAs(site.url, USERS.operator));
    const { result } = await client.rpc('subscribe', { topics: ['door', 'audit'], doors: ['front'] });
    expect(result.subscription).toMatch(/^s\d+$/);
    await client.rpc('doors.unlock', { door: 'front', seconds: 0.2 });
    await client.rpc('doors.lock', { door: 'front' });
    await waitFor(() => client.events.some((e) => e.topic === 'door' && e.data.state === 'secured'), 5000, 'door secured');
    const { events } = client;
    expect(events.length).toBeGreaterThanOrEqual(3);
    events.forEach((e, i) => {
      expect(e.subscription).toBe(result.subscription);
      expect(e.seq).toBe(i + 1);
    });
    expect(events.filter((e) => e.topic === 'door').every((e) => e.data.id === 'front')).toBe(true);
    expect(events.some((e) => e.topic === 'audit' && e.data.actor === 'user:otto')).toBe(true);
    // unsubscribe stops them
    expect((await client.rpc('unsubscribe', { subscription: result.subscription })).result).toEqual({ unsubscribed: result.subscription });
    const count = events.length;
    await client.rpc('doors.unlock', { door: 'front', seconds: 0.1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(events.length).toBe(count);
    client.close();
  });

  it('drops every socket of a session at logout, after telling it why', async () => {
    const cookie = await loginAs(site.url, USERS.viewer);
    const first = await connectWeb(site.url, cookie);
    const second = await connectWeb(site.url, cookie, { transports: ['websocket'] });
    const endings = [first, second].map((c) => once(c.socket, 'session-ended'));
    const disconnects = [first, second].map((c) => once(c.socket, 'disconnect'));
    await fetch(`${site.url}/auth/logout`, { method: 'POST', headers: { cookie } });
    for (const [ended] of await Promise.all(endings)) expect(ended).toEqual({ reason: 'logout' });
    for (const [reason] of await Promise.all(disconnects)) expect(reason).toBe('io server disconnect');
  });
});

describe('limits and expiry', () => {
  let tight: WebSite;
  beforeAll(async () => {
    tight = await startWebSite({
      patch: (c) => {
        c.api = { port: 0, rateLimit: { perConnection: { rate: 0.5, burst: 3 }, perToken: { rate: 100, burst: 100 } } };
        c.web = { sessionIdleMinutes: 0.01 }; // 600 ms
      },
    });
  });
  afterAll(() => tight.stop());

  it('rate-limits rpc per socket (-32004)', async () => {
    const client = await connectWeb(tight.url, await loginAs(tight.url, USERS.viewer));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await client.rpc('doors.list'));
    expect(answers.slice(0, 3).every((a) => a.result !== undefined)).toBe(true);
    expect(answers[3].error).toMatchObject({ code: -32004, data: { code: 'POSTERN_ERR_RATE_LIMITED' } });
    expect(answers[3].error.data.retryAfterMs).toBeGreaterThan(0);
    client.close();
  });

  it('ends an idle session once no page of it is open; it cannot come back', async () => {
    const cookie = await loginAs(tight.url, USERS.viewer);
    const client = await connectWeb(tight.url, cookie);
    // A page that is only watched keeps its session: a security desk does not click.
    await new Promise((r) => setTimeout(r, 1500));
    expect(client.socket.connected).toBe(true);
    expect((await fetch(`${tight.url}/auth/me`, { headers: { cookie } })).status).toBe(200);
    client.close();
    // Nothing touches the session now (asking /auth/me would count as use).
    await new Promise((r) => setTimeout(r, 1500));
    await expect(connectWeb(tight.url, cookie)).rejects.toThrow();
    expect((await fetch(`${tight.url}/auth/me`, { headers: { cookie } })).status).toBe(401);
    expect(tight.logs.some((l) => l.reason === 'idle')).toBe(true);
  });

  it('keeps a used session alive past the idle time', async () => {
    const cookie = await loginAs(tight.url, USERS.operator);
    const client = await connectWeb(tight.url, cookie);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 300));
      expect((await fetch(`${tight.url}/auth/me`, { headers: { cookie } })).status).toBe(200);
    }
    expect(client.socket.connected).toBe(true);
    client.close();
  });
});
