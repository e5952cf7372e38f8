// The controller's sync link to its hub (docs/sync.md): one WebSocket that brings the site's
// revocations and takes the audit chain up. Pure: the socket is the named actor `hubLink`, given
// its real implementation by the controller with `.provide()`; time only comes from xstate delays
// and randomness only from `input.random`, so tests drive both.
//
// Why it is shaped as it is:
// - `hubLink` is invoked on `online`, not on its phases, so one socket lives across
//   connecting → syncing → live and is closed by leaving `online` (backoff, STOP).
// - `online` is parallel: besides the phase, a `silence` region whose timer is restarted by every
//   word from the hub, and a `heartbeat` region that pings once welcomed. Timers in regions of
//   their own restart without re-entering the phase (or the invoke).
// - One audit batch is in flight at a time: the hub acknowledges by seq and a batch must continue
//   the chain it holds, so a second batch sent before the ack would only be a gap.
import { assign, enqueueActions, fromCallback, sendTo, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';

export interface SyncLinkInput {
  /** The first retry waits up to this long (default 1 s). */
  backoffBaseMs?: number;
  /** No retry waits longer than this (default 30 s). */
  backoffMaxMs?: number;
  /** A PING this often while syncing or live (default 5 s). */
  heartbeatMs?: number;
  /** A link the hub says nothing on for this long is dropped (default 15 s). */
  silenceMs?: number;
  /** A clock further than this from the hub's raises the clock alarm (default 5 s). */
  clockAlarmMs?: number;
  /** In [0, 1); default Math.random. */
  random?: () => number;
  /** The last change cursor applied to the store (0: none). */
  cursor?: number;
  /** The seq of the last local audit event (0: none). */
  auditHead?: number;
  /** Connect at once; otherwise wait in `offline` for START. */
  start?: boolean;
}

/** What `hubLink` is invoked with: where the store stands, for its `hello`. */
export interface HubLinkInput {
  cursor: number;
}

/** What the machine tells `hubLink` (it stamps a PING's time itself). */
export type HubLinkCommand = { type: 'UPLOAD'; afterSeq: number } | { type: 'PING' };

/** What `hubLink` reports back. */
export type HubLinkEvent =
  | { type: 'LINK.WELCOME'; siteId: string; controllerId: string; auditAcked: number }
  /** A snapshot or a batch of changes is applied to the store, up to `cursor`. */
  | { type: 'LINK.APPLIED'; cursor: number; hubCursor: number }
  | { type: 'LINK.SYNCED'; cursor: number }
  | { type: 'LINK.AUDIT_ACK'; seq: number }
  | { type: 'LINK.AUDIT_REJECTED'; seq: number; problem: string }
  /** `sentAt`, `receivedAt`: the controller's clock around the ping; `hubTime`: the hub's answer. */
  | { type: 'LINK.PONG'; sentAt: number; receivedAt: number; hubTime: number }
  | { type: 'LINK.CLOSED'; error: string };

export type SyncLinkEvent =
  | HubLinkEvent
  /** The audit outbox grew to `seq`. */
  | { type: 'OUTBOX.HEAD'; seq: number }
  | { type: 'START' }
  | { type: 'STOP' };

export interface SyncLinkContext {
  backoffBaseMs: number;
  backoffMaxMs: number;
  heartbeatMs: number;
  silenceMs: number;
  clockAlarmMs: number;
  random: () => number;
  /** input.start, read once by the first state. */
  startAtOnce: boolean;
  /** The last change cursor applied to the store. */
  cursor: number;
  /** The hub's cursor as last heard. */
  hubCursor: number;
  auditHead: number;
  /** Every event up to this seq is stored at the hub. */
  auditAcked: number;
  /** An UPLOAD was sent and is neither acknowledged nor rejected yet. */
  auditInFlight: boolean;
  /** Why the hub refused the audit chain, on this connection; null if it did not. */
  auditProblem: string | null;
  /** Connections lost since the link was last live. */
  attempts: number;
  /** The wait of the current (or last) backoff. */
  retryDelayMs: number;
  lastError: string | null;
  /** The hub's clock minus ours, as last measured. */
  clockOffsetMs: number | null;
  clockAlarm: boolean;
  siteId: string | null;
  controllerId: string | null;
}

export type SyncLinkState = 'offline' | 'connecting' | 'syncing' | 'live' | 'backoff';

export interface SyncLinkStatus {
  state: SyncLinkState;
  cursor: number;
  /** Changes the hub has that the store has not applied yet. */
  lag: number;
  /** Audit events not yet stored at the hub. */
  outboxDepth: number;
  auditAcked: number;
  auditHead: number;
  attempts: number;
  lastError: string | null;
  auditProblem: string | null;
  clockOffsetMs: number | null;
  clockAlarm: boolean;
  siteId: string | null;
  controllerId: string | null;
}

/** Full jitter: anywhere from nothing to the exponential ceiling, so that controllers cut off together do not return together. */
function retryDelay(context: SyncLinkContext, attempts: number): number {
  const ceiling = Math.min(context.backoffMaxMs, context.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  // A floor, so that a random 0 does not turn a dead hub into a busy loop.
  return Math.max(100, Math.round(context.random() * ceiling));
}

/**
 * The next audit batch goes up when one is due: none in flight, the chain not refused on this
 * connection, and events the hub does not hold. Callers only run it once welcomed.
 */
const uploadIfDue = enqueueActions<SyncLinkContext, SyncLinkEvent, undefined, SyncLinkEvent, never, never, never>(({ context, enqueue }) => {
  if (context.auditInFlight || context.auditProblem !== null || context.auditHead <= context.auditAcked) return;
  enqueue.sendTo('link', { type: 'UPLOAD', afterSeq: context.auditAcked } satisfies HubLinkCommand);
  enqueue.assign({ auditInFlight: true });
});

/** Without a provided link there is no hub to reach: say so, rather than wait for the silence timer. */
const noHubLink = fromCallback<HubLinkCommand, HubLinkInput>(({ sendBack }) => {
  sendBack({ type: 'LINK.CLOSED', error: 'no hub link' } satisfies HubLinkEvent);
});

/** Re-entering restarts the silence timer. */
const alive = { target: 'watching', reenter: true } as const;

export const syncLinkMachine = setup({
  types: {} as { context: SyncLinkContext; events: SyncLinkEvent; input: SyncLinkInput | undefined },
  actors: { hubLink: noHubLink },
  actions: {
    uploadIfDue,
    noteHead: assign({ auditHead: ({ context, event }) => (event.type === 'OUTBOX.HEAD' ? Math.max(context.auditHead, event.seq) : context.auditHead) }),
    noteWelcome: assign(({ event }) =>
      event.type === 'LINK.WELCOME'
        ? // The hub's word on what it holds replaces ours, even if lower: it is what it will accept next.
          { siteId: event.siteId, controllerId: event.controllerId, auditAcked: event.auditAcked, auditInFlight: false, auditProblem: null }
        : {},
    ),
    noteApplied: assign(({ event }) => (event.type === 'LINK.APPLIED' ? { cursor: event.cursor, hubCursor: event.hubCursor } : {})),
    noteSynced: assign(({ event }) => (event.type === 'LINK.SYNCED' ? { cursor: event.cursor, hubCursor: event.cursor, attempts: 0 } : {})),
    noteAck: assign(({ context, event }) =>
      event.type === 'LINK.AUDIT_ACK' ? { auditAcked: Math.max(context.auditAcked, event.seq), auditInFlight: false } : {},
    ),
    noteRejected: assign(({ event }) => {
      if (event.type !== 'LINK.AUDIT_REJECTED') return {};
      const problem = `${event.problem} at seq ${event.seq}`;
      return { auditProblem: problem, auditInFlight: false, lastError: `hub refused the audit chain: ${problem}` };
    }),
    notePong: assign(({ context, event }) => {
      if (event.type !== 'LINK.PONG') return {};
      // `+ 0`: a -0 would be shown as such.
      const offset = Math.round(event.hubTime - (event.sentAt + event.receivedAt) / 2) + 0;
      return { clockOffsetMs: offset, clockAlarm: Math.abs(offset) > context.clockAlarmMs };
    }),
    noteClosed: assign({ lastError: ({ context, event }) => (event.type === 'LINK.CLOSED' ? event.error : context.lastError) }),
    noteSilence: assign({ lastError: ({ context }) => `hub silent for ${context.silenceMs / 1000} s` }),
    beginBackoff: assign(({ context }) => {
      const attempts = context.attempts + 1;
      return { attempts, retryDelayMs: retryDelay(context, attempts) };
    }),
    ping: sendTo('link', { type: 'PING' } satisfies HubLinkCommand),
  },
  guards: {
    startAtOnce: ({ context }) => context.startAtOnce,
  },
  delays: {
    silence: ({ context }) => context.silenceMs,
    heartbeat: ({ context }) => context.heartbeatMs,
    retry: ({ context }) => context.retryDelayMs,
  },
}).createMachine({
  id: 'syncLink',
  context: ({ input = {} }) => ({
    backoffBaseMs: input.backoffBaseMs ?? 1_000,
    backoffMaxMs: input.backoffMaxMs ?? 30_000,
    heartbeatMs: input.heartbeatMs ?? 5_000,
    silenceMs: input.silenceMs ?? 15_000,
    clockAlarmMs: input.clockAlarmMs ?? 5_000,
    random: input.random ?? (() => Math.random()),
    startAtOnce: input.start ?? false,
    cursor: input.cursor ?? 0,
    // Until the hub says otherwise, nothing is known to be missing.
    hubCursor: input.cursor ?? 0,
    auditHead: input.auditHead ?? 0,
    auditAcked: 0,
    auditInFlight: false,
    auditProblem: null,
    attempts: 0,
    retryDelayMs: 0,
    lastError: null,
    clockOffsetMs: null,
    clockAlarm: false,
    siteId: null,
    controllerId: null,
  }),
  // `initial` is static in xstate; this transient state reads `start` at once, so no snapshot
  // ever shows `init`.
  initial: 'init',
  on: {
    STOP: { target: '.offline' },
    // Counted in any state, so that the outbox depth is right before the link is up.
    'OUTBOX.HEAD': { actions: 'noteHead' },
  },
  states: {
    init: {
      always: [{ guard: 'startAtOnce', target: 'online' }, { target: 'offline' }],
    },
    offline: {
      on: {
        // A fresh start owes nothing to the failures before the stop.
        START: { target: 'online', actions: assign({ attempts: 0 }) },
      },
    },
    online: {
      type: 'parallel',
      invoke: { src: 'hubLink', id: 'link', input: ({ context }): HubLinkInput => ({ cursor: context.cursor }) },
      // Only what no region takes: xstate does not look at a parallel state's own transitions for
      // an event any of its regions takes, and `silence` takes every sign of life.
      on: {
        'LINK.CLOSED': { target: 'backoff', actions: 'noteClosed' },
      },
      states: {
        phase: {
          initial: 'connecting',
          on: {
            // Acks only come for uploads, which only go once welcomed.
            'LINK.AUDIT_ACK': { actions: ['noteAck', 'uploadIfDue'] },
            'LINK.AUDIT_REJECTED': { actions: 'noteRejected' },
            'LINK.PONG': { actions: 'notePong' },
          },
          states: {
            connecting: {
              on: { 'LINK.WELCOME': { target: 'syncing', actions: ['noteWelcome', 'uploadIfDue'] } },
            },
            // OUTBOX.HEAD here shadows the root's handler, which only counts the head.
            syncing: {
              on: {
                'OUTBOX.HEAD': { actions: ['noteHead', 'uploadIfDue'] },
                'LINK.APPLIED': { actions: 'noteApplied' },
                'LINK.SYNCED': { target: 'live', actions: 'noteSynced' },
              },
            },
            live: {
              on: {
                'OUTBOX.HEAD': { actions: ['noteHead', 'uploadIfDue'] },
                'LINK.APPLIED': { actions: 'noteApplied' },
              },
            },
          },
        },
        // Also while connecting: a hub that accepts the socket but never welcomes is as good as gone.
        silence: {
          initial: 'watching',
          states: {
            watching: {
              after: { silence: { target: '#syncLink.backoff', actions: 'noteSilence' } },
              // Every word from the hub but LINK.CLOSED, which leaves `online` by itself.
              on: {
                'LINK.WELCOME': alive,
                'LINK.APPLIED': alive,
                'LINK.SYNCED': alive,
                'LINK.AUDIT_ACK': alive,
                'LINK.AUDIT_REJECTED': alive,
                'LINK.PONG': alive,
              },
            },
          },
        },
        heartbeat: {
          initial: 'waiting',
          states: {
            // Nothing to ping before the hub has answered the hello.
            waiting: { on: { 'LINK.WELCOME': 'beating' } },
            beating: {
              after: { heartbeat: { target: 'beating', reenter: true, actions: 'ping' } },
            },
          },
        },
      },
    },
    backoff: {
      entry: 'beginBackoff',
      after: { retry: 'online' },
    },
  },
});

export type SyncLinkActorRef = ActorRefFrom<typeof syncLinkMachine>;
export type SyncLinkSnapshot = SnapshotFrom<typeof syncLinkMachine>;

function stateOf(snapshot: SyncLinkSnapshot): SyncLinkState {
  if (snapshot.matches({ online: { phase: 'live' } })) return 'live';
  if (snapshot.matches({ online: { phase: 'syncing' } })) return 'syncing';
  if (snapshot.matches('online')) return 'connecting';
  if (snapshot.matches('backoff')) return 'backoff';
  return 'offline';
}

/** What the API, the metrics and the web UI show of the link. */
export function syncLinkStatus(snapshot: SyncLinkSnapshot): SyncLinkStatus {
  const { context } = snapshot;
  return {
    state: stateOf(snapshot),
    cursor: context.cursor,
    lag: Math.max(0, context.hubCursor - context.cursor),
    outboxDepth: Math.max(0, context.auditHead - context.auditAcked),
    auditAcked: context.auditAcked,
    auditHead: context.auditHead,
    attempts: context.attempts,
    lastError: context.lastError,
    auditProblem: context.auditProblem,
    clockOffsetMs: context.clockOffsetMs,
    clockAlarm: context.clockAlarm,
    siteId: context.siteId,
    controllerId: context.controllerId,
  };
}
