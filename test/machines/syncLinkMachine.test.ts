import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import {
  syncLinkMachine,
  syncLinkStatus,
  type HubLinkCommand,
  type HubLinkEvent,
  type HubLinkInput,
  type SyncLinkInput,
} from '../../machines/syncLinkMachine.ts';

/** One invocation of the stand-in `hubLink`: what it was started with and told, and whether it was stopped. */
interface FakeLink {
  input: HubLinkInput;
  received: HubLinkCommand[];
  stopped: boolean;
  report: (event: HubLinkEvent) => void;
}

/** The machine with a stand-in `hubLink` whose every invocation the test can watch and speak for. */
function startLink(input: SyncLinkInput = {}) {
  const links: FakeLink[] = [];
  const hubLink = fromCallback<HubLinkCommand, HubLinkInput>(({ input: linkInput, receive, sendBack }) => {
    const link: FakeLink = { input: linkInput, received: [], stopped: false, report: (event) => sendBack(event) };
    links.push(link);
    receive((command) => void link.received.push(command));
    return () => {
      link.stopped = true;
    };
  });
  const actor = createActor(syncLinkMachine.provide({ actors: { hubLink } }), { input }).start();
  const current = (): FakeLink => {
    const link = links.at(-1);
    if (link === undefined) throw new Error('no link was started');
    return link;
  };
  return {
    actor,
    links,
    current,
    send: actor.send.bind(actor),
    context: () => actor.getSnapshot().context,
    status: () => syncLinkStatus(actor.getSnapshot()),
    state: () => syncLinkStatus(actor.getSnapshot()).state,
    welcome: (auditAcked = 0) => current().report({ type: 'LINK.WELCOME', siteId: 'lisbon', controllerId: 'front-desk', auditAcked }),
  };
}

type Started = ReturnType<typeof startLink>;

/** Connected and welcomed, then synced up to `cursor`: the link is live. */
function liveLink(input: SyncLinkInput = {}, cursor = 0): Started {
  const sync = startLink({ start: true, ...input });
  sync.welcome();
  sync.current().report({ type: 'LINK.SYNCED', cursor });
  return sync;
}

const uploads = (link: FakeLink) => link.received.filter((command) => command.type === 'UPLOAD');
const pings = (link: FakeLink) => link.received.filter((command) => command.type === 'PING').length;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('syncLinkMachine: connecting and syncing', () => {
  it('waits offline for START unless told to start, and invokes the link with the stored cursor', () => {
    const sync = startLink({ cursor: 42 });
    expect(sync.state()).toBe('offline');
    vi.advanceTimersByTime(60_000);
    expect(sync.links).toEqual([]);

    sync.send({ type: 'START' });
    expect(sync.state()).toBe('connecting');
    expect(sync.links.map((link) => link.input)).toEqual([{ cursor: 42 }]);

    const atOnce = startLink({ start: true, cursor: 7 });
    expect(atOnce.state()).toBe('connecting');
    expect(atOnce.links.map((link) => link.input)).toEqual([{ cursor: 7 }]);
  });

  it('WELCOME moves connecting to syncing and keeps who the hub says we are', () => {
    const sync = startLink({ start: true });
    sync.current().report({ type: 'LINK.WELCOME', siteId: 'lisbon', controllerId: 'front-desk', auditAcked: 17 });
    expect(sync.state()).toBe('syncing');
    expect(sync.context()).toMatchObject({ siteId: 'lisbon', controllerId: 'front-desk', auditAcked: 17 });
  });

  it('APPLIED moves the cursor in syncing and live, not before the welcome; SYNCED makes the link live', () => {
    const sync = startLink({ start: true, cursor: 5 });
    sync.current().report({ type: 'LINK.APPLIED', cursor: 99, hubCursor: 120 });
    expect(sync.context()).toMatchObject({ cursor: 5, hubCursor: 5 });

    sync.welcome();
    sync.current().report({ type: 'LINK.APPLIED', cursor: 100, hubCursor: 130 });
    expect(sync.status()).toMatchObject({ state: 'syncing', cursor: 100, lag: 30 });

    sync.current().report({ type: 'LINK.SYNCED', cursor: 130 });
    expect(sync.status()).toMatchObject({ state: 'live', cursor: 130, lag: 0 });
    expect(sync.context().hubCursor).toBe(130);

    sync.current().report({ type: 'LINK.APPLIED', cursor: 131, hubCursor: 133 });
    expect(sync.status()).toMatchObject({ state: 'live', cursor: 131, lag: 2 });
  });

  it('keeps one link across connecting, syncing and live', () => {
    const sync = liveLink();
    vi.advanceTimersByTime(14_999);
    expect(pings(sync.current())).toBe(2);
    expect(sync.state()).toBe('live');
    expect(sync.links).toHaveLength(1);
    expect(sync.current().stopped).toBe(false);
  });

  it('without a provided link it reports there is no hub link and backs off', () => {
    const actor = createActor(syncLinkMachine, { input: { start: true } }).start();
    expect(syncLinkStatus(actor.getSnapshot())).toMatchObject({ state: 'backoff', lastError: 'no hub link', attempts: 1 });
    actor.stop();
  });
});

describe('syncLinkMachine: losing the link', () => {
  it('CLOSED stops the link, backs off with the error, then connects again from the cursor reached', () => {
    const sync = startLink({ start: true, random: () => 1 });
    sync.welcome();
    sync.current().report({ type: 'LINK.APPLIED', cursor: 300, hubCursor: 400 });
    sync.current().report({ type: 'LINK.CLOSED', error: 'socket closed (1006)' });
    expect(sync.status()).toMatchObject({ state: 'backoff', lastError: 'socket closed (1006)', attempts: 1 });
    expect(sync.links[0]!.stopped).toBe(true);
    expect(sync.links).toHaveLength(1);

    vi.advanceTimersByTime(1_000);
    expect(sync.state()).toBe('connecting');
    expect(sync.links.map((link) => link.input)).toEqual([{ cursor: 0 }, { cursor: 300 }]);
    expect(sync.links[1]!.stopped).toBe(false);
  });

  it('STOP from online stops the link; from backoff it cancels the retry', () => {
    const sync = liveLink();
    sync.send({ type: 'STOP' });
    expect(sync.state()).toBe('offline');
    expect(sync.current().stopped).toBe(true);

    sync.send({ type: 'START' });
    sync.current().report({ type: 'LINK.CLOSED', error: 'refused' });
    expect(sync.state()).toBe('backoff');
    sync.send({ type: 'STOP' });
    vi.advanceTimersByTime(120_000);
    expect(sync.state()).toBe('offline');
    expect(sync.links).toHaveLength(2);
  });

  it('ignores what a stopped link still says', () => {
    const sync = startLink({ start: true });
    const old = sync.current();
    sync.send({ type: 'STOP' });
    old.report({ type: 'LINK.WELCOME', siteId: 'x', controllerId: 'y', auditAcked: 9 });
    expect(sync.status()).toMatchObject({ state: 'offline', siteId: null, auditAcked: 0 });
  });

  it('drops a link that never welcomes within silenceMs', () => {
    const sync = startLink({ start: true });
    vi.advanceTimersByTime(14_999);
    expect(sync.state()).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(sync.status()).toMatchObject({ state: 'backoff', lastError: 'hub silent for 15 s', attempts: 1 });
    expect(sync.current().stopped).toBe(true);
  });

  it('every word from the hub restarts the silence timer; silence after the last one drops the link', () => {
    const sync = startLink({ start: true, silenceMs: 3_000, heartbeatMs: 60_000 });
    vi.advanceTimersByTime(2_000);
    sync.welcome();
    vi.advanceTimersByTime(2_000);
    sync.current().report({ type: 'LINK.APPLIED', cursor: 1, hubCursor: 2 });
    vi.advanceTimersByTime(2_000);
    sync.current().report({ type: 'LINK.SYNCED', cursor: 2 });
    vi.advanceTimersByTime(2_000);
    sync.current().report({ type: 'LINK.PONG', sentAt: 0, receivedAt: 0, hubTime: 0 });
    vi.advanceTimersByTime(2_000);
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 0 });
    vi.advanceTimersByTime(2_999);
    expect(sync.state()).toBe('live');
    vi.advanceTimersByTime(1);
    expect(sync.status()).toMatchObject({ state: 'backoff', lastError: 'hub silent for 3 s' });
    expect(sync.links[0]!.stopped).toBe(true);
  });
});

describe('syncLinkMachine: heartbeat', () => {
  it('pings every heartbeatMs once welcomed, without restarting when the link turns live, and stops with the link', () => {
    const sync = startLink({ start: true, silenceMs: 60_000 });
    vi.advanceTimersByTime(10_000);
    expect(pings(sync.current())).toBe(0);

    sync.welcome();
    vi.advanceTimersByTime(4_999);
    sync.current().report({ type: 'LINK.SYNCED', cursor: 0 });
    expect(pings(sync.current())).toBe(0);
    vi.advanceTimersByTime(1);
    expect(pings(sync.current())).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(pings(sync.current())).toBe(3);
    expect(sync.current().received).toEqual([{ type: 'PING' }, { type: 'PING' }, { type: 'PING' }]);

    sync.current().report({ type: 'LINK.CLOSED', error: 'gone' });
    vi.advanceTimersByTime(20_000);
    expect(pings(sync.links[0]!)).toBe(3);
  });

  it('answers to PONGs keep a healthy link up indefinitely', () => {
    const sync = liveLink();
    for (let beat = 1; beat <= 20; beat++) {
      vi.advanceTimersByTime(5_000);
      expect(pings(sync.current())).toBe(beat);
      sync.current().report({ type: 'LINK.PONG', sentAt: 0, receivedAt: 10, hubTime: 5 });
    }
    expect(sync.state()).toBe('live');
    expect(sync.links).toHaveLength(1);
  });
});

describe('syncLinkMachine: backoff', () => {
  /** Loses the link at once on every connection and records how long each retry waited. */
  function retryDelays(sync: Started, count: number): number[] {
    const delays: number[] = [];
    for (let i = 0; i < count; i++) {
      const connections = sync.links.length;
      sync.current().report({ type: 'LINK.CLOSED', error: `lost ${i}` });
      let waited = 0;
      while (sync.links.length === connections) {
        vi.advanceTimersByTime(1);
        waited += 1;
      }
      delays.push(waited);
    }
    return delays;
  }

  it('doubles from backoffBaseMs up to backoffMaxMs with random() = 1, counting attempts', () => {
    const sync = startLink({ start: true, random: () => 1, backoffBaseMs: 1_000, backoffMaxMs: 8_000 });
    expect(retryDelays(sync, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(sync.context().attempts).toBe(6);
  });

  it('defaults to 1 s doubling to 30 s', () => {
    const sync = startLink({ start: true, random: () => 1 });
    expect(retryDelays(sync, 7)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  });

  it('scales the ceiling by random() (full jitter), never below 100 ms', () => {
    const half = startLink({ start: true, random: () => 0.5 });
    expect(retryDelays(half, 3)).toEqual([500, 1_000, 2_000]);
    const zero = startLink({ start: true, random: () => 0 });
    expect(retryDelays(zero, 3)).toEqual([100, 100, 100]);
  });

  it('draws random() once per backoff', () => {
    const random = vi.fn(() => 1);
    const sync = startLink({ start: true, random });
    retryDelays(sync, 2);
    expect(random).toHaveBeenCalledTimes(2);
  });

  it('a live link resets the attempts; a lost welcome does not', () => {
    const sync = startLink({ start: true, random: () => 1 });
    retryDelays(sync, 2);
    sync.welcome();
    sync.current().report({ type: 'LINK.CLOSED', error: 'lost while syncing' });
    expect(sync.context().attempts).toBe(3);
    vi.advanceTimersByTime(4_000);
    sync.welcome();
    sync.current().report({ type: 'LINK.SYNCED', cursor: 0 });
    expect(sync.context().attempts).toBe(0);
    expect(retryDelays(sync, 1)).toEqual([1_000]);
  });

  it('START after STOP begins again from the first attempt', () => {
    const sync = startLink({ start: true, random: () => 1 });
    retryDelays(sync, 3);
    sync.send({ type: 'STOP' });
    expect(sync.context().attempts).toBe(3);
    sync.send({ type: 'START' });
    expect(retryDelays(sync, 1)).toEqual([1_000]);
  });
});

describe('syncLinkMachine: audit upload', () => {
  it('uploads one batch at a time and the next after the ack', () => {
    const sync = liveLink();
    sync.send({ type: 'OUTBOX.HEAD', seq: 3 });
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 0 }]);
    sync.send({ type: 'OUTBOX.HEAD', seq: 5 });
    expect(uploads(sync.current())).toHaveLength(1);
    expect(sync.status()).toMatchObject({ auditHead: 5, outboxDepth: 5 });

    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 3 });
    expect(uploads(sync.current())).toEqual([
      { type: 'UPLOAD', afterSeq: 0 },
      { type: 'UPLOAD', afterSeq: 3 },
    ]);
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 5 });
    expect(uploads(sync.current())).toHaveLength(2);
    expect(sync.status()).toMatchObject({ auditAcked: 5, auditHead: 5, outboxDepth: 0 });
  });

  it('after the welcome, uploads from what the hub holds until it has everything', () => {
    const sync = startLink({ start: true, auditHead: 1_200 });
    expect(sync.current().received).toEqual([]);
    sync.welcome(200);
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 200 }]);
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 700 });
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 1_200 });
    expect(uploads(sync.current()).map((upload) => upload.afterSeq)).toEqual([200, 700]);
    expect(sync.status().outboxDepth).toBe(0);
  });

  it('counts the outbox head offline and while connecting, but uploads only once welcomed', () => {
    const sync = startLink();
    sync.send({ type: 'OUTBOX.HEAD', seq: 4 });
    expect(sync.status()).toMatchObject({ state: 'offline', auditHead: 4, outboxDepth: 4 });
    sync.send({ type: 'START' });
    sync.send({ type: 'OUTBOX.HEAD', seq: 6 });
    sync.send({ type: 'OUTBOX.HEAD', seq: 5 });
    expect(sync.context().auditHead).toBe(6);
    expect(sync.current().received).toEqual([]);
    sync.welcome(2);
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 2 }]);
  });

  it('uploads while still syncing, not only once live', () => {
    const sync = startLink({ start: true });
    sync.welcome(0);
    sync.send({ type: 'OUTBOX.HEAD', seq: 2 });
    expect(sync.state()).toBe('syncing');
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 0 }]);
    sync.send({ type: 'OUTBOX.HEAD', seq: 3 });
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 2 });
    expect(uploads(sync.current()).map((upload) => upload.afterSeq)).toEqual([0, 2]);
  });

  it('a stale or repeated ack does not move auditAcked back', () => {
    const sync = liveLink({ auditHead: 10 });
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 10 });
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 4 });
    expect(sync.context().auditAcked).toBe(10);
  });

  it('uploads nothing more after a rejection until a new welcome, which clears the problem', () => {
    const sync = startLink({ start: true, auditHead: 50, random: () => 1 });
    sync.welcome(10);
    sync.current().report({ type: 'LINK.AUDIT_REJECTED', seq: 11, problem: 'edited' });
    expect(sync.status()).toMatchObject({ auditProblem: 'edited at seq 11', lastError: 'hub refused the audit chain: edited at seq 11' });

    sync.send({ type: 'OUTBOX.HEAD', seq: 60 });
    sync.current().report({ type: 'LINK.AUDIT_ACK', seq: 10 });
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 10 }]);

    sync.current().report({ type: 'LINK.CLOSED', error: 'closed' });
    // The problem stays on show while there is no new word from the hub.
    expect(sync.status().auditProblem).toBe('edited at seq 11');
    vi.advanceTimersByTime(1_000);
    sync.welcome(10);
    expect(sync.context().auditProblem).toBeNull();
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 10 }]);
  });

  it('a batch lost with its link does not hold back the next connection', () => {
    const sync = liveLink({ random: () => 1 });
    sync.send({ type: 'OUTBOX.HEAD', seq: 8 });
    expect(uploads(sync.current())).toHaveLength(1);
    sync.current().report({ type: 'LINK.CLOSED', error: 'closed' });
    vi.advanceTimersByTime(1_000);
    sync.welcome(0);
    expect(uploads(sync.current())).toEqual([{ type: 'UPLOAD', afterSeq: 0 }]);
  });
});

describe('syncLinkMachine: clock', () => {
  const pong = (sync: Started, hubTime: number) => sync.current().report({ type: 'LINK.PONG', sentAt: 1_000_000, receivedAt: 1_000_040, hubTime });

  it('measures the offset from the middle of the round trip, rounded', () => {
    const sync = liveLink();
    expect(sync.context().clockOffsetMs).toBeNull();
    sync.current().report({ type: 'LINK.PONG', sentAt: 1_000, receivedAt: 1_003, hubTime: 1_250 });
    expect(sync.status()).toMatchObject({ clockOffsetMs: 249, clockAlarm: false });
    sync.current().report({ type: 'LINK.PONG', sentAt: 1_000, receivedAt: 1_001, hubTime: 1_000 });
    expect(sync.status().clockOffsetMs).toBe(0);
  });

  it('raises the clock alarm beyond clockAlarmMs either way, not at it, and lowers it again', () => {
    const sync = liveLink();
    pong(sync, 1_000_020 + 5_000);
    expect(sync.status()).toMatchObject({ clockOffsetMs: 5_000, clockAlarm: false });
    pong(sync, 1_000_020 + 5_001);
    expect(sync.status()).toMatchObject({ clockOffsetMs: 5_001, clockAlarm: true });
    pong(sync, 1_000_020 - 5_001);
    expect(sync.status()).toMatchObject({ clockOffsetMs: -5_001, clockAlarm: true });
    pong(sync, 1_000_020 - 5_000);
    expect(sync.status()).toMatchObject({ clockOffsetMs: -5_000, clockAlarm: false });
  });

  it('takes clockAlarmMs from the input', () => {
    const sync = liveLink({ clockAlarmMs: 100 });
    pong(sync, 1_000_020 + 101);
    expect(sync.status().clockAlarm).toBe(true);
  });
});

describe('syncLinkStatus', () => {
  it('reports every field, with the state of each phase', () => {
    const sync = startLink({ cursor: 10, auditHead: 30, random: () => 1 });
    expect(sync.status()).toEqual({
      state: 'offline',
      cursor: 10,
      lag: 0,
      outboxDepth: 30,
      auditAcked: 0,
      auditHead: 30,
      attempts: 0,
      lastError: null,
      auditProblem: null,
      clockOffsetMs: null,
      clockAlarm: false,
      siteId: null,
      controllerId: null,
    });
    sync.send({ type: 'START' });
    expect(sync.state()).toBe('connecting');
    sync.welcome(20);
    sync.current().report({ type: 'LINK.APPLIED', cursor: 15, hubCursor: 25 });
    sync.current().report({ type: 'LINK.PONG', sentAt: 0, receivedAt: 100, hubTime: 6_100 });
    expect(sync.status()).toEqual({
      state: 'syncing',
      cursor: 15,
      lag: 10,
      outboxDepth: 10,
      auditAcked: 20,
      auditHead: 30,
      attempts: 0,
      lastError: null,
      auditProblem: null,
      clockOffsetMs: 6_050,
      clockAlarm: true,
      siteId: 'lisbon',
      controllerId: 'front-desk',
    });
    sync.current().report({ type: 'LINK.SYNCED', cursor: 25 });
    expect(sync.status()).toMatchObject({ state: 'live', lag: 0 });
    sync.current().report({ type: 'LINK.CLOSED', error: 'bye' });
    expect(sync.status()).toMatchObject({ state: 'backoff', attempts: 1, lastError: 'bye', siteId: 'lisbon' });
  });

  it('never reports a negative lag or outbox depth', () => {
    const sync = startLink({ start: true, cursor: 50, auditHead: 3 });
    sync.welcome(9);
    sync.current().report({ type: 'LINK.APPLIED', cursor: 50, hubCursor: 40 });
    expect(sync.status()).toMatchObject({ lag: 0, outboxDepth: 0, auditAcked: 9, auditHead: 3 });
  });
});
