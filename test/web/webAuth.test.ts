/** Sign-in over HTTP: /auth/login, /auth/logout, /auth/me, cookies, CSRF origin check, throttling. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { login, loginAs, startWebSite, USERS, type WebSite } from '../support/webSite.ts';

let site: WebSite;
beforeAll(async () => {
  site = await startWebSite({ patch: (c) => (c.api = { port: 0, allowedOrigins: ['https://ops.example.org'] }) });
});
afterAll(() => site.stop());

async function me(cookie: string | undefined): Promise<Response> {
  return fetch(`${site.url}/auth/me`, { headers: cookie ? { cookie } : {} });
}

async function auditEvents(url: string, token: string): Promise<any[]> {
  const client = await ApiClient.connect(url, token);
  try {
    return (await client.call('audit.query', { limit: 1000 })).events;
  } finally {
    client.close();
  }
}

describe('sign-in', () => {
  it('signs a user in with the right password: role, allowed methods and a session cookie', async () => {
    const result = await login(site.url, USERS.operator.name, USERS.operator.password);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ name: 'otto', role: 'operator' });
    expect(result.body.allowed).toContain('doors.unlock');
    expect(result.body.allowed).toContain('doors.list');
    expect(result.body.allowed).not.toContain('partners.add');
    expect(result.setCookie).toHaveLength(1);
    const cookie = result.setCookie[0]!;
    expect(cookie).toMatch(/^postern_session=[A-Za-z0-9_-]{43}; /);
    const flags = cookie.split('; ').slice(1);
    expect(flags).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Path=/']));
    expect(flags).not.toContain('Secure'); // plain HTTP here; TLS adds it
    expect(result.headers.get('cache-control')).toBe('no-store');

    const events = await auditEvents(site.url, site.adminToken);
    const signIn = events.find((e) => e.reason === 'auth.login');
    expect(signIn).toMatchObject({ type: 'operator', actor: 'user:otto', data: { name: 'otto', role: 'operator' } });
  });

  it('refuses a wrong password and an unknown name alike, with 401 and no cookie, audited and logged', async () => {
    const wrong = await login(site.url, USERS.viewer.name, 'not-the-password');
    const unknown = await login(site.url, 'nobody', 'whatever-password');
    for (const result of [wrong, unknown]) {
      expect(result.status).toBe(401);
      expect(result.body).toEqual({ error: 'wrong name or password' });
      expect(result.cookie).toBeUndefined();
    }
    const failed = (await auditEvents(site.url, site.adminToken)).filter((e) => e.reason === 'auth.failed');
    expect(failed.map((e) => e.data.name)).toEqual(expect.arrayContaining(['vera', 'nobody']));
    expect(failed[0]).toMatchObject({ type: 'operator', actor: 'web:127.0.0.1', data: { address: '127.0.0.1' } });
    const logged = site.logs.filter((l) => l.msg === 'sign-in failed: wrong name or password');
    expect(logged.map((l) => l.name)).toEqual(expect.arrayContaining(['vera', 'nobody']));
    const everything = JSON.stringify(site.logs) + JSON.stringify(failed);
    expect(everything).not.toContain('not-the-password');
    expect(everything).not.toContain('whatever-password');
  });

  it('answers /auth/me with the session, 401 without; logout ends the session and clears the cookie', async () => {
    expect((await me(undefined)).status).toBe(401);
    expect((await me('postern_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(401);
    const cookie = await loginAs(site.url, USERS.viewer);
    const answer = await me(cookie);
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as any;
    expect(body).toMatchObject({ name: 'vera', role: 'viewer' });
    expect(body.allowed).toContain('doors.list');
    expect(body.allowed).not.toContain('doors.unlock');

    const out = await fetch(`${site.url}/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^postern_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    expect((await me(cookie)).status).toBe(401);
    const events = await auditEvents(site.url, site.adminToken);
    expect(events.find((e) => e.reason === 'auth.logout')).toMatchObject({ actor: 'user:vera' });
  });

  it('refuses a POST from a foreign origin with 403, and takes the own and allowed origins', async () => {
    const foreign = await login(site.url, USERS.viewer.name, USERS.viewer.password, { origin: 'https://evil.example.com' });
    expect(foreign.status).toBe(403);
    expect(foreign.cookie).toBeUndefined();
    const nullOrigin = await login(site.url, USERS.viewer.name, USERS.viewer.password, { origin: 'null' });
    expect(nullOrigin.status).toBe(403);
    const cookie = await loginAs(site.url, USERS.viewer);
    const logout = await fetch(`${site.url}/auth/logout`, { method: 'POST', headers: { cookie, origin: 'https://evil.example.com' } });
    expect(logout.status).toBe(403);
    expect((await me(cookie)).status).toBe(200); // still signed in
    expect((await login(site.url, USERS.viewer.name, USERS.viewer.password, { origin: site.url })).status).toBe(200);
    expect((await login(site.url, USERS.viewer.name, USERS.viewer.password, { origin: 'https://ops.example.org' })).status).toBe(200);
  });

  it('takes JSON only, of at most 8 KiB, and POST only', async () => {
    const form = await fetch(`${site.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=vera&password=x' });
    expect(form.status).toBe(415);
    const text = await fetch(`${site.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(415);
    const big = await fetch(`${site.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'vera', password: 'x'.repeat(9000) }),
    });
    expect(big.status).toBe(413);
    const broken = await fetch(`${site.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' });
    expect(broken.status).toBe(400);
    const missing = await fetch(`${site.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"vera"}' });
    expect(missing.status).toBe(400);
    const get = await fetch(`${site.url}/auth/login`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('sign-in throttling', () => {
  let locked: WebSite;
  beforeAll(async () => {
    locked = await startWebSite({ patch: (c) => (c.web = { loginFailures: 5, loginWindowMinutes: 5 }) });
  });
  afterAll(() => locked.stop());

  it('refuses with 429 after 5 wrong passwords, even the right one, audited and logged', async () => {
    for (let i = 0; i < 5; i++) expect((await login(locked.url, USERS.admin.name, `wrong-password-${i}`)).status).toBe(401);
    const refused = await login(locked.url, USERS.admin.name, USERS.admin.password);
    expect(refused.status).toBe(429);
    expect(refused.cookie).toBeUndefined();
    expect(refused.body.retryAfterSeconds).toBeGreaterThan(290);
    expect(refused.body.retryAfterSeconds).toBeLessThanOrEqual(300);
    expect(Number(refused.headers.get('retry-after'))).toBe(refused.body.retryAfterSeconds);
    // The address is locked too: another user from it waits as well.
    expect((await login(locked.url, USERS.viewer.name, USERS.viewer.password)).status).toBe(429);

    const events = await auditEvents(locked.url, locked.adminToken);
    expect(events.filter((e) => e.reason === 'auth.failed')).toHaveLength(5);
    const lockouts = events.filter((e) => e.reason === 'auth.locked');
    expect(lockouts.map((e) => e.data.by).sort()).toEqual(['address', 'name']);
    expect(lockouts[0]).toMatchObject({ type: 'operator', actor: 'web:127.0.0.1', data: { name: 'ada', address: '127.0.0.1' } });
    expect(events.some((e) => e.reason === 'auth.login')).toBe(false);
    expect(locked.logs.filter((l) => l.msg === 'sign-in failed: wrong name or password')).toHaveLength(5);
    expect(locked.logs.filter((l) => l.msg === 'sign-in locked: too many wrong passwords')).toHaveLength(2);
    expect(locked.logs.filter((l) => l.msg === 'sign-in refused: too many wrong passwords').length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(locked.logs) + JSON.stringify(events)).not.toContain('wrong-password-');
  });
});
