/**
 * Sign-in for the web UI: POST /auth/login, POST /auth/logout, GET /auth/me. A session lives in a
 * cookie `postern_session` (HttpOnly, SameSite=Strict, Path=/, Secure with TLS). POSTs must come
 * from the server's own origin or an allowed one (403 otherwise), as a CSRF defence beside
 * SameSite; a body must be JSON (415) of at most 8 KiB (413).
 *
 * Wrong passwords are throttled per user name and per client address (LoginThrottle); each
 * failure and each lockout is logged and audited (`auth.failed`, `auth.locked`, actor
 * `web:<address>`, data: the name tried, never the password), as is each sign-in (`auth.login`,
 * actor `user:<name>`) and sign-out (`auth.logout`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NAME_PATTERN } from '../accounts/accounts.ts';
import { principalActor, type Principal, type Role } from '../accounts/accountTypes.ts';
import type { AuditEntry } from '../audit/auditTrail.ts';
import type { Logger } from '../logger.ts';
import type { HttpRoute } from '../api/apiServer.ts';
import { clientAddress, cookieValue, HttpError, originAllowed, readJsonBody, sendJson, SESSION_COOKIE } from './httpHelpers.ts';
import type { LoginThrottle } from './loginThrottle.ts';
import type { SessionStore } from './sessionStore.ts';

export const MAX_LOGIN_BODY_BYTES = 8 * 1024;

export interface AuthRoutesDependencies {
  sessions: SessionStore;
  throttle: LoginThrottle;
  verifyPassword(name: string, password: string): Promise<Principal | undefined>;
  allowedMethods(role: Role): string[];
  audit: { append(entry: AuditEntry): Promise<unknown> };
  allowedOrigins: readonly string[];
  /** The server speaks TLS: the cookie gets `Secure`. */
  secure: boolean;
  logger: Logger;
}

export function authRoutes(deps: AuthRoutesDependencies): HttpRoute[] {
  const handle = (methods: readonly string[], run: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void) => {
    return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      try {
        if (!methods.includes(req.method ?? '')) throw new HttpError(405, 'method not allowed', { allow: methods.join(', ') });
        if (req.method === 'POST' && !originAllowed(req, deps.allowedOrigins)) {
          deps.logger.warn({ origin: req.headers.origin, path: req.url, address: clientAddress(req) }, 'web request from a foreign origin refused');
          throw new HttpError(403, 'forbidden: foreign origin');
        }
        await run(req, res);
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        sendJson(res, error.status, { error: error.message }, error.headers);
      }
    };
  };
  return [
    { path: '/auth/login', handle: handle(['POST'], (req, res) => login(deps, req, res)) },
    { path: '/auth/logout', handle: handle(['POST'], (req, res) => logout(deps, req, res)) },
    { path: '/auth/me', handle: handle(['GET', 'HEAD'], (req, res) => me(deps, req, res)) },
  ];
}

/** What a client learns of its own session. */
export function whoAmI(principal: Principal, allowed: string[]): { name: string; role: Role; allowed: string[] } {
  return { name: principal.name, role: principal.role, allowed };
}

async function login(deps: AuthRoutesDependencies, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req, MAX_LOGIN_BODY_BYTES);
  const { name, password } = (body ?? {}) as { name?: unknown; password?: unknown };
  if (typeof name !== 'string' || typeof password !== 'string' || name === '' || password === '') {
    throw new HttpError(400, 'send {"name": "...", "password": "..."}');
  }
  const address = clientAddress(req);
  // Names are unique ignoring letter case, so the throttle counts them that way.
  const nameKey = `name:${name.normalize('NFKC').toLowerCase().slice(0, 128)}`;
  const keys = [nameKey, `address:${address}`];
  const tried = NAME_PATTERN.test(name) ? name : null;
  const log = deps.logger.child({ name: tried ?? '[not a user name]', address });

  const wait = deps.throttle.retryAfterMs(keys);
  if (wait > 0) {
    const retryAfterSeconds = Math.ceil(wait / 1000);
    log.warn({ retryAfterSeconds }, 'sign-in refused: too many wrong passwords');
    return sendJson(res, 429, { error: 'too many wrong passwords: try again later', retryAfterSeconds }, { 'retry-after': String(retryAfterSeconds) });
  }

  deps.throttle.begin(keys);
  const generation = deps.sessions.generation;
  let principal: Principal | undefined;
  try {
    principal = await deps.verifyPassword(name, password);
  } catch (error) {
    deps.throttle.succeed(keys, []);
    log.error({ err: error }, 'sign-in failed: cannot check the password');
    throw new HttpError(503, 'cannot check the password now: try again');
  }

  if (principal === undefined) {
    const locked = deps.throttle.fail(keys);
    log.warn('sign-in failed: wrong name or password');
    await deps.audit.append(authEvent('auth.failed', `web:${address}`, null, { name: tried, address }));
    for (const key of locked) {
      const by = key === nameKey ? 'name' : 'address';
      const retryAfterSeconds = Math.ceil(deps.throttle.retryAfterMs([key]) / 1000);
      log.warn({ by, retryAfterSeconds }, 'sign-in locked: too many wrong passwords');
      await deps.audit.append(authEvent('auth.locked', `web:${address}`, null, { name: tried, address, by, retryAfterSeconds }));
    }
    return sendJson(res, 401, { error: 'wrong name or password' });
  }

  deps.throttle.succeed(keys, [nameKey]);
  // A session the browser still had is replaced, not kept beside the new one.
  const previous = deps.sessions.find(cookieValue(req, SESSION_COOKIE));
  if (previous) deps.sessions.end(previous, 'logout');
  const { token } = deps.sessions.create(principal, generation);
  log.info({ role: principal.role }, 'signed in');
  await deps.audit.append(authEvent('auth.login', principalActor(principal), principal.id, { name: principal.name, role: principal.role, address }));
  sendJson(res, 200, whoAmI(principal, deps.allowedMethods(principal.role)), { 'set-cookie': sessionCookie(token, deps.secure) });
}

async function logout(deps: AuthRoutesDependencies, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const session = deps.sessions.find(cookieValue(req, SESSION_COOKIE));
  if (session) {
    deps.sessions.end(session, 'logout');
    deps.logger.info({ name: session.principal.name, address: clientAddress(req) }, 'signed out');
    await deps.audit.append(authEvent('auth.logout', principalActor(session.principal), session.principal.id, { name: session.principal.name }));
  }
  res.writeHead(204, { 'set-cookie': sessionCookie('', deps.secure, true), 'cache-control': 'no-store' }).end();
}

function me(deps: AuthRoutesDependencies, req: IncomingMessage, res: ServerResponse): void {
  const found = deps.sessions.find(cookieValue(req, SESSION_COOKIE));
  const session = found && deps.sessions.use(found);
  if (session === undefined) return sendJson(res, 401, { error: 'not signed in' });
  sendJson(res, 200, whoAmI(session.principal, deps.allowedMethods(session.principal.role)));
}

export function sessionCookie(token: string, secure: boolean, clear = false): string {
  return `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}${clear ? '; Max-Age=0' : ''}`;
}

function authEvent(reason: string, actor: string, subject: string | null, data: Record<string, unknown>): AuditEntry {
  return { type: 'operator', door: null, scanner: null, subject, kind: null, issuer: null, verdict: null, reason, actor, data };
}
