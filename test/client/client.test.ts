/**
 * postern/client against a real controller: calls and typed errors, a refused token, reconnection
 * after the controller is stopped and started again on the same data directory and port (its
 * audit subscription resumed with no gap and no duplicate, checked against audit.query), and a
 * create whose answer was lost with its connection, retried without making two.
 */
import { once } from 'node:events';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, PosternConnectionError, PosternRpcError, type PosternClient, type PosternEvent } from '../../controller/client/client.ts';
import type { SiteConfig } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import { makeTokens } from '../support/apiClient.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const FAST = { reconnect: { initialDelayMs: 20, maxDelayMs: 300 }, connectTimeoutMs: 10_000, callTimeoutMs: 15_000 } as const;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/**
 * A TCP proxy that can stop passing the controller's answers on (they are dropped, as a network
 * that failed after the request got through would lose them) and then cut every connection.
 */
async function startLossyProxy(port: number) {
  const sockets = new Set<Socket>();
  let swallow = false;
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!swallow) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    swallowAnswers: () => (swallow = true),
    cut() {
      for (const s of sockets) s.destroy();
      swallow = false;
    },
    /** Cuts every connection and refuses new ones until restore(). */
    down() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore: () => (down = false),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let config: SiteConfig;
let controller: Controller;
let tokens: Record<string, string>;
let url: string;

async function startController(): Promise<void> {
  controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
}

beforeAll(async () => {
  const dataDir = await tempDir('postern-client-');
  const port = await freePort();
  config = testSite(dataDir, (input) => {
    input.api = { ...input.api, port };
  });
  tokens = await makeTokens(dataDir, [
    { name: 'viewer', role: 'viewer' },
    { name: 'operator', role: 'operator' },
    { name: 'integrator', role: 'integrator' },
    { name: 'admin', role: 'admin' },
    { name: 'doomed', role: 'viewer' },
  ]);
  await startController();
  url = `ws://127.0.0.1:${port}/api`;
});

afterAll(async () => {
  await controller?.stop();
});

/** Every event of the controller's chain after `afterSeq`, from audit.query. */
async function chainAfter(client: PosternClient, afterSeq: number): Promise<number[]> {
  const seqs: number[] = [];
  let next: { afterSeq: number } | null = { afterSeq };
  while (next !== null) {
    const page = (await client.call('audit.query', { ...next, limit: 1000 })) as { events: Array<{ seq: number }>; next: { afterSeq: number } | null };
    seqs.push(...page.events.map((e) => e.seq));
    next = page.next;
  }
  return seqs;
}

describe('postern/client', () => {
  it('calls methods and answers errors as PosternRpcError with their codes', async () => {
    const client = await connect(url.replace(/^ws/, 'http').replace(/\/api$/, ''), { token: tokens.viewer!, ...FAST });
    try {
      expect(await client.call('system.info')).toMatchObject({ product: 'postern', you: { name: 'viewer', role: 'viewer' } });
      expect(await client.call('doors.get', { door: 'front' })).toMatchObject({ id: 'front' });

      const notFound = await client.call('doors.get', { door: 'nope' }).catch((e: unknown) => e);
      expect(notFound).toBeInstanceOf(PosternRpcError);
      expect(notFound).toMatchObject({ code: -32002, posternCode: 'POSTERN_ERR_NOT_FOUND', field: 'door', method: 'doors.get' });

      const forbidden = await client.call('doors.unlock', { door: 'front' }).catch((e: unknown) => e);
      expect(forbidden).toMatchObject({ code: -32001, posternCode: 'POSTERN_ERR_FORBIDDEN' });
      const badParam = await client.call('audit.query', { limit: 0 }).catch((e: unknown) => e);
      expect(badParam).toMatchObject({ code: -32602, posternCode: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'limit' });
    } finally {
      await client.close();
    }
    await expect(client.call('system.info')).rejects.toMatchObject({ code: 'POSTERN_CLIENT_CLOSED' });
  });

  it('ends a subscription on unsubscribe, and it is not made again', async () => {
    const client = await connect(url, { token: tokens.operator!, ...FAST });
    try {
      const doors: PosternEvent[] = [];
      const sub = await client.subscribe({ topics: ['door'], doors: ['store'] }, (event) => doors.push(event));
      await client.call('doors.lockdown', { door: 'store', on: true });
      await until('the lockdown notified', () => doors.some((e) => e.data.state === 'lockdown'));
      await sub.unsubscribe();
      const seen = doors.length;
      await client.call('doors.lockdown', { door: 'store', on: false });
      await delay(200);
      expect(doors).toHaveLength(seen);
    } finally {
      await client.close();
    }
  });

  it('stops for good once its token is revoked: closed (1008), then refused (401) at the next upgrade', async () => {
    const client = await connect(url, { token: tokens.doomed!, ...FAST });
    const admin = await connect(url, { token: tokens.admin!, ...FAST });
    try {
      const closed = new Promise<unknown>((resolve) => client.once('closed', resolve));
      const list = (await admin.call('tokens.list')) as Array<{ id: string; name: string }>;
      await admin.call('tokens.revoke', { id: list.find((t) => t.name === 'doomed')!.id });
      expect(await closed).toMatchObject({ code: 'POSTERN_CLIENT_REFUSED', details: { status: 401 } });
      expect(client.connected).toBe(false);
      await expect(client.call('system.info')).rejects.toMatchObject({ code: 'POSTERN_CLIENT_REFUSED' });
    } finally {
      await client.close();
      await admin.close();
    }
  });

  it('rejects connect() at once for a refused token', async () => {
    const refused = await connect(url, { token: 'pst_nonsense', ...FAST }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PosternConnectionError);
    expect(refused).toMatchObject({ code: 'POSTERN_CLIENT_REFUSED', details: { status: 401 } });
  });

  it('reconnects after the controller restarts on the same data and port, and resumes its audit subscription with no gap and no duplicate', async () => {
    const client = await connect(url, { token: tokens.operator!, ...FAST });
    const events: PosternEvent[] = [];
    const reconnections: number[] = [];
    client.on('connected', () => reconnections.push(Date.now()));
    try {
      const sub = await client.subscribe({ topics: ['audit', 'door'] }, (event) => events.push(event));
      const startSeq = sub.lastAuditSeq!;
      expect(startSeq).toBeGreaterThan(0);
      const audits = () => events.filter((e) => e.topic === 'audit').map((e) => e.data.seq as number);

      await client.call('doors.unlock', { door: 'front', seconds: 0.2 });
      await until('the unlock event', () => audits().length >= 2);

      // Stopped (its `stopped` event is written with the client already gone) and started again
      // (its `started` event too, before the client is back): both must come by the replay.
      await controller.stop();
      await delay(300);
      await startController();
      await until('a reconnection', () => reconnections.length >= 1);
      await client.call('doors.unlock', { door: 'lab', seconds: 0.2 });
      await client.call('doors.lockdown', { door: 'store', on: true });
      await client.call('doors.lockdown', { door: 'store', on: false });

      const stored = async () => chainAfter(client, startSeq);
      await until('every stored event delivered', async () => audits().length >= (await stored()).length && audits().length > 0);
      await delay(300); // anything extra (a duplicate) would show up now
      const got = audits();
      expect(got).toEqual(await stored());
      expect(new Set(got).size).toBe(got.length);
      const reasons = events.filter((e) => e.topic === 'audit').map((e) => e.data.reason);
      expect(reasons).toEqual(expect.arrayContaining(['stopped', 'started', 'lockdown.on', 'lockdown.off']));
      // Door notifications live again on the new connection.
      expect(events.some((e) => e.topic === 'door' && e.data.id === 'store' && e.data.state === 'lockdown')).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('resumes its audit subscription after the network was down while the controller went on', async () => {
    const proxy = await startLossyProxy(Number(new URL(url).port));
    const client = await connect(`ws://127.0.0.1:${proxy.port}/api`, { token: tokens.operator!, ...FAST });
    const direct = await connect(url, { token: tokens.operator!, ...FAST });
    try {
      const audits: number[] = [];
      const sub = await client.subscribe({ topics: ['audit'] }, (event) => audits.push(event.data.seq as number));
      const startSeq = sub.lastAuditSeq!;
      await direct.call('doors.lockdown', { door: 'store', on: true });
      await until('the first event', () => audits.length > 0);
      proxy.down();
      // Appended while the client cannot reach the controller.
      await direct.call('doors.lockdown', { door: 'store', on: false });
      await direct.call('doors.lockdown', { door: 'front', on: true });
      await direct.call('doors.lockdown', { door: 'front', on: false });
      await delay(200);
      proxy.restore();
      const stored = await chainAfter(direct, startSeq);
      await until('the missed events', () => audits.length >= stored.length);
      await delay(200);
      expect(audits).toEqual(await chainAfter(direct, startSeq));
    } finally {
      await client.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('sends a create again after a dropped connection with the same idempotency key, and makes one', async () => {
    const proxy = await startLossyProxy(Number(new URL(url).port));
    const client = await connect(`ws://127.0.0.1:${proxy.port}/api`, { token: tokens.integrator!, ...FAST });
    try {
      const document = (await client.call('rpc.discover')) as { methods: Array<{ name: string; params: Array<{ name: string }> }> };
      const takesKey = document.methods.find((m) => m.name === 'links.create')!.params.some((p) => p.name === 'idempotencyKey');
      const name = `Retry ${Date.now()}`;
      const made = () => client.call('links.list', { search: name, includeRevoked: true }) as Promise<unknown[]>;

      let reconnected = false;
      client.on('connected', () => (reconnected = true));
      let settled = false;
      proxy.swallowAnswers();
      const create = client.call('links.create', { name, scope: 3 });
      const outcome = create.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      void outcome.then(() => (settled = true));
      // The link is made; its answer is lost; then the connection goes.
      const direct = await connect(url, { token: tokens.integrator!, ...FAST });
      try {
        await until('the link made', async () => ((await direct.call('links.list', { search: name })) as unknown[]).length === 1);
      } finally {
        await direct.close();
      }
      expect(settled, 'answered although the answers were dropped').toBe(false);
      proxy.cut();

      const result = await outcome;
      expect(reconnected || !takesKey).toBe(true);
      if (takesKey) {
        expect(result).toHaveProperty('value');
        expect((result as { value: { link: { name: string } } }).value.link.name).toBe(name);
      } else {
        // No key to send: the client cannot know whether it was made, and says so.
        expect((result as { error: unknown }).error).toMatchObject({ code: 'POSTERN_CLIENT_CONNECTION_LOST' });
      }
      expect(await made()).toHaveLength(1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });

  it('fails a door command whose answer was lost with its connection, and does not send it again', async () => {
    const proxy = await startLossyProxy(Number(new URL(url).port));
    const client = await connect(`ws://127.0.0.1:${proxy.port}/api`, { token: tokens.operator!, ...FAST });
    try {
      const before = (await client.call('audit.query', { order: 'desc', limit: 1 })) as { events: Array<{ seq: number }> };
      proxy.swallowAnswers();
      const unlock = client.call('doors.unlock', { door: 'lab', seconds: 0.2 }).catch((e: unknown) => e);
      const unlocks = async () => ((await client.call('audit.query', { afterSeq: before.events[0]!.seq, limit: 1000 })) as { events: Array<{ reason: string }> }).events.filter((e) => e.reason === 'door.unlock');
      await delay(300);
      proxy.cut();
      expect(await unlock).toMatchObject({ code: 'POSTERN_CLIENT_CONNECTION_LOST' });
      // Reads wait for the next connection and go through.
      expect(await unlocks()).toHaveLength(1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});
