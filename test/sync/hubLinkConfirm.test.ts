/**
 * The link (hubLink.ts) and the requests waiting on the hub (hubRequests.ts), over a real WebSocket
 * to a scripted hub: a `confirmed` answer is handed over on arrival, while a snapshot chunk before
 * it is still being applied; requests go out only once welcomed; the socket closing settles them.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { createActor } from 'xstate';
import { createHubLink } from '../../controller/sync/hubLink.ts';
import { HubRequests } from '../../controller/sync/hubRequests.ts';
import { until } from './fakeHub.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A hub that welcomes, then sends a snapshot chunk that is not the last, and answers each confirm `ok`. */
async function scriptedHub(): Promise<{ url: string; sockets: WebSocket[]; received: Array<Record<string, unknown>> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const sockets: WebSocket[] = [];
  const received: Array<Record<string, unknown>> = [];
  wss.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      received.push(frame);
      if (frame.type === 'hello') {
        socket.send(JSON.stringify({ type: 'welcome', siteId: 'lisbon', controllerId: 'c1', hubTime: Date.now(), auditAcked: 0 }));
        socket.send(JSON.stringify({ type: 'snapshot', cursor: 5, revocations: [{ issuer: 0, subject: '1' }], last: false }));
      }
      if (frame.type === 'confirm') socket.send(JSON.stringify({ type: 'confirmed', id: frame.id, answer: 'ok', uses: 1 }));
    });
  });
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/sync`, sockets, received };
}

describe('confirms on the link', () => {
  it('an answer is handed over while a snapshot chunk is still being applied; the close settles the rest offline', async () => {
    const hub = await scriptedHub();
    const requests = new HubRequests();
    let releaseChunk!: () => void;
    const chunkHeld = new Promise<void>((resolve) => (releaseChunk = resolve));
    let chunkStarted = false;
    const logic = createHubLink({
      url: hub.url,
      credential: 'secret',
      chain: 'test-site',
      store: { queryAudit: async () => [] },
      changes: {
        applySnapshotChunk: async () => {
          chunkStarted = true;
          await chunkHeld;
          return { cursor: 0, revoked: 0 };
        },
        finishSnapshot: async (cursor: number) => cursor,
        applyChanges: async () => 0,
        confirm: async (cursor: number) => cursor,
      } as never,
      auditHead: () => ({ seq: 0, hash: '0'.repeat(64) }),
      logger: { info: () => undefined, warn: () => undefined, debug: () => undefined },
      requests,
    });
    expect(requests.open).toBe(false);
    const actor = createActor(logic, { input: { cursor: 0 } });
    actor.start();
    cleanups.push(() => {
      actor.stop();
    });
    await until(() => requests.open && chunkStarted, 5000, 'welcomed, and the snapshot chunk being applied');
    expect(await requests.confirm(0, '42', 2, 2000)).toEqual({ answer: 'ok', uses: 1 });
    expect(hub.received.find((f) => f.type === 'confirm')).toEqual({ type: 'confirm', id: 1, issuer: 0, subject: '42', maxUses: 2 });
    // Still applying the chunk: the answer did not wait for it.
    releaseChunk();

    // The hub goes quiet, then the socket closes: the waiting request is offline at once.
    hub.sockets[0]!.removeAllListeners('message');
    const waiting = requests.confirm(23, '600', undefined, 60_000);
    const started = Date.now();
    hub.sockets[0]!.close(1001, 'going away');
    expect(await waiting).toEqual({ answer: 'offline' });
    expect(Date.now() - started).toBeLessThan(1000);
    await until(() => !requests.open, 1000, 'detached');
  });
});
