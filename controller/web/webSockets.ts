/**
 * socket.io for the operator web UI, on the API's HTTP server under /socket.io/. Only a browser
 * with a live session cookie, from the server's own origin or an allowed one, gets a socket; the
 * rest never connect (connect_error). The protocol is in docs/webui-protocol.md:
 *
 *   server → client  `hello` {user, allowed, site, controllerId, version}   on connect, and again when the role changes
 *   client → server  `rpc` (method, params, ack) → ack({result}) | ack({error: {code, message, data}})
 *   server → client  `event` {subscription, topic, seq, data}               after rpc `subscribe`
 *   server → client  `session-ended` {reason}                               then the server disconnects
 *
 * rpc runs invokeMethod with the API's method table, so roles, parameters and auditing (actor
 * `user:<name>`) are the API's.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { Server, type Socket } from 'socket.io';
import { principalActor, type Principal } from '../accounts/accountTypes.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import type { Logger } from '../logger.ts';
import type { EventHub, LiveEvent, Subscriber } from '../api/eventHub.ts';
import { invokeMethod, requestCost } from '../api/invokeMethod.ts';
import { RpcError, RpcErrorCodes, toErrorObject } from '../api/jsonRpc.ts';
import type { MethodTable } from '../api/methodTypes.ts';
import { TokenBucket } from '../api/tokenBucket.ts';
import { cookieValue, originAllowed, SESSION_COOKIE } from './httpHelpers.ts';
import type { Session, SessionEndReason, SessionStore } from './sessionStore.ts';

export const SOCKET_PATH = '/socket.io';
/** Sockets one session may hold at once (tabs of one browser). */
const MAX_SOCKETS_PER_SESSION = 32;

export interface Hello {
  user: { name: string; role: Principal['role'] };
  allowed: string[];
  /** email: whether the site file configures SMTP, so that the UI offers "Send by email" only then. */
  site: { id: string; name: string; email: boolean };
  controllerId: string;
  version: string;
}

export interface WebSocketsDependencies {
  sessions: SessionStore;
  methods: MethodTable;
  events: EventHub;
  hello(principal: Principal): Hello;
  allowedOrigins: readonly string[];
  /** rpc calls per socket: `rate` a second on average, bursts of `burst`. */
  rateLimit: { rate: number; burst: number };
  maxMessageBytes: number;
  /** A socket whose unsent data passes this is dropped. */
  maxBufferedBytes: number;
  /**
   * Resolves once any account change made before the call has been applied to the sessions (see
   * SessionStore.recheckAll): each rpc waits for it, so that it runs under the account as it is.
   */
  accountsCurrent?: () => Promise<void>;
  logger: Logger;
}

interface SocketData {
  session: Session;
}

type Events = Record<string, (...args: any[]) => void>; // eslint-disable-line @typescript-eslint/no-explicit-any
type WebSocket = Socket<Events, Events, Events, SocketData>;

export class WebSockets {
  private io: Server | undefined;
  private readonly bySession = new Map<string, Set<WebSocket>>();
  private readonly cleanups: Array<() => void> = [];

  constructor(private readonly deps: WebSocketsDependencies) {}

  /** Whether the session has a page connected. */
  hasSockets(session: Session): boolean {
    return (this.bySession.get(session.id)?.size ?? 0) > 0;
  }

  /** Attaches to the HTTP server the API started. */
  attach(server: HttpServer | HttpsServer): void {
    if (this.io) return;
    const { deps } = this;
    const io = new Server(server, {
      path: SOCKET_PATH,
      serveClient: false,
      maxHttpBufferSize: deps.maxMessageBytes,
      // Other upgrades (/api) belong to the API server: engine.io must not close them.
      destroyUpgrade: false,
      ...(deps.allowedOrigins.length > 0 ? { cors: { origin: [...deps.allowedOrigins], credentials: true } } : {}),
      allowRequest: (req, callback) => {
        if (!originAllowed(req, deps.allowedOrigins)) return callback('forbidden: foreign origin', false);
        if (deps.sessions.find(cookieValue(req, SESSION_COOKIE)) === undefined) return callback('unauthorized: sign in first', false);
        callback(null, true);
      },
    });
    io.use((socket, next) => {
      const found = deps.sessions.find(cookieValue(socket.request, SESSION_COOKIE));
      const session = found && deps.sessions.use(found);
      if (session === undefined) return next(Object.assign(new Error('unauthorized: sign in first'), { data: { status: 401 } }));
      if ((this.bySession.get(session.id)?.size ?? 0) >= MAX_SOCKETS_PER_SESSION) {
        return next(Object.assign(new Error('too many sockets for this session'), { data: { status: 429 } }));
      }
      (socket as WebSocket).data.session = session;
      next();
    });
    io.on('connection', (socket) => this.accept(socket as WebSocket));
    this.cleanups.push(
      deps.sessions.onEnd((session, reason) => this.endSession(session, reason)),
      deps.sessions.onChange((session) => {
        for (const socket of this.bySession.get(session.id) ?? []) socket.emit('hello', deps.hello(session.principal));
      }),
    );
    this.io = io;
  }

  /** Closes every socket and stops answering /socket.io/ (the HTTP server is the API's to close). */
  stop(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const io = this.io;
    this.io = undefined;
    if (io === undefined) return;
    io.disconnectSockets(true);
    io.engine.close();
    this.bySession.clear();
  }

  get connectionCount(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  private accept(socket: WebSocket): void {
    const { deps } = this;
    const { session } = socket.data;
    const log = deps.logger.child({ actor: principalActor(session.principal), socket: socket.id });
    let sockets = this.bySession.get(session.id);
    if (sockets === undefined) this.bySession.set(session.id, (sockets = new Set()));
    sockets.add(socket);

    const emit = (name: string, payload: unknown) => socket.emit(name, payload);
    const subscriber: Subscriber = {
      deliver: (text) => {
        const params = (JSON.parse(text) as { params: LiveEvent }).params;
        subscriber.deliverEvent!(params);
      },
      deliverEvent: (event) => {
        if (!socket.connected) return;
        emit('event', event);
        const buffered = bufferedBytes(socket);
        if (buffered > deps.maxBufferedBytes) {
          log.warn({ buffered }, 'web client too slow: dropped');
          socket.disconnect(true);
        }
      },
    };
    const bucket = new TokenBucket(deps.rateLimit.rate, deps.rateLimit.burst);

    socket.on('rpc', async (...args: unknown[]) => {
      const ack = args.at(-1);
      if (typeof ack !== 'function') return; // nobody to answer
      const answer = ack as (reply: unknown) => void;
      const fail = (error: unknown) => answer({ error: toErrorObject(error) });
      const [name, params] = args.length > 2 ? args : [args[0], undefined];
      // As on the API: limits count work, a query the rows it may read.
      if (!bucket.take(typeof name === 'string' ? requestCost(deps.methods, name, params) : 1)) {
        return fail(new RpcError(RpcErrorCodes.rateLimited, 'rate limit exceeded: slow down', { code: ErrorCodes.RATE_LIMITED, retryAfterMs: bucket.retryAfterMs }));
      }
      if (typeof name !== 'string' || name === '') return fail(new RpcError(RpcErrorCodes.invalidRequest, 'invalid request: method must be a non-empty string'));
      await deps.accountsCurrent?.();
      if (deps.sessions.use(session) === undefined) {
        fail(new RpcError(RpcErrorCodes.forbidden, 'the session has ended: sign in again', { code: ErrorCodes.FORBIDDEN }));
        return void socket.disconnect(true);
      }
      const { principal } = session;
      try {
        const result = await invokeMethod(deps.methods, name, params ?? {}, { principal, actor: principalActor(principal), subscriber });
        answer({ result: result ?? null });
      } catch (error) {
        if (!(error instanceof RpcError)) log.debug({ err: error, method: name }, 'method failed');
        fail(error);
      }
    });

    socket.on('disconnect', (reason) => {
      deps.events.unsubscribeAll(subscriber);
      sockets.delete(socket);
      if (sockets.size === 0 && this.bySession.get(session.id) === sockets) this.bySession.delete(session.id);
      log.debug({ reason }, 'web client disconnected');
    });

    log.debug('web client connected');
    emit('hello', deps.hello(session.principal));
  }

  private endSession(session: Session, reason: SessionEndReason): void {
    const sockets = this.bySession.get(session.id) ?? new Set<WebSocket>();
    this.bySession.delete(session.id);
    for (const socket of sockets) {
      socket.emit('session-ended', { reason });
      socket.disconnect(true);
    }
    this.deps.logger.info({ name: session.principal.name, reason, sockets: sockets.size }, sockets.size > 0 ? 'web session ended: sockets closed' : 'web session ended');
  }
}

/**
 * What the socket has not sent yet: engine.io's queue, and with the WebSocket transport the
 * bytes `ws` holds. Neither is public API, so a missing field counts as nothing.
 */
function bufferedBytes(socket: WebSocket): number {
  const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { socket?: { bufferedAmount?: number } } };
  const queued = (conn.writeBuffer?.length ?? 0) * 1024;
  return queued + (conn.transport?.socket?.bufferedAmount ?? 0);
}
