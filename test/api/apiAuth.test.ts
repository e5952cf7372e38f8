/** Who gets a socket: refused at the upgrade with 401/403, never a socket, for every bad case. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Accounts } from '../../controller/accounts/accounts.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ApiClient, upgradeStatus } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
beforeAll(async () => {
  site = await startApiSite((c) => {
    c.api = { port: 0, allowedOrigins: ['https://ops.example.org'] };
  });
});
afterAll(() => site.stop());

describe('API authentication at the upgrade', () => {
  it('refuses no token, a wrong token and a malformed header with 401', async () => {
    expect(await upgradeStatus(site.url, {})).toBe(401);
    expect(await upgradeStatus(site.url, { authorization: 'Bearer pst_thisIsNotAValidTokenAtAllxxxxxxxxxxxxxxxx' })).toBe(401);
    expect(await upgradeStatus(site.url, { authorization: `Basic ${site.tokens.admin}` })).toBe(401);
  });

  it('refuses a foreign Origin with 403 even with a good token, and accepts an allowed one', async () => {
    const auth = { authorization: `Bearer ${site.tokens.admin}` };
    expect(await upgradeStatus(site.url, { ...auth, origin: 'https://evil.example.com' })).toBe(403);
    expect(await upgradeStatus(site.url, { ...auth, origin: 'https://ops.example.org' })).toBe(101);
    expect(await upgradeStatus(site.url, { ...auth, origin: site.url })).toBe(101);
    expect(await upgradeStatus(site.url, auth)).toBe(101);
  });

  it('never takes a token from the query string', async () => {
    expect(await upgradeStatus(site.url, {}, `/api?token=${site.tokens.admin}`)).toBe(400);
    expect(await upgradeStatus(site.url, { authorization: `Bearer ${site.tokens.admin}` }, `/api?access_token=x`)).toBe(400);
  });

  it('refuses a token once it is revoked, and says who is calling while it is valid', async () => {
    const store = openStore({ dataDir: site.dataDir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
    await audit.start();
    const accounts = new Accounts({ store, audit });
    const { token, record } = await accounts.createToken({ name: 'temporary', role: 'viewer', scanner: null }, 'test');
    const client = await ApiClient.connect(site.url, token);
    expect((await client.call('system.info')).you).toEqual({ kind: 'token', name: 'temporary', role: 'viewer' });
    client.close();
    await accounts.revokeToken(record.id, 'test');
    await audit.stop();
    await store.stop();
    expect(await upgradeStatus(site.url, { authorization: `Bearer ${token}` })).toBe(401);
  });

  it('serves health and readiness openly, and metrics only with a token', async () => {
    expect((await fetch(`${site.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${site.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${site.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.scanner}` } })).status).toBe(403);
    const metrics = await fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.viewer}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  });
});
