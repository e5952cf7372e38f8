/**
 * The controller's HTTP server: the integrator API as a WebSocket on /api (JSON-RPC 2.0), health
 * and readiness for process supervisors, and Prometheus metrics. Authentication and the origin
 * check happen at the upgrade, so an unauthenticated client never gets a socket.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccountChangeFeed } from '../accounts/accountChanges.ts';
import { roleAtLeast, type Principal } from '../accounts/accountTypes.ts';
import type { ApiConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Logger } from '../logger.ts';
import { readTlsFiles } from '../tls/tlsFiles.ts';
import type { EventHub } from './eventHub.ts';
import type { MethodTable } from './methodTypes.ts';
import { RpcConnection } from './rpcConnection.ts';
import { LimitPenalties } from './limitPenalties.ts';
import { TokenBucket } from './tokenBucket.ts';

/** An HTTP route another part of the controller serves on this server (the web UI, the badge). */
/** The WebSocket subprotocol a browser names beside its `bearer.<token>` entry. */
export const API_SUBPROTOCOL = 'postern.v1';

export interface HttpRoute {
  /** Exact path, or a prefix when `prefix` is set ('/assets/'). */
  path: string;
  prefix?: boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
}

export interface ApiServerDependencies {
  routes?: readonly HttpRoute[];
  /** Upgrade paths left to another listener on the server, e.g. '/socket.io/'. */
  foreignUpgradePrefixes?: readonly string[];
  config: ApiConfig;
  methods: MethodTable;
  events: EventHub;
  authenticate(token: string): Promise<Principal | undefined>;
  /** The principal as it stands now: undefined once its token is revoked or its user disabled. */
  reauthenticate(principal: Principal): Promise<Principal | undefined>;
  /**
   * Account changes of every process on the store: each one checks every open connection again
   * at once, and every request first makes sure no change is pending. Without it, only the
   * heartbeat checks.
   */
  accountChanges?: AccountChangeFeed;
  /** Prometheus text exposition. */
  metrics(): Promise<string>;
  /** Whether the controller is ready to decide (store open, actors running). */
  ready(): boolean;
  /** A network scanner's device connected: returns the function to call when it leaves. */
  attachScanner(principal: Principal): (() => void) | undefined;
  logger: Logger;
}

export class ApiServer {
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly penalties = new LimitPenalties();
  private readonly connections = new Set<RpcConnection>();
  private readonly principalBuckets = new Map<string, TokenBucket>();
  private unsubscribeChanges: (() => void) | undefined;
  private revalidations = 0;
  /** The latest check begun for each connection. */
  private readonly lastRevalidation = new WeakMap<RpcConnection, number>();

  constructor(private readonly deps: ApiServerDependencies) {}

  async start(): Promise<void> {
    const { config } = this.deps;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.http(req, res);
    const server = config.tls ? createHttpsServer(readTlsFiles(config.tls, { cert: 'api.tls', key: 'api.tls' }), handler) : createHttpServer(handler);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxMessageBytes,
      clientTracking: false,
      // Never the bearer.<token> entry: only the protocol name goes back.
      handleProtocols: (protocols) => (protocols.has(API_SUBPROTOCOL) ? API_SUBPROTOCOL : false),
    });
    server.on('upgrade', (req, socket, head) => void this.upgrade(req, socket, head));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        // listen() throws at once for a port out of range, and emits 'error' for the rest.
        server.listen(config.port, config.host, () => resolve());
      });
    } catch (error) {
      this.wss.close();
      this.wss = undefined;
      if (server.listening) server.close();
      throw listenError(error as NodeJS.ErrnoException, config);
    }
    server.on('error', (error) => this.deps.logger.error({ err: error }, 'http server error'));
    this.server = server;
    this.unsubscribeChanges = this.deps.accountChanges?.onChange(() => this.revalidateAll());
    this.heartbeat = setInterval(() => {
      for (const connection of this.connections) if (connection.ping()) void this.revalidate(connection);
      // A token's bucket outlives its connections until it has refilled, so reconnecting does not
      // reset a rate limit.
      const connected = new Set([...this.connections].map((c) => `${c.principal.kind}:${c.principal.id}`));
      for (const [key, bucket] of this.principalBuckets) if (!connected.has(key) && bucket.full) this.principalBuckets.delete(key);
    }, config.heartbeatSeconds * 1000);
    this.deps.logger.info({ url: this.url }, 'api listening');
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.unsubscribeChanges?.();
    this.unsubscribeChanges = undefined;
    for (const connection of [...this.connections]) connection.close(1001, 'controller stopping');
    this.wss?.close();
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  get url(): string {
    return `${this.deps.config.tls ? 'https' : 'http'}://${this.deps.config.host}:${this.port}`;
  }

  /** The underlying HTTP server while started: socket.io attaches to it. */
  get httpServer(): Server | undefined {
    return this.server;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private async http(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    // Routes of other parts (the web UI, the badge page) come first; the API's own are fixed.
    for (const route of this.deps.routes ?? []) {
      if (route.prefix ? path.startsWith(route.path) : path === route.path) {
        try {
          return await route.handle(req, res);
        } catch (error) {
          this.deps.logger.error({ err: error, path }, 'route failed');
          if (!res.headersSent) return reply(500, 'internal error\n');
          return void res.end();
        }
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return reply(200, 'ok\n');
      case '/readyz':
        return this.deps.ready() ? reply(200, 'ready\n') : reply(503, 'not ready\n');
      case '/metrics': {
        if (!this.deps.config.publicMetrics) {
          const principal = await this.principalOf(req).catch(() => null);
          if (principal === null) return reply(503, 'store unavailable: cannot check the token\n');
          if (principal === undefined) return reply(401, 'unauthorized: send Authorization: Bearer <token>\n');
          if (principal.role === 'scanner' || !roleAtLeast(principal.role, 'viewer')) return reply(403, 'forbidden\n');
        }
        return reply(200, await this.deps.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
      }
      case '/api':
        return reply(426, 'upgrade required: /api is a WebSocket\n');
      default:
        return reply(404, 'not found\n');
    }
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
    };
    const path = (req.url ?? '').split('?')[0]!;
    // Another part (socket.io for the web UI) answers its own upgrades on this server.
    if (this.deps.foreignUpgradePrefixes?.some((prefix) => path.startsWith(prefix))) return;
    socket.on('error', () => socket.destroy());
    if (path !== '/api') return refuse(404, 'Not Found');
    // Tokens travel in the Authorization header only: a URL ends up in logs and browser history.
    if (/[?&](token|access_token)=/i.test(req.url ?? '')) return refuse(400, 'Bad Request');
    if (!this.originAllowed(req)) return refuse(403, 'Forbidden');
    // A client kept out for ignoring the rate limit is refused before its token costs a store read.
    const token = bearerToken(req);
    const fingerprint = token === undefined ? undefined : LimitPenalties.fingerprint(token);
    if (fingerprint !== undefined && this.penalties.waitFor(fingerprint) > 0) return refuse(429, 'Too Many Requests');
    const generation = this.deps.accountChanges?.generation;
    const principal = await this.principalOf(req).catch(() => null);
    if (principal === null) return refuse(503, 'Service Unavailable');
    if (principal === undefined) return refuse(401, 'Unauthorized');
    this.wss!.handleUpgrade(req, socket, head, (ws) => {
      const connection = this.accept(ws, principal, fingerprint, socket);
      // A change noticed while the token was being checked found no connection to close yet.
      if (this.deps.accountChanges !== undefined && this.deps.accountChanges.generation !== generation) void this.revalidate(connection);
    });
  }

  private accept(ws: WebSocket, principal: Principal, fingerprint: string | undefined, transport: Duplex): RpcConnection {
    const { config, logger } = this.deps;
    const key = `${principal.kind}:${principal.id}`;
    let principalBucket = this.principalBuckets.get(key);
    if (principalBucket === undefined) {
      principalBucket = new TokenBucket(config.rateLimit.perToken.rate, config.rateLimit.perToken.burst);
      this.principalBuckets.set(key, principalBucket);
    }
    const detachScanner = this.deps.attachScanner(principal);
    const log = logger.child({ actor: `${principal.kind}:${principal.name}` });
    const connection = new RpcConnection(
      ws,
      principal,
      this.deps.methods,
      new TokenBucket(config.rateLimit.perConnection.rate, config.rateLimit.perConnection.burst),
      principalBucket,
      { maxBufferedBytes: config.maxBufferedBytes, maxBatch: config.maxBatch },
      log,
      (closed) => {
        this.connections.delete(closed);
        this.deps.events.unsubscribeAll(closed);
        detachScanner?.();
      },
      this.deps.accountChanges ? () => this.deps.accountChanges!.check() : undefined,
      () => fingerprint !== undefined && this.penalties.strike(fingerprint),
      transport,
    );
    this.connections.add(connection);
    log.debug('api client connected');
    return connection;
  }

  private originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    // Clients that are not browsers send no Origin; browsers always do, and must be allowed.
    if (origin === undefined) return true;
    if (this.deps.config.allowedOrigins.includes(origin)) return true;
    const host = req.headers.host;
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  }

  /** undefined: no valid token; rejects when the token cannot be checked (store down). */
  private async principalOf(req: IncomingMessage): Promise<Principal | undefined> {
    const token = bearerToken(req);
    return token === undefined ? undefined : this.deps.authenticate(token);
  }

  /**
   * Every open connection checked against the store now, one read per principal. Called for each
   * account change noticed (one call at a time), so a revoked token loses its sockets at once.
   */
  private async revalidateAll(): Promise<void> {
    const byPrincipal = new Map<string, RpcConnection[]>();
    for (const connection of this.connections) {
      const key = `${connection.principal.kind}:${connection.principal.id}`;
      byPrincipal.set(key, [...(byPrincipal.get(key) ?? []), connection]);
    }
    await Promise.all([...byPrincipal.values()].map((connections) => this.revalidate(...connections)));
  }

  /**
   * A token revoked (or a user disabled) after its socket opened loses the socket: 1008. A role
   * changed between the ordered roles applies in place, to the next request (a subscription needs
   * no more than viewer, so nothing held stays above the new role); one that enters or leaves
   * `scanner`, or another scanner, closes the socket (1008 `credentials changed`), since the
   * connection was set up for what it was. A store that cannot answer keeps the connection: it
   * was valid when last checked.
   */
  private async revalidate(...connections: RpcConnection[]): Promise<void> {
    const run = ++this.revalidations;
    for (const connection of connections) this.lastRevalidation.set(connection, run);
    let now: Principal | undefined;
    try {
      now = await this.deps.reauthenticate(connections[0]!.principal);
    } catch {
      return;
    }
    for (const connection of connections) {
      // A check begun later read newer data (a heartbeat's read must not undo a change's).
      if (this.lastRevalidation.get(connection) !== run) continue;
      const held = connection.principal;
      if (now === undefined) {
        connection.close(1008, 'credentials revoked');
      } else if (now.role !== held.role || now.scanner !== held.scanner) {
        if (now.role === 'scanner' || held.role === 'scanner') connection.close(1008, 'credentials changed');
        else connection.principal = now;
      }
    }
  }
}

/**
 * The token from `Authorization: Bearer <token>`, or, for browsers, which cannot set that header on
 * a WebSocket, from the subprotocol list `postern.v1, bearer.<token>` (a header too, so the token
 * stays out of URLs and logs).
 */
function bearerToken(req: IncomingMessage): string | undefined {
  if (req.headers.authorization !== undefined) return headerBearerToken(req);
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  if (!protocols.includes(API_SUBPROTOCOL)) return undefined;
  for (const protocol of protocols) {
    const match = /^bearer\.([A-Za-z0-9_-]{1,200})$/.exec(protocol);
    if (match !== null) return match[1];
  }
  return undefined;
}

/** The token of an `Authorization: Bearer <token>` header: how plain HTTP requests (/metrics, /audit/export) bring it. */
export function headerBearerToken(req: IncomingMessage): string | undefined {
  return /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(req.headers.authorization ?? '')?.[1];
}

/** Why the server could not listen, as CONFIG_INVALID naming the setting to change. */
function listenError(error: NodeJS.ErrnoException, config: ApiConfig): PosternError {
  const where = `api: cannot listen on ${config.host}:${config.port}`;
  const why: Record<string, string> = {
    ERR_SOCKET_BAD_PORT: 'api.port (or POSTERN_API_PORT) must be a whole number from 0 to 65535',
    EADDRINUSE: 'another process listens there (another controller?): set api.port (or POSTERN_API_PORT) to a free port',
    EACCES: 'ports below 1024 need privileges: set api.port (or POSTERN_API_PORT) to 1024 or above',
    EADDRNOTAVAIL: 'api.host is no address of this machine',
    ENOTFOUND: 'api.host is no known host name',
    EAI_AGAIN: 'api.host could not be resolved',
  };
  const code = error.code ?? '';
  const detail = why[code] ? `${code}: ${why[code]}` : error.code ?? error.message;
  return new PosternError(ErrorCodes.CONFIG_INVALID, `${where}: ${detail}`, { cause: error });
}
