/**
 * A JSON-RPC 2.0 client over the controller's WebSocket API (docs/api.md), with a deadline on
 * everything: connecting, each answer. When the connection goes (a killed controller), every
 * request still waiting is settled at once as `closed`, so a harness never hangs on a dead process.
 */
import WebSocket from 'ws';

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: { code?: string; field?: string; retryAfterMs?: number };
}

/** What became of one request. */
export type RpcAnswer =
  | { kind: 'result'; result: any; ms: number }
  | { kind: 'error'; error: RpcErrorBody; ms: number }
  | { kind: 'closed'; ms: number }
  | { kind: 'timeout'; ms: number };

export class RpcCallError extends Error {
  constructor(
    readonly method: string,
    readonly answer: Exclude<RpcAnswer, { kind: 'result' }>,
  ) {
    super(`${method}: ${answer.kind === 'error' ? `${answer.error.code} ${answer.error.message}` : answer.kind}`);
  }
}

interface Waiting {
  settle: (answer: RpcAnswer) => void;
  timer: NodeJS.Timeout;
  started: number;
}

export class RpcClient {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  /** Answers that matched no request: id-less errors (rate limits), stray frames. */
  readonly stray: unknown[] = [];
  private closedFlag = false;
  closeCode: number | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.receive(data.toString()));
    socket.on('close', (code) => {
      this.closeCode = code;
      this.failAll();
    });
    socket.on('error', () => this.failAll());
  }

  /** Opens `ws://host:port/api` with the token in the Authorization header. */
  static connect(apiUrl: string, token: string, timeoutMs = 10_000): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(apiUrl, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: timeoutMs });
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`no WebSocket to ${apiUrl} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('open', () => {
        clearTimeout(timer);
        resolve(new RpcClient(socket));
      });
      socket.once('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        socket.terminate();
        reject(new Error(`WebSocket to ${apiUrl} refused: HTTP ${res.statusCode}`));
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag || this.socket.readyState !== WebSocket.OPEN;
  }

  get pending(): number {
    return this.waiting.size;
  }

  /** Sends at once (synchronously: two calls in a row leave in the same tick) and resolves with what became of it. */
  request(method: string, params?: unknown, timeoutMs = 15_000): Promise<RpcAnswer> {
    const id = this.nextId++;
    const started = performance.now();
    if (this.closed) return Promise.resolve({ kind: 'closed', ms: 0 });
    return new Promise<RpcAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ kind: 'timeout', ms: performance.now() - started });
      }, timeoutMs);
      this.waiting.set(id, { settle: resolve, timer, started });
      try {
        this.socket.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
      } catch {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve({ kind: 'closed', ms: 0 });
      }
    });
  }

  /** The result, or throws RpcCallError. */
  async call(method: string, params?: unknown, timeoutMs = 15_000): Promise<any> {
    const answer = await this.request(method, params, timeoutMs);
    if (answer.kind !== 'result') throw new RpcCallError(method, answer);
    return answer.result;
  }

  /** A batch of requests in one message (one rate-limit token); answers in request order. */
  async batch(requests: Array<{ method: string; params?: unknown }>, timeoutMs = 30_000): Promise<RpcAnswer[]> {
    const ids = requests.map(() => this.nextId++);
    const started = performance.now();
    if (this.closed) return requests.map(() => ({ kind: 'closed', ms: 0 }) as const);
    const answers = ids.map(
      (id) =>
        new Promise<RpcAnswer>((resolve) => {
          const timer = setTimeout(() => {
            this.waiting.delete(id);
            resolve({ kind: 'timeout', ms: performance.now() - started });
          }, timeoutMs);
          this.waiting.set(id, { settle: resolve, timer, started });
        }),
    );
    this.socket.send(JSON.stringify(requests.map((r, i) => ({ jsonrpc: '2.0', id: ids[i], method: r.method, ...(r.params === undefined ? {} : { params: r.params }) }))));
    return Promise.all(answers);
  }

  /** Sends a raw text frame (for malformed messages). */
  sendRaw(text: string): void {
    this.socket.send(text);
  }

  close(): void {
    this.closedFlag = true;
    this.socket.terminate();
    this.failAll();
  }

  private receive(text: string): void {
    let message: any;
    try {
      message = JSON.parse(text);
    } catch {
      this.stray.push(text);
      return;
    }
    const items = Array.isArray(message) ? message : [message];
    for (const item of items) {
      if (item?.method === 'event') continue;
      const waiting = typeof item?.id === 'number' ? this.waiting.get(item.id) : undefined;
      if (waiting === undefined) {
        this.stray.push(item);
        continue;
      }
      this.waiting.delete(item.id);
      clearTimeout(waiting.timer);
      const ms = performance.now() - waiting.started;
      waiting.settle(item.error ? { kind: 'error', error: item.error, ms } : { kind: 'result', result: item.result, ms });
    }
  }

  private failAll(): void {
    this.closedFlag = true;
    for (const [id, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      this.waiting.delete(id);
      waiting.settle({ kind: 'closed', ms: performance.now() - waiting.started });
    }
  }
}

/** Reads a whole audit chain through `audit.query`, page by page, in seq order. */
export async function* auditPages(client: RpcClient, options: { afterSeq?: number; controllerId?: string; pageSize?: number } = {}): AsyncGenerator<any[]> {
  let afterSeq = options.afterSeq ?? 0;
  for (;;) {
    const page = await client.call('audit.query', { afterSeq, limit: options.pageSize ?? 1000, order: 'asc', ...(options.controllerId ? { controllerId: options.controllerId } : {}) }, 60_000);
    const events = page.events as any[];
    if (events.length > 0) yield events;
    if (!page.next) return;
    afterSeq = page.next.afterSeq;
  }
}
