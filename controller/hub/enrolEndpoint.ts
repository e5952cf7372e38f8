/**
 * `POST /enrol`: an enrolment code for the controller's credential (docs/sync.md). Throttled per
 * client address before anything is read, so that guessing codes costs time; one answer (403
 * `hub.enrolment.invalid`) for a code that is unknown, used or expired, so a guess learns nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { Logger } from '../logger.ts';
import { TokenBucket } from '../api/tokenBucket.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Enrolled, HubStore } from './hubStore.ts';
import { SITE_KEY_PATTERN, type OfferedSiteKey } from './siteKeyAgreement.ts';
import { normaliseEnrolmentCode } from './hubSecrets.ts';

/** The largest body read: `{"code": "..."}` needs far less. */
export const ENROL_BODY_LIMIT = 4096;

export interface Throttle {
  /** Requests a second, on average, per client address. */
  rate: number;
  /** How many at once. */
  burst: number;
}

/** Past this many addresses, buckets that have refilled are forgotten (they would allow the same). */
const TRACKED_ADDRESSES = 1000;

export class EnrolEndpoint {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly store: HubStore,
    private readonly throttle: Throttle,
    private readonly logger: Logger,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendError(res, 405, 'hub.method', 'POST only', { Allow: 'POST' });
    const address = req.socket.remoteAddress ?? 'unknown';
    const bucket = this.bucket(address);
    if (!bucket.take()) {
      this.logger.warn({ address }, 'enrolment throttled');
      return sendError(res, 429, 'hub.throttled', 'too many enrolment attempts: try again later', { 'Retry-After': String(Math.ceil(bucket.retryAfterMs / 1000)) });
    }
    const body = await readBody(req, ENROL_BODY_LIMIT);
    if (body === undefined) return sendError(res, 413, 'hub.request.too-large', `the body is at most ${ENROL_BODY_LIMIT} bytes`);
    let request: EnrolRequest;
    try {
      request = parseEnrolRequest(JSON.parse(body));
    } catch {
      return sendError(res, 400, 'hub.request.invalid', 'the body is JSON: {"code": "<enrolment code>", "siteKey": "<64 hex digits>", "hasLinks": <boolean>, "adopt": <boolean>}, the last three optional');
    }
    let enrolled: Enrolled | undefined;
    try {
      enrolled = request.code === undefined ? undefined : await this.store.enrol(request.code, request.offered);
    } catch (error) {
      if (!(error instanceof PosternError && error.code === ErrorCodes.CONFLICT)) throw error;
      this.logger.warn({ address }, 'enrolment refused: the controller has links under another issuing key than its site');
      return sendError(res, 409, 'hub.enrolment.site-key', error.message);
    }
    if (enrolled === undefined) {
      this.logger.warn({ address }, 'enrolment refused');
      return sendError(res, 403, 'hub.enrolment.invalid', 'this enrolment code is not valid: unknown, used or expired');
    }
    this.logger.info({ siteId: enrolled.siteId, controllerId: enrolled.controllerId, address }, 'controller enrolled');
    sendJson(res, 200, enrolled);
  }

  private bucket(address: string): TokenBucket {
    let bucket = this.buckets.get(address);
    if (bucket === undefined) {
      if (this.buckets.size >= TRACKED_ADDRESSES) {
        for (const [key, old] of this.buckets) if (old.full) this.buckets.delete(key);
      }
      bucket = new TokenBucket(this.throttle.rate, this.throttle.burst);
      this.buckets.set(address, bucket);
    }
    return bucket;
  }
}

interface EnrolRequest {
  code: string | undefined;
  offered: OfferedSiteKey | undefined;
}

/**
 * `{code}` alone (an enrolment that leaves the site's key alone) or with the controller's key. A
 * key that is present but malformed is a bad request, not an enrolment without one.
 */
function parseEnrolRequest(json: unknown): EnrolRequest {
  if (typeof json !== 'object' || json === null) throw new TypeError('not an object');
  const { code, siteKey, hasLinks, adopt } = json as Record<string, unknown>;
  if (siteKey === undefined) return { code: normaliseEnrolmentCode(code), offered: undefined };
  if (typeof siteKey !== 'string' || !SITE_KEY_PATTERN.test(siteKey) || typeof hasLinks !== 'boolean' || (adopt !== undefined && typeof adopt !== 'boolean')) {
    throw new TypeError('a malformed site key offer');
  }
  return { code: normaliseEnrolmentCode(code), offered: { siteKey, hasLinks, adopt: adopt === true } };
}

/** The body as text, or undefined when it is longer than `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  // A refused request's body may be unread: the connection is not kept for another request.
  sendJson(res, status, { error: { code, message } }, { Connection: 'close', ...headers });
}
