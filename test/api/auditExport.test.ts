/**
 * GET /audit/export against a real controller: CSV (the command line's format, hash chain
 * included) and JSON lines (with names), filters, paging across many events, and its refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../controller/audit/auditChain.ts';
import { AUDIT_CSV_HEADER } from '../../controller/audit/auditCsv.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let integrator: ApiClient;
let base: string;
const get = (path: string, token?: string) => fetch(`${base}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  site = await startApiSite();
  integrator = await ApiClient.connect(site.url, site.tokens.integrator);
  base = site.url.replace(/^ws/, 'http').replace(/\/api$/, '');
  const { code } = await integrator.call('links.create', { name: 'Export Person', scope: 7 });
  await integrator.call('scanner.read', { scanner: 'net-1', text: code });
  await integrator.call('scanner.read', { scanner: 'net-1', text: 'junk' });
  // Another chain of the same store with more than one page of the export (1,000 events), as the command line writes its own.
  const store = openStore({ dataDir: site.dataDir });
  await store.start();
  const bulk = new AuditTrail({ store, controllerId: 'test-site/bulk' });
  await bulk.start();
  await Promise.all(Array.from({ length: 2500 }, (_, i) => bulk.append({ type: 'operator', reason: 'import', actor: 'test', data: { i } })));
  await bulk.stop();
  await store.stop();
}, 120_000);
afterAll(async () => {
  integrator?.close();
  await site?.stop();
});

describe('GET /audit/export', () => {
  it('streams every event of the chain as JSON lines with names, and the chain verifies', async () => {
    // The head before the export: the door's relock may add events while it runs, never fewer.
    const head = (await integrator.call('audit.query', { order: 'desc', limit: 1 })).events[0].seq;
    const res = await get('/audit/export', site.tokens.viewer);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const events = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    expect(events.at(-1).seq).toBeGreaterThanOrEqual(head);
    expect(events.find((e) => e.verdict === 'grant')).toMatchObject({ holder: 'Export Person' });
    expect((await verifyChain(events.map(({ holder: _a, partner: _b, ...e }) => e))).ok).toBe(true);
  });

  it('pages through a long chain: every event once, in order', async () => {
    const lines = (await (await get('/audit/export?controllerId=test-site/bulk&format=csv', site.tokens.viewer)).text()).trimEnd().split('\r\n');
    expect(lines).toHaveLength(2501);
    expect(lines.slice(1).map((l) => Number(l.split(',')[1]))).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
  });

  it("writes CSV in the command line's format, and filters by verdict and afterSeq", async () => {
    const res = await get('/audit/export?format=csv&verdict=grant', site.tokens.viewer);
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="postern-audit-test-site.csv"');
    const lines = (await res.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe(AUDIT_CSV_HEADER);
    expect(lines.slice(1)).toHaveLength(1);
    expect(lines[1]).toMatch(/^test-site,\d+,\d+,decision,lab,net-1,\d+,link,0,grant,,/);
    const after = (await (await get('/audit/export?controllerId=test-site/bulk&afterSeq=1000', site.tokens.viewer)).text()).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(after.map((e) => e.seq)).toEqual(Array.from({ length: 1500 }, (_, i) => i + 1001));
  });

  it('refuses a missing, revoked or scanner token, a token in the URL, and unknown parameters', async () => {
    expect((await get('/audit/export')).status).toBe(401);
    expect((await get('/audit/export', 'pst_not_a_real_token')).status).toBe(401);
    expect((await get('/audit/export', site.tokens.scanner)).status).toBe(403);
    expect((await get(`/audit/export?token=${site.tokens.viewer}`)).status).toBe(401);
    const bad = await get('/audit/export?format=xml', site.tokens.viewer);
    expect([bad.status, await bad.text()]).toEqual([400, 'format: csv or jsonl\n']);
    expect((await get('/audit/export?limit=5', site.tokens.viewer)).status).toBe(400);
    expect((await fetch(`${base}/audit/export`, { method: 'POST', headers: { authorization: `Bearer ${site.tokens.viewer}` } })).status).toBe(405);
  });
});
