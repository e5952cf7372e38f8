/**
 * The demo's door commands over the API, on a real controller whose doors are simulated: a door
 * forced open raises the forced-open alarm, one held open past its held-open time the held-open
 * alarm, and demo.close ends either; each is an operator's command, recorded as such.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServices } from '../../controller/api/apiServices.ts';
import { demoMethods } from '../../controller/api/methods/demoMethods.ts';
import type { CallContext } from '../../controller/api/methodTypes.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

let site: ApiSite;
let operator: ApiClient;
let viewer: ApiClient;

beforeAll(async () => {
  site = await startApiSite();
  operator = await ApiClient.connect(site.url, site.tokens.operator);
  viewer = await ApiClient.connect(site.url, site.tokens.viewer);
});
afterAll(async () => {
  operator.close();
  viewer.close();
  await site.stop();
});

/** Polls the door until it matches: the held-open alarm comes after the door's heldOpenSeconds. */
async function doorWhen(door: string, wanted: (status: any) => boolean, timeoutMs = 10_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await viewer.call('doors.get', { door });
    if (wanted(status)) return status;
    if (Date.now() > deadline) throw new Error(`door ${door} stayed ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function auditReasons(door: string): Promise<Array<{ reason: string; actor: string | null }>> {
  const page = await viewer.call('audit.query', { door, order: 'asc', limit: 100 });
  return page.events.filter((e: any) => e.type === 'operator').map((e: any) => ({ reason: e.reason, actor: e.actor }));
}

describe('demo.* on a site with simulated doors', () => {
  it('forceOpen raises the forced-open alarm; close ends it; both are recorded as the operator', async () => {
    const forced = await operator.call('demo.forceOpen', { door: 'front' });
    expect(forced).toMatchObject({ id: 'front', state: 'forcedOpen', doorOpen: true, relayUnlocked: false, alarm: { kind: 'forced-open', active: true, acknowledged: false } });
    // A second force on the open door is refused: it is open already.
    const again = await operator.request('demo.forceOpen', { door: 'front' });
    expect(again.error).toMatchObject({ code: -32003, data: { code: 'POSTERN_ERR_CONFLICT' } });

    const closed = await operator.call('demo.close', { door: 'front' });
    expect(closed).toMatchObject({ state: 'secured', doorOpen: false, alarm: { kind: 'forced-open', active: false, acknowledged: false } });
    await operator.call('doors.acknowledge', { door: 'front' });
    expect(await auditReasons('front')).toEqual([
      { reason: 'demo.force-open', actor: 'token:operator' },
      { reason: 'demo.close', actor: 'token:operator' },
      { reason: 'alarm.acknowledge', actor: 'token:operator' },
    ]);
  });

  it('holdOpen opens the door on a grant and keeps it open: held-open alarm; close ends it', async () => {
    const held = await operator.call('demo.holdOpen', { door: 'lab' });
    expect(held).toMatchObject({ id: 'lab', state: 'open', doorOpen: true, relayUnlocked: true, alarm: null });
    const alarmed = await doorWhen('lab', (s) => s.state === 'heldOpen');
    expect(alarmed.alarm).toMatchObject({ kind: 'held-open', active: true, acknowledged: false });

    const closed = await operator.call('demo.close', { door: 'lab' });
    expect(closed).toMatchObject({ state: 'secured', doorOpen: false, relayUnlocked: false, alarm: { kind: 'held-open', active: false } });
    // The grant it came in on is an operator unlock, recorded between the command and the close.
    expect((await auditReasons('lab')).map((e) => e.reason)).toEqual(['demo.hold-open', 'door.unlock', 'demo.close']);
  });

  it('refuses a door that is unlocked (not a forced opening), an unknown door, and a viewer', async () => {
    await operator.call('doors.unlock', { door: 'store', seconds: 60 });
    const unlocked = await operator.request('demo.forceOpen', { door: 'store' });
    expect(unlocked.error).toMatchObject({ code: -32003, message: expect.stringContaining('unlocked'), data: { code: 'POSTERN_ERR_CONFLICT' } });
    await operator.call('doors.lock', { door: 'store' });

    const unknown = await operator.request('demo.close', { door: 'back' });
    expect(unknown.error).toMatchObject({ code: -32002, data: { code: 'POSTERN_ERR_NOT_FOUND' } });

    for (const name of ['demo.forceOpen', 'demo.holdOpen', 'demo.close']) {
      const refused = await viewer.request(name, { door: 'store' });
      expect(refused.error).toMatchObject({ code: -32001, message: expect.stringContaining('operator'), data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    }
    expect(await viewer.call('doors.get', { door: 'store' })).toMatchObject({ state: 'secured', doorOpen: false, alarm: null });
  });

  it('closing a closed door changes and records nothing', async () => {
    const before = (await auditReasons('store')).length;
    expect(await operator.call('demo.close', { door: 'store' })).toMatchObject({ state: 'secured', doorOpen: false });
    expect(await auditReasons('store')).toHaveLength(before);
  });
});

describe('demo.* where doors are not simulated', () => {
  const status = { id: 'gate', name: 'Gate', state: 'secured', mode: 'normal', doorOpen: false, relayUnlocked: false, alarm: null, fault: null, failMode: 'secure', since: 0 };
  const context = { actor: 'token:op' } as CallContext;

  it('offers no demo method on a site without a simulated door', () => {
    expect(demoMethods({ monitor: { door: () => status } } as unknown as ApiServices)).toEqual({});
  });

  it('refuses a door on real hardware in a mixed site, and records nothing', async () => {
    const appended: unknown[] = [];
    const methods = demoMethods({
      monitor: { door: () => status },
      demo: { doorIo: () => undefined, audit: { append: async (e: unknown) => void appended.push(e) } },
    } as unknown as ApiServices);
    for (const name of ['demo.forceOpen', 'demo.holdOpen', 'demo.close']) {
      await expect(Promise.resolve().then(() => methods[name]!.handler({ door: 'gate' }, context))).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFLICT', message: expect.stringContaining('not simulated') });
    }
    expect(appended).toEqual([]);
  });
});
