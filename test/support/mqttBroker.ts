/**
 * The MQTT broker the bridge's tests run against: Mosquitto on 127.0.0.1:1883 (started by .ci/run),
 * or POSTERN_TEST_MQTT_URL. Suites skip, saying why, when it does not answer, unless
 * POSTERN_TEST_REQUIRE_ALL=1, under which they fail.
 */
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { requireAll } from './postgres.ts';

export const brokerUrl = process.env.POSTERN_TEST_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
let availability: Promise<boolean> | undefined;

export function brokerAvailable(): Promise<boolean> {
  availability ??= mqtt
    .connectAsync(brokerUrl, { connectTimeout: 3000, reconnectPeriod: 0 })
    .then(async (client) => {
      await client.endAsync();
      return true;
    })
    .catch(() => false);
  return availability;
}

export function brokerSuiteName(name: string, available: boolean): string {
  if (available) return name;
  return requireAll
    ? `${name} (no MQTT broker at ${brokerUrl}, and POSTERN_TEST_REQUIRE_ALL=1: failing)`
    : `${name} (skipped: no MQTT broker at ${brokerUrl}; start mosquitto or set POSTERN_TEST_MQTT_URL)`;
}

/** A fresh topic root, so that runs never see each other's retained messages. */
export function freshPrefix(label: string): string {
  return `postern-test/${label}-${randomBytes(4).toString('hex')}`;
}

/** A client that records every message of the topics it subscribed to. */
export class RecordingClient {
  readonly messages: Array<{ topic: string; text: string; retain: boolean }> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => this.messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain }));
  }

  static async connect(topics: string[]): Promise<RecordingClient> {
    const client = await mqtt.connectAsync(brokerUrl, { connectTimeout: 3000, reconnectPeriod: 0 });
    const recording = new RecordingClient(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return recording;
  }

  /** The newest message on `topic` that `match` accepts, waited for up to `timeoutMs`. */
  async waitFor(topic: string, match: (text: string) => boolean = () => true, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.findLast((m) => m.topic === topic && match(m.text));
      if (found) return found.text;
      if (Date.now() > deadline) throw new Error(`no message on ${topic} in ${timeoutMs} ms; got: ${this.messages.map((m) => `${m.topic}=${m.text.slice(0, 60)}`).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  publish(topic: string, text: string): Promise<unknown> {
    return this.client.publishAsync(topic, text, { qos: 1 });
  }

  /** Clears what this run left retained on the broker. */
  async clearRetained(): Promise<void> {
    for (const topic of new Set(this.messages.filter((m) => m.retain || m.text !== '').map((m) => m.topic))) await this.client.publishAsync(topic, '', { qos: 1, retain: true });
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}
