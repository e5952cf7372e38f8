/**
 * Live changes for subscribers: door state, scanner state, link state and audit events. Each
 * subscription numbers what it delivers 1, 2, 3 ... so a client that sees a gap knows it missed
 * something (after a drop and reconnect) and can fetch it (doors.get, audit.query).
 *
 * Publishing serializes an event's data once, whatever the number of subscribers.
 */
export type Topic = 'door' | 'scanner' | 'link' | 'audit';
export const TOPICS: readonly Topic[] = ['door', 'scanner', 'link', 'audit'];

export interface Subscriber {
  /** Delivers one notification's text; the subscriber decides what to do with backpressure. */
  deliver(text: string): void;
}

interface Subscription {
  id: string;
  subscriber: Subscriber;
  topics: ReadonlySet<Topic>;
  /** null: every door */
  doors: ReadonlySet<string> | null;
  seq: number;
}

export class EventHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private nextId = 1;

  subscribe(subscriber: Subscriber, topics: readonly Topic[], doors: readonly string[] | null): { subscription: string } {
    const id = `s${this.nextId++}`;
    this.subscriptions.set(id, { id, subscriber, topics: new Set(topics), doors: doors === null ? null : new Set(doors), seq: 0 });
    return { subscription: id };
  }

  /** Only the subscriber that made a subscription can end it. */
  unsubscribe(subscriber: Subscriber, id: string): boolean {
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined || subscription.subscriber !== subscriber) return false;
    return this.subscriptions.delete(id);
  }

  unsubscribeAll(subscriber: Subscriber): void {
    for (const [id, s] of this.subscriptions) if (s.subscriber === subscriber) this.subscriptions.delete(id);
  }

  countOf(subscriber: Subscriber): number {
    let count = 0;
    for (const s of this.subscriptions.values()) if (s.subscriber === subscriber) count++;
    return count;
  }

  get size(): number {
    return this.subscriptions.size;
  }

  /** `door`: the door the change concerns, for door filters; null reaches every subscriber. */
  publish(topic: Topic, door: string | null, data: unknown): void {
    if (this.subscriptions.size === 0) return;
    const json = JSON.stringify(data);
    for (const s of this.subscriptions.values()) {
      if (!s.topics.has(topic)) continue;
      if (s.doors !== null && door !== null && !s.doors.has(door)) continue;
      s.seq++;
      s.subscriber.deliver(`{"jsonrpc":"2.0","method":"event","params":{"subscription":"${s.id}","topic":"${topic}","seq":${s.seq},"data":${json}}}`);
    }
  }
}
