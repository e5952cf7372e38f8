/**
 * Delegated evaluation: text that is no Postern code, read by a scanner that has a webhook, is
 * POSTed to that webhook, signed, and the signed answer decides. Anything but a well-signed,
 * fresh `grant` that echoes the request's nonce denies, with a stable reason and detail:
 *
 * | outcome            | detail (audit data)                                                    |
 * |--------------------|------------------------------------------------------------------------|
 * | `grant`            | -                                                                      |
 * | `delegate-denied`  | - (the partner's own reason, if it gave one, is kept as `reason`)      |
 * | `delegate-timeout` | `timeout`: no complete answer within the scanner's `timeoutMs`         |
 * | `delegate-error`   | `non-2xx <status>`, `redirect`, `too-large`, `unreachable`, `unsigned`, |
 * |                    | `bad-signature`, `stale`, `nonce-mismatch`, `malformed`, `stopped`     |
 *
 * The verifier calls this from inside the scanner's own decision queue, so the wait holds back only
 * that scanner, and its throttle counts a webhook's denial as a failure like any other.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { SiteConfig } from '../config/configSchema.ts';
import type { DelegatedDenial, ScanContext, ScanDelegation } from '../credentials/verifier.ts';
import type { Logger } from '../logger.ts';
import { VERSION } from '../version.ts';
import { parseAnswer, type DelegationRequest } from './delegationMessages.ts';
import { DelegationRouter, type DelegationTarget } from './delegationRouter.ts';
import { checkSignature, SIGNATURE_HEADER, signatureHeader } from './webhookSignature.ts';
import { WebhookClient } from './webhookClient.ts';

export interface WebhookDelegationDependencies {
  router: DelegationRouter;
  client: WebhookClient;
  siteId: string;
  logger: Logger;
  clock?: () => number;
}

/** What a delegated decision records: no secret, no scanned text, no URL (it may hold a token). */
export interface DelegationAudit {
  /** The request's id, as the partner received it. */
  eventId: string;
  /** The answer's HTTP status, when there was one. */
  status?: number;
  /** Why the answer is no decision (delegate-timeout, delegate-error). */
  detail?: string;
  /** The partner's name for who was let in (or refused), and its reason. */
  subjectName?: string;
  reason?: string;
  /** How long the webhook took. */
  ms: number;
}

type DelegatedOutcome = { outcome: 'grant' | DelegatedDenial; audit: Record<string, unknown> };

export class WebhookDelegation implements ScanDelegation {
  private readonly clock: () => number;
  private readonly userAgent = `Postern/${VERSION}`;

  constructor(private readonly deps: WebhookDelegationDependencies) {
    this.clock = deps.clock ?? Date.now;
  }

  /**
   * The site's delegation, or undefined when no scanner delegates. Throws CONFIG_INVALID when a
   * secret's environment variable is missing (see DelegationRouter).
   */
  static fromConfig(
    config: Pick<SiteConfig, 'site' | 'delegation' | 'doors' | 'scanners'>,
    options: { logger: Logger; clock?: () => number; env?: NodeJS.ProcessEnv },
  ): WebhookDelegation | undefined {
    const router = DelegationRouter.fromConfig(config, options.env);
    if (router.size === 0) return undefined;
    return new WebhookDelegation({ router, client: new WebhookClient(), siteId: config.site.id, logger: options.logger, clock: options.clock });
  }

  delegate(scan: ScanContext): Promise<DelegatedOutcome> | undefined {
    const target = this.deps.router.targetFor(scan.scanner);
    if (target === undefined) return undefined;
    const text = scan.text.trim();
    // An empty read is nothing a partner could decide.
    if (text === '') return undefined;
    return this.ask(target, scan, text).catch((error: unknown) => {
      this.deps.logger.error({ err: error, scanner: scan.scanner }, 'delegation failed');
      return { outcome: 'delegate-error', audit: { detail: 'unreachable', ms: 0 } };
    });
  }

  private async ask(target: DelegationTarget, scan: ScanContext, text: string): Promise<DelegatedOutcome> {
    const request: DelegationRequest = {
      type: 'scan',
      id: randomUUID(),
      site: this.deps.siteId,
      door: scan.door,
      scanner: scan.scanner,
      text,
      time: scan.now,
      nonce: randomBytes(16).toString('hex'),
    };
    const body = JSON.stringify(request);
    const started = performance.now();
    const response = await this.deps.client.post({
      url: target.url,
      body,
      timeoutMs: target.timeoutMs,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': this.userAgent,
        [SIGNATURE_HEADER]: signatureHeader(target.secret, this.nowSeconds(), body),
      },
    });
    const audit: DelegationAudit = { eventId: request.id, ms: Math.round(performance.now() - started) };
    if (response.status !== undefined) audit.status = response.status;

    const fail = (outcome: DelegatedDenial, detail: string): DelegatedOutcome => {
      audit.detail = detail;
      this.deps.logger.warn({ scanner: scan.scanner, door: scan.door, eventId: request.id, outcome, detail, status: audit.status, ms: audit.ms }, 'webhook gave no decision');
      return { outcome, audit: { ...audit } };
    };

    if (!response.ok) {
      if (response.failure === 'timeout') return fail('delegate-timeout', 'timeout');
      return fail('delegate-error', response.failure === 'non-2xx' ? `non-2xx ${response.status}` : response.failure);
    }
    const signature = checkSignature(response.headers[SIGNATURE_HEADER], response.body, target.secret, this.nowSeconds());
    if (signature !== 'ok') return fail('delegate-error', signature);
    const answer = parseAnswer(response.body, request.nonce);
    if (typeof answer === 'string') return fail('delegate-error', answer);

    if (answer.subject !== undefined) audit.subjectName = answer.subject;
    if (answer.reason !== undefined) audit.reason = answer.reason;
    const outcome = answer.decision === 'grant' ? 'grant' : 'delegate-denied';
    this.deps.logger.debug({ scanner: scan.scanner, door: scan.door, eventId: request.id, outcome, ms: audit.ms }, 'webhook decided');
    return { outcome, audit: { ...audit } };
  }

  private nowSeconds(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** Ends the calls in flight: their scans are denied `delegate-error` (`stopped`). */
  stop(): void {
    this.deps.client.stop();
  }
}
