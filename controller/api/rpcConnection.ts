/**
 * One WebSocket client: parses its messages, checks rate limits and roles, runs methods, and sends
 * answers and live events without ever letting a slow reader hold memory: past the buffer limit
 * the client is dropped.
 */
import type { Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Principal } from '../accounts/accountTypes.ts';
import type { Logger } from '../logger.ts';
import type { Subscriber } from './eventHub.ts';
import {
  errorResponse,
  isNotification,
  parseMessage,
  RpcError,
  RpcErrorCodes,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type ParsedMessage,
} from './jsonRpc.ts';
import { invokeMethod, requestCost } from './invokeMethod.ts';
import type { MethodTable } from './methodTypes.ts';
import { TokenBucket } from './tokenBucket.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';

export interface ConnectionLimits {
  maxBufferedBytes: number;
  /** Largest batch answered; larger batches are refused whole. */
  maxBatch: number;
}

/** Refusals in a row, each sent before the wait the previous one gave, before the client is disconnected. */
const MAX_REFUSED_IN_ROW = 100;

export class RpcConnection implements Subscriber {
  /** Pong seen since the last ping. */
  alive = true;
  private closed = false;
  /** Refused messages in a row sent before their retryAfterMs was up. */
  private refusedInRow = 0;
  private retryNotBefore = 0;

  constructor(
    private readonly socket: WebSocket,
    /** Replaced when the account's role changes while the connection is open (ApiServer). */
    public principal: Principal,
    private readonly methods: MethodTable,
    private readonly connectionBucket: TokenBucket,
    private readonly principalBucket: TokenBucket,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onClose: (connection: RpcConnection) => void,
    /**
     * Resolves once any account change made before the call has been applied to the open
     * connections (this one may be closed by then, or have a lower role): run before each message.
     */
    private readonly accountsCurrent?: () => Promise<void>,
    /** Told when the client is disconnected for ignoring the rate limit (ApiServer keeps it out a while). */
    private readonly onLimitIgnored?: () => void,
    /** The TCP (or TLS) socket under the WebSocket, corked around a run of notifications. */
    private readonly transport?: Pick<Writable, 'cork' | 'uncork'>,
  ) {
    socket.on('message', (data, isBinary) => void this.receive(isBinary ? null : data.toString()));
    socket.on('pong', () => (this.alive = true));
    socket.on('close', () => this.closeNow());
    socket.on('error', (error) => {
      this.log.debug({ err: error }, 'socket error');
      this.closeNow();
    });
  }

  get actor(): string {
    return `${this.principal.kind}:${this.principal.name}`;
  }

  deliver(text: string): void {
    if (this.closed) return;
    this.socket.send(text);
    // A client that does not read must not make the controller hold its backlog.
    if (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      this.log.warn({ actor: this.actor, buffered: this.socket.bufferedAmount }, 'client too slow: dropped');
      this.socket.terminate();
      this.closeNow();
    }
  }

  cork(): void {
    this.transport?.cork();
  }

  uncork(): void {
    this.transport?.uncork();
  }

  /** Heartbeat: false when the previous ping got no pong (the connection is then ended). */
  ping(): boolean {
    if (!this.alive) {
      this.socket.terminate();
      this.closeNow();
      return false;
    }
    this.alive = false;
    this.socket.ping();
    return true;
  }

  close(code: number, reason: string): void {
    this.socket.close(code, reason);
    this.closeNow();
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
  }

  private async receive(text: string | null): Promise<void> {
    // Limits are checked before anything runs, so a flood costs no method call and no store read.
    if (!this.connectionBucket.take() || !this.principalBucket.take()) {
      const retryAfterMs = Math.max(this.connectionBucket.retryAfterMs, this.principalBucket.retryAfterMs);
      return this.refuseLimited(text, undefined, new RpcError(RpcErrorCodes.rateLimited, 'rate limit exceeded: slow down', { code: ErrorCodes.RATE_LIMITED, retryAfterMs }));
    }
    if (text === null) {
      this.send(errorResponse(null, new RpcError(RpcErrorCodes.parseError, 'parse error: binary frames are not JSON-RPC')));
      return;
    }
    const parsed = parseMessage(text);
    if (parsed.kind === 'invalid') return this.send(parsed.response);
    if (parsed.kind === 'batch' && parsed.items.length > this.limits.maxBatch) {
      return this.send(errorResponse(null, new RpcError(RpcErrorCodes.invalidRequest, `invalid request: a batch holds at most ${this.limits.maxBatch} requests`)));
    }
    // Limits count work: a batch of N costs N, and a query what it may read. One unit was taken
    // above, before parsing; the rest now, all or nothing, so a refused message costs one.
    const extra = this.cost(parsed) - 1;
    if (extra > 0 && !this.takeBoth(extra)) {
      const retryAfterMs = Math.max(this.connectionBucket.retryAfterMsFor(extra), this.principalBucket.retryAfterMsFor(extra));
      return this.refuseLimited(text, parsed, new RpcError(RpcErrorCodes.rateLimited, `rate limit exceeded: this message costs ${extra + 1} requests (a batch counts each request, a query the rows it may read): slow down or send less at once`, { code: ErrorCodes.RATE_LIMITED, retryAfterMs }));
    }
    // A token revoked or a role lowered by another process just now must already count here.
    await this.accountsCurrent?.();
    if (this.closed) return;
    if (parsed.kind === 'single') {
      const response = await this.call(parsed.request);
      if (response !== undefined) this.send(response);
      return;
    }
    const responses = await Promise.all(parsed.items.map((item) => ('method' in item ? this.call(item) : item)));
    const answers = responses.filter((r): r is JsonRpcResponse => r !== undefined);
    // A batch of notifications only gets no answer at all.
    if (answers.length > 0) this.sendText(JSON.stringify(answers));
  }

  /**
   * Answers a message that is not run with `error`, under the id of each of its requests, so that
   * a client with several requests open knows which were refused: a batch gets the error once
   * per request, in its order; notifications get nothing, as always. Parsing for the ids costs
   * one JSON.parse of at most api.maxMessageBytes, which the socket has already decoded as text:
   * a flood stays bounded by what the client can send. A message with no id to name (binary, not
   * JSON) is answered under `null`.
   */
  private refuse(text: string | null, error: RpcError, known?: ParsedMessage): void {
    const parsed = known ?? (text === null ? undefined : parseMessage(text));
    if (parsed === undefined || parsed.kind === 'invalid') return this.send(errorResponse(parsed?.response.id ?? null, error));
    if (parsed.kind === 'single') {
      if (!isNotification(parsed.request)) this.send(errorResponse(parsed.request.id ?? null, error));
      return;
    }
    if (parsed.items.length > this.limits.maxBatch) {
      return this.send(errorResponse(null, new RpcError(RpcErrorCodes.invalidRequest, `invalid request: a batch holds at most ${this.limits.maxBatch} requests`)));
    }
    const answers = parsed.items.flatMap((item) => {
      if (!('method' in item)) return [item];
      return isNotification(item) ? [] : [errorResponse(item.id ?? null, error)];
    });
    if (answers.length > 0) this.sendText(JSON.stringify(answers));
  }

  /**
   * A refusal by the rate limit. A client that sends again before the retryAfterMs it was given is
   * not slowed by refusals, which cost the controller a parse each: after MAX_REFUSED_IN_ROW such
   * messages in a row it is disconnected (1008). A client that waits as told is never dropped,
   * even when other connections of its token keep the shared bucket empty.
   */
  private refuseLimited(text: string | null, parsed: ParsedMessage | undefined, error: RpcError): void {
    const now = performance.now();
    this.refusedInRow = now < this.retryNotBefore ? this.refusedInRow + 1 : 0;
    this.retryNotBefore = now + ((error.data as { retryAfterMs?: number } | undefined)?.retryAfterMs ?? 0);
    if (this.refusedInRow > MAX_REFUSED_IN_ROW) {
      this.log.warn({ actor: this.actor }, 'client ignores the rate limit: disconnected');
      this.onLimitIgnored?.();
      this.close(1008, 'rate limit ignored');
      return;
    }
    this.refuse(text, error, parsed);
  }

  private cost(parsed: { kind: 'single'; request: JsonRpcRequest } | { kind: 'batch'; items: Array<JsonRpcRequest | JsonRpcResponse> }): number {
    const requests = parsed.kind === 'single' ? [parsed.request] : parsed.items.filter((item): item is JsonRpcRequest => 'method' in item);
    return Math.max(1, requests.reduce((sum, r) => sum + requestCost(this.methods, r.method, r.params), 0));
  }

  /** Both buckets or neither: a refusal by the second gives the first its tokens back. */
  private takeBoth(count: number): boolean {
    if (!this.connectionBucket.take(count)) return false;
    if (this.principalBucket.take(count)) return true;
    this.connectionBucket.giveBack(count);
    return false;
  }

  private async call(request: JsonRpcRequest): Promise<JsonRpcResponse | undefined> {
    const id = request.id ?? null;
    try {
      const result = await this.invoke(request);
      return isNotification(request) ? undefined : { jsonrpc: '2.0', id, result: result ?? null };
    } catch (error) {
      if (!(error instanceof RpcError)) this.log.debug({ err: error, method: request.method }, 'method failed');
      return isNotification(request) ? undefined : errorResponse(id, error);
    }
  }

  private invoke(request: JsonRpcRequest): Promise<unknown> {
    return invokeMethod(this.methods, request.method, request.params, { principal: this.principal, actor: this.actor, subscriber: this });
  }

  private send(response: JsonRpcResponse): void {
    this.sendText(JSON.stringify(response));
  }

  private sendText(text: string): void {
    this.deliver(text);
  }
}
