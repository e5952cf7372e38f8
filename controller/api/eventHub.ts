/**
 * Live changes for subscribers: door state, scanner state, link state, audit events and the hub
 * sync link's status (published only by a controller with a hub: api/syncFeed.ts). Each
 * subscription numbers what it delivers 1, 2, 3 ... so a client that sees a gap knows it missed
 * something (after a drop and reconnect) and can fetch it (doors.get, audit.query).
 *
 * An audit subscription can also start with a replay of the stored trail (auditReplay.ts): it is
 * registered first with its deliveries held back, the replay sends the stored events itself, and
 * the held-back live ones follow minus those the replay already sent (by audit seq), so the seam
 * between stored and live has neither a gap nor a duplicate.
 *
 * Publishing serializes an event's data once, whatever the number of subscribers, and queues it.
 * Deliveries start COALESCE_MS after the first change queued and go out subscriber by subscriber,
 * DELIVERY_SLICE subscribers per turn of the event loop, so that a change with a thousand
 * subscribers never holds up a scan waiting to be decided; each subscriber visited gets everything
 * queued for it at once, corked (Subscriber.cork), so the several notifications of one scan reach a
 * WebSocket client in one write instead of one each.
 * The socket writes were the controller's largest cost under 100 subscribers (BENCHMARKS.md,
 * viewer-flood).
 */
export type Topic = 'door' | 'scanner' | 'link' | 'audit' | 'sync';
export const TOPICS: readonly Topic[] = ['door', 'scanner', 'link', 'audit', 'sync'];

export interface Subscriber {
  /** Delivers one notification's text; the subscriber decides what to do with backpressure. */
  deliver(text: string): void;
  /**
   * When present, gets the notification's pieces instead of its text (the web UI's socket.io
   * connection, which sends objects). `data` is a copy made once per publish, shared by every
   * such subscriber: do not change it.
   */
  deliverEvent?(event: LiveEvent): void;
  /** Bytes given to deliver() and not sent yet, when the transport knows: a replay waits on it. */
  unsent?(): number;
  /**
   * Called before a run of deliveries and after it (always paired, in the same turn of the event
   * loop): what is delivered in between may leave in one write.
   */
  cork?(): void;
  uncork?(): void;
}

/** One live event as the JSON-RPC notification's params carry it. */
export interface LiveEvent {
  subscription: string;
  topic: Topic;
  seq: number;
  data: unknown;
}

/** Audit events only: each field given must match; an event without that field does not. */
export interface AuditFilter {
  verdict?: 'grant' | 'deny';
  types?: readonly string[];
  scanners?: readonly string[];
  subjects?: readonly string[];
}

export interface SubscribeOptions {
  audit?: AuditFilter;
  /** Holds deliveries back until endReplay(): for a subscription whose replay is about to run. */
  replaying?: boolean;
}

/** The audit event fields that filters and the replay seam look at. */
interface AuditFields {
  seq: number;
  type: string;
  verdict: string | null;
  scanner: string | null;
  subject: string | null;
}

interface CompiledAuditFilter {
  verdict: string | undefined;
  types: ReadonlySet<string> | undefined;
  scanners: ReadonlySet<string> | undefined;
  subjects: ReadonlySet<string> | undefined;
}

interface Subscription {
  id: string;
  subscriber: Subscriber;
  topics: ReadonlySet<Topic>;
  /** null: every door */
  doors: ReadonlySet<string> | null;
  audit: CompiledAuditFilter | null;
  seq: number;
  /** The position in the hub's queue of the next change to look at (it saw none before it was made). */
  cursor: number;
  /** Audit events at or below this seq were sent by the replay: live copies are dropped. */
  auditFloor: number;
  /**
   * While a replay runs: the live deliveries held back, in order; `overflow` once past MAX_HELD;
   * `firstAuditSeq`, the first audit event published since the subscription was made (known at
   * once, while its delivery may still wait in the queue).
   */
  held: { pendings: Pending[]; overflow: boolean; firstAuditSeq: number | undefined } | undefined;
}

/**
 * Live notifications held back for one subscription while its replay runs. Past this the replay
 * gives up (the client is told to subscribe again from where it got to), so that a replay that
 * cannot keep up with the site does not hold memory without bound.
 */
export const MAX_HELD = 20_000;

/** Subscribers served per turn of the event loop: small enough that a scan waits at most a fraction of a millisecond. */
const DELIVERY_SLICE = 16;
/**
 * How long a change waits for others before the deliveries start. The several changes of one scan
 * (its decision, the door unlocking, opening) then reach each subscriber in one write instead of
 * one per change: a run of deliveries is a socket write per subscriber, and those writes were the
 * main thread's largest cost under 100 subscribers (BENCHMARKS.md, viewer-flood). A person watching
 * a door does not see 10 ms.
 */
const COALESCE_MS = 10;
/** Changes given to one subscriber in one visit; the rest wait for its next visit. */
const MAX_PER_VISIT = 64;

/** One published change, queued until every subscription there was when it was published has looked at it. */
interface Pending {
  topic: Topic;
  door: string | null;
  /** For the audit topic. */
  audit: AuditFields | undefined;
  json: string;
  /** The parsed copy for deliverEvent subscribers, made on first need. */
  copy?: unknown;
}

export class EventHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private nextId = 1;
  /** Published changes not yet looked at by every subscription; queue[0] is at position queueStart. */
  private queue: Pending[] = [];
  private queueStart = 0;
  /** The subscriptions of the current round of visits, and the next one to visit. */
  private round: Subscription[] = [];
  private roundAt = 0;
  private draining: NodeJS.Immediate | undefined;
  /** While the first change waits COALESCE_MS for others. */
  #gathering: NodeJS.Timeout | undefined;
  #auditHead = 0;
  /** Subscriptions whose replay runs. */
  readonly #replaying = new Set<string>();

  /**
   * The seq of the newest audit event published: audit events are published in seq order
   * (namedAuditFeed.ts), so every one above it is published after this moment and reaches the
   * subscriptions made now.
   */
  get auditHead(): number {
    return this.#auditHead;
  }

  subscribe(subscriber: Subscriber, topics: readonly Topic[], doors: readonly string[] | null, options: SubscribeOptions = {}): { subscription: string } {
    const id = `s${this.nextId++}`;
    this.subscriptions.set(id, {
      id,
      subscriber,
      topics: new Set(topics),
      doors: doors === null ? null : new Set(doors),
      audit: compileAuditFilter(options.audit),
      seq: 0,
      cursor: this.queueEnd,
      auditFloor: 0,
      held: options.replaying === true ? { pendings: [], overflow: false, firstAuditSeq: undefined } : undefined,
    });
    if (options.replaying === true) this.#replaying.add(id);
    return { subscription: id };
  }

  /**
   * Sends one stored audit event to a subscription whose replay runs, numbered as live ones are.
   * 'gone': the subscription ended (its connection closed); 'filtered': its filters leave it out.
   */
  replayAudit(id: string, event: AuditFields & { door: string | null }): 'sent' | 'filtered' | 'gone' {
    const s = this.subscriptions.get(id);
    if (s === undefined) return 'gone';
    if (event.seq > s.auditFloor) s.auditFloor = event.seq;
    if (!this.#matches(s, 'audit', event.door, event)) return 'filtered';
    this.#send(s, { topic: 'audit', door: event.door, audit: event, json: JSON.stringify(event) });
    return 'sent';
  }

  /** What a running replay needs to know of its subscription; undefined once it ended. */
  replayState(id: string): { overflow: boolean; firstHeldAuditSeq: number | undefined } | undefined {
    const s = this.subscriptions.get(id);
    if (s === undefined) return undefined;
    return { overflow: s.held?.overflow ?? false, firstHeldAuditSeq: s.held?.firstAuditSeq };
  }

  /**
   * The replay sent every stored event up to `throughSeq`: the live notifications held back go out
   * now, except the audit events the replay sent already, and the subscription is live from here.
   */
  endReplay(id: string, throughSeq: number): void {
    const s = this.subscriptions.get(id);
    if (s?.held === undefined) return;
    if (throughSeq > s.auditFloor) s.auditFloor = throughSeq;
    const { pendings } = s.held;
    s.held = undefined;
    this.#replaying.delete(id);
    for (const pending of pendings) {
      if (this.subscriptions.get(id) !== s) return; // a delivery that dropped a slow client ends it
      if (pending.audit !== undefined && pending.audit.seq <= s.auditFloor) continue;
      this.#send(s, pending);
    }
  }

  /** Only the subscriber that made a subscription can end it. */
  unsubscribe(subscriber: Subscriber, id: string): boolean {
    const subscription = this.subscriptions.get(id);
    if (subscription === undefined || subscription.subscriber !== subscriber) return false;
    return this.subscriptions.delete(id);
  }

  /** Ends a subscription whatever its subscriber: a replay that failed. */
  endSubscription(id: string): void {
    this.subscriptions.delete(id);
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
   * one serialization here, whatever the number of subscribers: filtering, numbering and sending
   * happen in the visits.
   */
  publish(topic: Topic, door: string | null, data: unknown): void {
    const audit = topic === 'audit' ? auditFields(data) : undefined;
    if (audit !== undefined && audit.seq > this.#auditHead) this.#auditHead = audit.seq;
    if (audit !== undefined) {
      for (const id of this.#replaying) {
        const held = this.subscriptions.get(id)?.held;
        if (held === undefined) this.#replaying.delete(id);
        else held.firstAuditSeq ??= audit.seq;
      }
    }
    if (this.subscriptions.size === 0) return;
    // The text is a snapshot: a change made to `data` after publishing is not seen.
    this.queue.push({ topic, door, audit, json: JSON.stringify(data) ?? 'null' });
    if (this.draining !== undefined || this.#gathering !== undefined) return;
    this.#gathering = setTimeout(() => {
      this.#gathering = undefined;
      // In the event loop's check phase, as the turns after it: after the timers due with this one
      // (a door's relock among them).
      this.draining ??= setImmediate(() => this.drain());
    }, COALESCE_MS);
  }

  private get queueEnd(): number {
    return this.queueStart + this.queue.length;
  }

  /** (change, subscription) pairs published and not yet looked at, for tests and metrics. */
  get backlog(): number {
    let n = 0;
    for (const s of this.subscriptions.values()) n += this.queueEnd - s.cursor;
    return n;
  }

  /** Drops what is queued and stops delivering; subscriptions end with their connections. */
  close(): void {
    clearTimeout(this.#gathering);
    this.#gathering = undefined;
    clearImmediate(this.draining);
    this.draining = undefined;
    this.queueStart = this.queueEnd;
    this.queue = [];
    this.round = [];
    this.roundAt = 0;
    for (const s of this.subscriptions.values()) s.cursor = this.queueStart;
    this.#replaying.clear();
  }

  /** One turn's share: up to DELIVERY_SLICE subscribers with something queued, each given all of it. */
  private drain(): void {
    let served = 0;
    while (served < DELIVERY_SLICE) {
      if (this.roundAt >= this.round.length && !this.#nextRound()) break;
      const s = this.round[this.roundAt++]!;
      // A subscription may have ended since the round began.
      if (this.subscriptions.get(s.id) !== s || s.cursor >= this.queueEnd) continue;
      served++;
      this.#visit(s);
    }
    this.draining = served > 0 || this.roundAt < this.round.length ? setImmediate(() => this.drain()) : undefined;
  }

  /**
   * Drops the changes every subscription has looked at, and starts a round of the subscriptions
   * that have something left; false when none has.
   */
  #nextRound(): boolean {
    let oldest = this.queueEnd;
    const round: Subscription[] = [];
    for (const s of this.subscriptions.values()) {
      if (s.cursor < oldest) oldest = s.cursor;
      if (s.cursor < this.queueEnd) round.push(s);
    }
    this.queue.splice(0, oldest - this.queueStart);
    this.queueStart = oldest;
    this.round = round;
    this.roundAt = 0;
    return round.length > 0;
  }

  #visit(s: Subscription): void {
    const end = Math.min(this.queueEnd, s.cursor + MAX_PER_VISIT);
    s.subscriber.cork?.();
    try {
      while (s.cursor < end) {
        const pending = this.queue[s.cursor++ - this.queueStart]!;
        if (!this.#matches(s, pending.topic, pending.door, pending.audit)) continue;
        if (pending.audit !== undefined && pending.audit.seq <= s.auditFloor) continue;
        if (s.held !== undefined) {
          if (s.held.overflow) continue;
          if (s.held.pendings.length >= MAX_HELD) {
            s.held.overflow = true;
            s.held.pendings = [];
          } else s.held.pendings.push(pending);
          continue;
        }
        this.#send(s, pending);
        // A delivery that dropped a slow client ended the subscription.
        if (this.subscriptions.get(s.id) !== s) return;
      }
    } finally {
      s.subscriber.uncork?.();
    }
  }

  #matches(s: Subscription, topic: Topic, door: string | null, audit: AuditFields | undefined): boolean {
    if (!s.topics.has(topic)) return false;
    if (s.doors !== null && door !== null && !s.doors.has(door)) return false;
    if (topic !== 'audit' || s.audit === null || audit === undefined) return true;
    const f = s.audit;
    if (f.verdict !== undefined && audit.verdict !== f.verdict) return false;
    if (f.types !== undefined && !f.types.has(audit.type)) return false;
    if (f.scanners !== undefined && (audit.scanner === null || !f.scanners.has(audit.scanner))) return false;
    if (f.subjects !== undefined && (audit.subject === null || !f.subjects.has(audit.subject))) return false;
    return true;
  }

  #send(s: Subscription, pending: Pending): void {
    s.seq++;
    if (s.subscriber.deliverEvent) {
      pending.copy ??= JSON.parse(pending.json);
      s.subscriber.deliverEvent({ subscription: s.id, topic: pending.topic, seq: s.seq, data: pending.copy });
    } else {
      s.subscriber.deliver(`{"jsonrpc":"2.0","method":"event","params":{"subscription":"${s.id}","topic":"${pending.topic}","seq":${s.seq},"data":${pending.json}}}`);
    }
  }
}

function compileAuditFilter(filter: AuditFilter | undefined): CompiledAuditFilter | null {
  if (filter === undefined) return null;
  const set = (values: readonly string[] | undefined) => (values === undefined ? undefined : new Set(values));
  const compiled = { verdict: filter.verdict, types: set(filter.types), scanners: set(filter.scanners), subjects: set(filter.subjects) };
  return Object.values(compiled).every((v) => v === undefined) ? null : compiled;
}

/** Audit data that is not an audit event (a test's, say) carries no seq: it is never deduplicated. */
function auditFields(data: unknown): AuditFields | undefined {
  const e = data as Partial<AuditFields> | null;
  if (e === null || typeof e !== 'object' || typeof e.seq !== 'number') return undefined;
  return { seq: e.seq, type: String(e.type), verdict: e.verdict ?? null, scanner: e.scanner ?? null, subject: e.subject ?? null };
}
