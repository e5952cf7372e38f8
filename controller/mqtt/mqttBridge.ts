/**
 * The MQTT bridge: a site on a broker, for home and building automation (Home Assistant, Node-RED).
 *
 * Out: each door's status (JSON), its lock state in Home Assistant's words and its door sensor,
 * retained so that a client that subscribes later sees the present at once; each decision as it is
 * recorded; the bridge's availability, with the broker's last will saying "offline" when the
 * controller dies. In: door commands, run through the API's own method table as the API token in
 * `tokenFile`, checked again at each command, so the broker gets exactly that token's rights and
 * loses them the moment it is revoked.
 *
 * While the broker is unreachable nothing is queued: the retained state is published again on
 * reconnection and decisions of the meantime are in the audit trail (and, resumable, on the API).
 * A broker that holds messages for a dead bridge would otherwise grow the controller's memory.
 */
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { principalActor } from '../accounts/accountTypes.ts';
import type { Accounts } from '../accounts/accounts.ts';
import type { MqttConfig } from '../config/configSchema.ts';
import type { EventHub, LiveEvent, Subscriber } from '../api/eventHub.ts';
import { invokeMethod } from '../api/invokeMethod.ts';
import type { MethodTable } from '../api/methodTypes.ts';
import type { DoorStatus } from '../siteMonitor.ts';
import type { Logger } from '../../machines/shared/logger.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { discoveryMessages, doorTopics, HA_COMMANDS, lockState } from './homeAssistant.ts';

export interface MqttBridgeDependencies {
  config: MqttConfig;
  site: { id: string; name: string };
  version: string;
  doors: () => DoorStatus[];
  events: EventHub;
  methods: MethodTable;
  accounts: Pick<Accounts, 'authenticateToken'>;
  logger: Logger;
}

/** Door commands the broker may send, as the API methods that carry them out. */
const COMMANDS: Readonly<Record<string, string>> = {
  unlock: 'doors.unlock',
  lock: 'doors.lock',
  lockdown: 'doors.lockdown',
  passage: 'doors.passage',
  acknowledge: 'doors.acknowledge',
};

/** A command longer than this is no command: refused before it is parsed. */
const MAX_COMMAND_BYTES = 4096;

export class MqttBridge {
  readonly prefix: string;
  readonly #deps: MqttBridgeDependencies;
  readonly #token: string | undefined;
  #client: MqttClient | undefined;
  #subscription: string | undefined;
  /** Decisions not published because the broker was unreachable, since start. */
  #skipped = 0;

  constructor(deps: MqttBridgeDependencies) {
    this.#deps = deps;
    this.prefix = deps.config.topicPrefix ?? `postern/${deps.site.id}`;
    this.#token = deps.config.tokenFile === undefined ? undefined : readSecret(deps.config.tokenFile, 'mqtt.tokenFile');
  }

  get availabilityTopic(): string {
    return `${this.prefix}/availability`;
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  /** Connects in the background: a broker that is down delays nothing and is retried. */
  async start(): Promise<void> {
    const { config, site } = this.#deps;
    const { default: mqtt } = await import('mqtt');
    const password = config.passwordFile === undefined ? undefined : readSecret(config.passwordFile, 'mqtt.passwordFile');
    const client = mqtt.connect(config.url, {
      clientId: config.clientId ?? `postern-${site.id}`,
      ...(config.username !== undefined ? { username: config.username } : {}),
      ...(password !== undefined ? { password } : {}),
      will: { topic: this.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      // Nothing is kept for a broker that is away (see the module comment).
      queueQoSZero: false,
    });
    this.#client = client;
    let wasConnected = false;
    client.on('connect', () => {
      wasConnected = true;
      this.#deps.logger.info({ url: redactUrl(config.url) }, 'mqtt connected');
      void this.#announce(client);
    });
    client.on('offline', () => {
      if (wasConnected) this.#deps.logger.warn({ url: redactUrl(config.url) }, 'mqtt broker unreachable: retrying every 2 s');
      wasConnected = false;
    });
    // Each failed attempt emits one; 'offline' above says it once.
    client.on('error', (error) => this.#deps.logger.debug({ err: error }, 'mqtt error'));
    client.on('message', (topic, payload) => void this.#command(topic, payload));

    const subscriber: Subscriber = { deliver: () => {}, deliverEvent: (event) => this.#publishEvent(event) };
    this.#subscription = this.#deps.events.subscribe(subscriber, ['door', 'audit'], null).subscription;
    this.#subscriber = subscriber;
  }

  #subscriber: Subscriber | undefined;

  /** Says "offline" (retained), then disconnects. */
  async stop(): Promise<void> {
    if (this.#subscriber !== undefined && this.#subscription !== undefined) this.#deps.events.unsubscribe(this.#subscriber, this.#subscription);
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (client.connected) await client.publishAsync(this.availabilityTopic, 'offline', { qos: 1, retain: true }).catch(() => undefined);
    await client.endAsync(!client.connected).catch(() => undefined);
  }

  /** On every (re)connection: subscriptions, availability, discovery and every door's state. */
  async #announce(client: MqttClient): Promise<void> {
    const { config, site, version } = this.#deps;
    try {
      await client.subscribeAsync([`${this.prefix}/door/+/set`, `${this.prefix}/set`], { qos: 1 });
      await client.publishAsync(this.availabilityTopic, 'online', { qos: 1, retain: true });
      for (const door of this.#deps.doors()) {
        if (config.discovery) {
          for (const m of discoveryMessages({ discoveryPrefix: config.discoveryPrefix, prefix: this.prefix, availability: this.availabilityTopic, site, version, door })) {
            await client.publishAsync(m.topic, m.payload, { qos: 1, retain: true });
          }
        }
        this.#publishDoor(door);
      }
      if (this.#skipped > 0) this.#deps.logger.warn({ skipped: this.#skipped }, 'mqtt: decisions made while the broker was unreachable were not published (they are in the audit trail)');
      this.#skipped = 0;
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'mqtt: announcing the site failed; it is tried again at the next connection');
    }
  }

  #publishEvent(event: LiveEvent): void {
    if (event.topic === 'door') this.#publishDoor(event.data as DoorStatus);
    else if (event.topic === 'audit') this.#publishDecision(event.data as Record<string, unknown>);
  }

  #publishDoor(door: DoorStatus): void {
    const client = this.#client;
    if (!client?.connected) return;
    const topics = doorTopics(this.prefix, door.id);
    const retained = { qos: 1, retain: true } as const;
    client.publish(topics.status, JSON.stringify(door), retained);
    client.publish(topics.lock, lockState(door), retained);
    client.publish(topics.contact, door.doorOpen ? 'ON' : 'OFF', retained);
  }

  #publishDecision(event: Record<string, unknown>): void {
    if (event.type !== 'decision' || typeof event.door !== 'string') return;
    const client = this.#client;
    if (!client?.connected) {
      this.#skipped++;
      return;
    }
    const { seq, at, door, scanner, verdict, reason, kind, issuer, subject, holder, partner } = event;
    client.publish(`${this.prefix}/door/${door}/decision`, JSON.stringify({ seq, at, door, scanner, verdict, reason, kind, issuer, subject, holder, partner }), { qos: 1 });
  }

  /** A command from the broker, answered on <prefix>/result: never thrown, always answered. */
  async #command(topic: string, payload: Buffer): Promise<void> {
    const door = doorOfCommandTopic(this.prefix, topic);
    let request: { id?: unknown; command: string; params: Record<string, unknown> } | undefined;
    try {
      request = parseCommand(payload);
      const method = COMMANDS[request.command];
      if (method === undefined) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `command: "${request.command}" is not one of ${[...Object.keys(COMMANDS), ...Object.values(HA_COMMANDS)].join(', ')}`);
      if (door === null && request.command !== 'lockdown') throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `command: only lockdown is a site-wide command; send ${request.command} to ${this.prefix}/door/<door>/set`);
      if (this.#token === undefined) throw new PosternError(ErrorCodes.FORBIDDEN, 'commands are off: the site file gives mqtt no tokenFile');
      // Checked at each command: a revoked token stops commanding at once.
      const principal = await this.#deps.accounts.authenticateToken(this.#token);
      if (principal === undefined) throw new PosternError(ErrorCodes.FORBIDDEN, "mqtt.tokenFile's token is revoked or unknown");
      const params = door === null ? request.params : { ...request.params, door };
      const result = await invokeMethod(this.#deps.methods, method, params, { principal, actor: principalActor(principal), subscriber: NO_SUBSCRIPTIONS });
      this.#answer({ id: request.id ?? null, door, command: request.command, ok: true, result });
    } catch (error) {
      const e = error as { message?: string; code?: unknown; data?: { code?: string } };
      const code = e.data?.code ?? (typeof e.code === 'string' ? e.code : ErrorCodes.INVALID_ARGUMENT);
      this.#deps.logger.info({ door, command: request?.command, code }, 'mqtt command refused');
      this.#answer({ id: request?.id ?? null, door, command: request?.command ?? null, ok: false, error: { code, message: e.message ?? String(error) } });
    }
  }

  #answer(answer: Record<string, unknown>): void {
    this.#client?.publish(`${this.prefix}/result`, JSON.stringify(answer), { qos: 1 });
  }
}

/** Commands do not subscribe: the context's subscriber is never used. */
const NO_SUBSCRIPTIONS: Subscriber = { deliver: () => {} };

function doorOfCommandTopic(prefix: string, topic: string): string | null {
  if (topic === `${prefix}/set`) return null;
  return topic.slice(`${prefix}/door/`.length, -'/set'.length);
}

/** HA's plain LOCK / UNLOCK / OPEN, or JSON { "command": "unlock", "seconds": 5, "id": ... }. */
export function parseCommand(payload: Buffer): { id?: unknown; command: string; params: Record<string, unknown> } {
  if (payload.length > MAX_COMMAND_BYTES) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `command: longer than ${MAX_COMMAND_BYTES} bytes`);
  const text = payload.toString('utf8').trim();
  if (text === HA_COMMANDS.lock) return { command: 'lock', params: {} };
  // OPEN is HA's "open the latch": for a door with one strike, the same as unlocking it.
  if (text === HA_COMMANDS.unlock || text === HA_COMMANDS.open) return { command: 'unlock', params: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `command: "${text.slice(0, 40)}" is neither LOCK, UNLOCK, OPEN nor a JSON object`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof (json as { command?: unknown }).command !== 'string') {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'command: a JSON command is an object with a "command" string');
  }
  const { command, id, ...params } = json as { command: string; id?: unknown };
  return { id, command, params };
}

function readSecret(file: string, key: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_UNREADABLE, `${key}: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}

/** The URL without a password, for logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}
