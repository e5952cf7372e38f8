/**
 * The badge page for members' phones, on the controller's HTTP server:
 *
 * - GET /badge: webui/dist/badge.html (built by Vite with the operator UI); its scripts and styles
 *   are under /assets/, served with the rest of webui/dist.
 * - GET /badge-sw.js, /badge/manifest.webmanifest, /badge/icon-*.png: the service worker that
 *   keeps the page working offline, and what makes it installable.
 * - POST /badge/enrol {token}: trades a one-time enrolment token for the credential's secret,
 *   exactly once (404 unknown, 410 used or expired); JSON only, body capped, same origin only,
 *   audited (`credential.enrolled`). Failed attempts are throttled per client address (429): a
 *   token cannot be guessed, and members enrolling together behind one NAT are never slowed.
 *
 * The page computes its codes itself (webui/badge/rotatingCode.js): after enrolment it needs no
 * request at all, and it never sends the secret back.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { HttpRoute } from '../api/apiServer.ts';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ROTATION_PERIOD_SECONDS } from '../credentials/credentialCodec.ts';
import type { Logger } from '../logger.ts';
import { projectRoot } from '../projectRoot.ts';
import type { Store } from '../store/storeTypes.ts';
import { clientAddress, HttpError, originAllowed, readJsonBody, sendJson } from '../web/httpHelpers.ts';
import { ENROL_TOKEN_PATTERN, hashEnrolToken } from './enrolment.ts';

export const ENROL_MAX_BODY_BYTES = 1024;

export interface BadgeRoutesDependencies {
  config: Pick<SiteConfig, 'site' | 'api' | 'badge'>;
  store: Pick<Store, 'consumeEnrolment'>;
  audit: Pick<AuditTrail, 'append'>;
  logger: Logger;
  /** The Vite build, default <project>/webui/dist. */
  distDir?: string;
  /** Failed enrolment attempts per client address: `rate` per second, bursts of `burst`. */
  throttle?: { rate: number; burst: number };
  clock?: () => number;
}

/** Ten failures at once, then one every six seconds: plenty for people, useless for guessing. */
const DEFAULT_THROTTLE = { rate: 1 / 6, burst: 10 };
const MAX_TRACKED_ADDRESSES = 10_000;

/** Files of webui/dist the badge routes serve, by URL path. */
const STATIC_FILES: Record<string, { file: string; type: string; cache: string }> = {
  '/badge': { file: 'badge.html', type: 'text/html; charset=utf-8', cache: 'no-cache' },
  '/badge/': { file: 'badge.html', type: 'text/html; charset=utf-8', cache: 'no-cache' },
  '/badge-sw.js': { file: 'badge-sw.js', type: 'text/javascript; charset=utf-8', cache: 'no-cache' },
  '/badge/manifest.webmanifest': { file: 'badge/manifest.webmanifest', type: 'application/manifest+json', cache: 'no-cache' },
  '/badge/icon-192.png': { file: 'badge/icon-192.png', type: 'image/png', cache: 'max-age=86400' },
  '/badge/icon-512.png': { file: 'badge/icon-512.png', type: 'image/png', cache: 'max-age=86400' },
};

/**
 * The page holds a secret and its URL once held a token: nothing from elsewhere may load, frame it
 * or learn its address.
 */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

export function badgeRoutes(deps: BadgeRoutesDependencies): HttpRoute[] {
  const distDir = deps.distDir ?? path.join(projectRoot(), 'webui', 'dist');
  const clock = deps.clock ?? Date.now;
  const throttle = deps.throttle ?? DEFAULT_THROTTLE;
  const failures = new FailureThrottle(throttle.rate, throttle.burst);
  const allowedOrigins = [...deps.config.api.allowedOrigins, ...(deps.config.badge?.publicUrl ? [new URL(deps.config.badge.publicUrl).origin] : [])];
  const log = deps.logger;

  async function serveStatic(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const entry = STATIC_FILES[pathname];
    if (entry === undefined) return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'method not allowed' }, { allow: 'GET, HEAD' });
    let body: Buffer;
    try {
      body = await readFile(path.join(distDir, entry.file));
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end('the badge page is not built: run `npx vite build --config webui/vite.config.ts`\n');
    }
    res.writeHead(200, {
      'content-type': entry.type,
      'content-length': String(body.length),
      'cache-control': entry.cache,
      ...(entry.type.startsWith('text/html') ? PAGE_HEADERS : { 'x-content-type-options': 'nosniff' }),
      ...(pathname === '/badge-sw.js' ? { 'service-worker-allowed': '/badge' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function enrol(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed: POST {"token": ...}' }, { allow: 'POST' });
    const address = clientAddress(req);
    const waitMs = failures.waitMs(address);
    if (waitMs > 0) return sendJson(res, 429, { error: 'too many failed enrolment attempts: wait a little' }, { 'retry-after': String(Math.ceil(waitMs / 1000)) });
    const refuse = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      failures.fail(address);
      sendJson(res, status, body, headers);
    };
    if (!originAllowed(req, allowedOrigins) || req.headers['sec-fetch-site'] === 'cross-site') {
      return refuse(403, { error: 'forbidden: enrol from the badge page' });
    }
    let body: unknown;
    try {
      body = await readJsonBody(req, ENROL_MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof HttpError) return refuse(error.status, { error: error.message }, error.headers);
      throw error;
    }
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || !ENROL_TOKEN_PATTERN.test(token)) return refuse(404, { error: 'unknown enrolment link' });
    const result = await deps.store.consumeEnrolment(hashEnrolToken(token), clock());
    if (result.status === 'unknown') return refuse(404, { error: 'unknown enrolment link' });
    if (result.status !== 'ok') {
      log.warn({ address, reason: result.status }, 'badge enrolment refused');
      await deps.audit.append({ type: 'operator', subject: null, reason: 'credential.enrol-refused', actor: 'badge', data: { why: result.status, address } });
      const why = result.status === 'used' ? 'was used already' : result.status === 'expired' ? 'has expired' : 'is for a revoked credential';
      return refuse(410, { error: `this enrolment link ${why}: ask for a new one`, reason: result.status });
    }
    const { credential, secret } = result;
    await deps.audit.append({ type: 'operator', subject: credential.id, kind: 'rotating', issuer: 0, reason: 'credential.enrolled', actor: 'badge', data: { address } });
    log.info({ credential: credential.id, address }, 'badge enrolled');
    sendJson(res, 200, {
      credentialId: credential.id,
      name: credential.name,
      siteName: deps.config.site.name,
      scope: credential.scope,
      periodSeconds: ROTATION_PERIOD_SECONDS,
      secret: secret.toString('hex'),
    });
  }

  const handle = (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    return pathname === '/badge/enrol' ? enrol(req, res) : serveStatic(req, res, pathname);
  };
  return [
    { path: '/badge', handle },
    { path: '/badge/', prefix: true, handle },
    { path: '/badge-sw.js', handle },
  ];
}

/** A token bucket per client address that only failures drain; full buckets are forgotten. */
class FailureThrottle {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** 0 when the address may try now, else the milliseconds until it may. */
  waitMs(address: string): number {
    const tokens = this.refill(address)?.tokens ?? this.burst;
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.rate) * 1000);
  }

  fail(address: string): void {
    let bucket = this.refill(address);
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_TRACKED_ADDRESSES) for (const key of [...this.buckets.keys()]) this.refill(key);
      bucket = { tokens: this.burst, at: this.clock() };
      this.buckets.set(address, bucket);
    }
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }

  private refill(address: string): { tokens: number; at: number } | undefined {
    const bucket = this.buckets.get(address);
    if (bucket === undefined) return undefined;
    const now = this.clock();
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    if (bucket.tokens >= this.burst) {
      this.buckets.delete(address);
      return undefined;
    }
    return bucket;
  }
}
