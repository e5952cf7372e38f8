/**
 * Outbound webhooks against real HTTP receivers that answer, fail, stall and come back, and across
 * a controller restart: every event after the start is taken exactly once (by its id) and in
 * order, each signed with the documented scheme; an event that fails every attempt goes to the
 * dead-letter list, visible over the API and in the metrics, and can be sent again.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import { checkSignature } from '../../controller/delegation/webhookSignature.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const SECRET = 'webhook-test-secret-0123456789abcdef';

type Mode = 'ok' | 'fail' | 'stall';

/** A receiver that records every request and answers as its mode says. */
class Receiver {
  mode: Mode = 'ok';
  readonly requests: Array<{ id: string; attempt: number; seq: number; type: string; door: string | null; signature: string; taken: boolean; body: Record<string, any> }> = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = JSON.parse(raw.toString('utf8'));
      const taken = this.mode === 'ok';
      this.requests.push({
        id: String(req.headers['postern-event-id']),
        attempt: Number(req.headers['postern-delivery-attempt']),
        seq: body.event.seq,
        type: body.type,
        door: body.event.door,
        signature: checkSignature(req.headers['postern-signature'], raw, SECRET, Math.floor(Date.now() / 1000)),
        taken,
        body,
      });
      if (this.mode === 'stall') return; // never answers: the controller's timeout ends it
      res.writeHead(taken ? 200 : 500).end();
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook?key=receiver-own-secret`;
  }

  taken(): Receiver['requests'] {
    return this.requests.filter((r) => r.taken);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('outbound webhooks', () => {
  const all = new Receiver();
  const labOnly = new Receiver();
  let dataDir: string;
  let patch: (input: SiteConfigInput) => void;
  let controller: Controller;
  let api: ApiClient;
  let token: string;

  const start = async () => {
    controller = new Controller({ config: testSite(dataDir, patch), terminal: new PassThrough() });
    await controller.start();
    api = await ApiClient.connect(controller.apiUrl!, token);
  };
  const stop = async () => {
    api.close();
    await controller.stop();
  };
  const scan = (text: string) => api.call('scanner.read', { scanner: 'net-1', text });
  const chain = async () => (await api.call('audit.query', { order: 'asc', limit: 1000 })).events as Array<{ seq: number; type: string; door: string | null }>;
  /** The receiver has taken exactly the chain: every event since the start, once, in order. */
  const expectAllTaken = async () => {
    const events = await untilAsync(async () => {
      const now = await chain();
      return all.taken().at(-1)?.seq === now.at(-1)!.seq ? now : undefined;
    });
    expect(all.taken().map((r) => r.seq)).toEqual(events.map((e) => e.seq));
    expect(new Set(all.taken().map((r) => r.id)).size).toBe(events.length);
  };

  beforeAll(async () => {
    dataDir = await tempDir('postern-webhooks-');
    const [allUrl, labUrl] = [await all.start(), await labOnly.start()];
    token = (await makeTokens(dataDir, [{ name: 'integrator', role: 'integrator' }])).integrator!;
    const retry = { firstDelaySeconds: 0.05, maxDelaySeconds: 0.2, maxAttempts: 30 };
    patch = (input) => {
      input.scanners = [...(input.scanners ?? []), { id: 'net-1', door: 'lab', driver: 'network', debounceMs: 0 }];
      input.webhooks = [
        { id: 'all', url: allUrl, secret: SECRET, timeoutMs: 300, retry },
        { id: 'lab-decisions', url: labUrl, secret: SECRET, types: ['decision'], doors: ['lab'], timeoutMs: 300, retry: { ...retry, maxAttempts: 2 } },
      ];
    };
    await start();
  });
  afterAll(async () => {
    await stop().catch(() => undefined);
    await all.close();
    await labOnly.close();
  });

  it('sends every new event once, in order, signed, with a stable id; a filtered endpoint gets only its events', async () => {
    const { code } = await api.call('links.create', { name: 'Hook Visitor', scope: 7 });
    await scan(code);
    await scan('not a code');
    await api.call('scanner.read', { scanner: 'net-1', text: 'still not a code' });
    // The endpoint is made before the controller records its start: the whole chain goes.
    await expectAllTaken();
    expect(all.requests.every((r) => r.signature === 'ok' && r.attempt === 1)).toBe(true);
    expect(all.taken()[0]!.id).toMatch(/^test-site:\d+:[0-9a-f]{16}$/);
    const grant = all.taken().find((r) => r.type === 'decision' && r.body.event.verdict === 'grant')!;
    expect(grant.body).toMatchObject({ site: 'test-site', type: 'decision', event: { holder: 'Hook Visitor', door: 'lab' } });

    const labDecisions = (await chain()).filter((e) => e.type === 'decision' && e.door === 'lab');
    await until('lab decisions at the filtered receiver', () => labOnly.taken().length >= labDecisions.length);
    expect(labOnly.taken().map((r) => r.seq)).toEqual(labDecisions.map((e) => e.seq));
  });

  it('retries a failing and a stalled receiver with backoff until it comes back, keeping the order', async () => {
    const before = all.taken().length;
    all.mode = 'fail';
    await scan('during outage 1');
    await until('failed attempts', () => all.requests.filter((r) => !r.taken).length >= 3);
    all.mode = 'stall';
    await scan('during outage 2');
    await until('a stalled attempt', () => all.requests.at(-1)?.taken === false && all.requests.at(-1)!.attempt >= 4);
    const view = (await api.call('webhooks.list')).find((w: { id: string }) => w.id === 'all');
    expect(view).toMatchObject({ status: 'retrying', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/hook$/) });
    expect(view.attempts).toBeGreaterThanOrEqual(3);
    expect(view.lastError).toMatch(/non-2xx \(HTTP 500\)|timeout/);
    all.mode = 'ok';
    await expectAllTaken();
    expect(all.taken().length).toBeGreaterThanOrEqual(before + 2);
    const firstRetried = all.requests.find((r) => !r.taken)!.seq;
    const retried = all.requests.filter((r) => r.seq === firstRetried);
    // The same event under the same id at every attempt, numbered 1, 2, 3, ...
    expect(new Set(retried.map((r) => r.id)).size).toBe(1);
    expect(retried.map((r) => r.attempt)).toEqual(retried.map((_, i) => i + 1));
  });

  it('puts an event that fails every attempt on the dead-letter list, goes on, and sends it again on request', async () => {
    labOnly.mode = 'fail';
    await scan('dead letter');
    const letters = await untilAsync(async () => {
      const list = await api.call('webhooks.deadLetters', { webhook: 'lab-decisions' });
      return list.length > 0 ? list : undefined;
    });
    expect(letters[0]).toMatchObject({ type: 'decision', attempts: 2, error: 'non-2xx (HTTP 500)' });
    const metrics = await (await fetch(`${controller.apiUrl!.replace('ws', 'http').replace('/api', '')}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(metrics).toContain('postern_webhook_dead_letters_total{webhook="lab-decisions"} 1');
    expect(metrics).toMatch(/postern_webhook_delivered_total\{webhook="all"\} \d+/);

    labOnly.mode = 'ok';
    await scan('after the dead letter');
    await until('the next event', () => labOnly.taken().at(-1)!.body.event.seq > letters[0].seq);
    expect(await api.call('webhooks.redeliver', { webhook: 'lab-decisions', id: letters[0].id })).toMatchObject({ delivered: true, error: null });
    expect(await api.call('webhooks.deadLetters', { webhook: 'lab-decisions' })).toEqual([]);
    expect((await api.request('webhooks.deadLetters', { webhook: 'nope' })).error).toMatchObject({ data: { code: 'POSTERN_ERR_NOT_FOUND' } });
  });

  it('resumes after a restart where it stopped: nothing lost, nothing taken twice', async () => {
    all.mode = 'fail';
    await scan('before restart 1');
    await scan('before restart 2');
    await until('failing attempts', () => all.requests.filter((r) => !r.taken).length >= 2);
    await stop();
    all.mode = 'ok';
    await start();
    await scan('after restart');
    await expectAllTaken();
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive in this time
    await expectAllTaken();
  });
});

async function untilAsync<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
