/**
 * SessionStore's check on account changes, alone: recheckAll (called for every change noticed in
 * the store), the sign-in that raced a change, and a store that cannot answer. The end-to-end
 * proof, with a running controller and the command line, is test/api/revocationInstant.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../controller/accounts/accountTypes.ts';
import { SessionStore, type SessionEndReason } from '../../controller/web/sessionStore.ts';

const ada: Principal = { kind: 'user', id: 'usr_1', name: 'ada', role: 'operator', scanner: null };
const bob: Principal = { kind: 'user', id: 'usr_2', name: 'bob', role: 'admin', scanner: null };

function store(reauthenticate: (p: Principal) => Promise<Principal | undefined>) {
  const errors: unknown[] = [];
  // Periodic checks never come due here (an hour): only recheckAll and create's own check run.
  const sessions = new SessionStore({ idleMs: 3_600_000, maxMs: 3_600_000, reauthenticateMs: 3_600_000, reauthenticate, onError: (e) => errors.push(e) });
  const ended: Array<[string, SessionEndReason]> = [];
  const changed: string[] = [];
  sessions.onEnd((s, reason) => ended.push([s.principal.name, reason]));
  sessions.onChange((s) => changed.push(`${s.principal.name}:${s.principal.role}`));
  return { sessions, ended, changed, errors };
}

describe('SessionStore.recheckAll', () => {
  it('ends a disabled user\'s sessions and lowers a role in place, with one read per user, before it resolves', async () => {
    const reads: string[] = [];
    const current = new Map<string, Principal | undefined>([
      ['usr_1', undefined],
      ['usr_2', { ...bob, role: 'viewer' }],
    ]);
    const { sessions, ended, changed } = store(async (p) => {
      reads.push(p.id);
      return current.get(p.id);
    });
    const a1 = sessions.create(ada);
    const a2 = sessions.create(ada);
    const b = sessions.create(bob);
    await sessions.recheckAll();
    expect(reads.sort()).toEqual(['usr_1', 'usr_2']);
    expect(ended).toEqual([
      ['ada', 'revoked'],
      ['ada', 'revoked'],
    ]);
    expect(sessions.live(a1.session)).toBeUndefined();
    expect(sessions.live(a2.session)).toBeUndefined();
    expect(sessions.live(b.session)?.principal.role).toBe('viewer');
    expect(changed).toEqual(['bob:viewer']);
  });

  it('checks at once a session whose sign-in began before a change it could not see', async () => {
    let disabled = false;
    const { sessions, ended } = store(async (p) => (disabled ? undefined : p));
    // The sign-in reads the generation, then checks the password (the user is still enabled)...
    const since = sessions.generation;
    // ...meanwhile the user is disabled and every session is checked: this one does not exist yet.
    disabled = true;
    await sessions.recheckAll();
    const { session } = sessions.create(ada, since);
    await new Promise((r) => setImmediate(r));
    expect(ended).toEqual([['ada', 'revoked']]);
    expect(sessions.live(session)).toBeUndefined();
    // A sign-in that began after the change is not checked again.
    disabled = false;
    const later = sessions.create(ada, sessions.generation);
    await new Promise((r) => setImmediate(r));
    expect(sessions.live(later.session)).toBe(later.session);
  });

  it('keeps the sessions when the store cannot answer, and says so once per check', async () => {
    const { sessions, ended, errors } = store(async () => {
      throw new Error('store down');
    });
    const a1 = sessions.create(ada);
    sessions.create(ada);
    await sessions.recheckAll();
    expect(ended).toEqual([]);
    expect(sessions.live(a1.session)).toBe(a1.session);
    expect(errors).toHaveLength(1);
  });
});
