/**
 * The hub process (docs/sync.md): HTTP and WebSocket on one port, `POST /enrol` and `GET /sync`,
 * over one PostgreSQL database, with the change feed. Stateless: any number of hubs may serve one
 * database. `postern hub serve` and the tests run this class.
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

import { randomBytes } from 'node:crypto';

import { pino } from 'pino';
import { WebSocketServer } from 'ws';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Logger } from '../logger.ts';
import { readTlsFiles, type TlsFiles } from '../tls/tlsFiles.ts';
import { settleWithin } from '../settleWithin.ts';
import { AuditStore } from './auditStore.ts';
import { CallRelay } from './callRelay.ts';
import { ChangeFeed, type FeedListener } from './changeFeed.ts';
import { ChangeStore } from './changeStore.ts';
import { EnrolEndpoint, sendError, type Throttle } from './enrolEndpoint.ts';
import { handleHealth } from './healthEndpoint.ts';
import { openHubDatabase, type HubDb } from './hubDatabase.ts';
import { sha256Hex } from './hubSecrets.ts';
import { HubStore } from './hubStore.ts';
import { hubWebUi } from './hubWebUi.ts';
import { LinkRegistry } from './linkRegistry.ts';
import { SyncSession, type SessionDeps } from './syncSession.ts';
import { HubAccounts } from './hubAccounts.ts';
import { HubActions } from './hubActions.ts';
import { HubAdmin } from './hubAdmin.ts';
import { DEFAULT_API_LIMITS, HubApiEndpoint, type HubApiLimits } from './hubApiEndpoint.ts';
import { hubApiMethods } from './hubApiMethods.ts';
import { LinkPresence } from './linkPresence.ts';
import { SITE_CALL_TIMEOUT_MS, SiteCalls } from './siteCalls.ts';
import { MAX_FRAME_BYTES } from '../sync/syncFrames.ts';

/** How often a hub prunes the change log. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export interface HubOptions {
  databaseUrl: string;
  /** Default 8450; 0 for any free port (see address()). */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /**
   * Serve HTTPS and WSS with this certificate and key (PEM files, e.g. from `postern tls create`);
   * controllers then trust it through the system CAs or their `hub.caFile`. Without it the hub
   * speaks plain HTTP, for a TLS proxy in front of it or a private network.
   */
  tls?: TlsFiles;
  logger?: Logger;
  clock?: () => number;
  /** Enrolment attempts per client address (default 1 a second, 10 at once). */
  enrolThrottle?: Throttle;
  /** A link that sends no hello within this is closed (default 10 s). */
  helloTimeoutMs?: number;
  /** A link silent this long is closed (default 60 s; controllers ping every 5 s). */
  idleTimeoutMs?: number;
  /** How often the change feed's listening connection is probed (changeFeed.ts; default 10 s). */
  feedProbeMs?: number;
  /** The API's per-connection limits, login timeout and failed sign-ins per address (hubApiEndpoint.ts; default 20/s, bursts of 40, 10 s, 20 then 1/s). */
  apiLimits?: Partial<HubApiLimits>;
  /** How long site.call waits for the controller's answer (default 10 s). */
  siteCallTimeoutMs?: number;
}

export class Hub {
  private readonly logger: Logger;
  private readonly links = new LinkRegistry();
  private db: HubDb | undefined;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private feed: ChangeFeed | undefined;
  private stopping = false;
  private pruneTimer: NodeJS.Timeout | undefined;
  private api: HubApiEndpoint | undefined;
  private siteCalls: SiteCalls | undefined;
  private relay: CallRelay | undefined;
  private presence: LinkPresence | undefined;
  /** Names this process in the database's record of which hub holds which link (linkPresence.ts). */
  readonly hubId = `hub-${randomBytes(4).toString('hex')}`;

  constructor(private readonly options: HubOptions) {
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'hub' });
  }

  /** Opens the database (migrating it), listens for changes, then serves; on any failure leaves nothing open. */
  async start(): Promise<void> {
    this.stopping = false;
    try {
      await this.open();
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  private async open(): Promise<void> {
    // Read before anything opens: a missing key stops the start rather than serving in the clear.
    const tls = this.options.tls === undefined ? undefined : readTlsFiles(this.options.tls, { cert: '--tls-cert', key: '--tls-key' });
    const clock = this.options.clock ?? Date.now;
    const db = await openHubDatabase(this.options.databaseUrl, this.logger);
    this.db = db;
    const store = new HubStore(db, clock);
    // The links hear of changes and closes; the call relay of site.calls handed between hubs.
    const listener: FeedListener = {
      onChange: (siteId, cursor) => this.links.onChange(siteId, cursor),
      onClose: (controllerId) => this.links.onClose(controllerId),
      onLink: (controllerId, nonce) => this.links.onLink(controllerId, nonce),
      onCall: (hub, id) => this.relay?.onCall(hub, id),
      onAnswer: (hub, id) => this.relay?.onAnswer(hub, id),
      onReconnect: () => {
        this.links.onReconnect();
        this.relay?.recheck().catch((error: unknown) => this.logger.warn({ err: error }, 'could not look for site calls after the change feed reconnected'));
      },
    };
    const feed = new ChangeFeed({ databaseUrl: this.options.databaseUrl, listener, logger: this.logger.child({ component: 'hub.feed' }), probeMs: this.options.feedProbeMs });
    this.feed = feed;
    try {
      await feed.start();
    } catch (error) {
      throw new PosternError(ErrorCodes.STORE_UNAVAILABLE, `the hub could not listen for changes on its database: ${(error as Error).message}`, { cause: error });
    }
    const changes = new ChangeStore(db, clock);
    // Changes older than 30 days go (docs/sync.md); every hub does it, which is harmless.
    const prune = () =>
      Promise.all([changes.prune(), this.relay?.prune()]).catch((error: unknown) => this.logger.warn({ err: error }, 'could not prune old changes'));
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS).unref();
    void prune();
    const presence = new LinkPresence(db, this.hubId, clock);
    this.presence = presence;
    const siteCallTimeoutMs = this.options.siteCallTimeoutMs ?? SITE_CALL_TIMEOUT_MS;
    const siteCalls = new SiteCalls({
      links: () => this.links.all(),
      presence,
      timeoutMs: siteCallTimeoutMs,
      forward: (hub, siteId, method, params, account) => this.relay!.forward(hub, siteId, method, params, account),
    });
    this.siteCalls = siteCalls;
    this.relay = new CallRelay({
      db,
      hubId: this.hubId,
      runHere: (siteId, method, params, account) => siteCalls.callHere(siteId, method, params, account),
      timeoutMs: siteCallTimeoutMs,
      logger: this.logger.child({ component: 'hub.calls' }),
      clock,
    });
    const accounts = new HubAccounts(db, clock);
    const methods = hubApiMethods({ admin: new HubAdmin(db, clock), accounts, actions: new HubActions(db, clock), presence, siteCalls, clock });
    this.api = new HubApiEndpoint({ methods, accounts, tls: tls !== undefined, limits: { ...DEFAULT_API_LIMITS, ...this.options.apiLimits }, logger: this.logger.child({ component: 'hub.api' }) });
    const deps: SessionDeps = {
      store,
      changes,
      audit: new AuditStore(db, clock),
      logger: this.logger.child({ component: 'hub.link' }),
      clock,
      helloTimeoutMs: this.options.helloTimeoutMs ?? 10_000,
      idleTimeoutMs: this.options.idleTimeoutMs ?? 60_000,
      onClosed: (session) => {
        this.links.remove(session);
        siteCalls.closed(session);
        presence.closed(session.controller.id, session.nonce).catch((error: unknown) => this.logger.warn({ err: error }, 'could not record a closed sync link'));
      },
      onResult: (session, frame) => siteCalls.result(session, frame),
      onClock: (session, time) => void presence.clockSeen(session.controller.id, session.nonce, time).catch((error: unknown) => this.logger.warn({ err: error }, "could not record a controller's clock offset")),
    };
    const enrol = new EnrolEndpoint(store, this.options.enrolThrottle ?? { rate: 1, burst: 10 }, this.logger.child({ component: 'hub.enrol' }));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    // The operator web UI (hubWebUi.ts): the hub's page at `/` and the assets it loads.
    const webUi = hubWebUi({ logger: this.logger.child({ component: 'hub.webui' }) });
    const handler: RequestListener = (req, res) => {
      const path = new URL(req.url ?? '/', 'http://hub').pathname;
      if (webUi(req, res, path)) return;
      if (path === '/health') {
        handleHealth(req, res, db, () => feed.listening).catch(() => res.destroy());
        return;
      }
      if (path === '/api') return sendError(res, 426, 'hub.upgrade-required', "/api is the hub's API as a WebSocket (docs/hub-api.md)");
      if (path !== '/enrol') return sendError(res, 404, 'hub.not-found', 'no such endpoint: POST /enrol, GET /sync (WebSocket), GET /health');
      enrol.handle(req, res).catch((error: unknown) => {
        this.logger.error({ err: error }, 'enrolment failed');
        if (!res.headersSent) sendError(res, 503, 'hub.unavailable', 'the hub could not enrol now: try again later');
        else res.destroy();
      });
    };
    const server = tls === undefined ? createHttpServer(handler) : createHttpsServer(tls, handler);
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      const api = new URL(req.url ?? '/', 'http://hub').pathname === '/api';
      const upgrading = api && !this.stopping && this.api !== undefined ? this.api.upgrade(req, socket, head, refuse) : this.upgrade(req, socket, head, store, deps);
      upgrading.catch((error: unknown) => {
        this.logger.error({ err: error }, api ? 'api upgrade failed' : 'sync upgrade failed');
        refuse(socket, 503, 'hub.unavailable', api ? 'the hub could not check the token now' : 'the hub could not check the credential now');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 8450, this.options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { host, port } = this.address();
    this.logger.info({ host, port, tls: tls !== undefined }, 'hub listening');
  }

  address(): { host: string; port: number } {
    const info = this.server?.address() as AddressInfo | null | undefined;
    if (info === null || info === undefined) throw new Error('the hub is not listening');
    return { host: info.address, port: info.port };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.pruneTimer);
    this.pruneTimer = undefined;
    this.api?.closeAll();
    this.api = undefined;
    this.siteCalls?.closeAll();
    this.relay?.closeAll();
    for (const session of this.links.all()) session.close(1001, 'hub stopping');
    const wss = this.wss;
    if (wss !== undefined) {
      // A controller that does not answer the close frame within a second is cut off.
      await closeWithin(wss, 1000);
      wss.close();
    }
    const server = this.server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.feed?.stop();
    // Before the pool goes: every hub's overview shows this hub's controllers offline at once.
    await this.presence?.clearHub().catch((error: unknown) => this.logger.warn({ err: error }, 'could not record the sync links as closed'));
    this.presence = undefined;
    await this.db?.destroy();
    this.server = undefined;
    this.wss = undefined;
    this.feed = undefined;
    this.db = undefined;
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, store: HubStore, deps: SessionDeps): Promise<void> {
    if (new URL(req.url ?? '/', 'http://hub').pathname !== '/sync') return refuse(socket, 404, 'hub.not-found', 'the sync link is GET /sync');
    const credential = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const controller = credential === undefined ? undefined : await store.authenticate(credential);
    if (controller === undefined || credential === undefined) {
      this.logger.warn({ address: req.socket.remoteAddress }, 'sync link refused: no valid credential');
      return refuse(socket, 401, 'hub.unauthorized', 'unknown, replaced or revoked credential');
    }
    if (this.stopping || this.wss === undefined) return refuse(socket, 503, 'hub.unavailable', 'the hub is stopping');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new SyncSession(ws, controller, sha256Hex(credential), deps);
      this.links.add(session);
      // A revocation or rotation committed after the credential was checked and before the link
      // was registered sent its `!close` to no one: check once more, now that the next one reaches it.
      session.recheck();
      // Every hub's sites.overview reads it; a link that closed meanwhile is cleared again.
      const presence = this.presence;
      presence
        ?.opened(controller.id, session.nonce)
        .then(() => (session.isOpen ? undefined : presence.closed(controller.id, session.nonce)))
        .catch((error: unknown) => this.logger.warn({ err: error }, 'could not record the sync link as open'));
    });
  }
}

/** An HTTP answer on a socket that asked for an upgrade, and the socket closed. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Waits until every socket of the server has closed, terminating those still open after `ms`. */
async function closeWithin(wss: WebSocketServer, ms: number): Promise<void> {
  const open = [...wss.clients];
  if (open.length === 0) return;
  await settleWithin(Promise.all(open.map((ws) => new Promise<void>((resolve) => (ws.readyState === ws.CLOSED ? resolve() : ws.once('close', () => resolve()))))), ms, undefined);
  for (const ws of wss.clients) ws.terminate();
}
