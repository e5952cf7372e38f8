/**
 * One connected controller: the sync link of docs/sync.md at the hub. Everything it reads or writes
 * is keyed by the controller it authenticated as (its id and its site): nothing a frame says can
 * name another site or another controller's chain.
 *
 * Frames are handled in order, one at a time (a queue of promises): the hello's catch-up, audit
 * batches and pushes of new changes never interleave, so `changes` frames leave in cursor order and
 * none is sent twice.
 */
import { randomBytes } from 'node:crypto';

import type { WebSocket } from 'ws';

import type { Logger } from '../logger.ts';
import type { AuditStore } from './auditStore.ts';
import type { ChangeStore, SnapshotKey } from './changeStore.ts';
import type { AuthenticatedController, HubStore } from './hubStore.ts';
import { OnlineUses } from './onlineUses.ts';
import { CloseCodes, controllerFrameSchema, parseFrame, type ControllerFrame } from '../sync/syncFrames.ts';

export interface SessionDeps {
  store: HubStore;
  changes: ChangeStore;
  audit: AuditStore;
  logger: Logger;
  clock: () => number;
  helloTimeoutMs: number;
  idleTimeoutMs: number;
  onClosed(session: SyncSession): void;
  /** A controller's answer to a `call` of the hub's API: matched with its call in siteCalls.ts. */
  onResult?(session: SyncSession, frame: Extract<ControllerFrame, { type: 'result' }>): void;
  /** The controller's clock as a hello or ping gave it (unix ms): the hub's overview shows the offset (linkPresence.ts). */
  onClock?(session: SyncSession, controllerTime: number): void;
  /** Counts online-only codes' uses (docs/sync.md, "Confirmations"); default: over the store's database. */
  onlineUses?: OnlineUses;
}

type State = 'hello' | 'syncing' | 'live' | 'closed';

/** How often a live link's last-seen time is written at most. */
const TOUCH_EVERY_MS = 60_000;
/** Audit frames received and not yet answered, at most. */
const MAX_AUDIT_PENDING = 4;
/** Confirms received and not yet answered, at most: beyond, the answer is `busy` (no database work). */
export const MAX_CONFIRMS_IN_FLIGHT = 64;
/** Changes per `changes` frame. */
const CHANGES_PER_FRAME = 1000;
/** Revocations per `snapshot` frame at most, and their bytes at most (frames are at most 4 MiB). */
export const SNAPSHOT_CHUNK = 5000;
const SNAPSHOT_CHUNK_BYTES = 3 * 1024 * 1024;
/** Revocations read from the database at once for a snapshot. */
const SNAPSHOT_PAGE = 5000;

export class SyncSession {
  /** Names this link in `!link` notifications: the one link of its controller (hubServer.ts). */
  readonly nonce = randomBytes(8).toString('hex');
  /** Whether this hub has seen this link's own `!link` notification: links announced before it are older. */
  announced = false;
  private state: State = 'hello';
  private cursor = 0;
  private chain: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pullQueued = false;
  private auditPending = 0;
  private confirmsInFlight = 0;
  /** Resolved once the hello bound the link (welcome sent): confirms are answered from then on, beside the queue. */
  private readonly welcomed: Promise<void>;
  private markWelcomed: () => void = () => undefined;
  private readonly onlineUses: OnlineUses;
  private timer: NodeJS.Timeout | undefined;
  private lastTouch = 0;
  private readonly log: Logger;
  /** Called once when the link closes: writes awaited by sendWritten end there. */
  private onClose: Array<() => void> = [];

  constructor(
    private readonly ws: WebSocket,
    readonly controller: AuthenticatedController,
    /** sha256 of the credential it connected with: checked again when a `!close` comes. */
    private readonly credentialHash: string,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.logger.child({ controllerId: controller.id, siteId: controller.siteId });
    this.onlineUses = deps.onlineUses ?? new OnlineUses(deps.store.db, deps.clock);
    this.welcomed = new Promise((resolve) => (this.markWelcomed = resolve));
    ws.on('message', (data, isBinary) => this.onMessage(isBinary ? undefined : data.toString('utf8')));
    ws.on('close', () => this.closed());
    ws.on('error', (error) => this.log.debug({ err: error }, 'sync link error'));
    this.arm(deps.helloTimeoutMs);
    // The link's `!link` announcement is the first work in its queue, before its hello is handled
    // (a link that cannot be announced is closed: no later link elsewhere could replace it). A
    // controller's links then announce in the order they were served: the `!link` of a link that
    // has closed never comes after that of the next one, which it would close as replaced.
    this.enqueue(() => deps.store.announceLink(controller.id, this.nonce));
  }

  get siteId(): string {
    return this.controller.siteId;
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Past its catch-up: what site.call may send to (siteCalls.ts). */
  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Sends a `call` of the hub's API (siteCalls.ts), beside the queue; false when the link is not live. */
  sendCall(frame: { type: 'call'; id: number; method: string; params?: unknown; account: { name: string; role: string } }): boolean {
    if (this.state !== 'live') return false;
    this.send(frame);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.ws.close(code, reason);
    this.closed();
  }

  /** A change of this site was committed: pushed once the link is live (until then the catch-up takes it). */
  changed(cursor: number): void {
    if (cursor > this.cursor && this.state === 'live') this.schedulePull();
  }

  /** The credential may have changed, or the controller been revoked: closes the link when it no longer works. */
  recheck(): void {
    this.enqueue(async () => {
      if (!(await this.deps.store.credentialCurrent(this.controller.id, this.credentialHash))) {
        this.log.info('credential no longer valid: closing the sync link');
        this.close(CloseCodes.CREDENTIAL_ENDED, 'credential ended');
      }
    });
  }

  /** After the feed lost notifications: look for changes as if notified. */
  catchUp(): void {
    if (this.state === 'live') this.schedulePull();
  }

  private onMessage(text: string | undefined): void {
    if (this.state === 'closed') return;
    this.arm(this.deps.idleTimeoutMs);
    const parsed = text === undefined ? { problem: 'frames are JSON text, not binary' } : parseFrame(controllerFrameSchema, text);
    if ('problem' in parsed) return this.protocolError(parsed.problem);
    const frame: ControllerFrame = parsed.frame;
    if (frame.type === 'ping') {
      this.send({ type: 'pong', id: frame.id, hubTime: this.deps.clock() });
      if (frame.time !== undefined) this.deps.onClock?.(this, frame.time);
      if (this.deps.clock() - this.lastTouch >= TOUCH_EVERY_MS) this.enqueue(() => this.touch());
      return;
    }
    if (frame.type === 'hello') {
      if (this.state !== 'hello') return this.protocolError('hello is the first frame, and only once');
      this.state = 'syncing';
      this.enqueue(() => this.hello(frame.cursor, frame.chain, frame.head));
      this.deps.onClock?.(this, frame.time);
      return;
    }
    if (this.state === 'hello') return this.protocolError('hello is the first frame');
    switch (frame.type) {
      case 'confirm':
        return this.confirm(frame);
      case 'result':
        return this.deps.onResult?.(this, frame);
      case 'audit':
        return this.receiveAudit(frame);
      default: {
        // A frame type added to the schema fails to compile here until it is handled.
        const unhandled: never = frame;
        return unhandled;
      }
    }
  }

  /** An audit batch: stored in order after the hello's work, answered with its ack or the chain problem. */
  private receiveAudit(frame: Extract<ControllerFrame, { type: 'audit' }>): void {
    // A controller sends the next batch after the last one's answer; a flood would only fill memory.
    if (this.auditPending >= MAX_AUDIT_PENDING) return this.protocolError(`more than ${MAX_AUDIT_PENDING} audit batches waiting for their answer`);
    this.auditPending++;
    this.enqueue(async () => {
      this.auditPending--;
      // After the hello's work (queued before this), which bound the chain.
      const foreign = frame.events.find((e) => e.controllerId !== this.chain);
      if (foreign !== undefined) return this.protocolError(`event ${foreign.seq} is of chain ${JSON.stringify(foreign.controllerId)}, not of this link's chain`);
      const result = await this.deps.audit.receive(this.controller.id, frame.events);
      if (result.ok) {
        this.send({ type: 'auditAck', seq: result.seq });
      } else {
        this.log.warn({ seq: result.seq, problem: result.problem }, 'audit batch rejected: controller flagged');
        this.send({ type: 'auditRejected', seq: result.seq, problem: result.problem });
      }
    });
  }

  /**
   * An online-only code read at one of the site's doors (onlineUses.ts). Answered beside the queue,
   * so a confirm never waits behind a snapshot or an audit batch (a door is waiting on it), but only
   * once the hello bound the link. At most MAX_CONFIRMS_IN_FLIGHT at once per link: beyond, `busy`
   * at once. Keyed by this link's site alone. A database failure answers nothing and closes the
   * link (1011): the controller denies what it could not confirm, never grants it.
   */
  private confirm(frame: Extract<ControllerFrame, { type: 'confirm' }>): void {
    if (this.confirmsInFlight >= MAX_CONFIRMS_IN_FLIGHT) {
      this.send({ type: 'confirmed', id: frame.id, answer: 'busy' });
      return;
    }
    this.confirmsInFlight++;
    void (async () => {
      try {
        await this.welcomed;
        if (this.state === 'closed') return;
        const result = await this.onlineUses.confirm(this.siteId, frame.issuer, frame.subject, frame.maxUses);
        this.send({ type: 'confirmed', id: frame.id, ...result });
      } catch (error) {
        this.log.error({ err: error, issuer: frame.issuer }, 'online-only code could not be confirmed');
        this.fail('hub.unavailable', 'the hub could not confirm that now: reconnect later', 1011);
      } finally {
        this.confirmsInFlight--;
      }
    })();
  }

  private async hello(cursor: number, chain: string, tip: { seq: number; hash: string } | undefined): Promise<void> {
    const binding = await this.deps.store.bindChain(this.controller.id, chain);
    if (binding !== 'bound') {
      const message = binding === 'taken' ? `chain ${chain} belongs to another controller of this site` : `this controller uploads chain ${this.controller.chain ?? '(another)'}, not ${chain}`;
      return this.fail(`hub.chain.${binding}`, message);
    }
    this.chain = chain;
    await this.touch();
    const head = await this.deps.audit.head(this.controller.id);
    this.send({ type: 'welcome', siteId: this.siteId, controllerId: this.controller.id, hubTime: this.deps.clock(), auditAcked: head?.seq ?? 0 });
    this.markWelcomed();
    const cut = tip === undefined ? undefined : await this.deps.audit.checkTip(this.controller.id, tip);
    if (cut !== undefined) {
      this.log.warn({ seq: cut.seq, problem: cut.problem }, 'the controller no longer holds the chain the hub has: controller flagged');
      this.send({ type: 'auditRejected', seq: cut.seq, problem: cut.problem });
    }
    const start = await this.deps.changes.syncStart(this.siteId, cursor);
    if (start.kind === 'snapshot') {
      await this.sendSnapshot(start.cursor);
      this.cursor = start.cursor;
    } else {
      this.cursor = cursor;
    }
    await this.pull();
    if (this.state !== 'syncing') return;
    this.send({ type: 'synced', cursor: this.cursor });
    this.state = 'live';
    this.log.info({ cursor: this.cursor }, 'sync link live');
    // Changes committed during the catch-up may have been notified before the link was live.
    this.schedulePull();
  }

  /**
   * The site's revocations as `snapshot` frames of one cursor: read a page at a time (keyset
   * pagination), sent in chunks of at most SNAPSHOT_CHUNK revocations and SNAPSHOT_CHUNK_BYTES,
   * the final one with `last: true` (an empty set is one empty chunk). The next chunk is sent only
   * when the previous one was written to the socket, so a slow controller holds one chunk in
   * memory here, not the set.
   */
  private async sendSnapshot(cursor: number): Promise<void> {
    let chunk: string[] = [];
    let bytes = 0;
    let written: Promise<void> = Promise.resolve();
    const flush = async (last: boolean) => {
      await written;
      written = this.sendWritten(`{"type":"snapshot","cursor":${cursor},"last":${last},"revocations":[${chunk.join(',')}]}`);
      chunk = [];
      bytes = 0;
    };
    let after: SnapshotKey | undefined;
    do {
      const page = await this.deps.changes.snapshotPage(this.siteId, after, SNAPSHOT_PAGE);
      if (this.state === 'closed') return;
      for (const revocation of page.revocations) {
        const json = JSON.stringify(revocation);
        const size = Buffer.byteLength(json) + 1;
        if (chunk.length > 0 && (chunk.length >= SNAPSHOT_CHUNK || bytes + size > SNAPSHOT_CHUNK_BYTES)) await flush(false);
        chunk.push(json);
        bytes += size;
      }
      after = page.next;
    } while (after !== undefined);
    await flush(true);
    await written;
  }

  /** Sends a frame's text; resolves when it is written to the socket (or the link is gone). */
  private sendWritten(text: string): Promise<void> {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.onClose = this.onClose.filter((waiting) => waiting !== done);
        resolve();
      };
      this.onClose.push(done);
      this.ws.send(text, done);
    });
  }

  private schedulePull(): void {
    if (this.pullQueued) return;
    this.pullQueued = true;
    this.enqueue(async () => {
      this.pullQueued = false;
      await this.pull();
    });
  }

  /** Sends every change of the site after the cursor. */
  private async pull(): Promise<void> {
    for (;;) {
      if (this.state === 'closed') return;
      const items = await this.deps.changes.changesAfter(this.siteId, this.cursor, CHANGES_PER_FRAME);
      if (items.length === 0) return;
      this.cursor = items[items.length - 1]!.cursor;
      this.send({ type: 'changes', cursor: this.cursor, items });
      if (items.length < CHANGES_PER_FRAME) return;
    }
  }

  private async touch(): Promise<void> {
    this.lastTouch = this.deps.clock();
    await this.deps.store.touch(this.controller.id);
  }

  private enqueue(work: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.state === 'closed') return;
      try {
        await work();
      } catch (error) {
        this.log.error({ err: error }, 'sync link failed');
        this.fail('hub.unavailable', 'the hub could not do that now: reconnect later', 1011);
      }
    });
  }

  private protocolError(message: string): void {
    this.log.warn({ problem: message }, 'protocol error on the sync link');
    this.fail('hub.protocol', message);
  }

  private fail(errorCode: string, message: string, closeCode: number = CloseCodes.PROTOCOL): void {
    this.send({ type: 'error', code: errorCode, message });
    this.close(closeCode, errorCode);
  }

  private send(frame: Record<string, unknown>): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(frame));
  }

  /** (Re)starts the timer that closes a link that says nothing: no hello in time, or silent for too long. */
  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.close(CloseCodes.IDLE, this.state === 'hello' ? 'no hello' : 'silent'), ms);
  }

  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const resolve of this.onClose.splice(0)) resolve();
    // Confirms waiting for a hello that never bound end here, unanswered.
    this.markWelcomed();
    this.deps.onClosed(this);
  }
}
