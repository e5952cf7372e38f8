/**
 * Accounts on a real store, one suite run on both dialects: SQLite on a temp file and PostgreSQL
 * on a throwaway database (skipped, with a name saying why, when the server is not reachable,
 * unless POSTERN_TEST_REQUIRE_ALL=1). The store is wrapped only to count the calls Accounts makes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { Accounts, hashToken, TOKEN_TOUCH_INTERVAL_MS } from '../../controller/accounts/accounts.ts';
import { principalActor, roleAtLeast, ROLE_ORDER, type Role, type UserRole } from '../../controller/accounts/accountTypes.ts';
import { parsePasswordHash, spendDummyHash, verifyPasswordHash } from '../../controller/accounts/passwordHash.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';

// The real functions, counted: which one a sign-in spends its scrypt in.
vi.mock('../../controller/accounts/passwordHash.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../controller/accounts/passwordHash.ts')>();
  return { ...real, spendDummyHash: vi.fn(real.spendDummyHash), verifyPasswordHash: vi.fn(real.verifyPasswordHash) };
});

const PASSWORD = 'correct horse battery staple';
const ACTOR = 'cli:tester';
const CONTROLLER = 'test-site/admin';

interface Backend {
  /** A started store on an empty database. */
  fresh(): Promise<Store>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir: string | undefined;
  let n = 0;
  return {
    async fresh() {
      dir ??= await mkdtemp(join(tmpdir(), 'postern-accounts-'));
      const store = openStore({ dataDir: dir, fileName: `a${++n}.sqlite` });
      await store.start();
      return store;
    },
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

function postgresBackend(): Backend {
  const drops: Array<() => Promise<void>> = [];
  return {
    async fresh() {
      const database = await createTestDatabase();
      drops.push(database.drop);
      const store = openStore({ databaseUrl: database.url, dataDir: '/nonexistent-unused' });
      await store.start();
      return store;
    },
    async cleanup() {
      for (const drop of drops) await drop();
    },
  };
}

/** The store, with every call Accounts makes counted by method name. */
function counting(store: Store): { store: Store; calls: string[] } {
  const calls: string[] = [];
  const proxy = new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(property));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

async function expectCode(promise: Promise<unknown>, code: string, field?: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: string }).code).toBe(code);
  if (field !== undefined) {
    expect((error as Error).message.startsWith(`${field}:`), (error as Error).message).toBe(true);
    expect((error as { details?: unknown }).details).toEqual({ field });
  }
  return error as Error;
}

describe('roles', () => {
  it('orders the roles and leaves scanner out of the order', () => {
    expect(ROLE_ORDER).toEqual(['viewer', 'operator', 'integrator', 'admin']);
    expect(roleAtLeast('admin', 'viewer')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'integrator')).toBe(false);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
    for (const needed of ROLE_ORDER) expect(roleAtLeast('scanner', needed as UserRole)).toBe(false);
    expect(principalActor({ kind: 'token', name: 'ci' })).toBe('token:ci');
  });
});

function accountsSuite(getBackend: () => Backend): void {
  let now = 1_767_225_600_000;
  const clock = () => now;
  const opened: Array<{ store: Store; audit: AuditTrail }> = [];

  async function setup(): Promise<{ accounts: Accounts; store: Store; calls: string[]; audit: AuditTrail }> {
    now = 1_767_225_600_000;
    const store = await getBackend().fresh();
    const audit = new AuditTrail({ store, controllerId: CONTROLLER, clock });
    await audit.start();
    opened.push({ store, audit });
    const counted = counting(store);
    return { accounts: new Accounts({ store: counted.store, audit, clock }), store, calls: counted.calls, audit };
  }

  afterEach(async () => {
    for (const { store, audit } of opened.splice(0)) {
      await audit.stop();
      await store.stop();
    }
  });

  describe('users', () => {
    it('stores a salted scrypt hash, never the password, different for each user', async () => {
      const { accounts, store } = await setup();
      const ada = await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'admin' }, ACTOR);
      expect(ada).toEqual({ id: expect.stringMatching(/^usr_[0-9a-f]{16}$/), name: 'ada', role: 'admin', createdAt: now, createdBy: ACTOR, disabled: false, lastLoginAt: null });
      await accounts.createUser({ name: 'grace', password: PASSWORD, role: 'viewer' }, ACTOR);
      const adaHash = (await store.getUserByName('ada'))!.passwordHash;
      const graceHash = (await store.getUserByName('grace'))!.passwordHash;
      expect(adaHash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/);
      expect(adaHash).not.toContain(PASSWORD);
      expect(adaHash).not.toBe(graceHash);
      const parsed = parsePasswordHash(adaHash)!;
      expect(parsed.salt.length).toBe(16);
      expect(parsed.salt.equals(parsePasswordHash(graceHash)!.salt)).toBe(false);
    });

    it('verifies a password: right, wrong, unknown user, disabled user', async () => {
      const { accounts, store } = await setup();
      const ada = await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'operator' }, ACTOR);
      now += 5000;
      expect(await accounts.verifyPassword('ada', PASSWORD)).toEqual({ kind: 'user', id: ada.id, name: 'ada', role: 'operator', scanner: null });
      expect((await accounts.getUser('ada')).lastLoginAt).toBe(now);
      expect(await accounts.verifyPassword('ada', `${PASSWORD}!`)).toBeUndefined();
      expect(await accounts.verifyPassword('ada', '')).toBeUndefined();
      expect(await accounts.verifyPassword('ADA', PASSWORD)).toBeUndefined();
      expect(await accounts.verifyPassword('nobody', PASSWORD)).toBeUndefined();
      expect(await accounts.verifyPassword('not a name!', PASSWORD)).toBeUndefined();
      expect(await accounts.verifyPassword('ada', 'x'.repeat(5000))).toBeUndefined();
      // the same password in another Unicode normal form is the same password
      await accounts.setPassword('ada', 'caf\u00e9 au lait 1234', ACTOR);
      expect(await accounts.verifyPassword('ada', 'cafe\u0301 au lait 1234')).toBeDefined();

      await accounts.disableUser('ada', ACTOR);
      expect(await accounts.verifyPassword('ada', 'caf\u00e9 au lait 1234')).toBeUndefined();
      expect((await store.getUserByName('ada'))!.disabled).toBe(true);
    });

    it('spends a scrypt on an unknown name too, so timing does not tell which names exist', async () => {
      const { accounts } = await setup();
      await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'viewer' }, ACTOR);
      vi.mocked(spendDummyHash).mockClear();
      vi.mocked(verifyPasswordHash).mockClear();
      expect(await accounts.verifyPassword('ada', 'wrong password here')).toBeUndefined();
      expect(vi.mocked(verifyPasswordHash)).toHaveBeenCalledTimes(1);
      expect(vi.mocked(spendDummyHash)).not.toHaveBeenCalled();
      expect(await accounts.verifyPassword('nobody', 'wrong password here')).toBeUndefined();
      expect(await accounts.verifyPassword('not a valid name!', 'wrong password here')).toBeUndefined();
      // The same work as a real check (one scrypt at today's parameters, passwordHash.ts), once each.
      expect(vi.mocked(spendDummyHash)).toHaveBeenCalledTimes(2);
      expect(vi.mocked(verifyPasswordHash)).toHaveBeenCalledTimes(1);
    });

    it('validates names, passwords and roles, naming the field', async () => {
      const { accounts, calls } = await setup();
      await expectCode(accounts.createUser({ name: '', password: PASSWORD, role: 'viewer' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'name');
      await expectCode(accounts.createUser({ name: 'a b', password: PASSWORD, role: 'viewer' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'name');
      await expectCode(accounts.createUser({ name: 'x'.repeat(65), password: PASSWORD, role: 'viewer' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'name');
      await expectCode(accounts.createUser({ name: 'ada', password: 'elevenchars', role: 'viewer' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'password');
      await expectCode(accounts.createUser({ name: 'ada', password: PASSWORD, role: 'scanner' as UserRole }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'role');
      await expectCode(accounts.createUser({ name: 'ada', password: PASSWORD, role: 'root' as UserRole }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'role');
      expect(calls).toEqual([]);
      const ok = await accounts.createUser({ name: 'Ada.Lovelace@example-1_x', password: 'twelve chars', role: 'viewer' }, ACTOR);
      expect(ok.name).toBe('Ada.Lovelace@example-1_x');
    });

    it('refuses a duplicate name, also in another letter case, with CONFLICT', async () => {
      const { accounts } = await setup();
      await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'viewer' }, ACTOR);
      const error = await expectCode(accounts.createUser({ name: 'ada', password: PASSWORD, role: 'admin' }, ACTOR), ErrorCodes.CONFLICT);
      expect(error.message).toContain('user "ada" exists already');
      await expectCode(accounts.createUser({ name: 'Ada', password: PASSWORD, role: 'admin' }, ACTOR), ErrorCodes.CONFLICT);
      expect((await accounts.listUsers()).map((u) => u.role)).toEqual(['viewer']);
    });

    it('changes password and role, disables and removes; NOT_FOUND for an unknown user', async () => {
      const { accounts } = await setup();
      await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'viewer' }, ACTOR);
      await accounts.setPassword('ada', 'a brand new password', ACTOR);
      expect(await accounts.verifyPassword('ada', PASSWORD)).toBeUndefined();
      expect(await accounts.verifyPassword('ada', 'a brand new password')).toMatchObject({ role: 'viewer' });
      await expectCode(accounts.setPassword('ada', 'short', ACTOR), ErrorCodes.INVALID_ARGUMENT, 'password');

      expect((await accounts.setRole('ada', 'integrator', ACTOR)).role).toBe('integrator');
      expect(await accounts.verifyPassword('ada', 'a brand new password')).toMatchObject({ role: 'integrator' });
      await expectCode(accounts.setRole('ada', 'scanner' as UserRole, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'role');

      expect((await accounts.disableUser('ada', ACTOR)).disabled).toBe(true);
      expect((await accounts.listUsers())[0]!.disabled).toBe(true);

      await accounts.removeUser('ada', ACTOR);
      expect(await accounts.listUsers()).toEqual([]);
      expect(await accounts.verifyPassword('ada', 'a brand new password')).toBeUndefined();

      await expectCode(accounts.getUser('ada'), ErrorCodes.NOT_FOUND);
      await expectCode(accounts.setPassword('ada', PASSWORD, ACTOR), ErrorCodes.NOT_FOUND);
      await expectCode(accounts.setRole('ada', 'admin', ACTOR), ErrorCodes.NOT_FOUND);
      await expectCode(accounts.disableUser('ada', ACTOR), ErrorCodes.NOT_FOUND);
      await expectCode(accounts.removeUser('ada', ACTOR), ErrorCodes.NOT_FOUND);
    });

    it('lists users without hashes', async () => {
      const { accounts } = await setup();
      await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'admin' }, ACTOR);
      now += 1000;
      await accounts.createUser({ name: 'grace', password: PASSWORD, role: 'viewer' }, ACTOR);
      const users = await accounts.listUsers();
      expect(users.map((u) => u.name)).toEqual(['ada', 'grace']);
      for (const user of users) expect(Object.keys(user).sort()).toEqual(['createdAt', 'createdBy', 'disabled', 'id', 'lastLoginAt', 'name', 'role']);
      expect(JSON.stringify(users)).not.toContain('scrypt');
      expect(JSON.stringify(await accounts.getUser('ada'))).not.toContain('scrypt');
    });
  });

  describe('API tokens', () => {
    it('creates a token, authenticates it, revokes it, and refuses it after', async () => {
      const { accounts, store } = await setup();
      const { token, record } = await accounts.createToken({ name: 'ci', role: 'admin' }, ACTOR);
      expect(token).toMatch(/^pst_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token.slice(4), 'base64url').length).toBe(32);
      expect(record).toEqual({
        id: expect.stringMatching(/^tok_[0-9a-f]{16}$/),
        name: 'ci',
        role: 'admin',
        scanner: null,
        doors: null,
        createdAt: now,
        createdBy: ACTOR,
        lastUsedAt: null,
        revokedAt: null,
        prefix: token.slice(0, 8),
      });
      expect(record.prefix).toHaveLength(8);
      // stored by its sha256
      expect(await store.getTokenByHash(hashToken(token))).toMatchObject({ id: record.id });
      expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);

      expect(await accounts.authenticateToken(token)).toEqual({ kind: 'token', id: record.id, name: 'ci', role: 'admin', scanner: null });
      const other = await accounts.createToken({ name: 'ci', role: 'viewer' }, ACTOR);
      expect(other.token).not.toBe(token);
      expect(await accounts.authenticateToken(other.token)).toMatchObject({ role: 'viewer', id: other.record.id });

      now += 1000;
      const revoked = await accounts.revokeToken(record.id, ACTOR);
      expect(revoked.revokedAt).toBe(now);
      expect(await accounts.authenticateToken(token)).toBeUndefined();
      expect(await accounts.authenticateToken(other.token)).toBeDefined();
      expect((await accounts.getToken(record.id)).revokedAt).toBe(now);
      await expectCode(accounts.revokeToken(record.id, ACTOR), ErrorCodes.CONFLICT);
      await expectCode(accounts.revokeToken('tok_0000000000000000', ACTOR), ErrorCodes.NOT_FOUND);
      await expectCode(accounts.getToken('nope'), ErrorCodes.NOT_FOUND);
    });

    it('refuses malformed tokens without a store call', async () => {
      const { accounts, calls } = await setup();
      const { token } = await accounts.createToken({ name: 'ci', role: 'admin' }, ACTOR);
      calls.length = 0;
      const malformed: unknown[] = [
        '',
        'pst_',
        token.slice(0, -1),
        `${token}A`,
        ` ${token}`,
        `Bearer ${token}`,
        `xst_${token.slice(4)}`,
        `pst_${'='.repeat(43)}`,
        `pst_${'a'.repeat(42)}+`,
        'x'.repeat(100_000),
        undefined,
        null,
        42,
        { token },
      ];
      for (const text of malformed) expect(await accounts.authenticateToken(text as string)).toBeUndefined();
      expect(calls).toEqual([]);
      // a well-formed unknown token costs one lookup, and nothing else
      expect(await accounts.authenticateToken(`pst_${'A'.repeat(43)}`)).toBeUndefined();
      expect(calls).toEqual(['getTokenByHash']);
    });

    it('lists tokens without the token or its hash', async () => {
      const { accounts } = await setup();
      const a = await accounts.createToken({ name: 'ci', role: 'admin' }, ACTOR);
      now += 1;
      const b = await accounts.createToken({ name: 'door', role: 'scanner', scanner: 'front-in' }, ACTOR);
      await accounts.revokeToken(a.record.id, ACTOR);
      const tokens = await accounts.listTokens();
      expect(tokens.map((t) => [t.name, t.revokedAt !== null])).toEqual([
        ['ci', true],
        ['door', false],
      ]);
      const text = JSON.stringify(tokens);
      for (const { token } of [a, b]) {
        expect(text).not.toContain(token.slice(8));
        expect(text).not.toContain(hashToken(token));
      }
      for (const t of tokens) expect(Object.keys(t).sort()).toEqual(['createdAt', 'createdBy', 'doors', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'role', 'scanner']);
    });

    it('gives a scanner token its scanner, and only a scanner token', async () => {
      const { accounts, calls } = await setup();
      const { token, record } = await accounts.createToken({ name: 'front-reader', role: 'scanner', scanner: 'front-in' }, ACTOR);
      expect(record).toMatchObject({ role: 'scanner', scanner: 'front-in' });
      expect(await accounts.authenticateToken(token)).toMatchObject({ kind: 'token', role: 'scanner', scanner: 'front-in' });
      calls.length = 0;
      await expectCode(accounts.createToken({ name: 'x', role: 'scanner' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      await expectCode(accounts.createToken({ name: 'x', role: 'scanner', scanner: null }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      await expectCode(accounts.createToken({ name: 'x', role: 'scanner', scanner: 'Front In' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      await expectCode(accounts.createToken({ name: 'x', role: 'scanner', scanner: '-front' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      await expectCode(accounts.createToken({ name: 'x', role: 'scanner', scanner: 'a'.repeat(65) }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      for (const role of ROLE_ORDER) {
        await expectCode(accounts.createToken({ name: 'x', role, scanner: 'front-in' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'scanner');
      }
      await expectCode(accounts.createToken({ name: 'x', role: 'root' as Role }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'role');
      await expectCode(accounts.createToken({ name: 'not ok', role: 'viewer' }, ACTOR), ErrorCodes.INVALID_ARGUMENT, 'name');
      expect(calls).toEqual([]);
    });

    it('writes lastUsedAt at most once a minute per token', async () => {
      const { accounts, store, calls, audit } = await setup();
      const { token, record } = await accounts.createToken({ name: 'ci', role: 'admin' }, ACTOR);
      const second = await accounts.createToken({ name: 'other', role: 'viewer' }, ACTOR);
      const touches = () => calls.filter((c) => c === 'touchToken').length;
      const start = now;

      await accounts.authenticateToken(token);
      expect(touches()).toBe(1);
      expect((await store.getToken(record.id))!.lastUsedAt).toBe(start);

      now += 30_000;
      await Promise.all(Array.from({ length: 10 }, () => accounts.authenticateToken(token)));
      expect(touches()).toBe(1);
      expect((await store.getToken(record.id))!.lastUsedAt).toBe(start);

      // another token has its own minute
      await accounts.authenticateToken(second.token);
      expect(touches()).toBe(2);

      now = start + TOKEN_TOUCH_INTERVAL_MS;
      await Promise.all(Array.from({ length: 10 }, () => accounts.authenticateToken(token)));
      expect(touches()).toBe(3);
      expect((await store.getToken(record.id))!.lastUsedAt).toBe(now);

      // another process (a second Accounts on the same database) sees the stamp and writes nothing
      const counted = counting(store);
      const elsewhere = new Accounts({ store: counted.store, audit, clock });
      now += 10_000;
      expect(await elsewhere.authenticateToken(token)).toBeDefined();
      expect(counted.calls).toEqual(['getTokenByHash']);

      // a clock stepping back never moves the stamp backwards
      const stamped = (await store.getToken(record.id))!.lastUsedAt;
      now -= 3_600_000;
      await elsewhere.authenticateToken(token);
      expect((await store.getToken(record.id))!.lastUsedAt).toBe(stamped);
    });
  });

  describe('audit', () => {
    it('records every change with its actor and no secret', async () => {
      const { accounts, store } = await setup();
      const ada = await accounts.createUser({ name: 'ada', password: PASSWORD, role: 'viewer' }, 'cli:root');
      await accounts.setPassword('ada', 'another long password', 'user:boss');
      await accounts.setRole('ada', 'operator', 'user:boss');
      await accounts.setRole('ada', 'operator', 'user:boss'); // no change, no event
      await accounts.disableUser('ada', 'token:ci');
      await accounts.disableUser('ada', 'token:ci'); // no change, no event
      await accounts.removeUser('ada', 'token:ci');
      const { token, record } = await accounts.createToken({ name: 'door', role: 'scanner', scanner: 'front-in' }, 'cli:root');
      await accounts.revokeToken(record.id, 'user:boss');
      // signing in and using a token are not changes
      await accounts.verifyPassword('ada', PASSWORD);
      await accounts.authenticateToken(token);

      const events = await store.queryAudit({ controllerId: CONTROLLER });
      expect(events.map((e) => [e.reason, e.actor, e.subject])).toEqual([
        ['user.create', 'cli:root', ada.id],
        ['user.password', 'user:boss', ada.id],
        ['user.role', 'user:boss', ada.id],
        ['user.disable', 'token:ci', ada.id],
        ['user.remove', 'token:ci', ada.id],
        ['token.create', 'cli:root', record.id],
        ['token.revoke', 'user:boss', record.id],
      ]);
      for (const event of events) expect(event.type).toBe('operator');
      expect(events[0]!.data).toEqual({ name: 'ada', role: 'viewer' });
      expect(events[2]!.data).toEqual({ name: 'ada', role: 'operator', previous: 'viewer' });
      expect(events[5]!.data).toEqual({ name: 'door', role: 'scanner', scanner: 'front-in' });
      const text = JSON.stringify(events);
      for (const secret of [PASSWORD, 'another long password', token, token.slice(8), hashToken(token), 'scrypt$']) {
        expect(text).not.toContain(secret);
      }
    });

    it('refuses a change without an actor', async () => {
      const { accounts } = await setup();
      await expectCode(accounts.createUser({ name: 'ada', password: PASSWORD, role: 'viewer' }, ''), ErrorCodes.INVALID_ARGUMENT, 'actor');
      await expectCode(accounts.createToken({ name: 'ci', role: 'viewer' }, undefined as unknown as string), ErrorCodes.INVALID_ARGUMENT, 'actor');
    });
  });
}

describe('accounts on SQLite', () => {
  const backend = sqliteBackend();
  afterAll(() => backend.cleanup());
  accountsSuite(() => backend);
});

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('accounts on PostgreSQL', pgUp), () => {
  const backend = postgresBackend();
  afterAll(() => backend.cleanup());
  accountsSuite(() => backend);
});
