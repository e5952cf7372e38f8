/**
 * One client of the hub's API (docs/hub-api.md): JSON-RPC 2.0 over a WebSocket, one request per
 * message (no batches). Signed in at the upgrade (Authorization: Bearer) or by a first
 * `session.login {token}` within 10 s (browsers cannot set headers on a WebSocket); anything else
 * before that is refused and the socket closed 4401.
 *
 * Bounded: a token bucket per connection (a flood costs no database read: refused before parsing
 * anything but the id), at most 8 calls in flight, and a client that keeps sending while refused is
 * dropped (1008). The account is read again before each call, so a revoked token loses its open
 * sockets at its next call.
 */
import type { WebSocket } from 'ws';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { errorResponse, invalidParams, isNotification, parseMessage, RpcError, RpcErrorCodes, type JsonRpcRequest, type JsonRpcResponse } from '../api/jsonRpc.ts';
import type { TokenBucket } from '../api/tokenBucket.ts';
import type { Logger } from '../logger.ts';
import { hubRoleAtLeast, type HubAccount, type HubAccounts } from './hubAccounts.ts';
import type { HubMethod } from './hubApiMethods.ts';

/** Close codes of the hub's API besides the standard ones. */
export const ApiCloseCodes = {
  /** Not signed in: no session.login in time, a wrong or revoked token, or a call before signing in. */
  UNAUTHORIZED: 4401,
  /** The token was revoked while connected, or the client ignored the rate limit. */
  POLICY: 1008,
} as const;

export const MAX_IN_FLIGHT = 8;
/** Refusals in a row, each sent before the wait the previous one gave, before the client is dropped. */
const MAX_REFUSED_IN_ROW = 50;

export interface HubApiConnectionDeps {
  methods: Record<string, HubMethod>;
  accounts: HubAccounts;
  bucket: TokenBucket;
  logger: Logger;
  loginTimeoutMs: number;
  onClose(connection: HubApiConnection): void;
  /** A wrong token in session.login: counted against the client's address (hubApiEndpoint.ts). */
  onLoginFailed?(): void;
}

export class HubApiConnection {
  private account: HubAccount | undefined;
  private inFlight = 0;
  private closed = false;
  private loginTimer: NodeJS.Timeout | undefined;
  private refusedInRow = 0;
  private retryNotBefore = 0;

  constructor(
    private readonly ws: WebSocket,
    account: HubAccount | undefined,
    private readonly deps: HubApiConnectionDeps,
  ) {
    this.account = account;
    if (account === undefined) this.loginTimer = setTimeout(() => this.close(ApiCloseCodes.UNAUTHORIZED, 'no login'), deps.loginTimeoutMs);
    ws.on('message', (data, isBinary) => void this.receive(isBinary ? null : data.toString('utf8')));
    ws.on('close', () => this.closeNow());
    ws.on('error', () => this.closeNow());
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.closeNow();
  }

  private closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.loginTimer);
    this.deps.onClose(this);
  }

  private async receive(text: string | null): Promise<void> {
    if (this.closed) return;
    if (!this.deps.bucket.take()) {
      const retryAfterMs = this.deps.bucket.retryAfterMs;
      return this.refuseLimited(text, new RpcError(RpcErrorCodes.rateLimited, 'rate limit exceeded: slow down', { code: ErrorCodes.RATE_LIMITED, retryAfterMs }), retryAfterMs);
    }
    if (text === null) return this.send(errorResponse(null, new RpcError(RpcErrorCodes.parseError, 'parse error: binary frames are not JSON-RPC')));
    const parsed = parseMessage(text);
    if (parsed.kind === 'invalid') return this.send(parsed.response);
    if (parsed.kind === 'batch') return this.send(errorResponse(null, new RpcError(RpcErrorCodes.invalidRequest, 'invalid request: the hub takes one request per message, not batches')));
    const request = parsed.request;
    if (this.inFlight >= MAX_IN_FLIGHT) {
      return this.answer(request, new RpcError(RpcErrorCodes.rateLimited, `at most ${MAX_IN_FLIGHT} calls in flight per connection: wait for an answer`, { code: ErrorCodes.RATE_LIMITED, retryAfterMs: 100 }));
    }
    this.inFlight++;
    try {
      const result = await this.run(request);
      if (!isNotification(request)) this.send({ jsonrpc: '2.0', id: request.id ?? null, result: result ?? null });
    } catch (error) {
      if (!(error instanceof RpcError) && !(error instanceof PosternError)) this.deps.logger.error({ err: error, method: request.method }, 'hub api method failed');
      this.answer(request, error);
    } finally {
      this.inFlight--;
    }
  }

  private async run(request: JsonRpcRequest): Promise<unknown> {
    if (request.method === 'session.login') return this.login(request.params);
    if (this.account === undefined) {
      // Answered, then closed: a client that skips the login learns why.
      setImmediate(() => this.close(ApiCloseCodes.UNAUTHORIZED, 'unauthorized'));
      throw unauthenticated('sign in first: session.login {token}, or Authorization: Bearer at the upgrade');
    }
    const definition = Object.hasOwn(this.deps.methods, request.method) ? this.deps.methods[request.method] : undefined;
    if (definition === undefined) throw new RpcError(RpcErrorCodes.methodNotFound, `method not found: ${request.method}`);
    const extra = (definition.cost ?? 1) - 1;
    if (extra > 0 && !this.deps.bucket.take(extra)) {
      throw new RpcError(RpcErrorCodes.rateLimited, `rate limit exceeded: ${request.method} costs ${extra + 1} requests`, { code: ErrorCodes.RATE_LIMITED, retryAfterMs: this.deps.bucket.retryAfterMsFor(extra) });
    }
    // As it stands now: a token revoked since the last call ends the connection.
    const account = await this.deps.accounts.current(this.account.id);
    if (account === undefined) {
      setImmediate(() => this.close(ApiCloseCodes.POLICY, 'credentials revoked'));
      throw unauthenticated('the token was revoked');
    }
    this.account = account;
    if (!hubRoleAtLeast(account.role, definition.role)) {
      throw new RpcError(RpcErrorCodes.forbidden, `forbidden: ${request.method} needs the ${definition.role} role`, { code: ErrorCodes.FORBIDDEN });
    }
    const raw = Array.isArray(request.params) ? (request.params.length === 0 ? {} : request.params[0]) : (request.params ?? {});
    const params = definition.params.safeParse(raw);
    if (!params.success) {
      const issue = params.error.issues[0]!;
      throw invalidParams(issue.path.length === 0 ? 'params' : issue.path.map(String).join('.'), issue.message);
    }
    return definition.handler(params.data as never, { account, actor: `account:${account.name}` });
  }

  private async login(params: unknown): Promise<unknown> {
    if (this.account !== undefined) throw new RpcError(RpcErrorCodes.conflict, `signed in already as ${this.account.name}`, { code: ErrorCodes.CONFLICT });
    const raw = Array.isArray(params) ? params[0] : params;
    const token = typeof raw === 'object' && raw !== null && typeof (raw as { token?: unknown }).token === 'string' ? (raw as { token: string }).token : undefined;
    const account = token === undefined || token.length > 200 ? undefined : await this.deps.accounts.authenticate(token);
    if (account === undefined) {
      this.deps.onLoginFailed?.();
      // One try per socket: a guesser pays a connection (and the upgrade's limits) for each.
      setImmediate(() => this.close(ApiCloseCodes.UNAUTHORIZED, 'unauthorized'));
      throw unauthenticated('unknown or revoked token');
    }
    this.account = account;
    clearTimeout(this.loginTimer);
    this.deps.logger.info({ account: account.name }, 'hub api: signed in');
    return { account: { name: account.name, role: account.role } };
  }

  /** A refusal by the rate limit; a client that sends again before the wait it was given is dropped after a while. */
  private refuseLimited(text: string | null, error: RpcError, retryAfterMs: number): void {
    const now = performance.now();
    this.refusedInRow = now < this.retryNotBefore ? this.refusedInRow + 1 : 0;
    this.retryNotBefore = now + retryAfterMs;
    if (this.refusedInRow > MAX_REFUSED_IN_ROW) {
      this.deps.logger.warn({ account: this.account?.name }, 'hub api client ignores the rate limit: disconnected');
      return this.close(ApiCloseCodes.POLICY, 'rate limit ignored');
    }
    const parsed = text === null ? undefined : parseMessage(text);
    if (parsed?.kind === 'single') return this.answer(parsed.request, error);
    this.send(errorResponse(null, error));
  }

  private answer(request: JsonRpcRequest, error: unknown): void {
    if (!isNotification(request)) this.send(errorResponse(request.id ?? null, error));
  }

  private send(response: JsonRpcResponse): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(response));
  }
}

function unauthenticated(message: string): PosternError {
  return new PosternError(ErrorCodes.UNAUTHENTICATED, message);
}
