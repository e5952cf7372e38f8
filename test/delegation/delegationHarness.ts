/**
 * For delegation tests: real webhook servers on port 0 (node:http) that answer as a test tells them,
 * and a real controller on a real SQLite file whose site key and partner are those of
 * credential-vectors.json, so vector codes decide as the spec says on other scanners meanwhile.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { tempDir, testSite } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

export const SECRET = 'whsec-test-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e';

/** The vector site link (scope 7: front and lab) and when it is valid. */
export const SITE_LINK = vectors.vectors.find((v) => v.name === 'site link')!.code;
export const VECTOR_NOW = 1767225610;

/** A request as a webhook server received it. */
export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: any;
}

export type Handler = (request: ReceivedRequest, res: http.ServerResponse, req: http.IncomingMessage) => void;

export interface WebhookServer {
  url: string;
  received: ReceivedRequest[];
  /** Sockets the server saw close, for "the client gave up reading" checks. */
  closedSockets: number;
  close(): Promise<void>;
}

/** A real HTTP server on port 0; `handlers` by path, `/` and anything unlisted by `fallback`. */
export async function startWebhookServer(handlers: Record<string, Handler>, fallback?: Handler): Promise<WebhookServer> {
  const sockets = new Set<Socket>();
  const state = { received: [] as ReceivedRequest[], closedSockets: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let json: any;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        json = undefined;
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const request: ReceivedRequest = { path, headers: req.headers, body, json };
      state.received.push(request);
      const handler = handlers[path] ?? fallback;
      if (handler) handler(request, res, req);
      else res.writeHead(404).end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      state.closedSockets++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get received() {
      return state.received;
    },
    get closedSockets() {
      return state.closedSockets;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Signs like a partner: "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<body>'>", written out here on purpose. */
export function partnerSignature(body: string | Buffer, unixSeconds: number, secret = SECRET): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.`).update(body).digest('hex')}`;
}

/** A handler that answers like a well-behaved partner, with `decide` choosing the answer. */
export function partner(clock: () => number, decide: (scan: any) => Record<string, unknown>): Handler {
  return (request, res) => {
    const body = JSON.stringify({ nonce: request.json?.nonce, ...decide(request.json) });
    res.writeHead(200, { 'content-type': 'application/json', 'postern-signature': partnerSignature(body, Math.floor(clock() / 1000)) });
    res.end(body);
  };
}

export interface DelegationSite {
  controller: Controller;
  dataDir: string;
  /** The controller's clock: real time shifted to VECTOR_NOW at start, so vector codes are valid. */
  clock: () => number;
  logs(): string;
  /** Reads text on a simulated scanner; resolves with that scanner's decision and how long it took. */
  read(scanner: string, text: string): Promise<{ decision: Decision; elapsedMs: number }>;
  audit(): Promise<AuditEvent[]>;
  stop(): Promise<void>;
}

/**
 * A controller of the test site whose scanners are all simulated: front-in, front-2 (front),
 * lab-in (lab), store-in (store), plus any the patch adds. Its store holds the vector site key and
 * partner 17 before it starts.
 */
export async function startDelegationSite(patch: (input: SiteConfigInput) => void = () => {}, options: { env?: Record<string, string> } = {}): Promise<DelegationSite> {
  const dataDir = await tempDir('postern-delegation-');
  const store = openStore({ dataDir });
  await store.start();
  await store.setSettingIfAbsent('site.issuingKey', vectors.site_key);
  await store.addPartner({ id: 17, name: 'partner 17', allowedScopes: [3], defaultScope: 3, enabled: true, secret: Buffer.from(vectors.partner_17_secret, 'hex') });
  await store.stop();

  const offset = Date.now() - VECTOR_NOW * 1000;
  const clock = () => Date.now() - offset;
  const config = testSite(dataDir, (input) => {
    input.scanners = [
      { id: 'front-in', door: 'front', driver: 'simulated', debounceMs: 0 },
      { id: 'front-2', door: 'front', driver: 'simulated', debounceMs: 0 },
      { id: 'lab-in', door: 'lab', driver: 'simulated', debounceMs: 0 },
      { id: 'store-in', door: 'store', driver: 'simulated', debounceMs: 0 },
    ];
    patch(input);
  });
  let logged = '';
  const sink = new Writable({ write: (chunk, _enc, done) => ((logged += chunk.toString()), done()) });
  const saved = { ...process.env };
  Object.assign(process.env, options.env ?? {});
  const controller = new Controller({ config, terminal: new PassThrough(), clock, logger: createLogger('trace', sink) });
  try {
    await controller.start();
  } finally {
    for (const key of Object.keys(options.env ?? {})) if (!(key in saved)) delete process.env[key];
  }
  return {
    controller,
    dataDir,
    clock,
    logs: () => logged,
    read(scanner, text) {
      const started = performance.now();
      const decided = new Promise<{ decision: Decision; elapsedMs: number }>((resolve) => {
        const off = controller.onDecision((decision) => {
          if (decision.scanner !== scanner) return;
          off();
          resolve({ decision, elapsedMs: performance.now() - started });
        });
      });
      (controller.scannerDriver(scanner) as SimulatedScanner).read(text);
      return decided;
    },
    async audit() {
      const reader = openStore({ dataDir });
      await reader.start();
      try {
        return await reader.queryAudit({ controllerId: 'test-site', limit: 10_000, order: 'asc' });
      } finally {
        await reader.stop();
      }
    },
    stop: () => controller.stop(),
  };
}
