import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor } from 'xstate';
import { doorMachine } from '../../machines/doorMachine.ts';
import { scannerMachine, type ScanParams } from '../../machines/scannerMachine.ts';
import { siteMachine, type SiteInput } from '../../machines/siteMachine.ts';

const INPUT: SiteInput = {
  doors: [
    { id: 'front', unlockMs: 5_000, heldOpenMs: 30_000, failMode: 'secure' },
    { id: 'back', unlockMs: 5_000, heldOpenMs: 30_000, failMode: 'safe' },
  ],
  scanners: [
    { id: 'cam1', door: 'front', debounceMs: 1_000 },
    { id: 'hid1', door: 'back', debounceMs: 1_000 },
  ],
};

/**
 * A started site provided the way the controller provides it: doors with a relay driver, scanners
 * with connect/disconnect only (forwardScan keeps its default), and a decide effect.
 * Every effect goes to one log so that tests can check their order across actors.
 */
function startSite(input: SiteInput = INPUT) {
  const log: string[] = [];
  const decisions: ScanParams[] = [];
  const machine = siteMachine.provide({
    actions: { decide: (_, params) => void decisions.push(params) },
    actors: {
      door: doorMachine.provide({
        actions: { setRelay: ({ context }, { unlocked }) => void log.push(`relay ${context.id} ${unlocked ? 'unlocked' : 'locked'}`) },
      }),
      scanner: scannerMachine.provide({
        actions: {
          connect: ({ context }) => void log.push(`connect ${context.id}`),
          disconnect: ({ context }) => void log.push(`disconnect ${context.id}`),
        },
      }),
    },
  });
  const site = createActor(machine, { input }).start();
  const door = (id: string) => site.getSnapshot().context.doors[id]!.getSnapshot();
  const scanner = (id: string) => site.getSnapshot().context.scanners[id]!.getSnapshot();
  return { site, log, decisions, door, scanner, send: site.send.bind(site) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('siteMachine: spawning', () => {
  it('spawns one door and one scanner actor per device under stable ids', () => {
    const { site } = startSite();
    const snapshot = site.getSnapshot();
    expect(Object.keys(snapshot.context.doors)).toEqual(['front', 'back']);
    expect(Object.keys(snapshot.context.scanners)).toEqual(['cam1', 'hid1']);
    expect(snapshot.children['door:front']).toBe(snapshot.context.doors.front);
    expect(snapshot.children['scanner:hid1']).toBe(snapshot.context.scanners.hid1);
    expect(site.system.get('door:back')).toBe(snapshot.context.doors.back);
    expect(site.system.get('scanner:cam1')).toBe(snapshot.context.scanners.cam1);
    expect(snapshot.context.doors.back!.getSnapshot().context.failMode).toBe('safe');
  });

  it('commands every relay before any scanner connects', () => {
    const { log } = startSite();
    expect(log).toEqual(['relay front locked', 'relay back locked', 'connect cam1', 'connect hid1']);
  });
});

describe('siteMachine: the scan path', () => {
  it('a read on a scanner provided with only connect/disconnect reaches decide', () => {
    const { send, decisions, scanner } = startSite();
    send({ type: 'SCANNER', scanner: 'cam1', event: { type: 'DRIVER.CONNECTED' } });
    expect(scanner('cam1').matches('ready')).toBe(true);
    send({ type: 'SCANNER', scanner: 'cam1', event: { type: 'DRIVER.READ', text: 'P1.xyz' } });
    send({ type: 'SCANNER', scanner: 'cam1', event: { type: 'DRIVER.READ', text: 'P1.xyz' } });
    expect(decisions).toEqual([{ scannerId: 'cam1', door: 'front', text: 'P1.xyz' }]);
  });

  it('a granting DECISION unlocks that door for its duration; a denial does nothing', () => {
    const { send, log, door } = startSite();
    log.length = 0;
    send({ type: 'DECISION', door: 'back', grant: false });
    expect(door('back').value).toBe('secured');
    send({ type: 'DECISION', door: 'back', grant: true, durationMs: 2_000 });
    expect(door('back').value).toBe('unlocked');
    expect(door('front').value).toBe('secured');
    expect(log).toEqual(['relay back unlocked']);
    vi.advanceTimersByTime(2_000);
    expect(door('back').value).toBe('secured');
    expect(log).toEqual(['relay back unlocked', 'relay back locked']);
  });

  it('ignores decisions, door events and scanner events for unknown devices', () => {
    const { site, send, log } = startSite();
    log.length = 0;
    send({ type: 'DECISION', door: 'nowhere', grant: true });
    send({ type: 'DOOR', door: 'nowhere', event: { type: 'LOCKDOWN.ON' } });
    send({ type: 'SCANNER', scanner: 'nothing', event: { type: 'STOP' } });
    expect(site.getSnapshot().status).toBe('active');
    expect(log).toEqual([]);
  });
});

describe('siteMachine: routing and site-wide commands', () => {
  it('forwards door events to the named door only', () => {
    const { send, door } = startSite();
    send({ type: 'DOOR', door: 'front', event: { type: 'DOOR.OPENED' } });
    expect(door('front').value).toBe('forcedOpen');
    expect(door('back').value).toBe('secured');
  });

  it('forwards scanner events to the named scanner only', () => {
    const { send, scanner } = startSite();
    send({ type: 'SCANNER', scanner: 'hid1', event: { type: 'DRIVER.DISCONNECTED', reason: 'unplugged' } });
    expect(scanner('hid1').matches('disconnected')).toBe(true);
    expect(scanner('hid1').context.lastError).toBe('unplugged');
    expect(scanner('cam1').matches('connecting')).toBe(true);
  });

  it('SITE.LOCKDOWN puts every door in lockdown and lifts it', () => {
    const { send, door, log } = startSite();
    send({ type: 'DECISION', door: 'front', grant: true });
    log.length = 0;
    send({ type: 'SITE.LOCKDOWN', on: true });
    expect([door('front').value, door('back').value]).toEqual(['lockdown', 'lockdown']);
    expect(log).toEqual(['relay front locked']);
    send({ type: 'DECISION', door: 'front', grant: true });
    expect(door('front').value).toBe('lockdown');
    send({ type: 'SITE.LOCKDOWN', on: false });
    expect([door('front').value, door('back').value]).toEqual(['secured', 'secured']);
  });

  it('SETTLE stops every scanner before settling every door, then ignores events', () => {
    const { site, send, log, door, decisions } = startSite();
    send({ type: 'SCANNER', scanner: 'cam1', event: { type: 'DRIVER.CONNECTED' } });
    log.length = 0;
    send({ type: 'SETTLE' });
    expect(log).toEqual(['disconnect cam1', 'disconnect hid1', 'relay front locked', 'relay back unlocked']);
    expect(site.getSnapshot().value).toBe('settled');
    expect(door('front').value).toBe('stopped');
    expect(door('back').value).toBe('stopped');
    send({ type: 'SCAN', scannerId: 'cam1', door: 'front', text: 'late' });
    send({ type: 'DECISION', door: 'front', grant: true });
    expect(decisions).toEqual([]);
    expect(log).toHaveLength(4);
  });
});
