// One door: the lock relay, the door-position sensor, the request-to-exit button and the alarms
// that follow from them. Pure: the relay and the alarm sounder are named actions (`setRelay`,
// `notifyAlarm`) and the durable record of a grant is the named actor `recordGrant`, all given real
// implementations by the controller with `.provide()`; time only comes from xstate delays so tests
// drive it with fake timers.
//
// Grants (why the door owns them): only the door knows whether a valid code opens it right now, so
// a GRANT carries the record to write and the door answers what it did (DOOR.ANSWER: opened, or
// refused with the reason). An accepted grant waits in `admitting` until its record is durable and
// only then moves the relay; a grant the door refuses gets no grant record at all.
//
// Relay policy (why each state commands what it does):
// - The relay is commanded on state entry, and only when it must change (`driveRelay`), so the
//   driver sees one command per real change. The one exception is a forced command where the
//   relay's real position is unknown or must be re-asserted: start, `fault`, `IO.OK`, `stopped`.
// - `open` / `heldOpen` leave the relay as it was: a lock only holds a closed door, so it relocks
//   when the door closes (or on `LOCK`), not at the relock timer, which `open` does not run.
import { enqueueActions, assign, fromCallback, not, setup, type ActorRefFrom, type AnyActorRef, type SnapshotFrom } from 'xstate';

export type DoorMode = 'normal' | 'lockdown' | 'passage';
export type FailMode = 'secure' | 'safe';
export type AlarmKind = 'held-open' | 'forced-open';
export type UnlockReason = 'grant' | 'rex' | 'operator';

/** The door actor's child and system id: scanners send grants to it by this id. */
export const doorActorId = (door: string): string => `door:${door}`;

/** Why a door does not open for a grant it was given. */
export type DoorRefusal = 'lockdown' | 'door-fault' | 'passage' | 'forced-open' | 'store-unavailable' | 'stopped';

/**
 * What the door answers a GRANT: to its `replyTo` actor and as an emitted `answer` event.
 * `grantSeq` is the seq of the grant's record when one was written: on `opened` the record of the
 * opening; on a refusal after it (lockdown or fault while the record was being written, or a record
 * that could not be made durable) the record this refusal voids, so the refusal's own record says so.
 */
export interface DoorAnswer {
  type: 'DOOR.ANSWER';
  door: string;
  requestId: number;
  opened: boolean;
  reason: DoorRefusal | null;
  grantSeq: number | null;
}

/** The record a grant asks the door to write before it opens; opaque to the door. */
export type GrantRecord = Record<string, unknown>;

/** Input of the `recordGrant` actor. */
export interface RecordGrantInput {
  door: string;
  reason: UnlockReason;
  record: GrantRecord | undefined;
}

/** What `recordGrant` sends back: the record's seq at once, then whether it is durable. */
export type RecordEvent =
  | { type: 'RECORD.ASSIGNED'; seq: number }
  | { type: 'RECORD.DURABLE' }
  | { type: 'RECORD.FAILED'; error: string };

/** The grant being admitted: who asked, what to write, and where the door stood. */
export interface Admission {
  requestId: number;
  replyTo: AnyActorRef | null;
  durationMs: number | undefined;
  reason: 'grant' | 'operator';
  record: GrantRecord | undefined;
  seq: number | null;
  from: 'secured' | 'unlocked' | 'open' | 'heldOpen';
  /** The door opened while the record was being made: whoever it was has gone through. */
  doorOpened: boolean;
}

export interface DoorAlarm {
  kind: AlarmKind;
  /** The condition still holds (door still open). */
  active: boolean;
  acknowledged: boolean;
  acknowledgedBy: string | null;
}

export interface DoorInput {
  id: string;
  unlockMs: number;
  heldOpenMs: number;
  failMode: FailMode;
  mode?: DoorMode;
  /** Whether the request-to-exit button also releases the lock (default true). */
  rexUnlocks?: boolean;
}

export interface DoorContext {
  id: string;
  unlockMs: number;
  heldOpenMs: number;
  failMode: FailMode;
  rexUnlocks: boolean;
  mode: DoorMode;
  doorOpen: boolean;
  relayUnlocked: boolean;
  unlockReason: UnlockReason | null;
  alarm: DoorAlarm | null;
  fault: string | null;
  /** Length of the current unlock window: a grant's durationMs, else unlockMs. */
  unlockWindowMs: number;
  /** The grant whose record is being made durable (state `admitting`). */
  admission: Admission | null;
  /** Events that arrived during `admitting` and are handled, in order, once it ends. */
  deferred: DoorEvent[];
}

export type DoorEvent =
  | {
      type: 'GRANT';
      durationMs?: number;
      reason?: 'grant' | 'operator';
      /** Echoed in the answer, so that the asker can match it. */
      requestId?: number;
      /** Gets the DOOR.ANSWER (a scanner actor); the answer is also emitted as `answer`. */
      replyTo?: AnyActorRef;
      record?: GrantRecord;
    }
  | RecordEvent
  | { type: 'LOCK' }
  | { type: 'REX' }
  | { type: 'DOOR.OPENED' }
  | { type: 'DOOR.CLOSED' }
  | { type: 'ALARM.ACK'; by?: string }
  | { type: 'LOCKDOWN.ON' }
  | { type: 'LOCKDOWN.OFF' }
  | { type: 'PASSAGE.ON' }
  | { type: 'PASSAGE.OFF' }
  | { type: 'IO.FAULT'; reason: string }
  | { type: 'IO.OK' }
  | { type: 'SETTLE' };

export type DoorStateValue =
  | 'secured'
  | 'unlocked'
  | 'open'
  | 'heldOpen'
  | 'admitting'
  | 'forcedOpen'
  | 'lockdown'
  | 'passage'
  | 'fault'
  | 'stopped';

/** The relay position a door falls to when its I/O fails or the controller stops. */
const failUnlocked = (context: DoorContext): boolean => context.failMode === 'safe';
/** The relay position of the mode's resting state. */
const modeUnlocked = (context: DoorContext): boolean => context.mode === 'passage';

// The effects the composite actions below may enqueue (typed here because actions declared in the
// same setup() cannot name each other).
type Effect =
  | { type: 'setRelay'; params: { unlocked: boolean } }
  | { type: 'notifyAlarm'; params: { kind: AlarmKind } };
type Emitted = { type: 'answer'; answer: DoorAnswer };
type RelayCommand = { unlocked: boolean; force?: boolean };

/** Keeps context.relayUnlocked and the driver in step; silent when nothing changes unless forced. */
const driveRelay = enqueueActions<DoorContext, DoorEvent, RelayCommand, DoorEvent, never, Effect, never, never, Emitted>(
  ({ context, enqueue }, params) => {
    if (!params.force && context.relayUnlocked === params.unlocked) return;
    enqueue.assign({ relayUnlocked: params.unlocked });
    enqueue({ type: 'setRelay', params: { unlocked: params.unlocked } });
  },
);

const raiseAlarm = enqueueActions<DoorContext, DoorEvent, { kind: AlarmKind }, DoorEvent, never, Effect, never, never, Emitted>(
  ({ context, enqueue }, params) => {
    // Back in heldOpen after a grant whose record failed: the alarm is the same one, still active.
    if (context.alarm?.kind === params.kind && context.alarm.active) return;
    // A new alarm replaces an older, already inactive one: the audit log keeps the history.
    enqueue.assign({ alarm: { kind: params.kind, active: true, acknowledged: false, acknowledgedBy: null } });
    enqueue({ type: 'notifyAlarm', params: { kind: params.kind } });
  },
);

/** After a fault the relay's real position is unknown: re-assert the mode's position. */
const recover = enqueueActions<DoorContext, DoorEvent, undefined, DoorEvent, never, Effect, never, never, Emitted>(({ context, enqueue }) => {
  const unlocked = modeUnlocked(context);
  enqueue.assign({ fault: null, relayUnlocked: unlocked });
  enqueue({ type: 'setRelay', params: { unlocked } });
});

/** Why the door, as it stands, refuses a grant it cannot take. */
function refusalOf(context: DoorContext): DoorRefusal {
  if (context.fault !== null) return 'door-fault';
  if (context.mode === 'lockdown') return 'lockdown';
  if (context.mode === 'passage') return 'passage';
  return 'forced-open';
}

function answerOf(context: DoorContext, requestId: number, opened: boolean, reason: DoorRefusal | null, grantSeq: number | null): DoorAnswer {
  return { type: 'DOOR.ANSWER', door: context.id, requestId, opened, reason, grantSeq };
}

/** A grant the door cannot take in this state: refused at once, no record written. */
const refuseGrant = enqueueActions<DoorContext, DoorEvent, undefined, DoorEvent, never, never, never, never, Emitted>(({ context, event, enqueue }) => {
  if (event.type !== 'GRANT') return;
  const reply = answerOf(context, event.requestId ?? 0, false, refusalOf(context), null);
  if (event.replyTo) enqueue.sendTo(event.replyTo, reply);
  enqueue.emit({ type: 'answer', answer: reply });
});

/** Ends the admission with an answer to its asker, and hands the events held meanwhile back in order. */
const concludeAdmission = enqueueActions<DoorContext, DoorEvent, { opened: boolean; reason?: DoorRefusal }, DoorEvent, never, never, never, never, Emitted>(
  ({ context, enqueue }, { opened, reason }) => {
    const admission = context.admission;
    if (admission === null) return;
    const reply = answerOf(context, admission.requestId, opened, reason ?? null, admission.seq);
    if (admission.replyTo) enqueue.sendTo(admission.replyTo, reply);
    enqueue.emit({ type: 'answer', answer: reply });
    for (const held of context.deferred) {
      // Stopping: nothing is handled after this, so a grant held here is refused now, not dropped.
      if (reason === 'stopped') {
        if (held.type === 'GRANT') {
          const refusal = answerOf(context, held.requestId ?? 0, false, 'stopped', null);
          if (held.replyTo) enqueue.sendTo(held.replyTo, refusal);
          enqueue.emit({ type: 'answer', answer: refusal });
        }
      } else enqueue.raise(held);
    }
    enqueue.assign({ admission: null, deferred: [] });
  },
);

/** A grant whose record could not be made durable: refused, the door back where it stood. */
function refused(): { actions: Array<{ type: 'concludeAdmission'; params: { opened: false; reason: 'store-unavailable' } }> } {
  return { actions: [{ type: 'concludeAdmission', params: { opened: false, reason: 'store-unavailable' } }] };
}

/** An open door closes: back to the mode's resting state, which relocks the relay on entry. */
const closedToRest = [
  { guard: 'inLockdown', target: 'lockdown', actions: ['markClosed', 'resolveAlarm'] },
  { target: 'secured', actions: ['markClosed', 'resolveAlarm'] },
] as const;

/** Without a provided store the record is durable at once (machine tests, tools). */
const recordNothing = fromCallback<RecordEvent, RecordGrantInput>(({ sendBack }) => {
  sendBack({ type: 'RECORD.DURABLE' });
});

type AdmissionFrom = Admission['from'];

export const doorMachine = setup({
  types: {} as { context: DoorContext; events: DoorEvent; input: DoorInput; emitted: Emitted },
  actors: { recordGrant: recordNothing },
  actions: {
    // Effects: no-ops until the controller provides the relay and alarm drivers.
    setRelay: (_, _params: { unlocked: boolean }) => {},
    notifyAlarm: (_, _params: { kind: AlarmKind }) => {},

    driveRelay,
    raiseAlarm,
    recover,
    /** The alarm's condition is gone: clear it if someone acknowledged it, else keep it for them. */
    resolveAlarm: assign({
      alarm: ({ context }) => (!context.alarm || context.alarm.acknowledged ? null : { ...context.alarm, active: false }),
    }),
    /** An active alarm stays (acknowledged) until the door closes; an inactive one is done. */
    ackAlarm: assign({
      alarm: ({ context, event }) =>
        !context.alarm || !context.alarm.active
          ? null
          : { ...context.alarm, acknowledged: true, acknowledgedBy: event.type === 'ALARM.ACK' ? (event.by ?? null) : null },
    }),
    refuseGrant,
    concludeAdmission,
    beginAdmission: assign(({ event }, { from }: { from: AdmissionFrom }) =>
      event.type === 'GRANT'
        ? {
            admission: {
              requestId: event.requestId ?? 0,
              replyTo: event.replyTo ?? null,
              durationMs: event.durationMs,
              reason: event.reason ?? 'grant',
              record: event.record,
              seq: null,
              from,
              doorOpened: false,
            },
          }
        : {},
    ),
    noteRecordSeq: assign(({ context, event }) =>
      event.type === 'RECORD.ASSIGNED' && context.admission ? { admission: { ...context.admission, seq: event.seq } } : {},
    ),
    /** The admitted grant takes effect: its reason and window, as a GRANT did before records. */
    applyAdmission: assign(({ context }) =>
      context.admission ? { unlockReason: context.admission.reason, unlockWindowMs: context.admission.durationMs ?? context.unlockMs } : {},
    ),
    deferEvent: assign({ deferred: ({ context, event }) => [...context.deferred, event] }),
    /**
     * Lockdown and a fault act at once, so what they override and was held before them must not
     * be handled after them: a held LOCKDOWN.OFF would lift the new lockdown, a held IO.OK clear
     * the new fault.
     */
    dropSuperseded: assign({
      deferred: ({ context }, { by }: { by: 'LOCKDOWN.ON' | 'IO.FAULT' }) =>
        context.deferred.filter((held) => held.type !== (by === 'LOCKDOWN.ON' ? 'LOCKDOWN.OFF' : 'IO.OK')),
    }),
    noteOpenedWhileAdmitting: assign(({ context }) => (context.admission ? { admission: { ...context.admission, doorOpened: true } } : {})),
    acceptRex: assign(({ context }) => ({
      // In an open grant window REX only extends it; the reason (and so the relay) stays.
      unlockReason: context.unlockReason ?? 'rex',
      unlockWindowMs: context.unlockMs,
    })),
    clearReason: assign({ unlockReason: null }),
    markOpen: assign({ doorOpen: true }),
    markClosed: assign({ doorOpen: false }),
  },
  guards: {
    inLockdown: ({ context }) => context.mode === 'lockdown',
    inPassage: ({ context }) => context.mode === 'passage',
    isNormal: ({ context }) => context.mode === 'normal',
    doorIsOpen: ({ context }) => context.doorOpen,
    admittedFrom: ({ context }, { from }: { from: AdmissionFrom }) => context.admission?.from === from,
    /** The door stands open because it was forced, and that alarm is still on. */
    forcedOpenAlarm: ({ context }) => context.doorOpen && context.alarm?.kind === 'forced-open' && context.alarm.active,
    /** Back to the earlier unlock window only if nobody used it meanwhile; else the door relocks. */
    closedInUnlockWindow: ({ context }) => !context.doorOpen && context.admission?.from === 'unlocked' && !context.admission.doorOpened,
  },
  delays: {
    relock: ({ context }) => context.unlockWindowMs,
    heldOpen: ({ context }) => context.heldOpenMs,
  },
}).createMachine({
  id: 'door',
  context: ({ input: { id, unlockMs, heldOpenMs, failMode, mode = 'normal', rexUnlocks = true } }) => ({
    id, unlockMs, heldOpenMs, failMode, rexUnlocks, mode, unlockWindowMs: unlockMs,
    doorOpen: false, relayUnlocked: mode === 'passage', unlockReason: null, alarm: null, fault: null,
    admission: null, deferred: [],
  }),
  // Every door is told its relay position on start, before any scan can be read.
  entry: { type: 'setRelay', params: ({ context }) => ({ unlocked: context.relayUnlocked }) },
  // `initial` is static in xstate; this transient state picks the input mode's state at once,
  // so no snapshot ever shows `init`.
  initial: 'init',
  on: {
    // A state that does not take grants (lockdown, passage, fault, forced open) refuses them.
    GRANT: { actions: 'refuseGrant' },
    'ALARM.ACK': { actions: 'ackAlarm' },
    // Lockdown wins over everything (grant windows, passage); only `fault` overrides it below.
    'LOCKDOWN.ON': { target: '.lockdown', actions: assign({ mode: 'lockdown' }) },
    'LOCKDOWN.OFF': { guard: 'inLockdown', actions: assign({ mode: 'normal' }) },
    // Passage is ignored (not remembered) during lockdown: lifting lockdown restores `normal`.
    'PASSAGE.ON': { guard: not('inLockdown'), target: '.passage', actions: assign({ mode: 'passage' }) },
    'IO.FAULT': { target: '.fault', actions: assign({ fault: ({ event }) => event.reason }) },
    SETTLE: { target: '.stopped' },
  },
  states: {
    init: {
      always: [
        { guard: 'inLockdown', target: 'lockdown' },
        { guard: 'inPassage', target: 'passage' },
        { target: 'secured' },
      ],
    },
    secured: {
      entry: [{ type: 'driveRelay', params: { unlocked: false } }, 'clearReason'],
      on: {
        GRANT: { target: 'admitting', actions: { type: 'beginAdmission', params: { from: 'secured' } } },
        REX: { target: 'unlocked', actions: 'acceptRex' },
        // The door may already be open here (lockdown lifted, I/O recovered): no second alarm.
        'DOOR.OPENED': { guard: not('doorIsOpen'), target: 'forcedOpen', actions: 'markOpen' },
        'DOOR.CLOSED': { actions: ['markClosed', 'resolveAlarm'] },
      },
    },
    unlocked: {
      entry: {
        type: 'driveRelay',
        params: ({ context }) => ({ unlocked: context.unlockReason !== 'rex' || context.rexUnlocks }),
      },
      after: {
        relock: [{ guard: 'inLockdown', target: 'lockdown' }, { target: 'secured' }],
      },
      on: {
        // Admitted, it re-enters and so restarts the relock timer. A REX window during lockdown
        // admits no grant (the root refuses it).
        GRANT: { guard: 'isNormal', target: 'admitting', actions: { type: 'beginAdmission', params: { from: 'unlocked' } } },
        REX: { target: 'unlocked', reenter: true, actions: 'acceptRex' },
        LOCK: [{ guard: 'inLockdown', target: 'lockdown' }, { target: 'secured' }],
        'DOOR.OPENED': { target: 'open', actions: 'markOpen' },
        'DOOR.CLOSED': { actions: 'markClosed' },
      },
    },
    open: {
      after: { heldOpen: 'heldOpen' },
      on: {
        // A fresh grant for an open door restarts the held-open timer once admitted.
        GRANT: { guard: 'isNormal', target: 'admitting', actions: { type: 'beginAdmission', params: { from: 'open' } } },
        LOCK: { actions: { type: 'driveRelay', params: { unlocked: false } } },
        'DOOR.CLOSED': closedToRest,
      },
    },
    heldOpen: {
      entry: { type: 'raiseAlarm', params: { kind: 'held-open' } },
      on: {
        // Someone authorised is at the door again: once admitted, the held-open condition ends and
        // a new wait starts.
        GRANT: { guard: 'isNormal', target: 'admitting', actions: { type: 'beginAdmission', params: { from: 'heldOpen' } } },
        LOCK: { actions: { type: 'driveRelay', params: { unlocked: false } } },
        'DOOR.CLOSED': closedToRest,
      },
    },
    // A grant's record is being made durable; the relay stays as it was until it is. Sensor facts
    // apply at once; lockdown, a fault and stopping win at once and refuse the grant (its record,
    // if already written, is voided by the refusal's); every other command waits here (bounded by
    // the record's own timeout) and is handled in order afterwards.
    admitting: {
      invoke: {
        src: 'recordGrant',
        input: ({ context }) => ({ door: context.id, reason: context.admission?.reason ?? 'grant', record: context.admission?.record }),
      },
      on: {
        'RECORD.ASSIGNED': { actions: 'noteRecordSeq' },
        'RECORD.DURABLE': [
          {
            guard: 'doorIsOpen',
            target: 'open',
            actions: ['applyAdmission', 'resolveAlarm', { type: 'concludeAdmission', params: { opened: true } }],
          },
          { target: 'unlocked', actions: ['applyAdmission', { type: 'concludeAdmission', params: { opened: true } }] },
        ],
        'RECORD.FAILED': [
          { guard: 'closedInUnlockWindow', target: 'unlocked', ...refused() },
          { guard: not('doorIsOpen'), target: 'secured', ...refused() },
          { guard: { type: 'admittedFrom', params: { from: 'heldOpen' } }, target: 'heldOpen', ...refused() },
          // The relay stayed locked, yet the door opened: that is forced.
          { guard: { type: 'admittedFrom', params: { from: 'secured' } }, target: 'forcedOpen', actions: ['markOpen', ...refused().actions] },
          { target: 'open', ...refused() },
        ],
        'LOCKDOWN.ON': {
          target: 'lockdown',
          actions: [
            assign({ mode: 'lockdown' }),
            { type: 'dropSuperseded', params: { by: 'LOCKDOWN.ON' } },
            { type: 'concludeAdmission', params: { opened: false, reason: 'lockdown' } },
          ],
        },
        'IO.FAULT': {
          target: 'fault',
          actions: [
            assign({ fault: ({ event }) => event.reason }),
            { type: 'dropSuperseded', params: { by: 'IO.FAULT' } },
            { type: 'concludeAdmission', params: { opened: false, reason: 'door-fault' } },
          ],
        },
        SETTLE: { target: 'stopped', actions: { type: 'concludeAdmission', params: { opened: false, reason: 'stopped' } } },
        'DOOR.OPENED': { actions: ['markOpen', 'noteOpenedWhileAdmitting'] },
        'DOOR.CLOSED': { actions: ['markClosed', 'resolveAlarm'] },
        GRANT: { actions: 'deferEvent' },
        LOCK: { actions: 'deferEvent' },
        REX: { actions: 'deferEvent' },
        'LOCKDOWN.OFF': { actions: 'deferEvent' },
        'PASSAGE.ON': { actions: 'deferEvent' },
        'PASSAGE.OFF': { actions: 'deferEvent' },
        'IO.OK': { actions: 'deferEvent' },
      },
    },
    forcedOpen: {
      entry: { type: 'raiseAlarm', params: { kind: 'forced-open' } },
      on: {
        'DOOR.CLOSED': closedToRest,
      },
    },
    lockdown: {
      entry: [{ type: 'driveRelay', params: { unlocked: false } }, 'clearReason'],
      on: {
        // Egress is never blocked: REX opens a window and the door comes back here after it.
        REX: { target: 'unlocked', actions: 'acceptRex' },
        'DOOR.OPENED': { guard: not('doorIsOpen'), target: 'forcedOpen', actions: 'markOpen' },
        'DOOR.CLOSED': { actions: ['markClosed', 'resolveAlarm'] },
        // A door standing open when lockdown ends is open, its held-open timer running.
        'LOCKDOWN.OFF': [
          { guard: 'forcedOpenAlarm', target: 'forcedOpen', actions: assign({ mode: 'normal' }) },
          { guard: 'doorIsOpen', target: 'open', actions: assign({ mode: 'normal' }) },
          { target: 'secured', actions: assign({ mode: 'normal' }) },
        ],
      },
    },
    passage: {
      // Passage raises no alarms, so whatever was active ends here.
      entry: [{ type: 'driveRelay', params: { unlocked: true } }, 'clearReason', 'resolveAlarm'],
      on: {
        'DOOR.OPENED': { actions: 'markOpen' },
        'DOOR.CLOSED': { actions: 'markClosed' },
        // Likewise when passage ends: the relay relocks when the door closes.
        'PASSAGE.OFF': [
          { guard: 'doorIsOpen', target: 'open', actions: assign({ mode: 'normal' }) },
          { target: 'secured', actions: assign({ mode: 'normal' }) },
        ],
      },
    },
    fault: {
      // The I/O cannot be trusted: command the fail position even if we believe it is already there.
      entry: [{ type: 'driveRelay', params: ({ context }) => ({ unlocked: failUnlocked(context), force: true }) }, 'clearReason'],
      on: {
        'IO.FAULT': { actions: assign({ fault: ({ event }) => event.reason }) },
        'IO.OK': [
          { guard: 'inLockdown', target: 'lockdown', actions: 'recover' },
          { guard: 'inPassage', target: 'passage', actions: 'recover' },
          { guard: 'doorIsOpen', target: 'open', actions: 'recover' },
          { target: 'secured', actions: 'recover' },
        ],
        'DOOR.OPENED': { actions: 'markOpen' },
        'DOOR.CLOSED': { actions: 'markClosed' },
        // Mode changes during a fault are remembered and applied by IO.OK; the relay stays put.
        'LOCKDOWN.ON': { actions: assign({ mode: 'lockdown' }) },
        'PASSAGE.ON': { guard: not('inLockdown'), actions: assign({ mode: 'passage' }) },
        'PASSAGE.OFF': { guard: 'inPassage', actions: assign({ mode: 'normal' }) },
      },
    },
    // The controller is stopping: timers die with the state, the relay goes to its fail position.
    // Final, so the actor completes and ignores any later event.
    stopped: {
      type: 'final',
      entry: { type: 'driveRelay', params: ({ context }) => ({ unlocked: failUnlocked(context), force: true }) },
    },
  },
});

export type DoorActorRef = ActorRefFrom<typeof doorMachine>;
export type DoorSnapshot = SnapshotFrom<typeof doorMachine>;
