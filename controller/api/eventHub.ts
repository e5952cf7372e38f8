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
const DELIVERY_SLICE = 16;

/** One published change on its way to the subscriptions there were when it was published. */
interface Pending {
  topic: Topic;
  door: string | null;
  json: string;
  /** The parsed copy for deliverEvent subscribers, made on first need. */
  copy?: unknown;
  subscriptions: Subscription[];
  next: number;
}

export class EventHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private nextId = 1;
  private queue: Pending[] = [];
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

  /**
   * `door`: the door the change concerns, for door filters; null reaches every subscriber. Costs
   * one serialization and one list copy here, whatever the number of subscribers: filtering,
   * numbering and sending happen in the slices.
   */
  publish(topic: Topic, door: string | null, data: unknown): void {
    if (this.subscriptions.size === 0) return;
    // The text is a snapshot: a change made to `data` after publishing is not seen.
    this.queue.push({ topic, door, json: JSON.stringify(data) ?? 'null', subscriptions: [...this.subscriptions.values()], next: 0 });
    this.draining ??= setImmediate(() => this.drain());
  }

  /** Subscriptions that changes published so far have still to reach, for tests and metrics. */
  get backlog(): number {
    return this.queue.reduce((n, p) => n + p.subscriptions.length - p.next, 0);
  }

  /** Drops what is queued and stops delivering; subscriptions end with their connections. */
  close(): void {
    if (this.draining) clearImmediate(this.draining);
    this.draining = undefined;
    this.queue = [];
  }

  private drain(): void {
    let delivered = 0;
    while (this.queue.length > 0 && delivered < DELIVERY_SLICE) {
      const pending = this.queue[0]!;
      while (pending.next < pending.subscriptions.length && delivered < DELIVERY_SLICE) {
        const s = pending.subscriptions[pending.next++]!;
        // A subscription may have ended between publishing and now.
        if (this.subscriptions.get(s.id) !== s || !s.topics.has(pending.topic)) continue;
        if (s.doors !== null && pending.door !== null && !s.doors.has(pending.door)) continue;
        s.seq++;
        delivered++;
        if (s.subscriber.deliverEvent) {
          pending.copy ??= JSON.parse(pending.json);
          s.subscriber.deliverEvent({ subscription: s.id, topic: pending.topic, seq: s.seq, data: pending.copy });
        } else {
          s.subscriber.deliver(`{"jsonrpc":"2.0","method":"event","params":{"subscription":"${s.id}","topic":"${pending.topic}","seq":${s.seq},"data":${pending.json}}}`);
        }
      }
      if (pending.next >= pending.subscriptions.length) this.queue.shift();
    }
    this.draining = this.queue.length > 0 ? setImmediate(() => this.drain()) : undefined;
  }
}
