/**
 * A hub for the sync link's tests: a real `ws` WebSocketServer on port 0 that speaks the protocol of
 * docs/sync.md (hello → welcome, snapshot or changes, synced; audit → auditAck; ping → pong), and
 * POST /enrol. It checks what a hub must check of a controller (the bearer credential, audit
 * batches that continue what it holds) and records every frame, so tests assert on the wire.
 */
import { once } from 'node:events';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';

export interface HubRevocation {
  cursor: number;
  kind: 'revocation';
  issuer: number;
  subject: string;
  revokedAt: number;
  reason: string | null;
}

export interface FakeHubOptions {
  credential: string;
  siteId?: string;
  controllerId?: string;
  /** Added to Date.now() for welcome.hubTime and pong.hubTime. */
  clockOffsetMs?: number;
  /** The answer of POST /enrol: a status and body, given the code. */
  enrol?: (code: string) => { status: number; body: unknown };
  /** PEM files: the hub speaks HTTPS and WSS. */
  tls?: { cert: string; key: string };
}

export class FakeHub {
  readonly server: http.Server;
  readonly wss = new WebSocketServer({ noServer: true });
  /** Every frame each connection sent, in order, one array per connection. */
  readonly connections: Array<{ frames: any[]; headers: IncomingMessage['headers'] }> = [];
  /** Upgrades refused (wrong credential). */
  refused = 0;
  /** The chain as the hub holds it. */
  readonly held: AuditEvent[] = [];
  /** Sizes of the audit batches received, in order. */
  readonly batches: number[] = [];
  readonly revocations: HubRevocation[] = [];
  clockOffsetMs: number;
  /** Called with each audit batch after it is stored and acknowledged; a test may close the socket there. */
  onAudit: ((socket: WebSocket, events: AuditEvent[]) => void) | undefined;
  /** Withhold welcome (a hub that accepts and says nothing). */
  silent = false;
  readonly #options: FakeHubOptions;
  readonly #live = new Set<WebSocket>();

  constructor(options: FakeHubOptions) {
    this.#options = options;
    const handler = (request: IncomingMessage, response: http.ServerResponse) => void this.#http(request, response);
    this.server = options.tls ? https.createServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }, handler) : http.createServer(handler);
    this.clockOffsetMs = options.clockOffsetMs ?? 0;
    this.server.on('upgrade', (request, socket, head) => {
      if (request.url !== '/sync' || request.headers.authorization !== `Bearer ${options.credential}`) {
        this.refused += 1;
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => this.#connected(ws, request.headers));
    });
  }

  async start(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  get url(): string {
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get cursor(): number {
    return this.revocations.at(-1)?.cursor ?? 0;
  }

  /** Every hello received, in order. */
  get hellos(): any[] {
    return this.connections.map((c) => c.frames.find((f) => f.type === 'hello')).filter(Boolean);
  }

  /** A revocation made at the hub: pushed at once to the controllers connected. */
  revoke(issuer: number, subject: string, reason: string | null = null): HubRevocation {
    const item: HubRevocation = { cursor: this.cursor + 1, kind: 'revocation', issuer, subject, revokedAt: Date.now(), reason };
    this.revocations.push(item);
    for (const ws of this.#live) ws.send(JSON.stringify({ type: 'changes', cursor: item.cursor, items: [item] }));
    return item;
  }

  /** Drops every link, as a hub restart would. */
  dropAll(): void {
    for (const ws of this.#live) ws.terminate();
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  #connected(ws: WebSocket, headers: IncomingMessage['headers']): void {
    const record = { frames: [] as any[], headers };
    this.connections.push(record);
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      record.frames.push(frame);
      this.#frame(ws, frame);
    });
    ws.on('close', () => this.#live.delete(ws));
  }

  #frame(ws: WebSocket, frame: any): void {
    const send = (f: object) => ws.send(JSON.stringify(f));
    const hubTime = () => Date.now() + this.clockOffsetMs;
    if (frame.type === 'hello') {
      if (this.silent) return;
      send({ type: 'welcome', siteId: this.#options.siteId ?? 'lisbon', controllerId: this.#options.controllerId ?? 'ctl_1', hubTime: hubTime(), auditAcked: this.held.at(-1)?.seq ?? 0 });
      // As the real hub does, a snapshot's revocations carry neither cursor nor kind.
      if (frame.cursor === 0) send({ type: 'snapshot', cursor: this.cursor, revocations: this.revocations.map(({ issuer, subject, revokedAt, reason }) => ({ issuer, subject, revokedAt, reason })) });
      else send({ type: 'changes', cursor: this.cursor, items: this.revocations.filter((r) => r.cursor > frame.cursor) });
      send({ type: 'synced', cursor: this.cursor });
      this.#live.add(ws);
    } else if (frame.type === 'audit') {
      const events = frame.events as AuditEvent[];
      this.batches.push(events.length);
      const anchor = this.held.at(-1);
      const from = events[0]?.seq ?? 0;
      if (from <= (anchor?.seq ?? 0)) {
        // Sent twice: acknowledged again, stored once.
        send({ type: 'auditAck', seq: events.at(-1)!.seq });
        return;
      }
      if (from !== (anchor?.seq ?? 0) + 1 || events.some((e, i) => e.seq !== from + i)) {
        send({ type: 'auditRejected', seq: from, problem: 'gap' });
        return;
      }
      if (anchor !== undefined && events[0]!.prevHash !== anchor.hash) {
        send({ type: 'auditRejected', seq: from, problem: 'broken-link' });
        return;
      }
      this.held.push(...events);
      send({ type: 'auditAck', seq: events.at(-1)!.seq });
      this.onAudit?.(ws, events);
    } else if (frame.type === 'ping') {
      send({ type: 'pong', id: frame.id, hubTime: hubTime() });
    }
  }

  async #http(request: IncomingMessage, response: http.ServerResponse): Promise<void> {
    if (request.method !== 'POST' || request.url !== '/enrol' || this.#options.enrol === undefined) {
      response.writeHead(404).end();
      return;
    }
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const { status, body } = this.#options.enrol((JSON.parse(text) as { code: string }).code);
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}

/** Resolves when `check` holds, polling every 10 ms; fails after `ms` with what was last seen. */
export async function until<T>(check: () => T | Promise<T>, ms = 5000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
