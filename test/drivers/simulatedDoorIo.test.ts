/**
 * The demo's simulated door: its walker (autoWalkThrough) opens the door only while the relay is
 * unlocked, so a short unlock window no longer ends in a false forced-open alarm; and the demo
 * commands' hold and close. Fake timers: the walker's second is simulated, not waited for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { doorMachine } from '../../machines/doorMachine.ts';
import type { DoorIoEvent } from '../../drivers/doorIo/doorIo.ts';
import { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function sensorEvents(io: SimulatedDoorIo): DoorIoEvent[] {
  const events: DoorIoEvent[] = [];
  io.onEvent((event) => events.push(event));
  return events;
}

/** A door machine wired to a simulated door as the controller wires them (controller.ts). */
function wiredDoor(unlockMs: number) {
  const io = new SimulatedDoorIo({ autoWalkThrough: true });
  const alarms: string[] = [];
  const machine = doorMachine.provide({
    actions: {
      setRelay: (_, { unlocked }) => io.setRelay(unlocked),
      notifyAlarm: (_, { kind }) => void alarms.push(kind),
    },
  });
  const door = createActor(machine, { input: { id: 'front', unlockMs, heldOpenMs: 30_000, failMode: 'secure' } }).start();
  io.onEvent((event) => {
    if (event.type === 'sensor') door.send({ type: event.open ? 'DOOR.OPENED' : 'DOOR.CLOSED' });
  });
  return { io, door, alarms };
}

describe('SimulatedDoorIo walker', () => {
  it('walks through an unlocked door: opens after 1 s, closes 2 s later', () => {
    const io = new SimulatedDoorIo({ autoWalkThrough: true });
    const events = sensorEvents(io);
    io.setRelay(true);
    vi.advanceTimersByTime(1000);
    expect(io.doorOpen).toBe(true);
    vi.advanceTimersByTime(2000);
    expect(events).toEqual([{ type: 'sensor', open: true }, { type: 'sensor', open: false }]);
  });

  it('does not open a door that relocked before the walker reached it', () => {
    const io = new SimulatedDoorIo({ autoWalkThrough: true });
    const events = sensorEvents(io);
    io.setRelay(true);
    vi.advanceTimersByTime(500);
    io.setRelay(false);
    vi.advanceTimersByTime(5000);
    expect(events).toEqual([]);
    expect(io.doorOpen).toBe(false);
  });

  it('a door whose unlock window is shorter than the walk relocks and stays secured: no forced-open alarm', () => {
    // Before the fix the walker opened the relocked door 1 s after the unlock: forced open.
    const { io, door, alarms } = wiredDoor(300);
    door.send({ type: 'GRANT' });
    expect(door.getSnapshot().value).toBe('unlocked');
    vi.advanceTimersByTime(300);
    expect(door.getSnapshot().value).toBe('secured');
    vi.advanceTimersByTime(5000);
    expect(door.getSnapshot().value).toBe('secured');
    expect(door.getSnapshot().context.alarm).toBeNull();
    expect(alarms).toEqual([]);
    expect(io.relayHistory).toEqual([false, true, false]);
  });

  it('a normal window still sees the walker through and relocks when the door closes', () => {
    const { door, alarms } = wiredDoor(5000);
    door.send({ type: 'GRANT' });
    vi.advanceTimersByTime(1000);
    expect(door.getSnapshot().value).toBe('open');
    vi.advanceTimersByTime(2000);
    expect(door.getSnapshot().value).toBe('secured');
    expect(alarms).toEqual([]);
  });
});

describe('SimulatedDoorIo demo hold', () => {
  it('holds the door open past the walker until closeDoor()', () => {
    const { io, door, alarms } = wiredDoor(5000);
    door.send({ type: 'GRANT' });
    io.holdDoorOpen();
    expect(io.heldOpen).toBe(true);
    vi.advanceTimersByTime(30_000);
    // The walker's close was cancelled: the door is held open past its held-open time.
    expect(door.getSnapshot().value).toBe('heldOpen');
    expect(alarms).toEqual(['held-open']);
    io.closeDoor();
    expect(io.heldOpen).toBe(false);
    expect(door.getSnapshot().value).toBe('secured');
  });

  it('a door held open while locked is forced open', () => {
    const { io, door, alarms } = wiredDoor(5000);
    io.holdDoorOpen();
    expect(door.getSnapshot().value).toBe('forcedOpen');
    expect(alarms).toEqual(['forced-open']);
    // The walker does not close it either: a later unlock starts no walk while it is held.
    vi.advanceTimersByTime(10_000);
    expect(io.doorOpen).toBe(true);
  });
});
