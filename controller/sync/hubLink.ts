/**
 * One WebSocket to the hub's /sync, as the actor the sync link machine invokes while online
 * (machines/syncLinkMachine.ts): it opens the socket, says hello, turns the hub's frames into the
 * machine's LINK.* events, and does what the machine asks (UPLOAD, PING). The machine decides when
 * to connect, back off, ping and upload; this file only speaks the protocol (docs/sync.md).
 *
 * - The credential goes in the Authorization header of the upgrade and nowhere else: not in the
 *   URL, not in a frame, not in a log or an error message.
 * - Frames from the hub are handled one after another: a snapshot or changes are applied to the
 *   store (applyChanges.ts) before the next frame (a `synced`) is looked at, so the machine hears
 *   LINK.APPLIED before LINK.SYNCED. A snapshot's chunks are applied one by one (each LINK.APPLIED
 *   is a sign of life for the silence timer); the cursor moves after the last one only, so a link
 *   lost mid-snapshot gets a whole snapshot again next time.
 * - An audit batch is the events of this controller's chain after `afterSeq`, read from the store,
 *   at most 500 and at most one frame's bytes. Events appended but not in the store yet are read
 *   again shortly after, so an upload asked for at append time is not lost.
 * - Stopping the actor (the machine leaving online) closes the socket; no event is sent back after.
 * - Requests to the hub (hubRequests.ts: confirms of online-only codes) go out on this socket from
 *   its `welcome` until it closes; their answers (`confirmed`) are handed over as they arrive, not
 *   queued behind a snapshot being applied: a door is waiting on them.
 */
import WebSocket from 'ws';
import { fromCallback } from 'xstate';
import type { HubLinkCommand, HubLinkEvent, HubLinkInput } from '../../machines/syncLinkMachine.ts';
import type { Logger } from '../logger.ts';
import type { AuditEvent, Store } from '../store/storeTypes.ts';
import type { HubChanges } from './applyChanges.ts';
import type { HubCalls } from './hubCalls.ts';
import type { HubRequests } from './hubRequests.ts';
import { hubFrameSchema, MAX_AUDIT_BATCH, MAX_FRAME_BYTES, parseFrame, type HubFrame } from './syncFrames.ts';

/** How soon an upload is tried again when the events asked for are not in the store yet. */
const UPLOAD_RETRY_MS = 250;
/** Pings whose pong has not come; older ones are forgotten. */
const MAX_PINGS_IN_FLIGHT = 16;
/** Frames shorter than this are looked at on arrival for a `confirmed` answer; a snapshot chunk is never one. */
const ANSWER_PEEK_CHARS = 512;

export interface HubLinkDependencies {
  /** The /sync URL (hubAddress.ts hubSyncUrl). */
  url: string;
  credential: string;
  /** A private CA's certificates (hub.caFile); else the system's CAs. */
  ca?: Buffer;
  /** The chain this controller's events carry (the site id). */
  chain: string;
  store: Pick<Store, 'queryAudit'>;
  changes: Pick<HubChanges, 'applySnapshotChunk' | 'finishSnapshot' | 'applyChanges' | 'confirm'>;
  /** The newest event appended to the chain (stored or not): tells an upload to wait for the store, and the hello what the site holds. */
  auditHead: () => { seq: number; hash: string };
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
  clock?: () => number;
  /** Requests waiting on the hub's answers: given this link's send once welcomed, taken back when it closes. */
  requests?: Pick<HubRequests, 'attach' | 'detach' | 'answered'>;
  /** Runs the hub's `call` frames (site.call of the hub's API) through the controller's own API. */
  calls?: Pick<HubCalls, 'handle'>;
}

/** The actor logic the machine is provided with as `hubLink`. */
export function createHubLink(deps: HubLinkDependencies) {
  return fromCallback<HubLinkCommand, HubLinkInput>(({ input, sendBack, receive }) => {
    const clock = deps.clock ?? Date.now;
    const log = deps.logger;
    let stopped = false;
    let closedSent = false;
    /** Why the link ends, for LINK.CLOSED: the first problem seen wins. */
    let problem: string | null = null;
    let frames: Promise<void> = Promise.resolve();
    let nextPing = 1;
    const pings = new Map<number, number>();
    let uploadTimer: NodeJS.Timeout | undefined;
    let uploading = false;
    let wantedUpload: number | undefined;
    /** The snapshot being received on this socket: its cursor and what its chunks held so far. */
    let snapshot: { cursor: number; revocations: number; revoked: number } | undefined;

    const tell = (event: HubLinkEvent) => {
      if (!stopped) sendBack(event);
    };
    /** Set by the first failure: no later frame is applied, or a change after a failed one would move the cursor past it. */
    let broken = false;
    const fail = (why: string) => {
      broken = true;
      problem ??= why;
      deps.requests?.detach(send);
      // A fixed reason: `why` can quote the hub's own text, and a close reason has at most 123 bytes.
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(1002, 'protocol error');
    };
    const send = (frame: object) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    };

    const socket = new WebSocket(deps.url, {
      headers: { authorization: `Bearer ${deps.credential}` },
      maxPayload: MAX_FRAME_BYTES,
      handshakeTimeout: 10_000,
      ...(deps.ca !== undefined ? { ca: deps.ca } : {}),
    });

    socket.on('open', () => {
      const { seq, hash } = deps.auditHead();
      send({ type: 'hello', cursor: input.cursor, chain: deps.chain, time: clock(), head: { seq, hash } });
    });
    socket.on('unexpected-response', (_request, response) => {
      // The hub answers before the upgrade when it refuses the credential (401): say so plainly.
      const status = response.statusCode ?? 0;
      problem ??= status === 401 ? 'the hub refused the credential (401): enrol again' : `the hub answered ${status} instead of opening the link`;
      response.resume();
      socket.terminate();
    });
    socket.on('error', (error) => {
      problem ??= error.message;
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) return fail('the hub sent a binary frame');
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      if (text.length < ANSWER_PEEK_CHARS && answeredAtOnce(text)) return;
      frames = frames.then(() => (stopped || broken ? undefined : handle(text))).catch((error: unknown) => fail(`could not apply the hub's changes: ${(error as Error).message}`));
    });
    socket.on('close', (code, reason) => {
      clearTimeout(uploadTimer);
      deps.requests?.detach(send);
      if (closedSent) return;
      closedSent = true;
      const said = reason.toString('utf8');
      tell({ type: 'LINK.CLOSED', error: problem ?? `closed by the hub (${code}${said ? ` ${said}` : ''})` });
    });

    /** A well-formed `confirmed` frame, handed to the requests at once; anything else goes through the queue. */
    function answeredAtOnce(text: string): boolean {
      const parsed = parseFrame(hubFrameSchema, text);
      if ('problem' in parsed || parsed.frame.type !== 'confirmed') return false;
      if (!stopped && !broken) deps.requests?.answered(parsed.frame);
      return true;
    }

    async function handle(text: string): Promise<void> {
      const parsed = parseFrame(hubFrameSchema, text);
      if ('problem' in parsed) return fail(`the hub sent ${parsed.problem}`);
      const frame: HubFrame = parsed.frame;
      switch (frame.type) {
        case 'welcome':
          log.info({ siteId: frame.siteId, controllerId: frame.controllerId, auditAcked: frame.auditAcked }, 'hub link open');
          if (!stopped) deps.requests?.attach(send);
          return tell({ type: 'LINK.WELCOME', siteId: frame.siteId, controllerId: frame.controllerId, auditAcked: frame.auditAcked });
        case 'snapshot': {
          // Chunks of one cursor, applied as they come; the cursor moves only after the last one.
          if (snapshot !== undefined && snapshot.cursor !== frame.cursor) return fail(`the hub sent a snapshot chunk of cursor ${frame.cursor} inside the snapshot of cursor ${snapshot.cursor}`);
          snapshot ??= { cursor: frame.cursor, revocations: 0, revoked: 0 };
          const chunk = await deps.changes.applySnapshotChunk(frame.revocations);
          snapshot.revocations += frame.revocations.length;
          snapshot.revoked += chunk.revoked;
          if (frame.last === false) return tell({ type: 'LINK.APPLIED', cursor: chunk.cursor, hubCursor: frame.cursor });
          const { revocations, revoked } = snapshot;
          snapshot = undefined;
          const cursor = await deps.changes.finishSnapshot(frame.cursor, { revocations, revoked });
          return tell({ type: 'LINK.APPLIED', cursor, hubCursor: frame.cursor });
        }
        case 'changes': {
          // Nothing comes between a snapshot's chunks: the cursor must not pass a snapshot half applied.
          if (snapshot !== undefined) return fail('the hub sent changes before the last chunk of its snapshot');
          const cursor = await deps.changes.applyChanges(frame.items);
          return tell({ type: 'LINK.APPLIED', cursor, hubCursor: Math.max(frame.cursor, cursor) });
        }
        case 'synced': {
          if (snapshot !== undefined) return fail('the hub said synced before the last chunk of its snapshot');
          const cursor = await deps.changes.confirm(frame.cursor);
          return tell({ type: 'LINK.SYNCED', cursor });
        }
        case 'auditAck':
          return tell({ type: 'LINK.AUDIT_ACK', seq: frame.seq });
        case 'auditRejected':
          log.warn({ seq: frame.seq, problem: frame.problem }, 'the hub refused the audit trail: it does not continue the chain the hub holds');
          return tell({ type: 'LINK.AUDIT_REJECTED', seq: frame.seq, problem: frame.problem });
        case 'pong': {
          const sentAt = typeof frame.id === 'number' ? pings.get(frame.id) : undefined;
          if (sentAt === undefined) return;
          pings.delete(frame.id as number);
          return tell({ type: 'LINK.PONG', sentAt, receivedAt: clock(), hubTime: frame.hubTime });
        }
        case 'error':
          problem ??= `the hub closed the link: ${frame.code}: ${frame.message}`;
          return;
        case 'confirmed':
          // Handed over on arrival (answeredAtOnce); here only if it ever came through the queue.
          return deps.requests?.answered(frame);
        case 'call':
          // Not awaited: a method may take a while, and the link's frames go on meanwhile.
          if (deps.calls === undefined) return send({ type: 'result', id: frame.id, error: { code: -32601, message: 'this controller takes no calls through the hub' } });
          void deps.calls.handle(frame, (answer) => (stopped ? undefined : send(answer))).catch((error: unknown) => log.warn({ err: error, method: frame.method }, 'a call from the hub failed'));
          return;
      }
    }

    /** One audit frame of the events after `afterSeq`; the newest request wins while one is read. */
    async function upload(afterSeq: number): Promise<void> {
      wantedUpload = afterSeq;
      if (uploading) return;
      uploading = true;
      clearTimeout(uploadTimer);
      let after = afterSeq;
      try {
        while (wantedUpload !== undefined && !stopped) {
          after = wantedUpload;
          wantedUpload = undefined;
          const events = await deps.store.queryAudit({ controllerId: deps.chain, afterSeq: after, limit: MAX_AUDIT_BATCH, order: 'asc' });
          const batch = fitFrame(consecutive(events, after));
          if (batch.length > 0) send({ type: 'audit', events: batch });
          // Appended but not stored yet (the trail writes in the background): look again soon.
          else if (deps.auditHead().seq > after) retryUpload(after, UPLOAD_RETRY_MS);
        }
      } catch (error) {
        // The machine waits for this batch's ack: without a retry the upload would stall until reconnect.
        log.warn({ err: error }, 'audit events could not be read for the hub; trying again');
        retryUpload(wantedUpload ?? after, UPLOAD_RETRY_MS * 4);
      } finally {
        uploading = false;
      }
    }

    function retryUpload(afterSeq: number, delayMs: number): void {
      clearTimeout(uploadTimer);
      if (!stopped) uploadTimer = setTimeout(() => void upload(afterSeq), delayMs);
    }

    receive((event) => {
      const command = event;
      if (command.type === 'UPLOAD') void upload(command.afterSeq);
      else if (command.type === 'PING') {
        const id = nextPing++;
        const time = clock();
        pings.set(id, time);
        if (pings.size > MAX_PINGS_IN_FLIGHT) pings.delete(pings.keys().next().value!);
        send({ type: 'ping', id, time });
      }
    });

    return () => {
      stopped = true;
      clearTimeout(uploadTimer);
      deps.requests?.detach(send);
      if (socket.readyState === WebSocket.CONNECTING) socket.terminate();
      else if (socket.readyState === WebSocket.OPEN) socket.close(1000, 'stopping');
    };
  });
}

/** Only a run of seqs that continues `after`: the hub refuses a batch with a gap. */
function consecutive(events: AuditEvent[], after: number): AuditEvent[] {
  let end = 0;
  while (end < events.length && events[end]!.seq === after + end + 1) end += 1;
  return events.slice(0, end);
}

/** As many of the events as fit one frame (large `data` could pass 4 MiB in 500 events). */
function fitFrame(events: AuditEvent[]): AuditEvent[] {
  let batch = events;
  while (batch.length > 1 && Buffer.byteLength(JSON.stringify({ type: 'audit', events: batch })) > MAX_FRAME_BYTES) {
    batch = batch.slice(0, Math.ceil(batch.length / 2));
  }
  return batch;
}
