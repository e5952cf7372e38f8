import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, fromPromise } from 'xstate';
import { doorMachine, type DoorAnswer, type RecordEvent, type RecordGrantInput } from '../../machines/doorMachine.ts';
import { scannerLinkState, scannerMachine, type Conclusion, type DecideInput, type Decided } from '../../machines/scannerMachine.ts';
import { doorActorId, scannerActorId, siteMachine, type SiteInput } from '../../machines/siteMachine.ts';

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

/** How long the provided recordGrant takes to make a record durable. */
const DURABLE_AFTER_MS = 50;

const GRANT: Decided = { grant: true, record: { credential: 'c1', verdict: 'grant' } };
const DENY: Decided = { grant: false, record: { credential: 'c1', verdict: 'deny' } };

/** Lets a `decide` promise settle and its outcome travel through the actors (microtasks are not faked). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function describeConclusion(c: Conclusion): string {
  const outcome = c.failure ?? (c.answer ? (c.answer.opened ? `opened #${c.answer.grantSeq}` : `refused ${c.answer.reason}`) : 'denied');
  return `conclude ${c.scannerId} ${c.ref} ${outcome}`;
}

/**
 * A started site provided the way the controller provides it: doors with a relay driver and a
 * recordGrant that assigns a seq at once and is durable DURABLE_AFTER_MS later (or never, with
 * `durable: false`); scanners with their driver effects, a `decide` the test settles by hand, and
 * `conclude`. Every effect goes to one log so that tests can check their order across actors.
 */
function startSite({ input = INPUT, durable = true }: { input?: SiteInput; durable?: boolean } = {}) {
  const log: string[] = [];
  const conclusions: Conclusion[] = [];
  const records: RecordGrantInput[] = [];
  const decisions: Array<{ input: DecideInput; resolve: (decided: Decided) => void }> = [];
  let nextSeq = 100;
  const machine = siteMachine.provide({
    actors: {
      door: doorMachine.provide({
        actions: { setRelay: ({ context }, { unlocked }) => void log.push(`relay ${context.id} ${unlocked ? 'unlocked' : 'locked'}`) },
        actors: {
          recordGrant: fromCallback<RecordEvent, RecordGrantInput>(({ input: record, sendBack }) => {
            records.push(record);
            const seq = nextSeq++;
            log.push(`record ${record.door} #${seq}`);
            sendBack({ type: 'RECORD.ASSIGNED', seq });
            if (!durable) return undefined;
            const timer = setTimeout(() => {
              log.push(`durable #${seq}`);
              sendBack({ type: 'RECORD.DURABLE' });
            }, DURABLE_AFTER_MS);
            return () => clearTimeout(timer);
          }),
        },
      }),
      scanner: scannerMachine.provide({
        actions: {
          connect: ({ context }) => void log.push(`connect ${context.id}`),
          disconnect: ({ context }) => void log.push(`disconnect ${context.id}`),
          dropRead: (_, params) => void log.push(`drop ${params.scannerId} ${params.ref} ${params.reason}`),
          conclude: (_, params) => {
            conclusions.push(params);
            log.push(describeConclusion(params));
          },
        },
        actors: {
          decide: fromPromise<Decided, DecideInput>(
            ({ input: read }) => new Promise<Decided>((resolve) => void decisions.push({ input: read, resolve })),
          ),
        },
      }),
    },
  });
  const site = createActor(machine, { input }).start();
  const door = (id: string) => site.getSnapshot().context.doors[id]!.getSnapshot();
  const scanner = (id: string) => site.getSnapshot().context.scanners[id]!.getSnapshot();
  const read = (scannerId: string, text: string, ref: number) =>
    site.send({ type: 'SCANNER', scanner: scannerId, event: { type: 'DRIVER.READ', text, ref } });
  const connect = (scannerId: string) => site.send({ type: 'SCANNER', scanner: scannerId, event: { type: 'DRIVER.CONNECTED' } });
  return { site, log, conclusions, records, decisions, door, scanner, read, connect, send: site.send.bind(site) };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('siteMachine: spawning', () => {
  it('spawns one door and one scanner actor per device under stable child and system ids', () => {
    const { site } = startSite();
    const snapshot = site.getSnapshot();
    expect(Object.keys(snapshot.context.doors)).toEqual(['front', 'back']);
    expect(Object.keys(snapshot.context.scanners)).toEqual(['cam1', 'hid1']);
    expect(snapshot.children[doorActorId('front')]).toBe(snapshot.context.doors.front);
    expect(snapshot.children[scannerActorId('hid1')]).toBe(snapshot.context.scanners.hid1);
    expect(site.system.get('door:back')).toBe(snapshot.context.doors.back);
    expect(site.system.get('scanner:cam1')).toBe(snapshot.context.scanners.cam1);
    expect(snapshot.context.doors.back!.getSnapshot().context.failMode).toBe('safe');
    expect(snapshot.context.scanners.hid1!.getSnapshot().context.door).toBe('back');
  });

  it('commands every relay before any scanner connects', () => {
    const { log } = startSite();
    expect(log).toEqual(['relay front locked', 'relay back locked', 'connect cam1', 'connect hid1']);
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
    expect(scannerLinkState(scanner('hid1'))).toBe('disconnected');
    expect(scanner('hid1').context.lastError).toBe('unplugged');
    expect(scannerLinkState(scanner('cam1'))).toBe('connecting');
  });

  it('ignores door and scanner events for unknown devices', () => {
    const { site, send, log } = startSite();
    log.length = 0;
    send({ type: 'DOOR', door: 'nowhere', event: { type: 'LOCKDOWN.ON' } });
    send({ type: 'SCANNER', scanner: 'nothing', event: { type: 'STOP' } });
    expect(site.getSnapshot().status).toBe('active');
    expect(site.getSnapshot().value).toBe('running');
    expect(log).toEqual([]);
  });

  it('SITE.LOCKDOWN puts every door in lockdown, where grants are refused, and lifts it', () => {
    const { site, send, door, log, records } = startSite();
    const answers: DoorAnswer[] = [];
    site.getSnapshot().context.doors.front!.on('answer', ({ answer }) => void answers.push(answer));
    send({ type: 'DOOR', door: 'front', event: { type: 'REX' } });
    log.length = 0;
    send({ type: 'SITE.LOCKDOWN', on: true });
    expect([door('front').value, door('back').value]).toEqual(['lockdown', 'lockdown']);
    expect(log).toEqual(['relay front locked']);
    send({ type: 'DOOR', door: 'front', event: { type: 'GRANT', requestId: -1, reason: 'operator' } });
    expect(answers).toEqual([{ type: 'DOOR.ANSWER', door: 'front', requestId: -1, opened: false, reason: 'lockdown', grantSeq: null }]);
    expect(records).toEqual([]);
    send({ type: 'SITE.LOCKDOWN', on: false });
    expect([door('front').value, door('back').value]).toEqual(['secured', 'secured']);
    expect([door('front').context.mode, door('back').context.mode]).toEqual(['normal', 'normal']);
    expect(log).toEqual(['relay front locked']);
  });
});

describe('siteMachine: a scan end to end', () => {
  it('a granted read unlocks its door only once the grant record is durable, and concludes opened with its seq', async () => {
    const { read, connect, log, conclusions, records, decisions, door } = startSite();
    connect('cam1');
    log.length = 0;
    read('cam1', 'P1.GOOD', 1);
    expect(decisions.map((d) => d.input)).toEqual([{ scannerId: 'cam1', door: 'front', text: 'P1.GOOD', ref: 1 }]);
    decisions[0]!.resolve(GRANT);
    await flush();

    expect(records).toEqual([{ door: 'front', reason: 'grant', record: GRANT.record }]);
    expect(door('front').value).toBe('admitting');
    vi.advanceTimersByTime(DURABLE_AFTER_MS - 1);
    expect(log).toEqual(['record front #100']);
    expect(conclusions).toEqual([]);

    vi.advanceTimersByTime(1);
    expect(log).toEqual(['record front #100', 'durable #100', 'relay front unlocked', 'conclude cam1 1 opened #100']);
    expect(door('front').value).toBe('unlocked');
    expect(door('back').value).toBe('secured');
    expect(conclusions[0]).toMatchObject({
      scannerId: 'cam1',
      door: 'front',
      ref: 1,
      decided: GRANT,
      failure: null,
      answer: { type: 'DOOR.ANSWER', door: 'front', opened: true, reason: null, grantSeq: 100 },
    });
  });

  it('each scanner takes its grants to its own door', async () => {
    const { read, connect, decisions, door, conclusions } = startSite();
    connect('hid1');
    read('hid1', 'P1.GOOD', 1);
    decisions[0]!.resolve(GRANT);
    await flush();
    vi.advanceTimersByTime(DURABLE_AFTER_MS);
    expect(door('back').value).toBe('unlocked');
    expect(door('front').value).toBe('secured');
    expect(conclusions[0]).toMatchObject({ scannerId: 'hid1', door: 'back', answer: { door: 'back', opened: true } });
  });

  it('a denied read is concluded by its scanner and leaves the door alone', async () => {
    const { read, connect, log, decisions, records, door } = startSite();
    connect('cam1');
    log.length = 0;
    read('cam1', 'P1.BAD', 1);
    decisions[0]!.resolve(DENY);
    await flush();
    vi.advanceTimersByTime(DURABLE_AFTER_MS);
    expect(log).toEqual(['conclude cam1 1 denied']);
    expect(records).toEqual([]);
    expect(door('front').value).toBe('secured');
  });

  it('a grant to a door in lockdown is concluded refused, with no record and no unlock', async () => {
    const { read, connect, send, log, decisions, records } = startSite();
    connect('cam1');
    send({ type: 'SITE.LOCKDOWN', on: true });
    log.length = 0;
    read('cam1', 'P1.GOOD', 1);
    decisions[0]!.resolve(GRANT);
    await flush();
    expect(log).toEqual(['conclude cam1 1 refused lockdown']);
    expect(records).toEqual([]);
  });
});

describe('siteMachine: SETTLE', () => {
  it('settles the doors first: a door admitting a grant refuses it `stopped`, then the scanners conclude what they hold', async () => {
    const { site, send, read, connect, log, conclusions, decisions, door, scanner } = startSite({ durable: false });
    connect('cam1');
    connect('hid1');
    read('cam1', 'P1.FIRST', 1);
    read('cam1', 'P1.SECOND', 2);
    decisions[0]!.resolve(GRANT);
    await flush();
    expect(door('front').value).toBe('admitting');
    expect(decisions).toHaveLength(1);
    log.length = 0;

    send({ type: 'SETTLE' });
    expect(log).toEqual([
      'relay front locked',
      'conclude cam1 1 refused stopped',
      'relay back unlocked',
      'conclude cam1 2 stopped',
      'disconnect cam1',
      'disconnect hid1',
    ]);
    expect(conclusions[0]!.answer).toEqual({ type: 'DOOR.ANSWER', door: 'front', requestId: 1, opened: false, reason: 'stopped', grantSeq: 100 });
    expect(conclusions[1]).toMatchObject({ ref: 2, decided: null, answer: null, failure: 'stopped' });
    expect(site.getSnapshot().value).toBe('settled');
    expect([door('front').value, door('back').value]).toEqual(['stopped', 'stopped']);
    expect([scanner('cam1').value, scanner('hid1').value]).toEqual(['stopped', 'stopped']);
    // Between the door's refusal and its STOP the scanner may start deciding the next read; that
    // decision is cancelled by the STOP and its outcome goes nowhere.
    for (const decision of decisions.slice(1)) decision.resolve(GRANT);
    await flush();
    vi.advanceTimersByTime(DURABLE_AFTER_MS);
    expect(conclusions).toHaveLength(2);
    expect(log).toHaveLength(6);
  });

  it('a read still being decided is concluded `stopped` and never reaches the door', async () => {
    const { send, read, connect, log, conclusions, decisions, records } = startSite();
    connect('cam1');
    read('cam1', 'P1.LATE', 1);
    send({ type: 'SETTLE' });
    decisions[0]!.resolve(GRANT);
    await flush();
    vi.advanceTimersByTime(DURABLE_AFTER_MS);
    expect(conclusions.map(describeConclusion)).toEqual(['conclude cam1 1 stopped']);
    expect(records).toEqual([]);
    expect(log).not.toContain('relay front unlocked');
  });

  it('ignores every event once settled', () => {
    const { site, send, log, door } = startSite();
    send({ type: 'SETTLE' });
    log.length = 0;
    send({ type: 'DOOR', door: 'front', event: { type: 'GRANT' } });
    send({ type: 'SCANNER', scanner: 'cam1', event: { type: 'DRIVER.CONNECTED' } });
    send({ type: 'SITE.LOCKDOWN', on: true });
    send({ type: 'SETTLE' });
    vi.advanceTimersByTime(60_000);
    expect(log).toEqual([]);
    expect(site.getSnapshot().value).toBe('settled');
    expect(door('front').value).toBe('stopped');
  });
});
