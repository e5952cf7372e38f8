import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { doorMachine, type DoorInput } from '../../machines/doorMachine.ts';

const UNLOCK_MS = 5_000;
const HELD_OPEN_MS = 30_000;

/** A started door whose relay commands and alarm notifications are recorded in order. */
function startDoor(input: Partial<DoorInput> = {}) {
  const relay: boolean[] = [];
  const alarms: string[] = [];
  const machine = doorMachine.provide({
    actions: {
      setRelay: (_, params) => void relay.push(params.unlocked),
      notifyAlarm: (_, params) => void alarms.push(params.kind),
    },
  });
  const actor = createActor(machine, {
    input: { id: 'd1', unlockMs: UNLOCK_MS, heldOpenMs: HELD_OPEN_MS, failMode: 'secure', ...input },
  }).start();
  return {
    actor,
    relay,
    alarms,
    send: actor.send.bind(actor),
    value: () => actor.getSnapshot().value,
    context: () => actor.getSnapshot().context,
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('doorMachine: start', () => {
  it('starts secured and commands the relay locked once', () => {
    const door = startDoor();
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false]);
    expect(door.context()).toMatchObject({ mode: 'normal', relayUnlocked: false, doorOpen: false, alarm: null, rexUnlocks: true });
  });

  it('starts in the input mode: lockdown locked, passage unlocked', () => {
    const locked = startDoor({ mode: 'lockdown' });
    expect(locked.value()).toBe('lockdown');
    expect(locked.relay).toEqual([false]);
    const passage = startDoor({ mode: 'passage' });
    expect(passage.value()).toBe('passage');
    expect(passage.relay).toEqual([true]);
    expect(passage.context().relayUnlocked).toBe(true);
  });
});

describe('doorMachine: grants and the relock timer', () => {
  it('unlocks on GRANT and relocks at unlockMs, not before', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('unlocked');
    expect(door.context()).toMatchObject({ relayUnlocked: true, unlockReason: 'grant' });
    vi.advanceTimersByTime(UNLOCK_MS - 1);
    expect(door.value()).toBe('unlocked');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
    expect(door.context()).toMatchObject({ relayUnlocked: false, unlockReason: null });
  });

  it('uses the grant durationMs and reason (operator momentary unlock)', () => {
    const door = startDoor();
    door.send({ type: 'GRANT', durationMs: 1_000, reason: 'operator' });
    expect(door.context().unlockReason).toBe('operator');
    vi.advanceTimersByTime(999);
    expect(door.value()).toBe('unlocked');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('secured');
  });

  it('restarts the relock timer on a second GRANT without re-commanding the relay', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    vi.advanceTimersByTime(4_000);
    door.send({ type: 'GRANT' });
    vi.advanceTimersByTime(UNLOCK_MS - 1);
    expect(door.value()).toBe('unlocked');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
  });

  it('relocks at once on LOCK', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'LOCK' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
    vi.advanceTimersByTime(UNLOCK_MS);
    expect(door.relay).toEqual([false, true, false]);
  });
});

describe('doorMachine: open, held open, forced open', () => {
  it('keeps the relay unlocked while open and relocks when the door closes', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('open');
    expect(door.context()).toMatchObject({ doorOpen: true, relayUnlocked: true });
    vi.advanceTimersByTime(UNLOCK_MS); // the relock timer belonged to `unlocked`
    expect(door.relay).toEqual([false, true]);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
    expect(door.context()).toMatchObject({ doorOpen: false, alarm: null });
  });

  it('LOCK while open relocks the relay but keeps the door open', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'LOCK' });
    expect(door.value()).toBe('open');
    expect(door.relay).toEqual([false, true, false]);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.relay).toEqual([false, true, false]);
  });

  it('raises the held-open alarm at heldOpenMs, which stays until acknowledged after the close', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    vi.advanceTimersByTime(HELD_OPEN_MS - 1);
    expect(door.value()).toBe('open');
    expect(door.alarms).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('heldOpen');
    expect(door.alarms).toEqual(['held-open']);
    expect(door.context().alarm).toEqual({ kind: 'held-open', active: true, acknowledged: false, acknowledgedBy: null });
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
    expect(door.context().alarm).toEqual({ kind: 'held-open', active: false, acknowledged: false, acknowledgedBy: null });
    door.send({ type: 'ALARM.ACK', by: 'alice' });
    expect(door.context().alarm).toBeNull();
  });

  it('a fresh GRANT while held open goes back to open and restarts the wait', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    vi.advanceTimersByTime(HELD_OPEN_MS);
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('open');
    expect(door.context().alarm).toMatchObject({ active: false });
    vi.advanceTimersByTime(HELD_OPEN_MS - 1);
    expect(door.value()).toBe('open');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('heldOpen');
    expect(door.alarms).toEqual(['held-open', 'held-open']);
  });

  it('a GRANT while open restarts the held-open timer', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    vi.advanceTimersByTime(HELD_OPEN_MS - 1_000);
    door.send({ type: 'GRANT' });
    vi.advanceTimersByTime(HELD_OPEN_MS - 1);
    expect(door.value()).toBe('open');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('heldOpen');
  });

  it('raises forced-open when a secured door opens without an unlock', () => {
    const door = startDoor();
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('forcedOpen');
    expect(door.alarms).toEqual(['forced-open']);
    expect(door.context().alarm).toMatchObject({ kind: 'forced-open', active: true });
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('forcedOpen');
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('secured');
    expect(door.context().alarm).toMatchObject({ kind: 'forced-open', active: false, acknowledged: false });
    expect(door.relay).toEqual([false]);
  });

  it('raises forced-open from lockdown and returns to lockdown on close', () => {
    const door = startDoor({ mode: 'lockdown' });
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('forcedOpen');
    expect(door.alarms).toEqual(['forced-open']);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('lockdown');
    expect(door.relay).toEqual([false]);
  });
});

describe('doorMachine: alarm acknowledgement', () => {
  it('an ack on an active alarm keeps it until the door closes', () => {
    const door = startDoor();
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'ALARM.ACK', by: 'bob' });
    expect(door.context().alarm).toEqual({ kind: 'forced-open', active: true, acknowledged: true, acknowledgedBy: 'bob' });
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.context().alarm).toBeNull();
  });

  it('an ack without a name records null, and an ack with no alarm changes nothing', () => {
    const door = startDoor();
    door.send({ type: 'ALARM.ACK' });
    expect(door.context().alarm).toBeNull();
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'ALARM.ACK' });
    expect(door.context().alarm).toMatchObject({ acknowledged: true, acknowledgedBy: null });
  });
});

describe('doorMachine: request to exit', () => {
  it('unlocks for unlockMs and shunts the forced-open alarm', () => {
    const door = startDoor();
    door.send({ type: 'REX' });
    expect(door.value()).toBe('unlocked');
    expect(door.context()).toMatchObject({ unlockReason: 'rex', relayUnlocked: true });
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('open');
    expect(door.alarms).toEqual([]);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
  });

  it('with rexUnlocks false keeps the relay locked but still shunts the alarm for the window', () => {
    const door = startDoor({ rexUnlocks: false });
    door.send({ type: 'REX' });
    expect(door.value()).toBe('unlocked');
    expect(door.context().relayUnlocked).toBe(false);
    vi.advanceTimersByTime(UNLOCK_MS);
    expect(door.value()).toBe('secured');
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('forcedOpen');
    door.send({ type: 'DOOR.CLOSED' });
    door.send({ type: 'REX' });
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('open');
    expect(door.alarms).toEqual(['forced-open']);
    expect(door.relay).toEqual([false]);
  });

  it('inside a grant window only extends it: the grant keeps the relay unlocked', () => {
    const door = startDoor({ rexUnlocks: false });
    door.send({ type: 'GRANT' });
    vi.advanceTimersByTime(4_000);
    door.send({ type: 'REX' });
    expect(door.context()).toMatchObject({ unlockReason: 'grant', relayUnlocked: true });
    vi.advanceTimersByTime(UNLOCK_MS - 1);
    expect(door.value()).toBe('unlocked');
    vi.advanceTimersByTime(1);
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
  });

  it('works during lockdown, ignores grants in that window, and returns to lockdown', () => {
    const door = startDoor({ mode: 'lockdown' });
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('lockdown');
    door.send({ type: 'REX' });
    expect(door.value()).toBe('unlocked');
    vi.advanceTimersByTime(UNLOCK_MS - 1_000);
    door.send({ type: 'GRANT' }); // must not extend the window
    vi.advanceTimersByTime(1_000);
    expect(door.value()).toBe('lockdown');
    expect(door.relay).toEqual([false, true, false]);
    expect(door.context().mode).toBe('lockdown');
  });
});

describe('doorMachine: lockdown', () => {
  it('locks at once, cancels a grant and blocks further grants until LOCKDOWN.OFF', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'LOCKDOWN.ON' });
    expect(door.value()).toBe('lockdown');
    expect(door.relay).toEqual([false, true, false]);
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('lockdown');
    vi.advanceTimersByTime(UNLOCK_MS);
    expect(door.relay).toEqual([false, true, false]);
    door.send({ type: 'LOCKDOWN.OFF' });
    expect(door.value()).toBe('secured');
    expect(door.context().mode).toBe('normal');
    door.send({ type: 'GRANT' });
    expect(door.value()).toBe('unlocked');
  });

  it('entered while the door is open, stays in lockdown when it closes, and alarms on the next opening', () => {
    const door = startDoor();
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'LOCKDOWN.ON' });
    expect(door.value()).toBe('lockdown');
    expect(door.context()).toMatchObject({ doorOpen: true, relayUnlocked: false });
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('lockdown');
    expect(door.context().doorOpen).toBe(false);
    expect(door.alarms).toEqual([]);
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('forcedOpen');
  });

  it('keeps an alarm raised before lockdown until the door closes, in lockdown or after it', () => {
    const inLockdown = startDoor();
    inLockdown.send({ type: 'DOOR.OPENED' });
    inLockdown.send({ type: 'LOCKDOWN.ON' });
    expect(inLockdown.context().alarm).toMatchObject({ kind: 'forced-open', active: true });
    inLockdown.send({ type: 'DOOR.CLOSED' });
    expect(inLockdown.value()).toBe('lockdown');
    expect(inLockdown.context().alarm).toMatchObject({ active: false });

    const lifted = startDoor();
    lifted.send({ type: 'DOOR.OPENED' });
    lifted.send({ type: 'LOCKDOWN.ON' });
    lifted.send({ type: 'LOCKDOWN.OFF' });
    // Still standing open because it was forced: never `secured` with the door open.
    expect(lifted.value()).toBe('forcedOpen');
    expect(lifted.context()).toMatchObject({ doorOpen: true, alarm: { active: true } });
    lifted.send({ type: 'DOOR.OPENED' }); // a repeated sensor report is not a second forcing
    expect(lifted.value()).toBe('forcedOpen');
    expect(lifted.alarms).toEqual(['forced-open']);
    lifted.send({ type: 'DOOR.CLOSED' });
    expect(lifted.context()).toMatchObject({ doorOpen: false, alarm: { active: false } });
  });

  it('wins over passage, and PASSAGE.ON is ignored during lockdown', () => {
    const door = startDoor({ mode: 'passage' });
    door.send({ type: 'LOCKDOWN.ON' });
    expect(door.value()).toBe('lockdown');
    expect(door.relay).toEqual([true, false]);
    door.send({ type: 'PASSAGE.ON' });
    expect(door.value()).toBe('lockdown');
    expect(door.context().mode).toBe('lockdown');
    door.send({ type: 'LOCKDOWN.OFF' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([true, false]);
  });
});

describe('doorMachine: passage', () => {
  it('holds the relay unlocked, tracks the door and raises no alarm', () => {
    const door = startDoor();
    door.send({ type: 'PASSAGE.ON' });
    expect(door.value()).toBe('passage');
    expect(door.relay).toEqual([false, true]);
    door.send({ type: 'DOOR.OPENED' });
    expect(door.context().doorOpen).toBe(true);
    vi.advanceTimersByTime(HELD_OPEN_MS * 10);
    expect(door.value()).toBe('passage');
    expect(door.alarms).toEqual([]);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.context().doorOpen).toBe(false);
    door.send({ type: 'GRANT' });
    door.send({ type: 'LOCK' });
    door.send({ type: 'REX' });
    expect(door.value()).toBe('passage');
    expect(door.relay).toEqual([false, true]);
    door.send({ type: 'PASSAGE.OFF' });
    expect(door.value()).toBe('secured');
    expect(door.relay).toEqual([false, true, false]);
    expect(door.context().mode).toBe('normal');
  });

  it('ends an active alarm when passage starts', () => {
    const door = startDoor();
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'PASSAGE.ON' });
    expect(door.context().alarm).toMatchObject({ kind: 'forced-open', active: false });
  });
});

describe('doorMachine: I/O fault', () => {
  it('fail-safe: a fault unlocks the relay, ignores grants, and IO.OK relocks', () => {
    const door = startDoor({ failMode: 'safe' });
    door.send({ type: 'IO.FAULT', reason: 'relay board gone' });
    expect(door.value()).toBe('fault');
    expect(door.context()).toMatchObject({ fault: 'relay board gone', relayUnlocked: true });
    expect(door.relay).toEqual([false, true]);
    door.send({ type: 'GRANT' });
    door.send({ type: 'DOOR.OPENED' });
    expect(door.value()).toBe('fault');
    expect(door.context().doorOpen).toBe(true);
    expect(door.alarms).toEqual([]);
    door.send({ type: 'IO.OK' });
    // The door stands open: it is `open` (held-open timer running), the relay relocked.
    expect(door.value()).toBe('open');
    expect(door.context().fault).toBeNull();
    expect(door.relay).toEqual([false, true, false]);
    door.send({ type: 'DOOR.CLOSED' });
    expect(door.value()).toBe('secured');
  });

  it('fail-secure: a fault re-asserts the locked relay even from unlocked', () => {
    const door = startDoor({ failMode: 'secure' });
    door.send({ type: 'IO.FAULT', reason: 'sensor' });
    expect(door.relay).toEqual([false, false]);
    door.send({ type: 'IO.OK' });
    door.send({ type: 'GRANT' });
    door.send({ type: 'IO.FAULT', reason: 'sensor' });
    expect(door.value()).toBe('fault');
    expect(door.relay).toEqual([false, false, false, true, false]);
    vi.advanceTimersByTime(UNLOCK_MS);
    expect(door.value()).toBe('fault');
  });

  it('IO.OK returns to the mode set during the fault and commands its relay', () => {
    const door = startDoor({ failMode: 'secure' });
    door.send({ type: 'IO.FAULT', reason: 'x' });
    door.send({ type: 'PASSAGE.ON' });
    expect(door.value()).toBe('fault');
    door.send({ type: 'IO.OK' });
    expect(door.value()).toBe('passage');
    expect(door.relay).toEqual([false, false, true]);

    const locked = startDoor({ failMode: 'safe' });
    locked.send({ type: 'IO.FAULT', reason: 'x' });
    locked.send({ type: 'LOCKDOWN.ON' });
    expect(locked.value()).toBe('fault');
    locked.send({ type: 'IO.OK' });
    expect(locked.value()).toBe('lockdown');
    expect(locked.relay).toEqual([false, true, false]);
  });
});

describe('doorMachine: SETTLE', () => {
  it('cancels timers and drives a fail-secure door locked, then ignores events', () => {
    const door = startDoor({ failMode: 'secure' });
    door.send({ type: 'GRANT' });
    door.send({ type: 'SETTLE' });
    expect(door.value()).toBe('stopped');
    expect(door.actor.getSnapshot().status).toBe('done');
    expect(door.relay).toEqual([false, true, false]);
    vi.advanceTimersByTime(UNLOCK_MS * 2);
    expect(door.relay).toEqual([false, true, false]);
  });

  it('drives a fail-safe door unlocked', () => {
    const door = startDoor({ failMode: 'safe' });
    door.send({ type: 'DOOR.OPENED' });
    door.send({ type: 'SETTLE' });
    expect(door.value()).toBe('stopped');
    expect(door.relay).toEqual([false, true]);
  });
});
