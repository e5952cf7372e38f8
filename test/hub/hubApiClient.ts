/**
 * A plain `ws` client of the hub's API (docs/hub-api.md) for tests: JSON-RPC requests matched by
 * id, the close code, and the HTTP status of a refused upgrade.
 */
import WebSocket from 'ws';

import type { Hub } from '../../controller/hub/hubServer.ts';

export interface RpcAnswer {
  id: number | string | null;
  result?: unknown;
  error?: { code: number; message: string; data?: { code?: string } & Record<string, unknown> };
}

export class HubApiClient {
  closed: { code: number; reason: string } | undefined;
  private nextId = 1;
  private readonly waiting = new Map<unknown, (answer: RpcAnswer) => void>();
  readonly unmatched: RpcAnswer[] = [];
  private closeWaiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const answer = JSON.parse(data.toString()) as RpcAnswer;
      const resolve = this.waiting.get(answer.id);
      if (resolve === undefined) return void this.unmatched.push(answer);
      this.waiting.delete(answer.id);
      resolve(answer);
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const wake of this.closeWaiters.splice(0)) wake();
      for (const [id, resolve] of this.waiting) resolve({ id: id as number, error: { code: 0, message: `closed ${code}` } });
      this.waiting.clear();
    });
    ws.on('error', () => undefined);
  }

  static url(hub: Hub): string {
    return `ws://127.0.0.1:${hub.address().port}/api`;
  }

  static async connect(hub: Hub, token?: string, headers: Record<string, string> = {}): Promise<HubApiClient> {
    const ws = new WebSocket(HubApiClient.url(hub), { headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return new HubApiClient(ws);
  }

  /** The HTTP status an upgrade with these headers gets (101 when it opens). */
  static async status(hub: Hub, headers: Record<string, string>, path = '/api'): Promise<number> {
    const ws = new WebSocket(HubApiClient.url(hub).replace(/\/api$/, path), { headers });
    return new Promise((resolve) => {
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.once('error', () => resolve(0));
    });
  }

  /** The answer (result or error) of one request. */
  request(method: string, params?: unknown): Promise<RpcAnswer> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  /** The result, or throws with the error's message and data code. */
  async call<T = Record<string, unknown>>(method: string, params?: unknown): Promise<T> {
    const answer = await this.request(method, params);
    if (answer.error !== undefined) throw Object.assign(new Error(`${method}: ${answer.error.message}`), { rpc: answer.error });
    return answer.result as T;
  }

  async waitClosed(ms = 15_000): Promise<{ code: number; reason: string }> {
    if (this.closed !== undefined) return this.closed;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not closed')), ms);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closed!;
  }

  close(): void {
    this.ws.terminate();
  }
}
