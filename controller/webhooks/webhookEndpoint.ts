/**
 * One outbound webhook endpoint: sends the audit trail's events after its cursor, one at a time
 * and in order, each retried with backoff and jitter until the receiver answers 2xx or the attempts
 * run out (then it becomes a dead letter and the next event goes). The cursor is saved after each
 * event, so a restart resumes where delivery stopped: at least once, the same event under the same
 * id, never a gap.
 */
import type { OutboundWebhookConfig } from '../config/outboundWebhookSchema.ts';
import type { WebhookClient, WebhookResponse } from '../delegation/webhookClient.ts';
import { signatureHeader } from '../delegation/webhookSignature.ts';
import type { HolderNames, NamedAuditEvent } from '../issuing/holderNames.ts';
import type { AuditEvent, Store } from '../store/storeTypes.ts';
import type { Logger } from '../../machines/shared/logger.ts';
import type { DeadLetter, DeliveryState } from './deliveryState.ts';

export interface WebhookEndpointDependencies {
  config: OutboundWebhookConfig;
  secret: Buffer;
  site: string;
  controllerId: string;
  version: string;
  store: Pick<Store, 'queryAudit'>;
  names: HolderNames;
  client: WebhookClient;
  state: DeliveryState;
  logger: Logger;
  clock?: () => number;
  random?: () => number;
}

export type EndpointStatus = 'idle' | 'delivering' | 'retrying' | 'stopped';

/** What the API and the metrics show of an endpoint. */
export interface EndpointView {
  id: string;
  /** The URL without its query, user or password: those may hold the receiver's own secrets. */
  url: string;
  types: string[] | null;
  doors: string[] | null;
  status: EndpointStatus;
  cursor: number;
  /** Events recorded after the cursor (matching the filters or not). */
  lag: number;
  delivered: number;
  /** Failed attempts at the event being sent now. */
  attempts: number;
  lastError: string | null;
  nextAttemptAt: number | null;
  deadLetters: number;
}

/** Events read from the store at a time. */
const PAGE = 100;
/** A safety net: new events are announced, but a journal drained after an outage is not. */
const POLL_MS = 5000;
/** The wait for an announced event to be written. */
const UNREAD_RETRY_MS = 50;
/** The wait after the store failed to answer. */
const STORE_RETRY_MS = 1000;

/** The id a receiver sees for an event: its chain, its number, and the start of its hash, so that a store replaced by another never repeats an id. */
export function eventId(event: Pick<AuditEvent, 'controllerId' | 'seq' | 'hash'>): string {
  return `${event.controllerId}:${event.seq}:${event.hash.slice(0, 16)}`;
}

export class WebhookEndpoint {
  readonly #deps: WebhookEndpointDependencies;
  readonly #url: URL;
  readonly #clock: () => number;
  readonly #random: () => number;
  #status: EndpointStatus = 'idle';
  #head = 0;
  #attempts = 0;
  #lastError: string | null = null;
  #nextAttemptAt: number | null = null;
  #wake: (() => void) | undefined;
  /** Whether a new event ends the current wait: an idle wait yes, a backoff no. */
  #wakeOnEvent = false;
  /** An event was announced since the last read of the store: no idle wait before the next. */
  #announced = false;
  #stopped = false;
  #running: Promise<void> | undefined;

  constructor(deps: WebhookEndpointDependencies) {
    this.#deps = deps;
    this.#url = new URL(deps.config.url);
    this.#clock = deps.clock ?? Date.now;
    this.#random = deps.random ?? Math.random;
    this.#head = deps.state.data.cursor;
  }

  get id(): string {
    return this.#deps.config.id;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** A new event was recorded: deliver it if idle. */
  notify(seq: number): void {
    this.#head = Math.max(this.#head, seq);
    this.#announced = true;
    if (this.#wakeOnEvent) this.#wake?.();
  }

  /** Ends the loop; the event in flight is sent again after the restart (same id). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
    this.#status = 'stopped';
  }

  view(): EndpointView {
    const { config, state } = this.#deps;
    const data = state.data;
    return {
      id: config.id,
      url: `${this.#url.protocol}//${this.#url.host}${this.#url.pathname}`,
      types: config.types ?? null,
      doors: config.doors ?? null,
      status: this.#status,
      cursor: data.cursor,
      lag: Math.max(0, this.#head - data.cursor),
      delivered: data.delivered,
      attempts: this.#attempts,
      lastError: this.#lastError,
      nextAttemptAt: this.#nextAttemptAt,
      deadLetters: data.deadLettersTotal,
    };
  }

  deadLetters(): readonly DeadLetter[] {
    return this.#deps.state.data.deadLetters;
  }

  /** Sends a dead letter once more, now, out of order; off the list when the receiver takes it. */
  async redeliver(id: string): Promise<{ delivered: boolean; error: string | null }> {
    const letter = this.#deps.state.data.deadLetters.find((d) => d.id === id);
    if (letter === undefined) return { delivered: false, error: 'no such dead letter' };
    const [event] = await this.#deps.store.queryAudit({ controllerId: this.#deps.controllerId, afterSeq: letter.seq - 1, limit: 1, order: 'asc' });
    if (event === undefined || eventId(event) !== id) return { delivered: false, error: 'the event is no longer in the store' };
    const [named] = await this.#deps.names.name([event]);
    const response = await this.#post(named!, letter.attempts + 1);
    if (!delivered(response)) return { delivered: false, error: describe(response) };
    await this.#deps.state.forget(id);
    return { delivered: true, error: null };
  }

  async #loop(): Promise<void> {
    const { store, controllerId, state, logger } = this.#deps;
    while (!this.#stopped) {
      try {
        this.#announced = false;
        const page = await store.queryAudit({ controllerId, afterSeq: state.data.cursor, order: 'asc', limit: PAGE });
        if (page.length === 0) {
          this.#status = 'idle';
          // Listeners hear of an event before it is in the store: one announced but not readable
          // yet is read again shortly, without waiting for the next announcement.
          if (this.#head > state.data.cursor) await this.#sleep(UNREAD_RETRY_MS, false);
          else if (!this.#announced) await this.#sleep(POLL_MS, true);
          continue;
        }
        this.#head = Math.max(this.#head, page.at(-1)!.seq);
        this.#status = 'delivering';
        const named = await this.#deps.names.name(page);
        // Events the filters leave out move the cursor with the next save, not one save each.
        let skippedTo = state.data.cursor;
        for (const event of named) {
          if (this.#stopped) break;
          if (!this.#wanted(event)) {
            skippedTo = event.seq;
            continue;
          }
          if (!(await this.#deliver(event))) break;
          skippedTo = state.data.cursor;
        }
        if (!this.#stopped && skippedTo > state.data.cursor) await state.advance(skippedTo, 0);
      } catch (error) {
        // The store or the state file failed: nothing is lost, the cursor did not move past it.
        this.#lastError = `${(error as Error).message}`;
        logger.warn({ err: error, webhook: this.id }, 'webhook delivery paused: retrying');
        await this.#sleep(STORE_RETRY_MS, false);
      }
    }
  }

  /** Sends one event until it is taken or given up on; false when stopped first. */
  async #deliver(event: NamedAuditEvent): Promise<boolean> {
    const { retry } = this.#deps.config;
    for (let attempt = 1; ; attempt++) {
      const response = await this.#post(event, attempt);
      if (this.#stopped && !delivered(response)) return false;
      if (delivered(response)) {
        this.#attempts = 0;
        this.#lastError = null;
        this.#nextAttemptAt = null;
        await this.#deps.state.advance(event.seq, 1);
        return true;
      }
      this.#attempts = attempt;
      this.#lastError = describe(response);
      if (attempt >= retry.maxAttempts) {
        this.#deps.logger.warn({ webhook: this.id, seq: event.seq, attempts: attempt, error: this.#lastError }, 'webhook event given up on: in the dead-letter list');
        await this.#deps.state.deadLetter({ id: eventId(event), seq: event.seq, type: event.type, attempts: attempt, error: this.#lastError, at: this.#clock() });
        this.#attempts = 0;
        this.#nextAttemptAt = null;
        return true;
      }
      const delay = this.#backoff(attempt);
      this.#status = 'retrying';
      this.#nextAttemptAt = this.#clock() + delay;
      await this.#sleep(delay, false);
      if (this.#stopped) return false;
    }
  }

  #post(event: NamedAuditEvent, attempt: number): Promise<WebhookResponse> {
    const { secret, site, config, version } = this.#deps;
    const id = eventId(event);
    const body = JSON.stringify({ id, type: event.type, site, event });
    return this.#deps.client.post({
      url: this.#url,
      body,
      timeoutMs: config.timeoutMs,
      headers: {
        'content-type': 'application/json',
        'user-agent': `postern/${version}`,
        'postern-event-id': id,
        'postern-delivery-attempt': String(attempt),
        'postern-signature': signatureHeader(secret, Math.floor(this.#clock() / 1000), body),
      },
    });
  }

  #wanted(event: AuditEvent): boolean {
    const { types, doors } = this.#deps.config;
    if (types !== undefined && !(types as readonly string[]).includes(event.type)) return false;
    return doors === undefined || event.door === null || doors.includes(event.door);
  }

  /** Doubling from firstDelaySeconds up to maxDelaySeconds, each wait between half and all of it: receivers that failed together do not all come back at once. */
  #backoff(attempt: number): number {
    const { firstDelaySeconds, maxDelaySeconds } = this.#deps.config.retry;
    const ceiling = Math.min(maxDelaySeconds, firstDelaySeconds * 2 ** (attempt - 1)) * 1000;
    return ceiling / 2 + (this.#random() * ceiling) / 2;
  }

  /** Waits `ms`, or less when stopped (or, `byEvents`, when an event is recorded). */
  #sleep(ms: number, byEvents: boolean): Promise<void> {
    this.#wakeOnEvent = byEvents;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }
}

/** A 2xx is delivered, whatever its body: a long answer body is the receiver's business. */
function delivered(response: WebhookResponse): boolean {
  if (response.ok) return true;
  return response.failure === 'too-large' && response.status !== undefined && response.status >= 200 && response.status < 300;
}

function describe(response: WebhookResponse): string {
  if (response.ok) return 'delivered';
  return response.status === undefined ? response.failure : `${response.failure} (HTTP ${response.status})`;
}
