/**
 * POSTs one message to a webhook and gives back its 2xx answer, or why there is none. Built on
 * node:http and node:https alone, because the decision path needs a few guarantees that general
 * HTTP clients make optional:
 *
 * - a hard deadline for the whole exchange (connect, headers, body), after which the request is
 *   destroyed: a slow or silent server costs at most `timeoutMs`, never more;
 * - no redirect is followed: a 3xx is an answer that is not a decision;
 * - the answer's body is capped while it streams: reading stops at the first byte past the cap;
 * - no retry: a second try would spend the same deadline twice while someone waits at the door.
 *
 * It never throws and its promise never rejects: every failure is a result with a stable code.
 */
import http from 'node:http';
import https from 'node:https';

/** Why a webhook call gave no usable answer; the codes are recorded in audit events. */
export type WebhookTransportFailure = 'timeout' | 'redirect' | 'non-2xx' | 'too-large' | 'unreachable' | 'stopped';

export type WebhookResponse =
  | { ok: true; status: number; headers: http.IncomingHttpHeaders; body: Buffer }
  | { ok: false; failure: WebhookTransportFailure; status?: number };

export interface WebhookRequest {
  url: URL;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** The largest answer read; a decision needs a few hundred bytes. */
export const MAX_WEBHOOK_RESPONSE_BYTES = 16 * 1024;

export interface WebhookClientOptions {
  maxResponseBytes?: number;
}

export class WebhookClient {
  private readonly maxResponseBytes: number;
  // Keep-alive saves a TCP (and TLS) handshake per scan. Idle sockets are dropped after 4 s,
  // before the 5 s after which common servers close them, so a scan seldom meets a dead socket.
  private readonly httpAgent = new http.Agent({ keepAlive: true, timeout: 4000, maxFreeSockets: 4 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, timeout: 4000, maxFreeSockets: 4 });
  private readonly inFlight = new Set<() => void>();

  constructor(options: WebhookClientOptions = {}) {
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_WEBHOOK_RESPONSE_BYTES;
  }

  post(request: WebhookRequest): Promise<WebhookResponse> {
    return new Promise((resolve) => {
      const secure = request.url.protocol === 'https:';
      let req: http.ClientRequest | undefined;
      let settled = false;
      // Known once the headers are in: a timeout after them still says what the server answered.
      let status: number | undefined;
      const finish = (result: WebhookResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.inFlight.delete(stop);
        // A socket left mid-answer is never reused: destroying it also stops any further reading.
        if (!result.ok) req?.destroy();
        resolve(result);
      };
      const stop = (): void => finish({ ok: false, failure: 'stopped', status });
      const deadline = setTimeout(() => finish({ ok: false, failure: 'timeout', status }), request.timeoutMs);
      this.inFlight.add(stop);

      try {
        req = (secure ? https : http).request(request.url, {
          method: 'POST',
          agent: secure ? this.httpsAgent : this.httpAgent,
          headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
        });
      } catch {
        // An URL node:http refuses outright (the site file only lets http and https through).
        finish({ ok: false, failure: 'unreachable' });
        return;
      }
      req.on('error', () => finish({ ok: false, failure: 'unreachable' }));
      req.on('response', (res) => {
        const code = res.statusCode ?? 0;
        status = code;
        res.on('error', () => finish({ ok: false, failure: 'unreachable', status: code }));
        if (code >= 300 && code < 400) return finish({ ok: false, failure: 'redirect', status: code });
        if (code < 200 || code >= 300) return finish({ ok: false, failure: 'non-2xx', status: code });
        const declared = Number(res.headers['content-length']);
        if (declared > this.maxResponseBytes) return finish({ ok: false, failure: 'too-large', status: code });
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          size += chunk.length;
          if (size > this.maxResponseBytes) return finish({ ok: false, failure: 'too-large', status: code });
          chunks.push(chunk);
        });
        res.on('end', () => finish({ ok: true, status: code, headers: res.headers, body: Buffer.concat(chunks) }));
        // The server closed the connection before the end of its answer.
        res.on('close', () => finish({ ok: false, failure: 'unreachable', status: code }));
      });
      req.end(request.body);
    });
  }

  /** Ends every call in flight (each answers `stopped`) and closes the idle sockets. */
  stop(): void {
    for (const stop of [...this.inFlight]) stop();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
