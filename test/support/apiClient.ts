/**
 * A real `ws` client for API tests, with request/response matching and collected notifications,
 * and a way to make tokens in a site's store before its controller starts.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { Accounts } from '../../controller/accounts/accounts.ts';
import type { Role } from '../../controller/accounts/accountTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { openStore } from '../../controller/store/openStore.ts';

export async function makeTokens(dataDir: string, wanted: Array<{ name: string; role: Role; scanner?: string }>, databaseUrl?: string): Promise<Record<string, string>> {
  const store = openStore({ dataDir, databaseUrl });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
  await audit.start();
  try {
    const accounts = new Accounts({ store, audit });
    const tokens: Record<string, string> = {};
    for (const t of wanted) tokens[t.name] = (await accounts.createToken({ name: t.name, role: t.role, scanner: t.scanner ?? null }, 'test')).token;
    return tokens;
  } finally {
    await audit.stop();
    await store.stop();
  }
}

export interface Notification {
  subscription: string;
  topic: string;
  seq: number;
  data: Record<string, unknown>;
}

export class ApiClient {
  readonly notifications: Notification[] = [];
  private nextId = 1;
  private readonly waiting = new Map<unknown, (message: unknown) => void>();
  private readonly raw: unknown[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      if (message.method === 'event') {
        this.notifications.push(message.params as Notification);
        return;
      }
      const resolve = Array.isArray(message) ? undefined : this.waiting.get(message.id);
      if (resolve) {
        this.waiting.delete(message.id);
        resolve(message);
      } else this.raw.push(message);
    });
  }

  static async connect(url: string, token: string | undefined, headers: Record<string, string> = {}): Promise<ApiClient> {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/api`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    await once(socket, 'open');
    return new ApiClient(socket);
  }

  /** Resolves with the whole response object (result or error). */
  request(method: string, params?: unknown): Promise<any> {
    const id = this.nextId++;
    const answer = new Promise<any>((resolve) => this.waiting.set(id, resolve));
    this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    return answer;
  }

  async call(method: string, params?: unknown): Promise<any> {
    const response = await this.request(method, params);
    if (response.error) throw new Error(`${method}: ${response.error.message}`);
    return response.result;
  }

  /** The next message that answered no pending request (raw frames, batches, id-less errors). */
  async nextRaw(timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    while (this.raw.length === 0) {
      if (Date.now() > deadline) throw new Error('no message');
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.raw.shift();
  }

  sendRaw(text: string | Buffer): void {
    this.socket.send(text);
  }

  async waitForNotifications(count: number, timeoutMs = 5000): Promise<Notification[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.notifications.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.notifications.length} of ${count} notifications`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.notifications;
  }

  close(): void {
    this.socket.close();
  }
}

/** The HTTP status of a refused upgrade (or 101 when a socket was given). */
export async function upgradeStatus(url: string, headers: Record<string, string>, path = '/api'): Promise<number> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, { headers });
  return new Promise((resolve) => {
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => {
      resolve(101);
      socket.close();
    });
    socket.on('error', () => undefined);
  });
}
