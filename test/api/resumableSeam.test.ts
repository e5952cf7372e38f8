/**
 * The seam between a subscription's replay and its live events, driven step by step: a store that
 * gets events only after they were published (as the audit trail does: listeners first, the store
 * write after), events published while each page is read, a replay that falls too far behind the
 * live events, and a store that never gets an event the controller has published.
 */
import { describe, expect, it } from 'vitest';
import { replayAudit, type AuditReplayDeps } from '../../controller/api/auditReplay.ts';
import { EventHub, MAX_HELD, type Subscriber } from '../../controller/api/eventHub.ts';
import { HolderNames } from '../../controller/issuing/holderNames.ts';
import type { AuditEvent, AuditQuery } from '../../controller/store/storeTypes.ts';

function event(seq: number): AuditEvent {
  return {
    controllerId: 'site',
    seq,
    at: 1_800_000_000_000 + seq,
    type: 'decision',
    door: seq % 2 === 0 ? 'front' : 'lab',
    scanner: 'cam',
    subject: null,
    kind: 'unknown',
    issuer: null,
    verdict: seq % 3 === 0 ? 'grant' : 'deny',
    reason: null,
    actor: null,
    data: null,
    prevHash: 'p',
    hash: `h${seq}`,
  };
}

class Site {
  readonly hub = new EventHub();
  readonly events: AuditEvent[] = [];
  /** The store holds events 1..storedThrough: the trail writes its outbox in order. */
  storedThrough = 0;
  seq = 0;
  /** Runs before each page the replay reads. */
  onPage: () => void = () => {};

  /** Appends and publishes; `storeNow`: the store has them (and all before them) at once. */
  append(count: number, storeNow: boolean, publish = true): void {
    for (let i = 0; i < count; i++) {
      const e = event(++this.seq);
      this.events.push(e);
      if (publish) this.hub.publish('audit', e.door, { ...e, holder: null, partner: null });
    }
    if (storeNow) this.storeAll();
  }

  storeAll(): void {
    this.storedThrough = this.seq;
  }

  deps(storeWaitMs?: number): AuditReplayDeps {
    const store = {
      queryAudit: async (query: AuditQuery): Promise<AuditEvent[]> => {
        await new Promise((resolve) => setImmediate(resolve));
        const stored = this.events.slice(0, this.storedThrough);
        if (query.order === 'desc') return stored.slice(-1);
        this.onPage();
        return this.events.slice(query.afterSeq ?? 0, this.storedThrough).slice(0, query.limit);
      },
    };
    const names = new HolderNames({ holderNames: async () => new Map(), listPartners: async () => [] });
    return { events: this.hub, store, holderNames: names, controllerId: 'site', storeWaitMs };
  }
}

function collector(): Subscriber & { seqs: number[]; notes: number[] } {
  const seqs: number[] = [];
  const notes: number[] = [];
  return {
    seqs,
    notes,
    deliver(text) {
      const params = (JSON.parse(text) as { params: { seq: number; data: { seq: number } } }).params;
      notes.push(params.seq);
      seqs.push(params.data.seq);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('the seam between replay and live', () => {
  it('sends every event once, in order, when events are published and stored late during every page', async () => {
    const site = new Site();
    site.append(1200, true);
    site.append(30, false); // published before the subscription, not in the store yet
    let pages = 0;
    site.onPage = () => {
      pages++;
      // The store catches up on what was published, and more comes, some of it stored at once.
      if (pages % 2 === 0) site.storeAll();
      if (pages < 12) site.append(40, pages % 3 === 0);
    };
    const client = collector();
    const head = site.hub.auditHead;
    const { subscription } = site.hub.subscribe(client, ['audit'], null, { replaying: true });
    const done = replayAudit(site.deps(), subscription, 100, head, undefined);
    const { replayed } = await done;
    site.storeAll();
    site.append(25, false);
    await settle();
    expect(replayed).toBeGreaterThanOrEqual(head - 100);
    const missing = Array.from({ length: site.seq - 100 }, (_, i) => 101 + i).filter((seq) => !client.seqs.includes(seq));
    expect(missing).toEqual([]);
    expect(client.seqs).toEqual(Array.from({ length: site.seq - 100 }, (_, i) => 101 + i));
    expect(client.notes).toEqual(client.seqs.map((_, i) => i + 1));
  });

  it('filters replayed and held-back events alike', async () => {
    const site = new Site();
    site.append(600, true);
    const client = collector();
    const head = site.hub.auditHead;
    const { subscription } = site.hub.subscribe(client, ['audit'], ['front'], { replaying: true, audit: { verdict: 'grant' } });
    site.onPage = () => {
      site.append(5, false);
      site.onPage = () => site.storeAll();
    };
    await replayAudit(site.deps(), subscription, 0, head, undefined);
    await settle();
    const expected = Array.from({ length: site.seq }, (_, i) => i + 1).filter((seq) => seq % 2 === 0 && seq % 3 === 0);
    expect(client.seqs).toEqual(expected);
  });

  it('waits for the store to fill the gap below the first held-back event, also for events never published', async () => {
    const site = new Site();
    site.append(10, true);
    // Appended before the API was wired (the controller's `started` event): never published, and
    // the store has them late (the journal held them).
    site.append(5, false, false);
    const client = collector();
    const head = Math.max(site.storedThrough, site.hub.auditHead);
    const { subscription } = site.hub.subscribe(client, ['audit'], null, { replaying: true });
    site.append(3, false);
    let pages = 0;
    site.onPage = () => {
      if (++pages === 4) site.storeAll();
    };
    await replayAudit(site.deps(5000), subscription, 0, head, undefined);
    await settle();
    expect(client.seqs).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
  });

  it(`gives up with -32003 when more than ${MAX_HELD} live notifications pile up during the replay, and ends the subscription`, async () => {
    const site = new Site();
    site.append(10, true);
    site.append(5, false); // the store lags: the replay waits for it
    const client = collector();
    const head = site.hub.auditHead;
    const { subscription } = site.hub.subscribe(client, ['audit'], null, { replaying: true });
    site.append(MAX_HELD + 1, false);
    const refused = replayAudit(site.deps(5000), subscription, 0, head, undefined);
    await expect(refused).rejects.toMatchObject({ rpcCode: -32003, data: { code: 'POSTERN_ERR_CONFLICT', field: 'after' } });
    expect(site.hub.size).toBe(0);
  });

  it('gives up with STORE_UNAVAILABLE when the store never gets an event already published', async () => {
    const site = new Site();
    site.append(10, true);
    site.append(1, false);
    const client = collector();
    const { subscription } = site.hub.subscribe(client, ['audit'], null, { replaying: true });
    await expect(replayAudit(site.deps(150), subscription, 0, site.hub.auditHead, undefined)).rejects.toMatchObject({ code: 'POSTERN_ERR_STORE_UNAVAILABLE' });
    expect(client.seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(site.hub.size).toBe(0);
  });

  it('stops quietly when the subscriber goes away in the middle', async () => {
    const site = new Site();
    site.append(2000, true);
    const client = collector();
    const { subscription } = site.hub.subscribe(client, ['audit'], null, { replaying: true });
    site.onPage = () => {
      if (client.seqs.length > 0) site.hub.unsubscribeAll(client);
    };
    const { replayed } = await replayAudit(site.deps(), subscription, 0, 2000, undefined);
    expect(replayed).toBe(500);
    expect(site.hub.size).toBe(0);
  });
});
