/**
 * `GET /api` of the hub (docs/hub-api.md): the upgrade to the API's WebSocket. Checked before any
 * socket is given:
 * - the Origin, when a browser sends one: it must be the hub's own (the Host header with the hub's
 *   scheme, or the X-Forwarded-Proto's of a TLS proxy in front of it), else 403, so a page of
 *   another site cannot use a signed-in browser's connection;
 * - `Authorization: Bearer <token>` when given: a wrong or revoked token is 401; without it the
 *   socket opens and must sign in with `session.login` within 10 s (hubApiConnection.ts);
 * - the token in a URL is refused (400): URLs end up in logs;
 * - an address that failed to sign in too often (a wrong token at the upgrade or in session.login)
 *   is refused 429 for a while, before any token of it is looked up.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import { WebSocketServer } from 'ws';

import { TokenBucket } from '../api/tokenBucket.ts';
import type { Logger } from '../logger.ts';
import type { HubAccount, HubAccounts } from './hubAccounts.ts';
import { HubApiConnection } from './hubApiConnection.ts';
import type { HubMethod } from './hubApiMethods.ts';

/** Largest message a client may send: every request is small (site.call's params included). */
export const MAX_API_MESSAGE_BYTES = 256 * 1024;

export interface HubApiLimits {
  /** Requests per second per connection, on average (default 20). */
  rate: number;
  /** Requests at once (default 40). */
  burst: number;
  loginTimeoutMs: number;
  /** Failed sign-ins per client address: `rate` a second on average, `burst` at once (default 1 a second, 20 at once). */
  failedLogins: { rate: number; burst: number };
}

export const DEFAULT_API_LIMITS: HubApiLimits = { rate: 20, burst: 40, loginTimeoutMs: 10_000, failedLogins: { rate: 1, burst: 20 } };

/** Past this many addresses, buckets that have refilled are forgotten (they would allow the same). */
const TRACKED_ADDRESSES = 10_000;

export interface HubApiEndpointDeps {
  methods: Record<string, HubMethod>;
  accounts: HubAccounts;
  /** Whether the hub itself serves TLS: the scheme a browser's Origin must have. */
  tls: boolean;
  limits: HubApiLimits;
  logger: Logger;
}

export type Refuse = (socket: Duplex, status: number, code: string, message: string) => void;

export class HubApiEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_API_MESSAGE_BYTES, clientTracking: false });
  private readonly connections = new Set<HubApiConnection>();
  /** Failed sign-ins by client address. */
  private readonly failures = new Map<string, TokenBucket>();

  constructor(private readonly deps: HubApiEndpointDeps) {}

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, refuse: Refuse): Promise<void> {
    if (/[?&](token|access_token)=/i.test(req.url ?? '')) return refuse(socket, 400, 'hub.bad-request', 'send the token in the Authorization header or with session.login, never in the URL');
    const address = req.socket.remoteAddress ?? '';
    if (this.throttled(address)) return refuse(socket, 429, 'hub.throttled', 'too many failed sign-ins from this address: try again later');
    if (!this.originAllowed(req)) {
      this.deps.logger.warn({ origin: req.headers.origin, address: req.socket.remoteAddress }, 'hub api refused: another origin');
      return refuse(socket, 403, 'hub.forbidden', "a page of another origin may not use the hub's API");
    }
    let account: HubAccount | undefined;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = /^Bearer (\S{1,200})$/.exec(header)?.[1];
      account = token === undefined ? undefined : await this.deps.accounts.authenticate(token);
      if (account === undefined) {
        this.failed(address);
        this.deps.logger.warn({ address: req.socket.remoteAddress }, 'hub api refused: no valid token');
        return refuse(socket, 401, 'hub.unauthorized', 'unknown or revoked token');
      }
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const { limits } = this.deps;
      const connection = new HubApiConnection(ws, account, {
        methods: this.deps.methods,
        accounts: this.deps.accounts,
        bucket: new TokenBucket(limits.rate, limits.burst),
        logger: this.deps.logger,
        loginTimeoutMs: limits.loginTimeoutMs,
        onLoginFailed: () => this.failed(address),
        onClose: (closed) => this.connections.delete(closed),
      });
      this.connections.add(connection);
    });
  }

  closeAll(): void {
    for (const connection of [...this.connections]) connection.close(1001, 'hub stopping');
    this.wss.close();
  }

  /** Whether the address has no failed sign-in left (take(0) brings its bucket up to date first). */
  private throttled(address: string): boolean {
    const bucket = this.failures.get(address);
    return bucket !== undefined && bucket.take(0) && bucket.retryAfterMs > 0;
  }

  /** A failed sign-in of this address: its bucket empties, and the address is refused until it refills. */
  private failed(address: string): void {
    let bucket = this.failures.get(address);
    if (bucket === undefined) {
      if (this.failures.size >= TRACKED_ADDRESSES) for (const [key, old] of this.failures) if (old.full) this.failures.delete(key);
      bucket = new TokenBucket(this.deps.limits.failedLogins.rate, this.deps.limits.failedLogins.burst);
      this.failures.set(address, bucket);
    }
    bucket.take();
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    // Programs send no Origin; browsers always do.
    if (origin === undefined) return true;
    const host = req.headers.host;
    if (host === undefined) return false;
    const forwarded = req.headers['x-forwarded-proto'];
    const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    const scheme = proto === 'https' || proto === 'http' ? proto : this.deps.tls ? 'https' : 'http';
    return origin === `${scheme}://${host}`;
  }
}
