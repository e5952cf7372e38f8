/**
 * The change feed: one PostgreSQL client per hub process, listening on `postern_hub_changes`.
 * Payloads:
 * - `<siteId>:<cursor>`: a change of the site was committed (the trigger of hubMigrations.ts),
 * - `!close:<controllerId>`: the controller's credential changed or it was revoked (hubStore.ts),
 * - `!link:<controllerId>:<nonce>`: a new link of the controller opened on some hub (syncSession.ts),
 * - `!call:<hub>:<id>` and `!answer:<hub>:<id>`: a site.call handed to the hub holding the site's
 *   link, and its answer back to the hub that handed it (callRelay.ts).
 * A lost connection is made again with backoff (1 s doubling to 30 s); notifications sent while it
 * was down are lost, so `onReconnect` tells the hub to check everything again.
 *
 * A listening connection only receives, so one whose server end vanished without a FIN or RST (the
 * database failed over during a partition, a NAT or firewall forgot the idle connection) would look
 * connected for hours while this hub pushed nothing and heard no `!close`. So it is probed: a
 * `SELECT 1` every probeMs that must answer within probeMs, else the connection counts as lost.
 */
import pg from 'pg';

import type { Logger } from '../logger.ts';
import { settleWithin } from '../settleWithin.ts';
import { HUB_CHANNEL } from './hubMigrations.ts';

export interface FeedListener {
  onChange(siteId: string, cursor: number): void;
  onClose(controllerId: string): void;
  onLink(controllerId: string, nonce: string): void;
  onCall?(hub: string, id: number): void;
  onAnswer?(hub: string, id: number): void;
  onReconnect(): void;
}

export interface ChangeFeedOptions {
  databaseUrl: string;
  listener: FeedListener;
  logger?: Logger;
  /** How often the listening connection is probed, and how long a probe may take (default 10 s). */
  probeMs?: number;
}

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30_000;
const DEFAULT_PROBE_MS = 10_000;

export class ChangeFeed {
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private retryMs = FIRST_RETRY_MS;
  private stopped = false;

  constructor(private readonly options: ChangeFeedOptions) {}

  /** Whether a connection is listening now (not between a loss and its retry). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connects and listens; fails when the database cannot be reached now. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearInterval(this.probeTimer);
    this.probeTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, connectionTimeoutMillis: 5000, keepAlive: true, keepAliveInitialDelayMillis: 10_000, application_name: 'postern-hub-feed' });
    client.on('notification', (message) => {
      if (message.channel === HUB_CHANNEL && message.payload !== undefined) this.dispatch(message.payload);
    });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = undefined;
      clearInterval(this.probeTimer);
      this.probeTimer = undefined;
      client.end().catch(() => undefined);
      this.options.logger?.warn({ err: error }, 'change feed lost its database connection: reconnecting');
      this.scheduleRetry();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${HUB_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    const probeMs = this.options.probeMs ?? DEFAULT_PROBE_MS;
    let probing = false;
    this.probeTimer = setInterval(() => {
      if (probing) return;
      probing = true;
      probe(client, probeMs).then(
        () => (probing = false),
        (error: unknown) => lost(error as Error),
      );
    }, probeMs);
    this.probeTimer.unref();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().then(
        () => {
          if (!this.stopped) this.options.listener.onReconnect();
        },
        (error: unknown) => {
          this.options.logger?.warn({ err: error }, 'change feed could not reconnect');
          this.scheduleRetry();
        },
      );
    }, delay);
  }

  private dispatch(payload: string): void {
    const { listener } = this.options;
    if (payload.startsWith('!close:')) return listener.onClose(payload.slice('!close:'.length));
    if (payload.startsWith('!link:')) {
      const rest = payload.slice('!link:'.length);
      const split = rest.lastIndexOf(':');
      if (split > 0) listener.onLink(rest.slice(0, split), rest.slice(split + 1));
      return;
    }
    if (payload.startsWith('!call:') || payload.startsWith('!answer:')) {
      const answer = payload.startsWith('!answer:');
      const rest = payload.slice(answer ? '!answer:'.length : '!call:'.length);
      const split = rest.lastIndexOf(':');
      const id = Number(rest.slice(split + 1));
      if (split <= 0 || !Number.isSafeInteger(id)) return;
      if (answer) listener.onAnswer?.(rest.slice(0, split), id);
      else listener.onCall?.(rest.slice(0, split), id);
      return;
    }
    const split = payload.lastIndexOf(':');
    const cursor = Number(payload.slice(split + 1));
    if (split > 0 && Number.isSafeInteger(cursor)) listener.onChange(payload.slice(0, split), cursor);
  }
}

/** A `SELECT 1` that answers within `ms`, else rejects. */
async function probe(client: pg.Client, ms: number): Promise<void> {
  const answered = await settleWithin(client.query('SELECT 1').then(() => true), ms, false);
  if (!answered) throw new Error(`the listening connection did not answer a probe within ${ms} ms`);
}
