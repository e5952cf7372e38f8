/**
 * The site's outbound webhooks (the site file's `webhooks`): one endpoint each, fed from the audit
 * trail, with their delivery state for the API and the metrics.
 */
import type { SiteConfig } from '../config/configSchema.ts';
import { secretFromEnv } from '../config/delegationSchema.ts';
import { WebhookClient } from '../delegation/webhookClient.ts';
import type { HolderNames } from '../issuing/holderNames.ts';
import type { Store } from '../store/storeTypes.ts';
import type { Logger } from '../../machines/shared/logger.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { DeliveryState, type DeadLetter } from './deliveryState.ts';
import { WebhookEndpoint, type EndpointView } from './webhookEndpoint.ts';

export interface OutboundWebhooksDependencies {
  config: Pick<SiteConfig, 'webhooks' | 'dataDir' | 'site'>;
  controllerId: string;
  version: string;
  /** The audit trail's newest seq: a new endpoint starts after it. */
  head: number;
  store: Pick<Store, 'queryAudit'>;
  names: HolderNames;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  clock?: () => number;
}

export class OutboundWebhooks {
  readonly #endpoints: Map<string, WebhookEndpoint>;
  readonly #client: WebhookClient;

  private constructor(endpoints: WebhookEndpoint[], client: WebhookClient) {
    this.#endpoints = new Map(endpoints.map((e) => [e.id, e]));
    this.#client = client;
  }

  /** Reads each endpoint's secret and delivery state; a missing secret stops the start (CONFIG_INVALID). */
  static async create(deps: OutboundWebhooksDependencies): Promise<OutboundWebhooks> {
    const client = new WebhookClient();
    const endpoints: WebhookEndpoint[] = [];
    for (const [i, config] of deps.config.webhooks.entries()) {
      const secret = secretOf(config, i, deps.env ?? process.env);
      const state = await DeliveryState.open(deps.config.dataDir, config.id, deps.controllerId, deps.head);
      endpoints.push(
        new WebhookEndpoint({
          config,
          secret,
          site: deps.config.site.id,
          controllerId: deps.controllerId,
          version: deps.version,
          store: deps.store,
          names: deps.names,
          client,
          state,
          logger: deps.logger,
          clock: deps.clock,
        }),
      );
    }
    return new OutboundWebhooks(endpoints, client);
  }

  start(): void {
    for (const endpoint of this.#endpoints.values()) endpoint.start();
  }

  notify(seq: number): void {
    for (const endpoint of this.#endpoints.values()) endpoint.notify(seq);
  }

  async stop(): Promise<void> {
    // In-flight requests end first (answered `stopped`), so no loop waits out a receiver's timeout.
    const stopping = [...this.#endpoints.values()].map((e) => e.stop());
    this.#client.stop();
    await Promise.all(stopping);
  }

  list(): EndpointView[] {
    return [...this.#endpoints.values()].map((e) => e.view());
  }

  deadLetters(id: string): readonly DeadLetter[] {
    return this.#endpoint(id).deadLetters();
  }

  redeliver(id: string, eventId: string): Promise<{ delivered: boolean; error: string | null }> {
    return this.#endpoint(id).redeliver(eventId);
  }

  /** Prometheus text for the controller's /metrics. */
  metricsText(): string {
    const views = this.list();
    if (views.length === 0) return '';
    const series = (name: string, help: string, type: string, value: (v: EndpointView) => number) =>
      [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...views.map((v) => `${name}{webhook="${v.id}"} ${value(v)}`)].join('\n');
    return (
      [
        series('postern_webhook_delivered_total', 'Events the webhook receiver took (2xx).', 'counter', (v) => v.delivered),
        series('postern_webhook_dead_letters_total', 'Events given up on after every attempt failed.', 'counter', (v) => v.deadLetters),
        series('postern_webhook_lag_events', 'Audit events recorded after the delivery cursor.', 'gauge', (v) => v.lag),
        series('postern_webhook_failing_attempts', 'Failed attempts at the event being sent now (0: delivering normally).', 'gauge', (v) => v.attempts),
      ].join('\n') + '\n'
    );
  }

  #endpoint(id: string): WebhookEndpoint {
    const endpoint = this.#endpoints.get(id);
    if (endpoint === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no webhook "${id}": this site has ${[...this.#endpoints.keys()].join(', ') || 'none'}`, { details: { field: 'webhook' } });
    return endpoint;
  }
}

function secretOf(config: SiteConfig['webhooks'][number], index: number, env: NodeJS.ProcessEnv): Buffer {
  return Buffer.from(config.secret ?? secretFromEnv(config.secretEnv!, `webhooks.${index}.secretEnv`, env), 'utf8');
}
