/**
 * A client of the integrator API for Node.js (`import { connect } from 'postern/client'`), with
 * nothing beyond `ws`. It keeps one connection to /api and makes up for its drops:
 *
 * - it reconnects, with exponential backoff and full jitter, and stops only when the controller
 *   refuses the token (401: a revoked token never comes back);
 * - it subscribes again, and an audit subscription resumes with `after` set to the last audit seq
 *   it delivered, so no audit event is lost or delivered twice across a drop or a restart of the
 *   controller (door, scanner and link notifications are not replayed: re-read those on the
 *   `connected` event);
 * - a call whose answer was lost is sent again only when that cannot do it twice: reads (the
 *   viewer's methods), and creates that take an `idempotencyKey`, for which the client makes one
 *   (unless given) and sends the same one each time. Any other call is failed with
 *   POSTERN_CLIENT_CONNECTION_LOST: it may or may not have been carried out.
 *
 * Which methods take a key is read from the controller's own rpc.discover at each connection, so
 * a controller that starts taking keys is used at once; without it (a scanner token may not call
 * rpc.discover), from the table this client was built with.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { METHOD_INFO, type PosternMethod, type PosternMethodParams } from './methodParams.ts';

export type { PosternMethod, PosternMethodParams } from './methodParams.ts';

export interface ConnectOptions {
  /** The API token (`pst_...`): sent as `Authorization: Bearer <token>` at the upgrade, never in the URL. */
  token: string;
  /** More headers for the upgrade. */
  headers?: Record<string, string>;
  /** Certificates to trust for wss:// (a controller with api.tls and its own CA). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Backoff between reconnection attempts: each waits a random time up to min(maxDelayMs, initialDelayMs × 2^attempt). `false`: never reconnect. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number } | false;
  /** How long connect() keeps trying before it gives up (default 30 s). */
  connectTimeoutMs?: number;
  /** How long a call may wait for its answer, reconnections included (default 30 s). */
  callTimeoutMs?: number;
  /** Interval of the client's own pings; a ping not answered by the next one drops the connection (default 15 s; 0: none). */
  pingIntervalMs?: number;
}

/** An error answer of the controller. */
export class PosternRpcError extends Error {
  override readonly name = 'PosternRpcError';
  /** The JSON-RPC code: -32602 invalid params, -32001 forbidden, -32002 not found, -32003 conflict, -32004 rate limited, -32005 unavailable, ... */
  readonly code: number;
  /** Postern's stable `POSTERN_ERR_*` code, when the controller gave one. */
  readonly posternCode: string | undefined;
  /** The parameter at fault, for invalid parameters and some not-found errors. */
  readonly field: string | undefined;
  /** For -32004: when to try again. */
  readonly retryAfterMs: number | undefined;
  readonly data: Record<string, unknown> | undefined;

  constructor(
    readonly method: string,
    error: { code: number; message: string; data?: Record<string, unknown> },
  ) {
    super(`${method}: ${error.message}`);
    this.code = error.code;
    this.data = error.data;
    this.posternCode = typeof error.data?.code === 'string' ? error.data.code : undefined;
    this.field = typeof error.data?.field === 'string' ? error.data.field : undefined;
    this.retryAfterMs = typeof error.data?.retryAfterMs === 'number' ? error.data.retryAfterMs : undefined;
  }
}

export type ConnectionErrorCode =
  /** The connection dropped with the call sent and not answered; it may have been carried out. */
  | 'POSTERN_CLIENT_CONNECTION_LOST'
  /** close() was called, or the client gave up (a refused token). */
  | 'POSTERN_CLIENT_CLOSED'
  /** The controller refused the upgrade (`status` 400, 401, 403 or 404): the token (or the URL) is no good. */
  | 'POSTERN_CLIENT_REFUSED'
  /** No answer within callTimeoutMs, or no connection within connectTimeoutMs. */
  | 'POSTERN_CLIENT_TIMEOUT';

export class PosternConnectionError extends Error {
  override readonly name = 'PosternConnectionError';
  constructor(
    readonly code: ConnectionErrorCode,
    message: string,
    readonly details: { status?: number; closeCode?: number; closeReason?: string } = {},
  ) {
    super(message);
  }
}

export type Topic = 'door' | 'scanner' | 'link' | 'audit' | 'sync';

/** One notification of a subscription. */
export interface PosternEvent {
  topic: Topic;
  /** The door's or scanner's status, `{ change, link }`, the audit event, or the hub sync link's status (sync.status). */
  data: Record<string, unknown>;
  /** The subscription's id on the connection that delivered it (a new one after each reconnection). */
  subscription: string;
}

export interface Subscription {
  /** The last audit seq delivered (audit subscriptions), where a resumption starts from. */
  readonly lastAuditSeq: number | undefined;
  unsubscribe(): Promise<void>;
}

interface Pending {
  method: string;
  params: Record<string, unknown>;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

interface ActiveSubscription extends Subscription {
  params: PosternMethodParams['subscribe'];
  onEvent(event: PosternEvent): void;
  lastAuditSeq: number | undefined;
  id: string | undefined;
  /** A subscribe for it is on its way: a reconnection must not send a second one. */
  sending: boolean;
  ended: boolean;
}

type Params<M extends PosternMethod> = Record<string, never> extends PosternMethodParams[M] ? [params?: PosternMethodParams[M]] : [params: PosternMethodParams[M]];

const REFUSED_STATUSES = new Set([400, 401, 403, 404]);

/**
 * Connects to the controller's API at `url` (`ws://HOST:PORT/api`; `http://HOST:PORT` is taken to
 * mean the same) and resolves once connected. Rejects when the token is refused, or after
 * connectTimeoutMs of failed attempts.
 */
export async function connect(url: string, options: ConnectOptions): Promise<PosternClient> {
  const client = new PosternClient(url, options);
  await client.ready(options.connectTimeoutMs ?? 30_000);
  return client;
}

export class PosternClient extends EventEmitter {
  readonly url: string;
  private socket: WebSocket | undefined;
  private open = false;
  private closed = false;
  private attempt = 0;
  private nextId = 1;
  /** Calls waiting for a connection. */
  private readonly queue: Pending[] = [];
  /** Calls sent on the current connection, by id. */
  private readonly inFlight = new Map<number, Pending>();
  private readonly subscriptions = new Set<ActiveSubscription>();
  private readonly byId = new Map<string, ActiveSubscription>();
  /** Notifications of a subscription whose answer has not come yet: a replay arrives before it. */
  private orphans: Array<{ subscription: string; topic: Topic; data: Record<string, unknown> }> = [];
  /** Subscribes sent and not answered yet. */
  private subscribing = 0;
  private info: Record<string, { role: string; idempotencyKey: boolean }> = { ...METHOD_INFO };
  private resumeWithAfter = true;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private failure: PosternConnectionError | undefined;
  /** Resolves the first connection (ready()). */
  private firstOpen: { resolve(): void; reject(error: Error): void } | undefined;

  constructor(
    url: string,
    private readonly options: ConnectOptions,
  ) {
    super();
    this.url = apiUrl(url);
    this.openSocket();
  }

  /** Whether the client is connected now (calls made while it is not wait for the next connection). */
  get connected(): boolean {
    return this.open;
  }

  /** Calls `method` and resolves with its result; rejects with PosternRpcError or PosternConnectionError. */
  call<M extends PosternMethod>(method: M, ...args: Params<M>): Promise<unknown> {
    return this.request(method, (args[0] ?? {}) as Record<string, unknown>);
  }

  /**
   * Subscribes and delivers each notification to `onEvent`, across reconnections: after each one
   * the subscription is made again, and audit events go on from the last one delivered. Give
   * `after` to start from an audit seq of your own (0: the whole chain).
   */
  async subscribe(params: PosternMethodParams['subscribe'], onEvent: (event: PosternEvent) => void): Promise<Subscription> {
    const subscription: ActiveSubscription = {
      params: { ...params },
      onEvent,
      lastAuditSeq: params.after,
      id: undefined,
      sending: false,
      ended: false,
      unsubscribe: async () => {
        subscription.ended = true;
        this.subscriptions.delete(subscription);
        const id = subscription.id;
        if (id === undefined || !this.open) return;
        this.byId.delete(id);
        await this.request('unsubscribe', { subscription: id }).catch((error: unknown) => {
          // Gone with its connection already: nothing left to end.
          if (!(error instanceof PosternConnectionError) && !(error instanceof PosternRpcError && error.code === -32002)) throw error;
        });
      },
    };
    const audit = params.topics.includes('audit');
    // An audit subscription needs a place to resume from even before its first event: the
    // chain's head now, with the events from there on replayed by the subscribe itself.
    if (audit && subscription.lastAuditSeq === undefined && this.resumeWithAfter) {
      const { events } = (await this.request('audit.query', { order: 'desc', limit: 1 })) as { events: Array<{ seq: number }> };
      subscription.lastAuditSeq = events[0]?.seq ?? 0;
    }
    // Kept from now on, so that a drop while it is being made is made up for like any other.
    this.subscriptions.add(subscription);
    try {
      await this.sendSubscribe(subscription);
    } catch (error) {
      if (error instanceof PosternConnectionError && error.code === 'POSTERN_CLIENT_CONNECTION_LOST') return subscription;
      subscription.ended = true;
      this.subscriptions.delete(subscription);
      throw error;
    }
    return subscription;
  }

  /** Ends the connection and every call still waiting; the client does not reconnect. */
  async close(): Promise<void> {
    this.shutDown(new PosternConnectionError('POSTERN_CLIENT_CLOSED', 'the client was closed'));
    const socket = this.socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000, 'client closed');
        setTimeout(() => {
          socket.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  /** @internal connect()'s wait for the first connection. */
  ready(timeoutMs: number): Promise<void> {
    if (this.open) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const error = new PosternConnectionError('POSTERN_CLIENT_TIMEOUT', `no connection to ${this.url} within ${timeoutMs} ms`);
        this.shutDown(error);
        reject(error);
      }, timeoutMs);
      this.firstOpen = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private request(method: string, params: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(this.failure ?? new PosternConnectionError('POSTERN_CLIENT_CLOSED', 'the client was closed'));
    return new Promise((resolve, reject) => {
      const timeoutMs = this.options.callTimeoutMs ?? 30_000;
      const pending: Pending = {
        method,
        params,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.forget(pending);
          reject(new PosternConnectionError('POSTERN_CLIENT_TIMEOUT', `${method}: no answer within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      if (this.open) this.send(pending);
      else this.queue.push(pending);
    });
  }

  /** Whether a call whose answer was lost may be sent again: it cannot be carried out twice. */
  private retryable(pending: Pending): boolean {
    if (pending.params.idempotencyKey !== undefined) return true;
    return this.info[pending.method]?.role === 'viewer' && pending.method !== 'subscribe' && pending.method !== 'unsubscribe';
  }

  private forget(pending: Pending): void {
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) this.queue.splice(queued, 1);
    for (const [id, p] of this.inFlight) if (p === pending) this.inFlight.delete(id);
  }

  private send(pending: Pending): void {
    // Decided when sent, from what this controller says it takes; made once, so every attempt of
    // the call carries the same key.
    if (this.info[pending.method]?.idempotencyKey && pending.params.idempotencyKey === undefined) pending.params = { ...pending.params, idempotencyKey: randomUUID() };
    const id = this.nextId++;
    this.inFlight.set(id, pending);
    this.socket!.send(JSON.stringify({ jsonrpc: '2.0', id, method: pending.method, params: pending.params }));
  }

  private settle(pending: Pending, outcome: { result?: unknown; error?: { code: number; message: string; data?: Record<string, unknown> } }): void {
    clearTimeout(pending.timer);
    if (outcome.error) pending.reject(new PosternRpcError(pending.method, outcome.error));
    else pending.resolve(outcome.result);
  }

  private openSocket(): void {
    const headers = { ...this.options.headers, Authorization: `Bearer ${this.options.token}` };
    const socket = new WebSocket(this.url, { headers, handshakeTimeout: 10_000, ...(this.options.ca ? { ca: this.options.ca } : {}) });
    this.socket = socket;
    let refused: PosternConnectionError | undefined;
    socket.on('unexpected-response', (_request, response) => {
      const status = response.statusCode ?? 0;
      if (REFUSED_STATUSES.has(status)) refused = new PosternConnectionError('POSTERN_CLIENT_REFUSED', `${this.url}: the controller refused the connection (HTTP ${status})`, { status });
      response.resume();
      socket.terminate();
    });
    socket.on('error', () => undefined); // the close that follows decides
    let alive = true;
    socket.on('message', (data) => this.receive(data.toString()));
    socket.on('pong', () => (alive = true));
    socket.on('open', () => {
      alive = true;
      const every = this.options.pingIntervalMs ?? 15_000;
      if (every > 0) {
        this.pingTimer = setInterval(() => {
          if (!alive) return socket.terminate();
          alive = false;
          socket.ping();
        }, every);
        this.pingTimer.unref();
      }
      void this.onOpen(socket);
    });
    socket.on('close', (code, reason) => {
      if (this.socket !== socket) return;
      clearInterval(this.pingTimer);
      const wasOpen = this.open;
      this.open = false;
      this.socket = undefined;
      if (this.closed) return;
      const why = reason.toString();
      // A 1008 is not the end by itself: a revoked token is refused at the next upgrade (401), a
      // client dropped for its rate is let in again after a while (429 until then).
      if (refused) {
        this.shutDown(refused);
        return;
      }
      this.dropped();
      if (wasOpen) this.emit('disconnected', { code, reason: why });
      if (this.options.reconnect === false) {
        this.shutDown(new PosternConnectionError('POSTERN_CLIENT_CLOSED', `the connection closed (${code}) and reconnect is off`, { closeCode: code, closeReason: why }));
        return;
      }
      this.scheduleReconnect();
    });
  }

  /** Runs once a socket is open: learns the methods, subscribes again, then sends what waited. */
  private async onOpen(socket: WebSocket): Promise<void> {
    this.open = true;
    await this.discover();
    for (const subscription of [...this.subscriptions]) {
      if (this.socket !== socket) return;
      if (subscription.sending) continue;
      await this.sendSubscribe(subscription).catch((error: unknown) => {
        // A drop while resubscribing is handled by the next connection; anything else is the
        // subscriber's to hear about.
        if (!(error instanceof PosternConnectionError)) this.emit('subscriptionError', error, subscription);
      });
    }
    if (this.socket !== socket) return;
    this.attempt = 0;
    for (const pending of this.queue.splice(0)) this.send(pending);
    this.firstOpen?.resolve();
    this.firstOpen = undefined;
    this.emit('connected');
  }

  /**
   * What the controller says of its methods (rpc.discover): which take an idempotency key, and
   * whether subscribe takes `after`. Sent ahead of the calls that waited, since those depend on it.
   */
  private async discover(): Promise<void> {
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
      this.inFlight.set(id, { method: 'rpc.discover', params: {}, resolve, reject, timer });
    });
    this.socket!.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'rpc.discover' }));
    try {
      const document = (await answer) as { methods: Array<{ name: string; params: Array<{ name: string }>; 'x-postern-role': string }> };
      const info: PosternClient['info'] = {};
      for (const m of document.methods) info[m.name] = { role: m['x-postern-role'], idempotencyKey: m.params.some((p) => p.name === 'idempotencyKey') };
      this.info = info;
      this.resumeWithAfter = document.methods.find((m) => m.name === 'subscribe')?.params.some((p) => p.name === 'after') ?? false;
    } catch {
      // Not offered, or not to this token: the built-in table stands.
    }
  }

  private async sendSubscribe(subscription: ActiveSubscription): Promise<void> {
    subscription.sending = true;
    try {
      await this.subscribeOnce(subscription);
    } finally {
      subscription.sending = false;
    }
  }

  private async subscribeOnce(subscription: ActiveSubscription): Promise<void> {
    const params: Record<string, unknown> = { ...subscription.params };
    delete params.after;
    const resumeFrom = subscription.lastAuditSeq;
    if (subscription.params.topics.includes('audit') && resumeFrom !== undefined && this.resumeWithAfter) params.after = resumeFrom;
    this.subscribing++;
    let result: { subscription: string; head?: number };
    try {
      result = (await this.request('subscribe', params)) as { subscription: string; head?: number };
    } finally {
      this.subscribing--;
    }
    if (subscription.ended) {
      // Unsubscribed while it was being made: end it on the controller too.
      this.orphans = this.orphans.filter((o) => o.subscription !== result.subscription);
      this.request('unsubscribe', { subscription: result.subscription }).catch(() => undefined);
      return;
    }
    // An `after` beyond the chain's head: this is not the chain read before (a restored store).
    // Go on from its head, or every event up to the old seq would be taken for a duplicate.
    if (resumeFrom !== undefined && result.head !== undefined && result.head < resumeFrom) subscription.lastAuditSeq = result.head;
    subscription.id = result.subscription;
    this.byId.set(result.subscription, subscription);
    const replayed = this.orphans.filter((o) => o.subscription === result.subscription);
    this.orphans = this.orphans.filter((o) => o.subscription !== result.subscription);
    for (const event of replayed) this.deliver(subscription, event);
  }

  private receive(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.method === 'event') {
      const event = message.params as { subscription: string; topic: Topic; data: Record<string, unknown> };
      const subscription = this.byId.get(event.subscription);
      if (subscription) this.deliver(subscription, event);
      // Kept only while a subscribe is on its way; otherwise it is a late one of a subscription
      // just ended.
      else if (this.subscribing > 0 && this.orphans.length < 100_000) this.orphans.push(event);
      return;
    }
    const pending = typeof message.id === 'number' ? this.inFlight.get(message.id) : undefined;
    if (pending === undefined) return;
    this.inFlight.delete(message.id as number);
    this.settle(pending, message as { result?: unknown; error?: { code: number; message: string } });
  }

  private deliver(subscription: ActiveSubscription, event: { subscription: string; topic: Topic; data: Record<string, unknown> }): void {
    if (subscription.ended) return;
    if (event.topic === 'audit' && typeof event.data.seq === 'number') {
      // The replay and the live stream never overlap, but a resumption from an older seq might.
      if (subscription.lastAuditSeq !== undefined && event.data.seq <= subscription.lastAuditSeq) return;
      subscription.lastAuditSeq = event.data.seq;
    }
    try {
      subscription.onEvent({ topic: event.topic, data: event.data, subscription: event.subscription });
    } catch (error) {
      this.emit('subscriptionError', error, subscription);
    }
  }

  /** The connection is gone: calls that may be sent again wait for the next one, the others fail. */
  private dropped(): void {
    this.byId.clear();
    for (const subscription of this.subscriptions) subscription.id = undefined;
    this.orphans = [];
    const lost = [...this.inFlight.values()];
    this.inFlight.clear();
    for (const pending of lost) {
      if (pending.method !== 'rpc.discover' && this.retryable(pending)) this.queue.push(pending);
      else {
        clearTimeout(pending.timer);
        pending.reject(new PosternConnectionError('POSTERN_CLIENT_CONNECTION_LOST', `${pending.method}: the connection dropped before the answer; it may or may not have been carried out`));
      }
    }
  }

  private scheduleReconnect(): void {
    const reconnect = this.options.reconnect || {};
    const ceiling = Math.min(reconnect.maxDelayMs ?? 30_000, (reconnect.initialDelayMs ?? 250) * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const delay = Math.random() * ceiling;
    this.emit('reconnecting', { attempt: this.attempt, delayMs: Math.round(delay) });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) this.openSocket();
    }, delay);
  }

  private shutDown(error: PosternConnectionError): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.open = false;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    for (const pending of [...this.queue.splice(0), ...this.inFlight.values()]) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.inFlight.clear();
    this.subscriptions.clear();
    this.firstOpen?.reject(error);
    this.firstOpen = undefined;
    this.emit('closed', error);
  }
}

/** ws://HOST:PORT/api from what a person may write for it. */
function apiUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/api';
  return parsed.toString();
}
