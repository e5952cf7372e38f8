/** SessionStore, LoginThrottle and EventHub's piecewise delivery, alone, with a fake clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Principal } from '../../controller/accounts/accountTypes.ts';
import { EventHub, type LiveEvent } from '../../controller/api/eventHub.ts';
import { LoginThrottle } from '../../controller/web/loginThrottle.ts';
import { SessionStore, type SessionEndReason } from '../../controller/web/sessionStore.ts';

const ada: Principal = { kind: 'user', id: 'usr_1', name: 'ada', role: 'operator', scanner: null };

describe('SessionStore', () => {
  let now: number;
  const clock = () => now;
  beforeEach(() => {
    vi.useFakeTimers();
    now = 1_000_000;
  });
  afterEach(() => vi.useRealTimers());

  function store(reauthenticate: (p: Principal) => Promise<Principal | undefined> = async (p) => p) {
    const sessions = new SessionStore({ idleMs: 30 * 60_000, maxMs: 12 * 3_600_000, reauthenticate, clock });
    const ended: Array<[string, SessionEndReason]> = [];
    sessions.onEnd((s, reason) => ended.push([s.principal.name, reason]));
    return { sessions, ended };
  }

  it('finds a session by its token only, and keeps no token', () => {
    const { sessions } = store();
    const { token, session } = sessions.create(ada);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session.id).not.toContain(token);
    expect(sessions.find(token)).toBe(session);
    expect(sessions.find(token.slice(1) + 'A')).toBeUndefined();
    expect(sessions.find(undefined)).toBeUndefined();
    expect(sessions.find('short')).toBeUndefined();
  });

  it('ends a session unused for the idle time, and any session at its absolute limit', async () => {
    const { sessions, ended } = store();
    sessions.start();
    const idle = sessions.create(ada);
    const busy = sessions.create({ ...ada, id: 'usr_2', name: 'bob' });
    for (let minute = 0; minute < 35; minute++) {
      now += 60_000;
      sessions.use(busy.session);
      await vi.advanceTimersByTimeAsync(15_000);
    }
    expect(ended).toEqual([['ada', 'idle']]);
    expect(sessions.find(idle.token)).toBeUndefined();
    expect(sessions.find(busy.token)).toBe(busy.session);
    now = busy.session.createdAt + 12 * 3_600_000;
    expect(sessions.use(busy.session)).toBeUndefined();
    expect(ended).toEqual([['ada', 'idle'], ['bob', 'expired']]);
    sessions.stop();
  });

  it('checks the account again every minute: a disabled user loses the session, a new role is taken over', async () => {
    let current: Principal | undefined = ada;
    const reauthenticate = vi.fn(async () => current);
    const { sessions, ended } = store(reauthenticate);
    const changed: string[] = [];
    sessions.onChange((s) => changed.push(s.principal.role));
    sessions.start();
    const { token, session } = sessions.create(ada);

    now += 61_000;
    current = { ...ada, role: 'viewer' };
    await vi.advanceTimersByTimeAsync(15_000);
    expect(reauthenticate).toHaveBeenCalled();
    expect(changed).toEqual(['viewer']);
    expect(session.principal.role).toBe('viewer');

    now += 61_000;
    current = undefined;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(ended).toEqual([['ada', 'revoked']]);
    expect(sessions.find(token)).toBeUndefined();
    sessions.stop();
  });

  it('keeps a session when the store cannot answer', async () => {
    const { sessions, ended } = store(async () => {
      throw new Error('store down');
    });
    sessions.start();
    const { token } = sessions.create(ada);
    now += 61_000;
    await vi.advanceTimersByTimeAsync(15_000);
    expect(ended).toEqual([]);
    expect(sessions.find(token)).toBeDefined();
    sessions.stop();
    expect(ended).toEqual([['ada', 'stopped']]);
  });
});

describe('LoginThrottle', () => {
  let now = 0;
  const throttle = () => new LoginThrottle({ maxFailures: 3, windowMs: 60_000, clock: () => now });

  it('locks a key at the limit until its failures leave the window', () => {
    const t = throttle();
    const keys = ['name:ada', 'address:1.2.3.4'];
    for (let i = 0; i < 2; i++) {
      t.begin(keys);
      expect(t.fail(keys)).toEqual([]);
      now += 1000;
    }
    t.begin(keys);
    expect(t.fail(keys)).toEqual(keys);
    expect(t.retryAfterMs(['name:ada'])).toBe(60_000 - 2000);
    expect(t.retryAfterMs(['name:bob'])).toBe(0);
    now += 58_000;
    expect(t.retryAfterMs(keys)).toBe(0);
  });

  it('counts attempts in flight, so parallel guesses cannot pass the limit', () => {
    const t = throttle();
    const keys = ['name:ada'];
    for (let i = 0; i < 3; i++) {
      expect(t.retryAfterMs(keys)).toBe(0);
      t.begin(keys);
    }
    expect(t.retryAfterMs(keys)).toBeGreaterThan(0);
  });

  it("forgets a name's failures at a right password, not the address's", () => {
    const t = throttle();
    const keys = ['name:ada', 'address:a'];
    t.begin(keys);
    t.fail(keys);
    t.begin(keys);
    t.fail(keys);
    t.begin(keys);
    t.succeed(keys, ['name:ada']);
    t.begin(['name:ada', 'address:a']);
    expect(t.fail(['name:ada', 'address:a'])).toEqual(['address:a']);
  });
});

describe('EventHub with piecewise subscribers', () => {
  it('gives the pieces to deliverEvent and the text to the rest, in order, with the same seq rules', async () => {
    const hub = new EventHub();
    const texts: string[] = [];
    const pieces: LiveEvent[] = [];
    const textSubscriber = { deliver: (t: string) => texts.push(t) };
    const pieceSubscriber = { deliver: () => expect.unreachable(), deliverEvent: (e: LiveEvent) => pieces.push(e) };
    hub.subscribe(textSubscriber, ['door'], null);
    const { subscription } = hub.subscribe(pieceSubscriber, ['door'], ['front']);
    const data = { id: 'front', state: 'unlocked' };
    hub.publish('door', 'front', data);
    data.state = 'changed after publishing';
    hub.publish('door', 'lab', { id: 'lab' });
    hub.publish('door', 'front', { id: 'front', state: 'secured' });
    await vi.waitFor(() => expect(texts).toHaveLength(3));
    expect(texts.map((t) => JSON.parse(t).params.seq)).toEqual([1, 2, 3]);
    expect(JSON.parse(texts[0]!)).toEqual({ jsonrpc: '2.0', method: 'event', params: { subscription: 's1', topic: 'door', seq: 1, data: { id: 'front', state: 'unlocked' } } });
    expect(pieces).toEqual([
      { subscription, topic: 'door', seq: 1, data: { id: 'front', state: 'unlocked' } },
      { subscription, topic: 'door', seq: 2, data: { id: 'front', state: 'secured' } },
    ]);
    hub.close();
  });
});
