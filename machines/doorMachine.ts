// One door: the lock relay, the door-position sensor, the request-to-exit button and the alarms
// that follow from them. Pure: the relay and the alarm sounder are named actions (`setRelay`,
// `notifyAlarm`) that the controller gives real implementations with `.provide()`; time only comes
// from xstate delays so tests drive it with fake timers.
//
// Relay policy (why each state commands what it does):
// - The relay is commanded on state entry, and only when it must change (`driveRelay`), so the
//   driver sees one command per real change. The one exception is a forced command where the
//   relay's real position is unknown or must be re-asserted: start, `fault`, `IO.OK`, `stopped`.
// - `open` / `heldOpen` leave the relay as it was: a lock only holds a closed door, so it relocks
//   when the door closes (or on `LOCK`), not at the relock timer, which `open` does not run.
import { enqueueActions, assign, not, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';

export type DoorMode = 'normal' | 'lockdown' | 'passage';
export type FailMode = 'secure' | 'safe';
export type AlarmKind = 'held-open' | 'forced-open';
export type UnlockReason = 'grant' | 'rex' | 'operator';

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
}

export type DoorEvent =
  | { type: 'GRANT'; durationMs?: number; reason?: 'grant' | 'operator' }
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
type RelayCommand = { unlocked: boolean; force?: boolean };

/** Keeps context.relayUnlocked and the driver in step; silent when nothing changes unless forced. */
const driveRelay = enqueueActions<DoorContext, DoorEvent, RelayCommand, DoorEvent, never, Effect, never>(
  ({ context, enqueue }, params) => {
    if (!params.force && context.relayUnlocked === params.unlocked) return;
    enqueue.assign({ relayUnlocked: params.unlocked });
    enqueue({ type: 'setRelay', params: { unlocked: params.unlocked } });
  },
);

const raiseAlarm = enqueueActions<DoorContext, DoorEvent, { kind: AlarmKind }, DoorEvent, never, Effect, never>(
  ({ enqueue }, params) => {
    // A new alarm replaces an older, already inactive one: the audit log keeps the history.
    enqueue.assign({ alarm: { kind: params.kind, active: true, acknowledged: false, acknowledgedBy: null } });
    enqueue({ type: 'notifyAlarm', params: { kind: params.kind } });
  },
);

/** After a fault the relay's real position is unknown: re-assert the mode's position. */
const recover = enqueueActions<DoorContext, DoorEvent, undefined, DoorEvent, never, Effect, never>(({ context, enqueue }) => {
  const unlocked = modeUnlocked(context);
  enqueue.assign({ fault: null, relayUnlocked: unlocked });
  enqueue({ type: 'setRelay', params: { unlocked } });
});

/** An open door closes: back to the mode's resting state, which relocks the relay on entry. */
const closedToRest = [
  { guard: 'inLockdown', target: 'lockdown', actions: ['markClosed', 'resolveAlarm'] },
  { target: 'secured', actions: ['markClosed', 'resolveAlarm'] },
] as const;

export const doorMachine = setup({
  types: {} as { context: DoorContext; events: DoorEvent; input: DoorInput },
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
    acceptGrant: assign(({ context, event }) =>
      event.type === 'GRANT'
        ? { unlockReason: event.reason ?? 'grant', unlockWindowMs: event.durationMs ?? context.unlockMs }
        : {},
    ),
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
  }),
  // Every door is told its relay position on start, before any scan can be read.
  entry: { type: 'setRelay', params: ({ context }) => ({ unlocked: context.relayUnlocked }) },
  // `initial` is static in xstate; this transient state picks the input mode's state at once,
  // so no snapshot ever shows `init`.
  initial: 'init',
  on: {
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
        GRANT: { target: 'unlocked', actions: 'acceptGrant' },
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
        // Re-entering restarts the relock timer. A REX window during lockdown admits no grant.
        GRANT: { guard: 'isNormal', target: 'unlocked', reenter: true, actions: 'acceptGrant' },
        REX: { target: 'unlocked', reenter: true, actions: 'acceptRex' },
        LOCK: [{ guard: 'inLockdown', target: 'lockdown' }, { target: 'secured' }],
        'DOOR.OPENED': { target: 'open', actions: 'markOpen' },
        'DOOR.CLOSED': { actions: 'markClosed' },
      },
    },
    open: {
      after: { heldOpen: 'heldOpen' },
      on: {
        // A fresh grant for an open door restarts the held-open timer.
        GRANT: { guard: 'isNormal', target: 'open', reenter: true, actions: 'acceptGrant' },
        LOCK: { actions: { type: 'driveRelay', params: { unlocked: false } } },
        'DOOR.CLOSED': closedToRest,
      },
    },
    heldOpen: {
      entry: { type: 'raiseAlarm', params: { kind: 'held-open' } },
      on: {
        // Someone authorised is at the door again: the held-open condition ends, a new wait starts.
        GRANT: { guard: 'isNormal', target: 'open', actions: ['acceptGrant', 'resolveAlarm'] },
        LOCK: { actions: { type: 'driveRelay', params: { unlocked: false } } },
        'DOOR.CLOSED': closedToRest,
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
        'LOCKDOWN.OFF': { target: 'secured', actions: assign({ mode: 'normal' }) },
      },
    },
    passage: {
      // Passage raises no alarms, so whatever was active ends here.
      entry: [{ type: 'driveRelay', params: { unlocked: true } }, 'clearReason', 'resolveAlarm'],
      on: {
        'DOOR.OPENED': { actions: 'markOpen' },
        'DOOR.CLOSED': { actions: 'markClosed' },
        'PASSAGE.OFF': { target: 'secured', actions: assign({ mode: 'normal' }) },
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
