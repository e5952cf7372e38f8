// One scanner, and the decision path of its reads. Three regions run side by side:
// - link: keeps the driver connected (exponential backoff on reconnect);
// - debounce: holds the normalised text of the last accepted read for debounceMs, whatever the link
//   does meanwhile (a network device that reconnects between two reads of one code is still one
//   person at the door);
// - decision: decides accepted reads one at a time, in the order the device read them: invokes the
//   `decide` actor (the controller's checks), sends a grant to the door actor (by its system id)
//   and waits for the door's answer, then hands the outcome to the `conclude` effect, which records
//   denials and answers the driver. A grant's own record is written by the door, which alone knows
//   whether it opened.
// Pure: the driver, the checks and the record are named actions and actors (`connect`,
// `disconnect`, `dropRead`, `conclude`, `decide`) given real implementations by the controller.
import { assign, enqueueActions, fromPromise, not, raise, setup, stateIn, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { doorActorId, type DoorAnswer, type DoorEvent, type GrantRecord } from './doorMachine.ts';
import type { DriverHealth } from './shared/driverHealth.ts';
import { normaliseScanText } from './shared/scanText.ts';

export interface ScannerBackoff {
  initialMs: number;
  maxMs: number;
}

export interface ScannerInput {
  id: string;
  /** The door this scanner admits to. */
  door: string;
  /** 0: no debounce at all. */
  debounceMs: number;
  backoff?: ScannerBackoff;
  /** The longest a grant waits for the door's answer before it counts as a door fault. */
  doorAnswerMs?: number;
}

/** A read accepted for a decision. `ref` is the driver's own handle on it, carried through untouched. */
export interface PendingRead {
  requestId: number;
  text: string;
  ref: number | undefined;
}

export interface ScannerContext {
  id: string;
  door: string;
  debounceMs: number;
  backoff: ScannerBackoff;
  doorAnswerMs: number;
  /** Reconnection attempts since the last successful connection. */
  attempt: number;
  /** Every read the driver reported, accepted or not. */
  reads: number;
  /** Reads not accepted: repeats inside the debounce window, or reads while not connected. */
  dropped: number;
  lastError: string | null;
  /** The normalised text accepted last, while its debounce window is open; null otherwise. */
  lastText: string | null;
  /** What the driver last said of itself (cameras: frame rate, decode time, dropped frames). */
  health: DriverHealth | null;
  /** The read being decided, and the ones waiting behind it. */
  current: PendingRead | null;
  queue: PendingRead[];
  /** The decision of `current`, once `decide` answered. */
  decided: Decided | null;
  nextRequestId: number;
}

/** What `decide` answers: a grant to take to the door (with the record it should write), or a denial. */
export interface Decided {
  grant: boolean;
  /** Opaque here: the controller's account of the decision, handed back to `conclude` and, for a grant, to the door. */
  record: GrantRecord;
}

export interface DecideInput {
  scannerId: string;
  door: string;
  text: string;
  ref: number | undefined;
}

/** Why a read ended without the usual decision and answer. */
export type ReadFailure = 'overflow' | 'stopped' | 'decide-failed' | 'door-silent';

/** Everything the `conclude` effect needs to record and answer one read. */
export interface Conclusion {
  scannerId: string;
  door: string;
  ref: number | undefined;
  textLength: number;
  decided: Decided | null;
  answer: DoorAnswer | null;
  failure: ReadFailure | null;
}

export type ScannerEvent =
  | { type: 'DRIVER.CONNECTED' }
  | { type: 'DRIVER.DISCONNECTED'; reason: string }
  | { type: 'DRIVER.READ'; text: string; ref?: number }
  | { type: 'DRIVER.HEALTH'; health: DriverHealth }
  | DoorAnswer
  /** Internal: an accepted read (re)starts the debounce window. */
  | { type: 'DEBOUNCE.HOLD' }
  | { type: 'STOP' };

/** A read that was not accepted, and why: drivers that answer their device need to know. */
export interface DropParams {
  scannerId: string;
  ref: number | undefined;
  reason: 'debounced' | 'not-ready';
}

export const DEFAULT_BACKOFF: ScannerBackoff = { initialMs: 500, maxMs: 30_000 };
/** Reads waiting for one scanner beyond this are denied at once: no device reads that fast. */
export const MAX_QUEUED_READS = 32;
const DEFAULT_DOOR_ANSWER_MS = 10_000;

/** min(initialMs * 2^(attempt-1), maxMs): the first retry waits initialMs. */
export function backoffDelay(backoff: ScannerBackoff, attempt: number): number {
  return Math.min(backoff.initialMs * 2 ** Math.max(0, attempt - 1), backoff.maxMs);
}

function readOf(event: ScannerEvent): { text: string; ref: number | undefined } {
  return event.type === 'DRIVER.READ' ? { text: event.text, ref: event.ref } : { text: '', ref: undefined };
}

function conclusion(context: ScannerContext, read: PendingRead, fields: Partial<Pick<Conclusion, 'decided' | 'answer' | 'failure'>>): Conclusion {
  return {
    scannerId: context.id,
    door: context.door,
    ref: read.ref,
    textLength: read.text.length,
    decided: fields.decided ?? null,
    answer: fields.answer ?? null,
    failure: fields.failure ?? null,
  };
}

type Effect = { type: 'conclude'; params: Conclusion };

/** The read in hand ends: its conclusion goes out and the decision region is free for the next. */
const finishCurrent = enqueueActions<ScannerContext, ScannerEvent, { failure?: ReadFailure }, ScannerEvent, never, Effect, never>(
  ({ context, event, enqueue }, params) => {
    const read = context.current;
    if (read === null) return;
    const answer = event.type === 'DOOR.ANSWER' ? event : null;
    enqueue({ type: 'conclude', params: conclusion(context, read, { decided: context.decided, answer, failure: params.failure ?? null }) });
    enqueue.assign({ current: null, decided: null });
  },
);

/** A read beyond MAX_QUEUED_READS: concluded at once, never decided. */
const concludeOverflow = enqueueActions<ScannerContext, ScannerEvent, undefined, ScannerEvent, never, Effect, never>(({ context, event, enqueue }) => {
  const { text, ref } = readOf(event);
  enqueue({ type: 'conclude', params: conclusion(context, { requestId: 0, text, ref }, { failure: 'overflow' }) });
});

/** Stopping: every read still in hand or waiting is concluded `stopped`, none is lost silently. */
const abandonReads = enqueueActions<ScannerContext, ScannerEvent, undefined, ScannerEvent, never, Effect, never>(({ context, enqueue }) => {
  const reads = context.current ? [context.current, ...context.queue] : context.queue;
  for (const read of reads) {
    enqueue({ type: 'conclude', params: conclusion(context, read, { decided: read === context.current ? context.decided : null, failure: 'stopped' }) });
  }
  enqueue.assign({ current: null, queue: [], decided: null });
});

/** The grant goes to this scanner's door actor; a door that is not there answers as a fault would. */
const askDoor = enqueueActions<ScannerContext, ScannerEvent, undefined, ScannerEvent, never, never, never>(({ context, enqueue, self, system }) => {
  const read = context.current;
  if (read === null || context.decided === null) return;
  const door = system.get(doorActorId(context.door));
  if (door === undefined) {
    enqueue.raise({ type: 'DOOR.ANSWER', door: context.door, requestId: read.requestId, opened: false, reason: 'door-fault', grantSeq: null });
    return;
  }
  const grant: DoorEvent = { type: 'GRANT', requestId: read.requestId, replyTo: self, record: context.decided.record };
  enqueue.sendTo(door, grant);
});

/** Without a provided decision every read is denied: deny by default. */
const denyEverything = fromPromise<Decided, DecideInput>(async () => ({ grant: false, record: { reason: 'no-decision' } }));

export const scannerMachine = setup({
  types: {} as { context: ScannerContext; events: ScannerEvent; input: ScannerInput },
  actors: { decide: denyEverything },
  actions: {
    // Effects: no-ops until the controller provides the driver and the record.
    connect: () => {},
    disconnect: () => {},
    dropRead: (_, _params: DropParams) => {},
    conclude: (_, _params: Conclusion) => {},
    finishCurrent,
    abandonReads,
    askDoor,
    countRead: assign({ reads: ({ context }) => context.reads + 1 }),
    countDrop: assign({ dropped: ({ context }) => context.dropped + 1 }),
    acceptRead: assign(({ context, event }) => {
      const { text, ref } = readOf(event);
      return {
        queue: [...context.queue, { requestId: context.nextRequestId, text, ref }],
        nextRequestId: context.nextRequestId + 1,
        // debounceMs 0: nothing is held, so nothing is ever dropped as a repeat.
        lastText: context.debounceMs > 0 ? normaliseScanText(text) : null,
      };
    }),
    concludeOverflow,
    takeNext: assign(({ context }) => ({ current: context.queue[0] ?? null, queue: context.queue.slice(1), decided: null })),
    noteDecided: assign({ decided: (_, decided: Decided) => decided }),
    forgetText: assign({ lastText: null }),
  },
  guards: {
    linkReady: stateIn({ active: { link: 'ready' } }),
    repeatsLastText: ({ context, event }) => event.type === 'DRIVER.READ' && context.lastText !== null && normaliseScanText(event.text) === context.lastText,
    queueFull: ({ context }) => context.queue.length >= MAX_QUEUED_READS,
    hasQueued: ({ context }) => context.queue.length > 0,
    isGrant: (_, decided: Decided) => decided.grant,
    answersCurrent: ({ context, event }) => event.type === 'DOOR.ANSWER' && event.requestId === context.current?.requestId,
  },
  delays: {
    debounce: ({ context }) => context.debounceMs,
    backoff: ({ context }) => backoffDelay(context.backoff, context.attempt),
    doorAnswer: ({ context }) => context.doorAnswerMs,
  },
}).createMachine({
  id: 'scanner',
  context: ({ input }) => ({
    id: input.id,
    door: input.door,
    debounceMs: input.debounceMs,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    doorAnswerMs: input.doorAnswerMs ?? DEFAULT_DOOR_ANSWER_MS,
    attempt: 0,
    reads: 0,
    dropped: 0,
    lastError: null,
    lastText: null,
    health: null,
    current: null,
    queue: [],
    decided: null,
    nextRequestId: 1,
  }),
  initial: 'active',
  on: {
    STOP: { target: '.stopped' },
  },
  states: {
    active: {
      type: 'parallel',
      on: {
        'DRIVER.HEALTH': { actions: assign({ health: ({ event }) => event.health }) },
        'DRIVER.READ': [
          // A read while not connected comes from a driver we do not hold as connected (stale
          // buffer, half-open device): drop it, but count it so that a misbehaving driver shows.
          {
            guard: not('linkReady'),
            actions: ['countRead', 'countDrop', { type: 'dropRead', params: ({ context, event }) => ({ scannerId: context.id, ref: readOf(event).ref, reason: 'not-ready' }) }],
          },
          {
            guard: 'repeatsLastText',
            actions: ['countRead', 'countDrop', { type: 'dropRead', params: ({ context, event }) => ({ scannerId: context.id, ref: readOf(event).ref, reason: 'debounced' }) }],
          },
          { guard: 'queueFull', actions: ['countRead', 'concludeOverflow'] },
          // The window runs from the last accepted read: dropped repeats do not extend it, so a
          // code held in front of the scanner is decided again once per window.
          { actions: ['countRead', 'acceptRead', raise({ type: 'DEBOUNCE.HOLD' })] },
        ],
      },
      states: {
        link: {
          initial: 'connecting',
          states: {
            connecting: {
              entry: 'connect',
              on: {
                'DRIVER.CONNECTED': { target: 'ready' },
                'DRIVER.DISCONNECTED': { target: 'disconnected', actions: assign({ lastError: ({ event }) => event.reason }) },
              },
            },
            ready: {
              entry: assign({ attempt: 0 }),
              on: {
                'DRIVER.DISCONNECTED': { target: 'disconnected', actions: assign({ lastError: ({ event }) => event.reason }) },
              },
            },
            disconnected: {
              entry: assign({ attempt: ({ context }) => context.attempt + 1 }),
              after: { backoff: 'connecting' },
              on: {
                // A driver that recovers on its own need not wait for the retry.
                'DRIVER.CONNECTED': { target: 'ready' },
              },
            },
          },
        },
        debounce: {
          initial: 'open',
          states: {
            open: {
              on: { 'DEBOUNCE.HOLD': 'holding' },
            },
            holding: {
              after: { debounce: { target: 'open', actions: 'forgetText' } },
              // Re-entering restarts the window; lastText is what acceptRead just set.
              on: { 'DEBOUNCE.HOLD': { target: 'holding', reenter: true } },
            },
          },
        },
        decision: {
          initial: 'idle',
          states: {
            idle: {
              always: { guard: 'hasQueued', target: 'deciding', actions: 'takeNext' },
            },
            deciding: {
              invoke: {
                src: 'decide',
                input: ({ context }) => ({ scannerId: context.id, door: context.door, text: context.current?.text ?? '', ref: context.current?.ref }),
                onDone: [
                  {
                    guard: { type: 'isGrant', params: ({ event }) => event.output },
                    target: 'opening',
                    actions: [{ type: 'noteDecided', params: ({ event }) => event.output }, 'askDoor'],
                  },
                  { target: 'idle', actions: [{ type: 'noteDecided', params: ({ event }) => event.output }, { type: 'finishCurrent', params: {} }] },
                ],
                onError: { target: 'idle', actions: { type: 'finishCurrent', params: { failure: 'decide-failed' } } },
              },
            },
            opening: {
              after: { doorAnswer: { target: 'idle', actions: { type: 'finishCurrent', params: { failure: 'door-silent' } } } },
              on: {
                'DOOR.ANSWER': { guard: 'answersCurrent', target: 'idle', actions: { type: 'finishCurrent', params: {} } },
              },
            },
          },
        },
      },
    },
    // Final: the decision in hand is cancelled and concluded `stopped`, and so is every read waiting.
    stopped: {
      type: 'final',
      entry: ['abandonReads', 'disconnect'],
    },
  },
});

export type ScannerActorRef = ActorRefFrom<typeof scannerMachine>;
export type ScannerSnapshot = SnapshotFrom<typeof scannerMachine>;

/** The link state people see: connecting, ready, disconnected or stopped. */
export function scannerLinkState(snapshot: ScannerSnapshot): 'connecting' | 'ready' | 'disconnected' | 'stopped' {
  if (snapshot.matches('stopped')) return 'stopped';
  if (snapshot.matches({ active: { link: 'ready' } })) return 'ready';
  if (snapshot.matches({ active: { link: 'disconnected' } })) return 'disconnected';
  return 'connecting';
}
