/**
 * Badge enrolment against a real controller on port 0: POST /badge/enrol trades a one-time token
 * for the credential's secret exactly once; used, expired, unknown, foreign and hurried requests
 * are refused; and `postern credential create` prints the link.
 */
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { badgeBaseUrl, createEnrolment, hashEnrolToken } from '../../controller/badge/enrolment.ts';
import { validateConfig } from '../../controller/config/loadConfig.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

/** A second connection to the site's store, as the command line has while a controller runs. */
async function adminStore(dataDir: string): Promise<{ store: Store; audit: AuditTrail; close(): Promise<void> }> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'test-site/admin' });
  await audit.start();
  return {
    store,
    audit,
    async close() {
      await audit.stop();
      await store.stop();
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json(): Promise<any>;
}

/**
 * POST /badge/enrol from a client address of our choice (127.0.0.x): failed attempts are throttled
 * per address, so each test speaks from its own.
 */
function post(url: string, body: unknown, headers: Record<string, string> = {}, from = '127.0.0.1', method = 'POST'): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${url}/badge/enrol`, { method, localAddress: from, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: async () => JSON.parse(raw) });
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    req.end(method === 'GET' ? undefined : text);
  });
}

describe('POST /badge/enrol', () => {
  let site: ApiSite;
  let admin: Awaited<ReturnType<typeof adminStore>>;
  let credentialId: string;
  let secret: Buffer;
  const link = (validHours = 24, clock?: () => number) =>
    createEnrolment(admin, { credentialId, validHours, baseUrl: site.url, actor: 'test', ...(clock ? { clock } : {}) });

  beforeAll(async () => {
    site = await startApiSite();
    admin = await adminStore(site.dataDir);
    ({ credential: { id: credentialId }, secret } = await site.controller.issuing.createCredential({ name: 'Ada Member', scope: 7 }, 'test'));
  });

  afterAll(async () => {
    await admin?.close();
    await site?.stop();
  });

  it('gives the secret once, then 410; the link carries the token in its fragment only', async () => {
    const { token, url } = await link();
    expect(url).toBe(`${site.url}/badge#enrol=${token}`);
    const first = await post(site.url, { token });
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(await first.json()).toEqual({ credentialId, name: 'Ada Member', siteName: 'Test site', scope: 7, periodSeconds: 15, secret: secret.toString('hex') });

    const again = await post(site.url, { token });
    expect(again.status).toBe(410);
    expect(await again.json()).toMatchObject({ reason: 'used' });
    expect(JSON.stringify(await (await post(site.url, { token })).json())).not.toContain(secret.toString('hex'));

    // The store kept only the token's hash, and the trail says who enrolled.
    expect(await admin.store.consumeEnrolment(hashEnrolToken(token), Date.now())).toEqual({ status: 'used' });
    let events: Awaited<ReturnType<Store['queryAudit']>> = [];
    for (let i = 0; i < 50 && !events.some((e) => e.reason === 'credential.enrolled'); i++) {
      await new Promise((r) => setTimeout(r, 20));
      events = await admin.store.queryAudit({ controllerId: 'test-site', subject: credentialId });
    }
    expect(events.find((e) => e.reason === 'credential.enrolled')).toMatchObject({ actor: 'badge', kind: 'rotating', subject: credentialId });
  });

  it('is decided once when two requests race with one token', async () => {
    const { token } = await link();
    const statuses = (await Promise.all([post(site.url, { token }, {}, '127.0.0.2'), post(site.url, { token }, {}, '127.0.0.2')])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 410]);
  });

  it('refuses an expired link with 410 and an unknown one with 404', async () => {
    const from = '127.0.0.3';
    const { token } = await link(1, () => Date.now() - 2 * 3600 * 1000);
    const expired = await post(site.url, { token }, {}, from);
    expect(expired.status).toBe(410);
    expect(await expired.json()).toMatchObject({ reason: 'expired' });
    expect((await post(site.url, { token: 'A'.repeat(43) }, {}, from)).status).toBe(404);
    expect((await post(site.url, { token: 'not a token' }, {}, from)).status).toBe(404);
  });

  it('takes JSON only, small bodies only, POST only, and nothing from a foreign page', async () => {
    const from = '127.0.0.4';
    const { token } = await link();
    expect((await post(site.url, `token=${token}`, { 'content-type': 'application/x-www-form-urlencoded' }, from)).status).toBe(415);
    expect((await post(site.url, { token, padding: 'x'.repeat(4096) }, {}, from)).status).toBe(413);
    expect((await post(site.url, '', {}, from, 'GET')).status).toBe(405);
    expect((await post(site.url, { token }, { origin: 'https://evil.example' }, from)).status).toBe(403);
    expect((await post(site.url, { token }, { origin: site.url, 'sec-fetch-site': 'cross-site' }, from)).status).toBe(403);
    // None of these used the token; the page's own origin may.
    expect((await post(site.url, { token }, { origin: site.url }, from)).status).toBe(200);
  });
});

describe('POST /badge/enrol throttling', () => {
  let site: ApiSite;
  afterAll(async () => site?.stop());

  it('throttles one client address after a burst of attempts', async () => {
    site = await startApiSite();
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await post(site.url, { token: `${'B'.repeat(40)}${String(i).padStart(3, '0')}` })).status);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(404));
    expect(statuses.slice(10)).toContain(429);
    const refused = await post(site.url, { token: 'C'.repeat(43) });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // Another address is not slowed.
    expect((await post(site.url, { token: 'C'.repeat(43) }, {}, '127.0.0.5')).status).toBe(404);
  });
});

describe('postern credential create', () => {
  it('prints a one-time enrolment link to /badge with the token in the fragment', async () => {
    const dir = await tempDir('postern-badge-cli-');
    const configFile = path.join(dir, 'site.yaml');
    await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [], api: { host: '127.0.0.1', port: 8443 }, badge: { publicUrl: 'https://doors.example.org/' } }));
    const created = await runCli(['credential', 'create', '--name', 'Grace', '--scope', '7', '--enrol-hours', '2', '--config', configFile, '--create'], { POSTERN_API_PORT: undefined });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^https:\/\/doors\.example\.org\/badge#enrol=[A-Za-z0-9_-]{43}$/m);
    const until = /works once, until (\S+?)\):/.exec(created.stdout)![1]!;
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(2 * 3600 * 1000 - 60_000);
    expect(Date.parse(until) - Date.now()).toBeLessThanOrEqual(2 * 3600 * 1000);

    const bad = await runCli(['credential', 'create', '--name', 'Grace', '--scope', '7', '--enrol-hours', '0', '--config', configFile]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--enrol-hours');
  });

  it('builds the base URL from the API address when no public URL is set', () => {
    const config = (patch: object) => validateConfig({ ...testSiteInput('/tmp/x'), ...patch });
    expect(badgeBaseUrl(config({ api: { port: 8080 } }))).toBe('http://127.0.0.1:8080');
    expect(badgeBaseUrl(config({ api: { host: '::1', port: 443, tls: { cert: 'c', key: 'k' } } }))).toBe('https://[::1]');
    expect(badgeBaseUrl(config({ badge: { publicUrl: 'https://doors.example.org/' } }))).toBe('https://doors.example.org');
  });
});
