import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback, fromPromise, setup, type AnyActorLogic, type AnyActorRef } from 'xstate';
import { doorActorId, doorMachine, type DoorAnswer, type DoorEvent, type RecordEvent, type RecordGrantInput } from '../../machines/doorMachine.ts';
import {
  backoffDelay,
  MAX_QUEUED_READS,
  scannerLinkState,
  scannerMachine,
  type Conclusion,
  type DecideInput,
  type Decided,
  type DropParams,
  type ScannerActorRef,
  type ScannerInput,
} from '../../machines/scannerMachine.ts';

const DEBOUNCE_MS = 1_000;
const DOOR_ANSWER_MS = 2_000;

const GRANT: Decided = { grant: true, record: { credential: 'c1', outcome: 'grant' } };
const DENY: Decided = { grant: false, record: { credential: 'c1', outcome: 'deny', reason: 'expired' } };

/** Lets the promise of a `decide` settle and its outcome reach the scanner (microtasks are not faked). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

interface DecideCall {
  input: DecideInput;
  resolve: (decided: Decided) => void;
  reject: (error: Error) => void;
}

/**
 * The scanner provided the way the controller provides it; every effect goes to one ordered log and
 * every `decide` invocation waits until the test settles it.
 */
function providedScanner() {
  const log: string[] = [];
  const conclusions: Conclusion[] = [];
  const drops: DropParams[] = [];
  const calls: DecideCall[] = [];
  const logic = scannerMachine.provide({
    actions: {
      connect: () => void log.push('connect'),
      disconnect: () => void log.push('disconnect'),
      dropRead: (_, params) => {
        drops.push(params);
        log.push(`drop ${params.reason}`);
      },
      conclude: (_, params) => {
        conclusions.push(params);
        log.push(`conclude ${params.ref}`);
      },
    },
    actors: {
      decide: fromPromise<Decided, DecideInput>(({ input }) => {
        log.push(`decide ${input.ref}`);
        return new Promise<Decided>((resolve, reject) => void calls.push({ input, resolve, reject }));
      }),
    },
  });
  return { logic, log, conclusions, drops, decide: { calls } };
}

const scannerInput = (input: Partial<ScannerInput> = {}): ScannerInput => ({
  id: 's1',
  door: 'd1',
  debounceMs: DEBOUNCE_MS,
  doorAnswerMs: DOOR_ANSWER_MS,
  ...input,
});

/** A scanner alone in its system: no door actor can be found. */
function startScanner(input: Partial<ScannerInput> = {}) {
  const provided = providedScanner();
  const actor = createActor(provided.logic, { input: scannerInput(input) }).start();
  return {
    ...provided,
    actor,
    send: actor.send.bind(actor),
    snapshot: () => actor.getSnapshot(),
    context: () => actor.getSnapshot().context,
  };
}

function readyScanner(input: Partial<ScannerInput> = {}) {
  const scanner = startScanner(input);
  scanner.send({ type: 'DRIVER.CONNECTED' });
  return scanner;
}

type GrantEvent = Extract<DoorEvent, { type: 'GRANT' }>;

/** A stand-in door: keeps every event it gets; the test answers grants itself (or never). */
function fakeDoor() {
  const events: DoorEvent[] = [];
  const logic = fromCallback<DoorEvent>(({ receive }) => {
    receive((event) => void events.push(event));
  });
  const grants = () => events.filter((event): event is GrantEvent => event.type === 'GRANT');
  const answer = (grant: GrantEvent, fields: Pick<DoorAnswer, 'opened' | 'reason' | 'grantSeq'>) =>
    (grant.replyTo as AnyActorRef).send({ type: 'DOOR.ANSWER', door: 'd1', requestId: grant.requestId ?? 0, ...fields } satisfies DoorAnswer);
  return { logic, events, grants, answer };
}

/**
 * A tiny parent that invokes a door (system id `door:d1`) and the scanner side by side, as the site
 * spawns them, so that the scanner finds its door by system id.
 */
function startWithDoor(doorLogic: AnyActorLogic, input: Partial<ScannerInput> = {}) {
  const provided = providedScanner();
  const parent = setup({ actors: { door: doorLogic, scanner: provided.logic } }).createMachine({
    invoke: [
      { src: 'door', id: 'door', systemId: doorActorId('d1'), input: { id: 'd1', unlockMs: 5_000, heldOpenMs: 30_000, failMode: 'secure' } },
      { src: 'scanner', id: 'scanner', systemId: 'scanner:s1', input: scannerInput(input) },
    ],
  });
  const root = createActor(parent).start();
  const scanner = root.system.get('scanner:s1') as ScannerActorRef;
  const door = root.system.get(doorActorId('d1')) as AnyActorRef;
  scanner.send({ type: 'DRIVER.CONNECTED' });
  return { ...provided, root, scanner, door, send: scanner.send.bind(scanner), context: () => scanner.getSnapshot().context };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('scannerMachine: connection', () => {
  it('connects on start and becomes ready on DRIVER.CONNECTED', () => {
    const scanner = startScanner();
    expect(scanner.snapshot().matches({ active: { link: 'connecting' } })).toBe(true);
    expect(scannerLinkState(scanner.snapshot())).toBe('connecting');
    expect(scanner.log).toEqual(['connect']);
    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scanner.snapshot().matches({ active: { link: 'ready' } })).toBe(true);
    expect(scannerLinkState(scanner.snapshot())).toBe('ready');
  });

  it('retries with a doubling backoff capped at maxMs, and resets it on connect', () => {
    const scanner = startScanner({ backoff: { initialMs: 100, maxMs: 500 } });
    const expected = [100, 200, 400, 500, 500];
    for (const [i, delay] of expected.entries()) {
      scanner.send({ type: 'DRIVER.DISCONNECTED', reason: `failure ${i}` });
      expect(scannerLinkState(scanner.snapshot())).toBe('disconnected');
      expect(scanner.context()).toMatchObject({ attempt: i + 1, lastError: `failure ${i}` });
      vi.advanceTimersByTime(delay - 1);
      expect(scannerLinkState(scanner.snapshot())).toBe('disconnected');
      vi.advanceTimersByTime(1);
      expect(scannerLinkState(scanner.snapshot())).toBe('connecting');
    }
    expect(scanner.log).toEqual(Array(expected.length + 1).fill('connect'));

    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scanner.context().attempt).toBe(0);
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'unplugged' });
    vi.advanceTimersByTime(99);
    expect(scannerLinkState(scanner.snapshot())).toBe('disconnected');
    vi.advanceTimersByTime(1);
    expect(scannerLinkState(scanner.snapshot())).toBe('connecting');
  });

  it('uses 500 ms doubling to 30 s by default', () => {
    expect([1, 2, 3, 7, 8, 20].map((attempt) => backoffDelay({ initialMs: 500, maxMs: 30_000 }, attempt))).toEqual([
      500, 1_000, 2_000, 30_000, 30_000, 30_000,
    ]);
    const scanner = startScanner({ backoff: undefined });
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    vi.advanceTimersByTime(499);
    expect(scannerLinkState(scanner.snapshot())).toBe('disconnected');
    vi.advanceTimersByTime(1);
    expect(scannerLinkState(scanner.snapshot())).toBe('connecting');
  });

  it('becomes ready at once if the driver reconnects by itself while waiting', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    expect(scannerLinkState(scanner.snapshot())).toBe('ready');
    expect(scanner.context().attempt).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(scannerLinkState(scanner.snapshot())).toBe('ready');
    expect(scanner.log).toEqual(['connect']);
  });

  it('stops from any state, disconnecting the driver and cancelling the retry', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'x' });
    scanner.send({ type: 'STOP' });
    expect(scanner.snapshot().value).toBe('stopped');
    expect(scannerLinkState(scanner.snapshot())).toBe('stopped');
    expect(scanner.snapshot().status).toBe('done');
    vi.advanceTimersByTime(60_000);
    expect(scanner.log).toEqual(['connect', 'disconnect']);
    expect(scanner.conclusions).toEqual([]);
  });

  it('keeps the driver’s latest health report, in any link state', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.HEALTH', health: { framesPerSecond: 10 } });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.HEALTH', health: { framesPerSecond: 12, warning: 'bad frame' } });
    expect(scanner.context().health).toEqual({ framesPerSecond: 12, warning: 'bad frame' });
  });
});

describe('scannerMachine: deciding reads', () => {
  it('decides reads one at a time, in the order they were read', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 2 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.CCC', ref: 3 });
    expect(scanner.decide.calls.map((call) => call.input)).toEqual([{ scannerId: 's1', door: 'd1', text: 'P1.AAA', ref: 1 }]);
    expect(scanner.context().queue.map((read) => read.text)).toEqual(['P1.BBB', 'P1.CCC']);
    expect(scanner.snapshot().matches({ active: { decision: 'deciding' } })).toBe(true);

    scanner.decide.calls[0]!.resolve(DENY);
    await flush();
    expect(scanner.decide.calls.map((call) => call.input.text)).toEqual(['P1.AAA', 'P1.BBB']);
    scanner.decide.calls[1]!.resolve(DENY);
    await flush();
    scanner.decide.calls[2]!.resolve(DENY);
    await flush();

    // Each read is concluded before the next one is decided.
    expect(scanner.log).toEqual(['connect', 'decide 1', 'conclude 1', 'decide 2', 'conclude 2', 'decide 3', 'conclude 3']);
    expect(scanner.snapshot().matches({ active: { decision: 'idle' } })).toBe(true);
    expect(scanner.context()).toMatchObject({ reads: 3, dropped: 0, current: null, queue: [] });
  });

  it('concludes a denial with its decision, and asks no door', async () => {
    const door = fakeDoor();
    const site = startWithDoor(door.logic);
    site.send({ type: 'DRIVER.READ', text: 'P1.DENIED', ref: 7 });
    site.decide.calls[0]!.resolve(DENY);
    await flush();
    expect(site.conclusions).toEqual([
      { scannerId: 's1', door: 'd1', ref: 7, textLength: 'P1.DENIED'.length, decided: DENY, answer: null, failure: null },
    ]);
    expect(door.events).toEqual([]);
  });

  it('denies every read when no decide is provided', async () => {
    const conclusions: Conclusion[] = [];
    const actor = createActor(scannerMachine.provide({ actions: { conclude: (_, params) => void conclusions.push(params) } }), {
      input: scannerInput(),
    }).start();
    actor.send({ type: 'DRIVER.CONNECTED' });
    actor.send({ type: 'DRIVER.READ', text: 'P1.ANY' });
    await flush();
    expect(conclusions).toHaveLength(1);
    expect(conclusions[0]).toMatchObject({ decided: { grant: false }, answer: null, failure: null });
  });

  it('takes a grant to the door found by system id, and waits for its answer before the next read', async () => {
    const door = fakeDoor();
    const site = startWithDoor(door.logic);
    site.send({ type: 'DRIVER.READ', text: 'P1.GOOD', ref: 1 });
    site.send({ type: 'DRIVER.READ', text: 'P1.NEXT', ref: 2 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();

    expect(door.grants()).toHaveLength(1);
    const grant = door.grants()[0]!;
    expect(grant).toMatchObject({ type: 'GRANT', requestId: site.context().current!.requestId, record: GRANT.record });
    expect(grant.replyTo).toBe(site.scanner);
    expect(site.scanner.getSnapshot().matches({ active: { decision: 'opening' } })).toBe(true);
    // The second read is not decided while the door has not answered the first.
    await flush();
    expect(site.decide.calls).toHaveLength(1);
    expect(site.conclusions).toEqual([]);

    door.answer(grant, { opened: true, reason: null, grantSeq: 41 });
    expect(site.conclusions).toEqual([
      {
        scannerId: 's1',
        door: 'd1',
        ref: 1,
        textLength: 'P1.GOOD'.length,
        decided: GRANT,
        answer: { type: 'DOOR.ANSWER', door: 'd1', requestId: grant.requestId, opened: true, reason: null, grantSeq: 41 },
        failure: null,
      },
    ]);
    expect(site.decide.calls.map((call) => call.input.text)).toEqual(['P1.GOOD', 'P1.NEXT']);
  });

  it('ignores a door answer to another request', async () => {
    const door = fakeDoor();
    const site = startWithDoor(door.logic);
    site.send({ type: 'DRIVER.READ', text: 'P1.GOOD', ref: 1 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    const grant = door.grants()[0]!;
    door.answer({ ...grant, requestId: (grant.requestId ?? 0) + 100 }, { opened: true, reason: null, grantSeq: 1 });
    expect(site.conclusions).toEqual([]);
    expect(site.scanner.getSnapshot().matches({ active: { decision: 'opening' } })).toBe(true);
    door.answer(grant, { opened: false, reason: 'forced-open', grantSeq: null });
    expect(site.conclusions).toHaveLength(1);
    expect(site.conclusions[0]!.answer).toMatchObject({ requestId: grant.requestId, opened: false, reason: 'forced-open' });
  });

  it('with a real door: concluded opened with the grant record’s seq, the record being the decision’s', async () => {
    const records: RecordGrantInput[] = [];
    const relay: boolean[] = [];
    const door = doorMachine.provide({
      actions: { setRelay: (_, { unlocked }) => void relay.push(unlocked) },
      actors: {
        recordGrant: fromCallback<RecordEvent, RecordGrantInput>(({ input, sendBack }) => {
          records.push(input);
          sendBack({ type: 'RECORD.ASSIGNED', seq: 41 });
          sendBack({ type: 'RECORD.DURABLE' });
        }),
      },
    });
    const site = startWithDoor(door);
    site.send({ type: 'DRIVER.READ', text: 'P1.GOOD', ref: 3 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    expect(records).toEqual([{ door: 'd1', reason: 'grant', record: GRANT.record }]);
    expect(site.door.getSnapshot().value).toBe('unlocked');
    expect(relay).toEqual([false, true]);
    expect(site.conclusions).toHaveLength(1);
    expect(site.conclusions[0]).toMatchObject({ ref: 3, decided: GRANT, failure: null, answer: { door: 'd1', opened: true, reason: null, grantSeq: 41 } });
  });

  it('with a real door in lockdown: concluded refused with the door’s reason and no record', async () => {
    const records: RecordGrantInput[] = [];
    const door = doorMachine.provide({
      actors: { recordGrant: fromCallback<RecordEvent, RecordGrantInput>(({ input }) => void records.push(input)) },
    });
    const site = startWithDoor(door);
    site.door.send({ type: 'LOCKDOWN.ON' });
    site.send({ type: 'DRIVER.READ', text: 'P1.GOOD', ref: 4 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    expect(records).toEqual([]);
    expect(site.conclusions).toHaveLength(1);
    expect(site.conclusions[0]).toMatchObject({ ref: 4, decided: GRANT, failure: null, answer: { opened: false, reason: 'lockdown', grantSeq: null } });
  });

  it('concludes a grant refused `door-fault` when no door actor is in the system', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.GOOD', ref: 5 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.NEXT', ref: 6 });
    scanner.decide.calls[0]!.resolve(GRANT);
    await flush();
    expect(scanner.conclusions).toHaveLength(1);
    expect(scanner.conclusions[0]).toMatchObject({
      ref: 5,
      decided: GRANT,
      failure: null,
      answer: { type: 'DOOR.ANSWER', door: 'd1', opened: false, reason: 'door-fault', grantSeq: null },
    });
    // The decision region is free again: the next read is decided.
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([5, 6]);
  });
});

describe('scannerMachine: debounce', () => {
  it('drops the same P1 code in another case or with trailing whitespace inside the window', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'p1.abc\r\n', ref: 2 });
    scanner.send({ type: 'DRIVER.READ', text: '  P1.Abc ', ref: 3 });
    expect(scanner.drops).toEqual([
      { scannerId: 's1', ref: 2, reason: 'debounced' },
      { scannerId: 's1', ref: 3, reason: 'debounced' },
    ]);
    expect(scanner.context()).toMatchObject({ reads: 3, dropped: 2, lastText: 'P1.ABC' });
    scanner.decide.calls[0]!.resolve(DENY);
    await flush();
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([1]);
    expect(scanner.conclusions.map((c) => c.ref)).toEqual([1]);
  });

  it('only trims other text: its case may matter, so another case is another code', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'Ticket-7', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'Ticket-7 \n', ref: 2 });
    scanner.send({ type: 'DRIVER.READ', text: 'ticket-7', ref: 3 });
    expect(scanner.drops.map((drop) => [drop.ref, drop.reason])).toEqual([[2, 'debounced']]);
    scanner.decide.calls[0]!.resolve(DENY);
    await flush();
    expect(scanner.decide.calls.map((call) => call.input.text)).toEqual(['Ticket-7', 'ticket-7']);
  });

  it('still drops a repeat after the driver disconnected and reconnected in between', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    vi.advanceTimersByTime(200);
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'wifi' });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.READ', text: 'p1.abc', ref: 2 });
    expect(scanner.drops).toEqual([{ scannerId: 's1', ref: 2, reason: 'debounced' }]);
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([1]);
    expect(scanner.context().queue).toEqual([]);
  });

  it('also when the reconnect waited for the backoff timer', () => {
    const scanner = readyScanner({ backoff: { initialMs: 100, maxMs: 100 } });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'wifi' });
    vi.advanceTimersByTime(100);
    expect(scannerLinkState(scanner.actor.getSnapshot())).toBe('connecting');
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 2 });
    expect(scanner.drops.map((drop) => drop.reason)).toEqual(['debounced']);
    expect(scanner.log.filter((entry) => entry.startsWith('decide'))).toEqual(['decide 1']);
  });

  it('accepts the code again once the window from the accepted read has passed; repeats do not extend it', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    scanner.decide.calls[0]!.resolve(DENY);
    await flush();
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 2 });
    expect(scanner.drops.map((drop) => drop.ref)).toEqual([2]);
    vi.advanceTimersByTime(1);
    expect(scanner.context().lastText).toBeNull();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 3 });
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([1, 3]);
    expect(scanner.context()).toMatchObject({ reads: 3, dropped: 1 });
  });

  it('accepts a different code at once and restarts the window for it', () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    vi.advanceTimersByTime(500);
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 2 });
    vi.advanceTimersByTime(DEBOUNCE_MS - 1);
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 3 });
    expect(scanner.drops.map((drop) => drop.ref)).toEqual([3]);
    vi.advanceTimersByTime(1);
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 4 });
    expect(scanner.drops.map((drop) => drop.ref)).toEqual([3]);
    expect(scanner.context().queue.map((read) => read.ref)).toEqual([2, 4]);
  });

  it('debounceMs 0 drops nothing: two identical reads in one tick are both decided', async () => {
    const scanner = readyScanner({ debounceMs: 0 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 2 });
    expect(scanner.drops).toEqual([]);
    expect(scanner.context().lastText).toBeNull();
    scanner.decide.calls[0]!.resolve(DENY);
    await flush();
    scanner.decide.calls[1]!.resolve(DENY);
    await flush();
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([1, 2]);
    expect(scanner.conclusions.map((c) => c.ref)).toEqual([1, 2]);
  });

  it('drops reads while connecting or disconnected as `not-ready`, without opening a window', () => {
    const scanner = startScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 1 });
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.DISCONNECTED', reason: 'cable' });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.DEF', ref: 2 });
    expect(scanner.drops).toEqual([
      { scannerId: 's1', ref: 1, reason: 'not-ready' },
      { scannerId: 's1', ref: 2, reason: 'not-ready' },
    ]);
    expect(scanner.context()).toMatchObject({ reads: 2, dropped: 2, lastText: null });
    expect(scanner.decide.calls).toEqual([]);
    expect(scanner.conclusions).toEqual([]);
    scanner.send({ type: 'DRIVER.CONNECTED' });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.ABC', ref: 3 });
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([3]);
  });
});

describe('scannerMachine: reads that end otherwise', () => {
  it(`concludes a read beyond ${MAX_QUEUED_READS} waiting as overflow, never deciding it`, () => {
    const scanner = readyScanner({ debounceMs: 0 });
    // One read in hand, MAX_QUEUED_READS waiting behind it.
    for (let ref = 1; ref <= MAX_QUEUED_READS + 1; ref++) scanner.send({ type: 'DRIVER.READ', text: `P1.R${ref}`, ref });
    expect(scanner.context().queue).toHaveLength(MAX_QUEUED_READS);
    expect(scanner.conclusions).toEqual([]);
    scanner.send({ type: 'DRIVER.READ', text: 'P1.LATE', ref: 99 });
    expect(scanner.conclusions).toEqual([
      { scannerId: 's1', door: 'd1', ref: 99, textLength: 'P1.LATE'.length, decided: null, answer: null, failure: 'overflow' },
    ]);
    expect(scanner.context()).toMatchObject({ reads: MAX_QUEUED_READS + 2, dropped: 0 });
    expect(scanner.context().queue.map((read) => read.ref)).not.toContain(99);
  });

  it('STOP while deciding concludes the current and every waiting read `stopped`; a late decision is ignored', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 2 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.CCC', ref: 3 });
    scanner.send({ type: 'STOP' });
    expect(scanner.conclusions.map((c) => [c.ref, c.failure, c.decided, c.answer])).toEqual([
      [1, 'stopped', null, null],
      [2, 'stopped', null, null],
      [3, 'stopped', null, null],
    ]);
    expect(scanner.log.slice(-1)).toEqual(['disconnect']);
    scanner.decide.calls[0]!.resolve(GRANT);
    await flush();
    expect(scanner.conclusions).toHaveLength(3);
    expect(scanner.decide.calls).toHaveLength(1);
    expect(scanner.actor.getSnapshot().status).toBe('done');
  });

  it('STOP while waiting for the door concludes the grant `stopped` with its decision; a late answer is ignored', async () => {
    const door = fakeDoor();
    const site = startWithDoor(door.logic);
    site.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    site.send({ type: 'STOP' });
    expect(site.conclusions).toEqual([
      { scannerId: 's1', door: 'd1', ref: 1, textLength: 6, decided: GRANT, answer: null, failure: 'stopped' },
    ]);
    // xstate warns of an event sent to a stopped actor: that warning is the expected outcome here.
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    door.answer(door.grants()[0]!, { opened: true, reason: null, grantSeq: 9 });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('sent to stopped actor'));
    warn.mockRestore();
    expect(site.conclusions).toHaveLength(1);
  });

  it('concludes `decide-failed` when decide rejects, and goes on with the next read', async () => {
    const scanner = readyScanner();
    scanner.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    scanner.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 2 });
    scanner.decide.calls[0]!.reject(new Error('store down'));
    await flush();
    expect(scanner.conclusions).toEqual([
      { scannerId: 's1', door: 'd1', ref: 1, textLength: 6, decided: null, answer: null, failure: 'decide-failed' },
    ]);
    expect(scanner.decide.calls.map((call) => call.input.ref)).toEqual([1, 2]);
    expect(scanner.actor.getSnapshot().status).toBe('active');
  });

  it('concludes `door-silent` when the door does not answer within doorAnswerMs; a late answer is ignored', async () => {
    const door = fakeDoor();
    const site = startWithDoor(door.logic);
    site.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    site.send({ type: 'DRIVER.READ', text: 'P1.BBB', ref: 2 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    vi.advanceTimersByTime(DOOR_ANSWER_MS - 1);
    expect(site.conclusions).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(site.conclusions).toEqual([
      { scannerId: 's1', door: 'd1', ref: 1, textLength: 6, decided: GRANT, answer: null, failure: 'door-silent' },
    ]);
    expect(site.decide.calls.map((call) => call.input.ref)).toEqual([1, 2]);
    door.answer(door.grants()[0]!, { opened: true, reason: null, grantSeq: 3 });
    expect(site.conclusions).toHaveLength(1);
    expect(site.scanner.getSnapshot().matches({ active: { decision: 'deciding' } })).toBe(true);
  });

  it('a real door that never makes the record durable is `door-silent` too', async () => {
    const door = doorMachine.provide({ actors: { recordGrant: fromCallback<RecordEvent, RecordGrantInput>(() => {}) } });
    const site = startWithDoor(door);
    site.send({ type: 'DRIVER.READ', text: 'P1.AAA', ref: 1 });
    site.decide.calls[0]!.resolve(GRANT);
    await flush();
    expect(site.door.getSnapshot().value).toBe('admitting');
    vi.advanceTimersByTime(DOOR_ANSWER_MS);
    expect(site.conclusions.map((c) => [c.ref, c.failure])).toEqual([[1, 'door-silent']]);
  });
});
