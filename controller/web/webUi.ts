/**
 * The server side of the operator web UI, on the API's HTTP server: sign-in sessions (/auth/*),
 * socket.io (/socket.io/) and the built pages (webui/dist/). The controller builds it before the
 * API server (whose routes it gives), attaches it once that server listens, and stops it first.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import path from 'node:path';
import type { AccountChangeFeed } from '../accounts/accountChanges.ts';
import type { Principal, Role } from '../accounts/accountTypes.ts';
import type { AuditEntry } from '../audit/auditTrail.ts';
import type { ApiConfig, WebConfig } from '../config/configSchema.ts';
import type { Logger } from '../logger.ts';
import type { HttpRoute } from '../api/apiServer.ts';
import type { EventHub } from '../api/eventHub.ts';
import { allowedMethods } from '../api/invokeMethod.ts';
import type { MethodTable } from '../api/methodTypes.ts';
import { projectRoot } from '../projectRoot.ts';
import { authRoutes } from './authRoutes.ts';
import { LoginThrottle } from './loginThrottle.ts';
import { SessionStore } from './sessionStore.ts';
import { staticFileRoutes } from './staticFiles.ts';
import { SOCKET_PATH, WebSockets, type Hello } from './webSockets.ts';

export interface WebUiDependencies {
  web: WebConfig;
  api: ApiConfig;
  site: { id: string; name: string };
  /** Whether SMTP is configured (the site file's email section): the hello tells the UI. */
  emailConfigured?: boolean;
  controllerId: string;
  version: string;
  methods: MethodTable;
  events: EventHub;
  verifyPassword(name: string, password: string): Promise<Principal | undefined>;
  reauthenticate(principal: Principal): Promise<Principal | undefined>;
  /** Account changes of every process on the store: sessions are checked again at each one. */
  accountChanges?: AccountChangeFeed;
  audit: { append(entry: AuditEntry): Promise<unknown> };
  logger: Logger;
  /** The built pages; default webui/dist/ of the project. */
  distDir?: string;
  clock?: () => number;
}

export class WebUi {
  /** Upgrade paths the API server must leave to socket.io. */
  static readonly upgradePrefixes: readonly string[] = [`${SOCKET_PATH}/`];

  readonly sessions: SessionStore;
  private readonly sockets: WebSockets;
  private readonly throttle: LoginThrottle;
  private unsubscribeChanges: (() => void) | undefined;

  constructor(private readonly deps: WebUiDependencies) {
    const { web } = deps;
    this.sessions = new SessionStore({
      idleMs: web.sessionIdleMinutes * 60_000,
      maxMs: web.sessionMaxHours * 3_600_000,
      reauthenticate: deps.reauthenticate,
      clock: deps.clock,
      onError: (error) => deps.logger.warn({ err: error }, 'cannot check a session: kept for now'),
      watched: (session) => this.sockets.hasSockets(session),
    });
    this.throttle = new LoginThrottle({ maxFailures: web.loginFailures, windowMs: web.loginWindowMinutes * 60_000, clock: deps.clock });
    this.sockets = new WebSockets({
      sessions: this.sessions,
      methods: deps.methods,
      events: deps.events,
      hello: (principal) => this.hello(principal),
      allowedOrigins: deps.api.allowedOrigins,
      rateLimit: deps.api.rateLimit.perConnection,
      maxMessageBytes: deps.api.maxMessageBytes,
      maxBufferedBytes: deps.api.maxBufferedBytes,
      accountsCurrent: deps.accountChanges ? () => deps.accountChanges!.check() : undefined,
      logger: deps.logger,
    });
  }

  /** For the API server: /auth/* and the pages. */
  routes(): HttpRoute[] {
    const { deps } = this;
    return [
      ...authRoutes({
        sessions: this.sessions,
        throttle: this.throttle,
        verifyPassword: deps.verifyPassword,
        allowedMethods: (role) => this.allowed(role),
        audit: deps.audit,
        allowedOrigins: deps.api.allowedOrigins,
        secure: deps.api.tls !== undefined,
        logger: deps.logger,
      }),
      ...staticFileRoutes({ distDir: deps.distDir ?? path.join(projectRoot(), 'webui', 'dist'), logger: deps.logger }),
    ];
  }

  /** Once the API server listens: socket.io on its HTTP server, and the session timer. */
  start(server: HttpServer | HttpsServer): void {
    this.sessions.start();
    this.unsubscribeChanges ??= this.deps.accountChanges?.onChange(() => this.sessions.recheckAll());
    this.sockets.attach(server);
  }

  /** Closes every socket, ends every session, clears every timer. */
  stop(): void {
    this.unsubscribeChanges?.();
    this.unsubscribeChanges = undefined;
    this.sockets.stop();
    this.sessions.stop();
  }

  get connectionCount(): number {
    return this.sockets.connectionCount;
  }

  private allowed(role: Role): string[] {
    return allowedMethods(this.deps.methods, role);
  }

  private hello(principal: Principal): Hello {
    const { deps } = this;
    return {
      user: { name: principal.name, role: principal.role },
      allowed: this.allowed(principal.role),
      site: { id: deps.site.id, name: deps.site.name, email: deps.emailConfigured === true },
      controllerId: deps.controllerId,
      version: deps.version,
    };
  }
}
