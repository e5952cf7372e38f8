/**
 * The controller's end of confirmations, without sockets: the requests waiting on the hub
 * (hubRequests.ts) and the confirmer the verifier asks (hubConfirmer.ts). Deny by default, and at
 * once when no link is open.
 */
import { describe, expect, it } from 'vitest';
import { HubConfirmer } from '../../controller/decision/hubConfirmer.ts';
import type { LinkRecord } from '../../controller/store/storeTypes.ts';
import { HubRequests, MAX_REQUESTS_IN_FLIGHT } from '../../controller/sync/hubRequests.ts';

type Sent = { type: string; id: number; issuer: number; subject: string; maxUses?: number | null };

function link(fields: Partial<LinkRecord>): LinkRecord {
  return { id: '42', name: 'Guest', email: null, scope: 7, notBefore: 0, notAfter: 0xffffffff, onlineOnly: true, maxUses: null, uses: 0, createdAt: 0, createdBy: null, revokedAt: null, ...fields };
}

function setup(held: LinkRecord | undefined = undefined, timeoutMs = 1000) {
  const requests = new HubRequests();
  const sent: Sent[] = [];
  const send = (frame: object) => sent.push(frame as Sent);
  const confirmer = new HubConfirmer({ requests, store: { getLink: async () => held }, timeoutMs });
  return { requests, sent, send, confirmer };
}

describe('confirmations at the controller', () => {
  it('no link open: offline at once, nothing sent', async () => {
    const { confirmer, sent } = setup(link({ maxUses: 2 }));
    expect(await confirmer.confirm(0, '42')).toBe('offline');
    expect(await confirmer.confirm(23, '600')).toBe('offline');
    expect(sent).toEqual([]);
  });

  it("sends a held link's limit (what is left of it), none for a link it does not hold, and passes the hub's answer", async () => {
    const { requests, sent, send, confirmer } = setup(link({ maxUses: 5, uses: 2 }));
    requests.attach(send);
    const answer = confirmer.confirm(0, '42');
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent).toEqual([{ type: 'confirm', id: 1, issuer: 0, subject: '42', maxUses: 3 }]);
    requests.answered({ type: 'confirmed', id: 1, answer: 'ok', uses: 1 });
    expect(await answer).toBe('ok');

    const unlimited = setup(link({ maxUses: null }));
    unlimited.requests.attach(unlimited.send);
    const second = unlimited.confirmer.confirm(0, '42');
    await new Promise((resolve) => setImmediate(resolve));
    expect(unlimited.sent[0]).toMatchObject({ maxUses: null });
    unlimited.requests.answered({ type: 'confirmed', id: 1, answer: 'exhausted' });
    expect(await second).toBe('exhausted');

    const foreign = setup(undefined);
    foreign.requests.attach(foreign.send);
    const third = foreign.confirmer.confirm(0, '42');
    await new Promise((resolve) => setImmediate(resolve));
    expect(foreign.sent[0]).not.toHaveProperty('maxUses');
    foreign.requests.answered({ type: 'confirmed', id: 1, answer: 'unknown' });
    expect(await third).toBe('unknown');
  });

  it('a link revoked or used up here is answered without asking', async () => {
    for (const [held, expected] of [
      [link({ revokedAt: 1 }), 'revoked'],
      [link({ maxUses: 2, uses: 2 }), 'exhausted'],
    ] as const) {
      const { requests, sent, send, confirmer } = setup(held);
      requests.attach(send);
      expect(await confirmer.confirm(0, '42')).toBe(expected);
      expect(sent).toEqual([]);
    }
  });

  it('the link closing settles every waiting request offline at once; busy is offline', async () => {
    const { requests, send, confirmer } = setup(undefined, 60_000);
    requests.attach(send);
    const waiting = [confirmer.confirm(23, '600'), confirmer.confirm(23, '601')];
    await new Promise((resolve) => setImmediate(resolve));
    expect(requests.inFlight).toBe(2);
    requests.detach(send);
    expect(await Promise.all(waiting)).toEqual(['offline', 'offline']);
    expect(requests.open).toBe(false);

    requests.attach(send);
    const busy = confirmer.confirm(23, '602');
    await new Promise((resolve) => setImmediate(resolve));
    requests.answered({ type: 'confirmed', id: 3, answer: 'busy' });
    expect(await busy).toBe('offline');
  });

  it('an older link closing late does not take the newer one away', () => {
    const requests = new HubRequests();
    const older = () => undefined;
    const newer = () => undefined;
    requests.attach(older);
    requests.attach(newer);
    requests.detach(older);
    expect(requests.open).toBe(true);
  });

  it('no answer in time: offline, and a late answer is ignored', async () => {
    const { requests, send, confirmer } = setup(undefined, 50);
    requests.attach(send);
    expect(await confirmer.confirm(23, '600')).toBe('offline');
    expect(requests.inFlight).toBe(0);
    requests.answered({ type: 'confirmed', id: 1, answer: 'ok', uses: 1 });
  });

  it(`at most ${MAX_REQUESTS_IN_FLIGHT} waiting: beyond, busy without sending`, async () => {
    const requests = new HubRequests();
    const sent: object[] = [];
    requests.attach((frame) => sent.push(frame));
    const waiting = Array.from({ length: MAX_REQUESTS_IN_FLIGHT }, (_, i) => requests.confirm(23, String(i), undefined, 60_000));
    expect(await requests.confirm(23, 'x', undefined, 60_000)).toEqual({ answer: 'busy' });
    expect(sent).toHaveLength(MAX_REQUESTS_IN_FLIGHT);
    requests.detach();
    expect((await Promise.all(waiting)).every((a) => a.answer === 'offline')).toBe(true);
  });
});
