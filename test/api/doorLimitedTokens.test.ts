/**
 * API tokens limited to a set of doors: made over the API (and refused for admins or unknown
 * doors), they act on and read only their doors, whatever the method, against a real controller.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let admin: ApiClient;
let lab: ApiClient;

beforeAll(async () => {
  // A network scanner at another door than the token's: reads there are not the token's to make.
  site = await startApiSite((input) => {
    input.scanners = [...(input.scanners ?? []), { id: 'net-front', door: 'front', driver: 'network', debounceMs: 0 }];
  });
  admin = await ApiClient.connect(site.url, site.tokens.admin);
  const made = await admin.call('tokens.create', { name: 'lab-desk', role: 'integrator', doors: ['lab'] });
  expect(made.record).toMatchObject({ role: 'integrator', doors: ['lab'] });
  lab = await ApiClient.connect(site.url, made.token);
});
afterAll(async () => {
  lab?.close();
  admin?.close();
  await site?.stop();
});

describe('a door-limited token', () => {
  it('acts on its doors only; a site-wide lockdown is not its to order', async () => {
    expect(await lab.call('doors.unlock', { door: 'lab', seconds: 1 })).toMatchObject({ id: 'lab', relayUnlocked: true });
    for (const [method, params] of [
      ['doors.unlock', { door: 'front', seconds: 1 }],
      ['doors.lockdown', { door: 'store', on: true }],
      ['doors.lockdown', { on: true }],
      ['door.stats', { door: 'front' }],
      ['doors.get', { door: 'front' }],
    ] as const) {
      expect((await lab.request(method, params)).error, `${method} ${JSON.stringify(params)}`).toMatchObject({ code: -32001, message: expect.stringContaining('limited to the doors lab') });
    }
    expect(site.controller.doorStatus('front')?.relayUnlocked).toBe(false);
  });

  it('reads and hears its doors only', async () => {
    expect((await lab.call('doors.list')).map((d: { id: string }) => d.id)).toEqual(['lab']);
    expect((await lab.call('scanners.list')).every((s: { door: string }) => s.door === 'lab')).toBe(true);
    expect((await lab.request('audit.query', {})).error).toMatchObject({ code: -32001 });
    const events = (await lab.call('audit.query', { door: 'lab' })).events;
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e: { door: string }) => e.door === 'lab')).toBe(true);
    // A subscription without doors hears only its doors.
    await lab.call('subscribe', { topics: ['door'] });
    await admin.call('doors.unlock', { door: 'front', seconds: 1 });
    await admin.call('doors.unlock', { door: 'lab', seconds: 1 });
    await lab.waitForNotifications(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(lab.notifications.every((n) => n.data.id === 'lab')).toBe(true);
    expect((await lab.request('subscribe', { topics: ['door'], doors: ['front'] })).error).toMatchObject({ code: -32001 });
  });

  it("reads for its doors' scanners only: a code valid at another door is not read in there", async () => {
    // A visitor's link for both doors, which the lab desk might well hold.
    const code = (await admin.call('links.create', { name: 'Both doors', doors: ['lab', 'front'] })).code as string;
    expect((await lab.call('scanner.read', { scanner: 'net-1', text: code })).verdict).toBe('grant');
    for (const [method, params] of [
      ['scanner.read', { scanner: 'net-front', text: code }],
      ['scanners.get', { scanner: 'net-front' }],
    ] as const) {
      expect((await lab.request(method, params)).error, method).toMatchObject({ code: -32001, message: expect.stringContaining('limited to the doors lab, not front') });
    }
    expect(site.controller.doorStatus('front')?.relayUnlocked).toBe(false);
    expect((await lab.call('scanners.get', { scanner: 'net-1' })).door).toBe('lab');
    // A token for the whole site reads there.
    const integrator = await ApiClient.connect(site.url, site.tokens.integrator);
    try {
      expect((await integrator.call('scanner.read', { scanner: 'net-front', text: code })).verdict).toBe('grant');
    } finally {
      integrator.close();
    }
  });

  it('issues links for its doors, never for a scope', async () => {
    expect((await lab.call('links.create', { name: 'Lab visitor', doors: ['lab'] })).link).toMatchObject({ doors: ['lab'] });
    expect((await lab.request('links.create', { name: 'Everywhere', scope: 7 })).error).toMatchObject({ code: -32001 });
    expect((await lab.request('links.create', { name: 'Front', doors: ['front'] })).error).toMatchObject({ code: -32001 });
    expect((await lab.request('credentials.create', { name: 'Member', scope: 3 })).error).toMatchObject({ code: -32001 });
  });

  it('cannot be an admin token, nor name a door the site lacks', async () => {
    expect((await admin.request('tokens.create', { name: 'x', role: 'admin', doors: ['lab'] })).error).toMatchObject({ code: -32602, data: { field: 'doors' } });
    expect((await admin.request('tokens.create', { name: 'x', role: 'operator', doors: ['attic'] })).error).toMatchObject({ code: -32602, message: expect.stringContaining('no door "attic"') });
    expect((await admin.call('tokens.list')).find((t: { name: string }) => t.name === 'lab-desk')).toMatchObject({ doors: ['lab'] });
  });
});
