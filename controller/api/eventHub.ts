/**
 * Live changes for subscribers: door state, scanner state, link state and audit events. Each
 * subscription numbers what it delivers 1, 2, 3 ... so a client that sees a gap knows it missed
 * something (after a drop and reconnect) and can fetch it (doors.get, audit.query).
 *
 * Publishing serializes an event's data once, whatever the number of subscribers, and queues the
 * deliveries: they go out in slices of DELIVERY_SLICE between turns of the event loop, so that a
 * change with a thousand subscribers never holds up a scan waiting to be decided.
 */
export type Topic = 'door' | 'scanner' | 'link' | 'audit';
export const TOPICS: readonly Topic[] = ['door', 'scanner', 'link', 'audit'];

export interface Subscriber {
  /** Delivers one notification's text; the subscriber decides what to do with backpressure. */
  deliver(text: string): void;
  /**
   * When present, gets the notification's pieces instead of its text (the web UI's socket.io
   * connection, which sends objects). `data` is a copy made once per publish, shared by every
   * such subscriber: do not change it.
   */
  deliverEvent?(event: LiveEvent): void;
}

/** One live event as the JSON-RPC notification's params carry it. */
export interface LiveEvent {
  subscription: string;
  topic: Topic;
  seq: number;
  data: unknown;
}

interface Subscription {
  id: string;
  subscriber: Subscriber;
  topics: ReadonlySet<Topic>;
  /** null: every door */
  doors: ReadonlySet<string> | null;
  seq: number;
}

/** Deliveries per turn of the event loop: small enough that a scan waits at most a fraction of a millisecond. */
const DELIVERY_SLICE = 64;

export class EventHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private nextId = 1;
  private queue: Array<{ subscription: Subscription; text: string } | { subscription: Subscription; event: LiveEvent }> = [];
  private head = 0;
  private draining: NodeJS.Immediate | undefined;

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
    // A snapshot, as the text is, so a change made to `data` after publishing is not seen.
    let copy: unknown;
    for (const s of this.subscriptions.values()) {
      if (!s.topics.has(topic)) continue;
      if (s.doors !== null && door !== null && !s.doors.has(door)) continue;
      s.seq++;
      if (s.subscriber.deliverEvent) {
        copy ??= json === undefined ? null : JSON.parse(json);
        this.queue.push({ subscription: s, event: { subscription: s.id, topic, seq: s.seq, data: copy } });
        continue;
      }
      this.queue.push({ subscription: s, text: `{"jsonrpc":"2.0","method":"event","params":{"subscription":"${s.id}","topic":"${topic}","seq":${s.seq},"data":${json}}}` });
    }
    this.draining ??= setImmediate(() => this.drain());
  }

  /** Deliveries not made yet, for tests and metrics. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  /** Drops what is queued and stops delivering; subscriptions end with their connections. */
  close(): void {
    if (this.draining) clearImmediate(this.draining);
    this.draining = undefined;
    this.queue = [];
    this.head = 0;
  }

  private drain(): void {
    const end = Math.min(this.queue.length, this.head + DELIVERY_SLICE);
    for (; this.head < end; this.head++) {
      const item = this.queue[this.head]!;
      const { subscription } = item;
      // A subscription may have ended between publishing and now.
      if (this.subscriptions.get(subscription.id) !== subscription) continue;
      if ('event' in item) subscription.subscriber.deliverEvent?.(item.event);
      else subscription.subscriber.deliver(item.text);
    }
    if (this.head < this.queue.length) {
      this.draining = setImmediate(() => this.drain());
      return;
    }
    this.queue = [];
    this.head = 0;
    this.draining = undefined;
  }
}
