import { once } from 'node:events';
import { createServer } from 'node:http';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it, vi } from 'vitest';

import { WebSocket, WebSocketServer } from 'ws';

import { EventHub, type Subscriber } from '../../controller/api/eventHub.ts';
import { RpcConnection } from '../../controller/api/rpcConnection.ts';
import { TokenBucket } from '../../controller/api/tokenBucket.ts';
import { createLogger } from '../../controller/logger.ts';

/** A subscriber that records its notifications and the corked runs they came in, as a socket would write them. */
class RecordingSubscriber implements Subscriber {
  readonly texts: string[] = [];
  /** One entry per uncorked run: the notifications written together. */
  readonly writes: string[][] = [];
  corked = 0;
  #run: string[] = [];
  onDeliver: (text: string) => void = () => {};

  deliver(text: string): void {
    this.texts.push(text);
    if (this.corked > 0) this.#run.push(text);
    else this.writes.push([text]);
    this.onDeliver(text);
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    expect(this.corked).toBeGreaterThan(0);
    if (--this.corked === 0 && this.#run.length > 0) this.writes.push(this.#run.splice(0));
  }

  data(): Array<{ seq: number; data: unknown }> {
    return this.texts.map((t) => {
      const { params } = JSON.parse(t) as { params: { seq: number; data: unknown } };
      return { seq: params.seq, data: params.data };
    });
  }
}

async function settle(hub: EventHub): Promise<void> {
  for (let i = 0; i < 1000 && hub.backlog > 0; i++) await sleep(1);
  expect(hub.backlog).toBe(0);
}

/** Until the hub's first turn of deliveries has run, and no later one (this turn's check comes first). */
async function firstTurn(clients: RecordingSubscriber[]): Promise<void> {
  for (let i = 0; i < 100_000 && clients.every((c) => c.texts.length === 0); i++) await nextTurn();
}

describe('EventHub deliveries', () => {
  it('gives a subscriber everything queued for it in one corked run, numbered in publish order', async () => {
    const hub = new EventHub();
    const client = new RecordingSubscriber();
    hub.subscribe(client, ['door', 'audit'], null);
    // The notifications of one scan: the decision's audit event, the door opening, its own event.
    hub.publish('audit', 'front', { seq: 1, type: 'decision', verdict: 'grant' });
    hub.publish('door', 'front', { door: 'front', state: 'unlocked' });
    hub.publish('audit', 'front', { seq: 2, type: 'door', verdict: null });
    await settle(hub);
    expect(client.writes).toHaveLength(1);
    expect(client.writes[0]).toHaveLength(3);
    expect(client.corked).toBe(0);
    expect(client.data()).toEqual([
      { seq: 1, data: { seq: 1, type: 'decision', verdict: 'grant' } },
      { seq: 2, data: { door: 'front', state: 'unlocked' } },
      { seq: 3, data: { seq: 2, type: 'door', verdict: null } },
    ]);
  });

  it('waits 10 ms for more before delivering, so that changes a few milliseconds apart leave in one write', async () => {
    const hub = new EventHub();
    const client = new RecordingSubscriber();
    hub.subscribe(client, ['door'], null);
    hub.publish('door', 'front', { state: 'unlocked' });
    await sleep(3);
    hub.publish('door', 'front', { state: 'open' });
    await settle(hub);
    expect(client.writes).toHaveLength(1);
    expect(client.data().map((d) => d.data)).toEqual([{ state: 'unlocked' }, { state: 'open' }]);
  });

  it('serves at most 16 subscribers per turn of the event loop, and every one in the end', async () => {
    const hub = new EventHub();
    const clients = Array.from({ length: 40 }, () => new RecordingSubscriber());
    for (const c of clients) hub.subscribe(c, ['door'], null);
    hub.publish('door', 'front', { state: 'open' });
    await firstTurn(clients);
    expect(clients.filter((c) => c.texts.length === 1)).toHaveLength(16);
    await settle(hub);
    expect(clients.every((c) => c.texts.length === 1 && c.writes.length === 1)).toBe(true);
  });

  it('splits a long backlog into runs of at most 64, in order, with no gap and no duplicate', async () => {
    const hub = new EventHub();
    const client = new RecordingSubscriber();
    hub.subscribe(client, ['door'], null);
    for (let n = 1; n <= 150; n++) hub.publish('door', 'front', { n });
    await settle(hub);
    expect(client.writes.map((w) => w.length)).toEqual([64, 64, 22]);
    expect(client.data().map((d) => d.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect(client.data().map((d) => (d.data as { n: number }).n)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  });

  it('keeps each subscription to its filters and to what was published after it was made', async () => {
    const hub = new EventHub();
    const all = new RecordingSubscriber();
    const lab = new RecordingSubscriber();
    const late = new RecordingSubscriber();
    hub.subscribe(all, ['door'], null);
    hub.subscribe(lab, ['door'], ['lab']);
    hub.publish('door', 'front', { door: 'front' });
    hub.publish('door', 'lab', { door: 'lab' });
    hub.subscribe(late, ['door'], null);
    hub.publish('scanner', null, { scanner: 's1' }); // nobody subscribed to scanners
    hub.publish('door', 'lab', { door: 'lab', again: true });
    await settle(hub);
    expect(all.data().map((d) => d.data)).toEqual([{ door: 'front' }, { door: 'lab' }, { door: 'lab', again: true }]);
    expect(lab.data().map((d) => d.data)).toEqual([{ door: 'lab' }, { door: 'lab', again: true }]);
    expect(lab.data().map((d) => d.seq)).toEqual([1, 2]);
    expect(late.data().map((d) => d.data)).toEqual([{ door: 'lab', again: true }]);
  });

  it('stops a run when a delivery ends the subscriber (a slow client dropped), and still uncorks', async () => {
    const hub = new EventHub();
    const slow = new RecordingSubscriber();
    const other = new RecordingSubscriber();
    slow.onDeliver = () => hub.unsubscribeAll(slow);
    hub.subscribe(slow, ['door'], null);
    hub.subscribe(other, ['door'], null);
    for (let n = 1; n <= 5; n++) hub.publish('door', 'front', { n });
    await settle(hub);
    expect(slow.texts).toHaveLength(1);
    expect(slow.corked).toBe(0);
    expect(other.texts).toHaveLength(5);
    hub.publish('door', 'front', { n: 6 });
    await settle(hub);
    expect(slow.texts).toHaveLength(1);
    expect(other.texts).toHaveLength(6);
  });

  it('delivers what comes while a round runs to the subscribers already served, in a later run', async () => {
    const hub = new EventHub();
    const clients = Array.from({ length: 20 }, () => new RecordingSubscriber());
    for (const c of clients) hub.subscribe(c, ['door'], null);
    hub.publish('door', 'front', { n: 1 });
    await firstTurn(clients); // 16 served
    hub.publish('door', 'front', { n: 2 });
    await settle(hub);
    for (const c of clients) expect(c.data().map((d) => (d.data as { n: number }).n)).toEqual([1, 2]);
    // The first 16 got n=2 in a run of its own; the last 4 got both in one.
    expect(clients.slice(0, 16).every((c) => c.writes.length === 2)).toBe(true);
    expect(clients.slice(16).every((c) => c.writes.length === 1 && c.writes[0]!.length === 2)).toBe(true);
  });

  it('drops what is queued at close and delivers what is published after', async () => {
    const hub = new EventHub();
    const client = new RecordingSubscriber();
    hub.subscribe(client, ['door'], null);
    hub.publish('door', 'front', { n: 1 });
    hub.close();
    expect(hub.backlog).toBe(0);
    hub.publish('door', 'front', { n: 2 });
    await settle(hub);
    expect(client.data().map((d) => d.data)).toEqual([{ n: 2 }]);
  });
});

describe('EventHub over a real WebSocket', () => {
  it('writes the notifications queued for a client to its TCP socket in one write', async () => {
    const hub = new EventHub();
    const wss = new WebSocketServer({ noServer: true });
    const server = createServer();
    const connections: RpcConnection[] = [];
    let writes = 0;
    server.on('upgrade', (req, socket, head) => {
      // What the socket hands to the kernel: one call per write(), or one for all that a cork held.
      const stream = socket as unknown as { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void };
      for (const name of ['_write', '_writev'] as const) {
        const original = stream[name].bind(stream);
        stream[name] = (...args: unknown[]) => {
          writes++;
          original(...args);
        };
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        const principal = { kind: 'token', id: 't1', name: 'viewer', role: 'viewer', scanner: null } as const;
        const connection = new RpcConnection(ws, principal, {}, new TokenBucket(10, 10), new TokenBucket(10, 10), { maxBufferedBytes: 1 << 20, maxBatch: 8 }, createLogger('silent'), () => hub.unsubscribeAll(connection), undefined, undefined, socket);
        connections.push(connection);
        hub.subscribe(connection, ['door'], null);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client = new WebSocket(`ws://127.0.0.1:${port}/`);
    const received: string[] = [];
    client.on('message', (data) => received.push(data.toString()));
    try {
      await once(client, 'open');
      await vi.waitFor(() => expect(connections).toHaveLength(1));
      writes = 0;
      for (let n = 1; n <= 8; n++) hub.publish('door', 'front', { n, state: 'unlocked', padding: 'x'.repeat(100) });
      await vi.waitFor(() => expect(received).toHaveLength(8), { timeout: 2000, interval: 5 });
      expect(received.map((t) => (JSON.parse(t) as { params: { data: { n: number } } }).params.data.n)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(writes).toBe(1);
    } finally {
      client.close();
      wss.close();
      server.close();
    }
  });
});
