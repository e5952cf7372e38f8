/**
 * One WebSocket client: parses its messages, checks rate limits and roles, runs methods, and sends
 * answers and live events without ever letting a slow reader hold memory: past the buffer limit
 * the client is dropped.
 */
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
} from './jsonRpc.ts';
import { invokeMethod } from './invokeMethod.ts';
import type { MethodTable } from './methodTypes.ts';
import { TokenBucket } from './tokenBucket.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';

export interface ConnectionLimits {
  maxBufferedBytes: number;
  /** Largest batch answered; larger batches are refused whole. */
  maxBatch: number;
}

export class RpcConnection implements Subscriber {
  /** Pong seen since the last ping. */
  alive = true;
  private closed = false;

  constructor(
    private readonly socket: WebSocket,
    readonly principal: Principal,
    private readonly methods: MethodTable,
    private readonly connectionBucket: TokenBucket,
    private readonly principalBucket: TokenBucket,
    private readonly limits: ConnectionLimits,
    private readonly log: Logger,
    private readonly onClose: (connection: RpcConnection) => void,
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
    // Limits are checked before parsing, so a flood costs almost nothing.
    if (!this.connectionBucket.take() || !this.principalBucket.take()) {
      const retryAfterMs = Math.max(this.connectionBucket.retryAfterMs, this.principalBucket.retryAfterMs);
      this.send(errorResponse(null, new RpcError(RpcErrorCodes.rateLimited, 'rate limit exceeded: slow down', { code: ErrorCodes.RATE_LIMITED, retryAfterMs })));
      return;
    }
    if (text === null) {
      this.send(errorResponse(null, new RpcError(RpcErrorCodes.parseError, 'parse error: binary frames are not JSON-RPC')));
      return;
    }
    const parsed = parseMessage(text);
    if (parsed.kind === 'invalid') return this.send(parsed.response);
    if (parsed.kind === 'single') {
      const response = await this.call(parsed.request);
      if (response !== undefined) this.send(response);
      return;
    }
    if (parsed.items.length > this.limits.maxBatch) {
      return this.send(errorResponse(null, new RpcError(RpcErrorCodes.invalidRequest, `invalid request: a batch holds at most ${this.limits.maxBatch} requests`)));
    }
    const responses = await Promise.all(parsed.items.map((item) => ('method' in item ? this.call(item) : item)));
    const answers = responses.filter((r): r is JsonRpcResponse => r !== undefined);
    // A batch of notifications only gets no answer at all.
    if (answers.length > 0) this.sendText(JSON.stringify(answers));
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
