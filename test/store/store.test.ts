/**
 * One suite, run against both dialects: SQLite on a temp file and PostgreSQL on a throwaway
 * database. The PostgreSQL half is skipped (with a name saying why) when the server is not
 * reachable, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes } from '../../machines/shared/errors.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent, Dialect, NewLink, Store } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';

interface Fresh {
  store: Store;
  /** Opens another Store on the same database (not started). */
  reopen(): Store;
  /** Runs SQL outside the store, as someone with direct database access. */
  raw(sql: string): Promise<void>;
  rows(sql: string): Promise<Array<Record<string, unknown>>>;
}

interface Backend {
  dialect: Dialect;
  fresh(clock?: () => number): Promise<Fresh>;
  cleanup(): Promise<void>;
}

async function sqliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(join(tmpdir(), 'postern-store-'));
  let n = 0;
  return {
    dialect: 'sqlite',
    async fresh(clock) {
      const fileName = `t${++n}.sqlite`;
      const file = join(dir, fileName);
      const open = () => openStore({ dataDir: dir, fileName, clock });
      const withDb = <T>(work: (db: Sqlite.Database) => T): T => {
        const db = new Sqlite(file);
        try {
          return work(db);
        } finally {
          db.close();
        }
      };
      return {
        store: open(),
        reopen: open,
        raw: async (sql) => withDb((db) => void db.exec(sql)),
        rows: async (sql) => withDb((db) => db.prepare(sql).all() as Array<Record<string, unknown>>),
      };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function postgresBackend(): Promise<Backend> {
  const drops: Array<() => Promise<void>> = [];
  return {
    dialect: 'postgres',
    async fresh(clock) {
      const database = await createTestDatabase();
      drops.push(database.drop);
      const open = () => openStore({ databaseUrl: database.url, dataDir: '/nonexistent-unused', clock });
      const withClient = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
        const client = new pg.Client({ connectionString: database.url });
        await client.connect();
        try {
          return await work(client);
        } finally {
          await client.end();
        }
      };
      return {
        store: open(),
        reopen: open,
        raw: (sql) => withClient(async (client) => void (await client.query(sql))),
        rows: (sql) => withClient(async (client) => (await client.query(sql)).rows as Array<Record<string, unknown>>),
      };
    },
    async cleanup() {
      for (const drop of drops) await drop();
    },
  };
}

const DOOR_SET_FIRST_ID = 0x40000000;

function link(id: string, overrides: Partial<NewLink> = {}): NewLink {
  return {
    id,
    name: `visitor ${id}`,
    email: null,
    scope: 1,
    notBefore: 1_700_000_000,
    notAfter: 0xffffffff,
    onlineOnly: false,
    maxUses: null,
    createdBy: 'cli',
    ...overrides,
  };
}

function auditEvent(controllerId: string, seq: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    controllerId,
    seq,
    at: 1_767_225_600_000 + seq * 1000,
    type: 'decision',
    door: 'front',
    scanner: 'front-in',
    subject: '42',
    kind: 'link',
    issuer: 0,
    verdict: 'grant',
    reason: null,
    actor: null,
    data: null,
    prevHash: seq === 1 ? '0'.repeat(64) : `p${seq}`.padEnd(64, '0'),
    hash: `h${seq}`.padEnd(64, '0'),
    ...overrides,
  };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(Error);
  expect((error as { code?: string }).code).toBe(code);
  return error as Error;
}

function storeSuite(getBackend: () => Backend): void {
  let now = 1_767_225_600_000;
  const clock = () => now;
  const open: Store[] = [];
  let fresh: Fresh;
  let store: Store;

  async function setup(): Promise<void> {
    fresh = await getBackend().fresh(clock);
    store = fresh.store;
    open.push(store);
    await store.start();
  }

  afterEach(async () => {
    for (const s of open.splice(0)) await s.stop();
  });

  describe('lifecycle and migrations', () => {
    it('starts, migrates once, and reopens with the data kept', async () => {
      await setup();
      expect(store.dialect).toBe(getBackend().dialect);
      await store.start(); // a second start on the same instance is a no-op
      await store.setSettingIfAbsent('site.key', 'abc');
      await store.stop();
      await store.stop(); // safe twice

      const again = fresh.reopen();
      open.push(again);
      await again.start();
      expect(await again.getSetting('site.key')).toBe('abc');
      const applied = await fresh.rows('SELECT name FROM postern_migrations ORDER BY name');
      expect(applied.map((r) => r.name)).toEqual(['0001_initial', '0002_accounts', '0003_enrolments', '0004_token_doors']);

      // the write probe leaves nothing behind
      expect(await again.getSetting('postern.writeProbe')).toBeUndefined();
    });

    it('a store can start again after stop', async () => {
      await setup();
      await store.stop();
      await store.start();
      expect(await store.getSetting('nothing')).toBeUndefined();
    });

    it('refuses calls before start and after stop with STORE_UNAVAILABLE', async () => {
      const f = await getBackend().fresh(clock);
      await expectCode(f.store.getSetting('x'), ErrorCodes.STORE_UNAVAILABLE);
      await f.store.start();
      await f.store.stop();
      await expectCode(f.store.isRevoked(0, '1'), ErrorCodes.STORE_UNAVAILABLE);
    });
  });

  describe('settings', () => {
    it('sets a value only when absent', async () => {
      await setup();
      expect(await store.getSetting('k')).toBeUndefined();
      expect(await store.setSettingIfAbsent('k', 'first')).toBe('first');
      expect(await store.setSettingIfAbsent('k', 'second')).toBe('first');
      expect(await store.getSetting('k')).toBe('first');
    });
  });

  describe('links', () => {
    it('creates, reads and lists links', async () => {
      await setup();
      const max = '18446744073709551615';
      const created = await store.createLink(link(max, { email: 'a@example.org', onlineOnly: true, maxUses: 3 }));
      expect(created).toEqual({
        ...link(max, { email: 'a@example.org', onlineOnly: true, maxUses: 3 }),
        uses: 0,
        createdAt: now,
        revokedAt: null,
      });
      expect(await store.getLink(max)).toEqual(created);
      expect(await store.getLink('1')).toBeUndefined();
      now += 1;
      await store.createLink(link('2'));
      now += 1;
      await store.createLink(link('3'));
      expect((await store.listLinks()).map((l) => l.id)).toEqual([max, '2', '3']);
      expect((await store.listLinks({ limit: 2 })).map((l) => l.id)).toEqual([max, '2']);
      const got = await store.getLink('2');
      expect(got?.notAfter).toBe(0xffffffff);
      expect(typeof got?.createdAt).toBe('number');
    });

    it('rejects a duplicate id with CONFLICT and a malformed id with INVALID_ARGUMENT', async () => {
      await setup();
      await store.createLink(link('7'));
      await expectCode(store.createLink(link('7')), ErrorCodes.CONFLICT);
      await expectCode(store.createLink(link('007')), ErrorCodes.INVALID_ARGUMENT);
      await expectCode(store.createLink(link('18446744073709551616')), ErrorCodes.INVALID_ARGUMENT);
    });

    it('counts online uses atomically up to maxUses', async () => {
      await setup();
      await store.createLink(link('10', { onlineOnly: true, maxUses: 2 }));
      await store.createLink(link('11', { onlineOnly: true, maxUses: null }));
      expect(await store.useOnlineLink('999')).toBe('unknown');
      expect(await store.useOnlineLink('10')).toBe('ok');
      expect(await store.useOnlineLink('10')).toBe('ok');
      expect(await store.useOnlineLink('10')).toBe('exhausted');
      expect((await store.getLink('10'))?.uses).toBe(2);
      for (let i = 0; i < 5; i++) expect(await store.useOnlineLink('11')).toBe('ok');
      expect((await store.getLink('11'))?.uses).toBe(5);
      await store.revoke(0, '11', 'lost');
      expect(await store.useOnlineLink('11')).toBe('revoked');
    });

    it('never gives more uses than maxUses under concurrency', async () => {
      await setup();
      await store.createLink(link('20', { onlineOnly: true, maxUses: 5 }));
      const results = await Promise.all(Array.from({ length: 20 }, () => store.useOnlineLink('20')));
      expect(results.filter((r) => r === 'ok')).toHaveLength(5);
      expect(results.filter((r) => r === 'exhausted')).toHaveLength(15);
      expect((await store.getLink('20'))?.uses).toBe(5);
    });

    it('treats a link revoked only in the revocation list (from sync) as revoked', async () => {
      await setup();
      await fresh.raw(`INSERT INTO revocations (issuer, subject, revoked_at, reason) VALUES (0, '30', 1, 'hub')`);
      await store.createLink(link('30', { onlineOnly: true }));
      expect(await store.useOnlineLink('30')).toBe('revoked');
      expect((await store.getLink('30'))?.uses).toBe(0);
    });
  });

  describe('holders by name', () => {
    it('searches links and credentials by name in any letter case, by exact id and by email, with LIKE wildcards taken literally', async () => {
      await setup();
      await store.createLink(link('11', { name: 'Ada Lovelace', email: 'ada@example.org' }));
      await store.createLink(link('12', { name: '100% Visitor_1' }));
      await store.createLink(link('112', { name: 'Grace Hopper' }));
      await store.createCredential({ id: '21', name: 'ADA Member', scope: 1, createdBy: 'cli', secret: Buffer.alloc(32, 1) });
      await store.createCredential({ id: '22', name: 'Alan Turing', scope: 1, createdBy: 'cli', secret: Buffer.alloc(32, 2) });
      const ids = (records: Array<{ id: string }>) => records.map((r) => r.id).sort();
      expect(ids(await store.listLinks({ search: 'ada' }))).toEqual(['11']);
      expect(ids(await store.listLinks({ search: 'EXAMPLE.org' }))).toEqual(['11']);
      // An id matches whole, not as a part of another id.
      expect(ids(await store.listLinks({ search: '12' }))).toEqual(['12']);
      expect(ids(await store.listLinks({ search: '%' }))).toEqual(['12']);
      expect(ids(await store.listLinks({ search: 'r_1' }))).toEqual(['12']);
      expect(ids(await store.listLinks({ search: 'visitor_' }))).toEqual(['12']);
      expect(ids(await store.listLinks({ search: 'nobody' }))).toEqual([]);
      expect(ids(await store.listCredentials({ search: 'ada' }))).toEqual(['21']);
      expect(ids(await store.listCredentials({ search: '22' }))).toEqual(['22']);
      await store.revoke(0, '11', null);
      expect(ids(await store.listLinks({ search: 'ada' }))).toEqual([]);
      expect(ids(await store.listLinks({ search: 'ada', includeRevoked: true }))).toEqual(['11']);

      expect([...(await store.holderNames(['11', '21', '999', '11']))].sort()).toEqual([['11', 'Ada Lovelace'], ['21', 'ADA Member']]);
      expect((await store.holderNames([])).size).toBe(0);
      expect((await store.holderSubjects('aDa', 10)).sort()).toEqual(['11', '21']);
      expect(await store.holderSubjects('a', 2)).toHaveLength(2);
    });

    it('filters audit events by a list of subjects; an empty list matches nothing', async () => {
      await setup();
      await store.appendAudit([auditEvent('c', 1, { subject: '11' }), auditEvent('c', 2, { subject: '12' }), auditEvent('c', 3, { subject: '13' })]);
      expect((await store.queryAudit({ controllerId: 'c', subjects: ['11', '13'] })).map((e) => e.seq)).toEqual([1, 3]);
      expect(await store.queryAudit({ controllerId: 'c', subjects: [] })).toEqual([]);
    });
  });

  describe('credentials', () => {
    it('stores the secret, returns it only through getCredentialKey', async () => {
      await setup();
      const secret = randomBytes(32);
      const record = await store.createCredential({ id: '500', name: 'badge', scope: 3, createdBy: 'cli', secret });
      expect(record).toEqual({ id: '500', name: 'badge', scope: 3, createdAt: now, createdBy: 'cli', revokedAt: null });
      const listed = await store.listCredentials();
      expect(listed).toEqual([record]);
      expect(Object.keys(listed[0] ?? {})).not.toContain('secret');
      expect(JSON.stringify(listed)).not.toContain(secret.toString('hex'));
      const key = await store.getCredentialKey('500');
      expect(Buffer.isBuffer(key?.secret)).toBe(true);
      expect(key?.secret.equals(secret)).toBe(true);
      expect(key?.scope).toBe(3);
      expect(await store.getCredentialKey('501')).toBeUndefined();
      await expectCode(store.createCredential({ id: '500', name: 'x', scope: 3, createdBy: null, secret }), ErrorCodes.CONFLICT);
      await expectCode(
        store.createCredential({ id: '502', name: 'x', scope: 3, createdBy: null, secret: randomBytes(16) }),
        ErrorCodes.INVALID_ARGUMENT,
      );
    });

    it('hides revoked credentials from the list unless asked, and keeps their key', async () => {
      await setup();
      await store.createCredential({ id: '1', name: 'a', scope: 1, createdBy: null, secret: randomBytes(32) });
      await store.createCredential({ id: '2', name: 'b', scope: 1, createdBy: null, secret: randomBytes(32) });
      now += 5;
      expect(await store.revoke(0, '1', 'lost')).toBe(true);
      expect((await store.listCredentials()).map((c) => c.id)).toEqual(['2']);
      const all = await store.listCredentials({ includeRevoked: true });
      expect(all.find((c) => c.id === '1')?.revokedAt).toBe(now);
      expect(await store.getCredentialKey('1')).toBeDefined();
    });
  });

  describe('partners', () => {
    it('adds, lists without secrets, loads keys and removes', async () => {
      await setup();
      const secret = randomBytes(40);
      const partner = await store.addPartner({
        id: 7,
        name: 'Acme',
        allowedScopes: [1, 2, 0x40000001],
        defaultScope: 2,
        enabled: true,
        secret,
      });
      expect(partner).toEqual({ id: 7, name: 'Acme', allowedScopes: [1, 2, 0x40000001], defaultScope: 2, enabled: true, createdAt: now });
      await store.addPartner({ id: 3, name: 'Off', allowedScopes: [], defaultScope: null, enabled: false, secret: randomBytes(32) });
      const listed = await store.listPartners();
      expect(listed.map((p) => p.id)).toEqual([3, 7]);
      expect(listed[1]).toEqual(partner);
      for (const p of listed) expect(Object.keys(p)).not.toContain('secret');
      expect(JSON.stringify(listed)).not.toContain(secret.toString('hex'));

      const keys = await store.loadPartnerKeys();
      expect(keys).toHaveLength(2);
      const acme = keys.find((k) => k.id === 7);
      expect(acme?.secret.equals(secret)).toBe(true);
      expect(acme).toMatchObject({ allowedScopes: [1, 2, 0x40000001], defaultScope: 2, enabled: true });
      expect(keys.find((k) => k.id === 3)).toMatchObject({ enabled: false, defaultScope: null, allowedScopes: [] });

      await expectCode(
        store.addPartner({ id: 7, name: 'again', allowedScopes: [], defaultScope: null, enabled: true, secret }),
        ErrorCodes.CONFLICT,
      );
      await expectCode(
        store.addPartner({ id: 0, name: 'bad', allowedScopes: [], defaultScope: null, enabled: true, secret }),
        ErrorCodes.INVALID_ARGUMENT,
      );
      await expectCode(
        store.addPartner({ id: 8, name: 'short', allowedScopes: [], defaultScope: null, enabled: true, secret: randomBytes(31) }),
        ErrorCodes.INVALID_ARGUMENT,
      );
      expect(await store.removePartner(7)).toBe(true);
      expect(await store.removePartner(7)).toBe(false);
      expect((await store.listPartners()).map((p) => p.id)).toEqual([3]);
    });
  });

  describe('revocations', () => {
    it('revokes once, and stamps the site link or credential with that id', async () => {
      await setup();
      await store.createLink(link('77'));
      await store.createLink(link('78'));
      now += 1000;
      expect(await store.isRevoked(0, '77')).toBe(false);
      expect(await store.revoke(0, '77', 'left the company')).toBe(true);
      const stampedAt = now;
      now += 1000;
      expect(await store.revoke(0, '77', 'again')).toBe(false);
      expect(await store.isRevoked(0, '77')).toBe(true);
      expect((await store.getLink('77'))?.revokedAt).toBe(stampedAt);
      expect((await store.listLinks()).map((l) => l.id)).toEqual(['78']);
      expect((await store.listLinks({ includeRevoked: true })).map((l) => l.id)).toEqual(['77', '78']);
      const rows = await fresh.rows(`SELECT reason, revoked_at FROM revocations WHERE subject = '77'`);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.reason).toBe('left the company');
      expect(Number(rows[0]?.revoked_at)).toBe(stampedAt);
    });

    it('keeps issuers apart: a partner revocation does not stamp the site link', async () => {
      await setup();
      await store.createLink(link('88'));
      expect(await store.revoke(9, '88', null)).toBe(true);
      expect(await store.isRevoked(9, '88')).toBe(true);
      expect(await store.isRevoked(0, '88')).toBe(false);
      expect((await store.getLink('88'))?.revokedAt).toBeNull();
      expect(await store.revoke(0, '88', null)).toBe(true);
      expect((await store.getLink('88'))?.revokedAt).toBe(now);
    });
  });

  describe('replay marks', () => {
    const at = 1_767_225_600_000;
    const rotating = (controllerId: string, seq: number, overrides: Partial<AuditEvent>) =>
      auditEvent(controllerId, seq, { kind: 'rotating', subject: '9001', at: at + seq, data: { step: 117_815_040 + seq }, ...overrides });

    it("gives the controller's own rotating grants since a time, with the step their record keeps", async () => {
      await setup();
      await store.appendAudit([
        rotating('c1', 1, { at: at - 61_000 }), // too old
        rotating('c1', 2, {}),
        rotating('c1', 3, { verdict: 'deny', reason: 'replayed' }),
        rotating('c1', 4, { kind: 'link', data: null }),
        rotating('c1', 5, { issuer: 17, subject: '5' }),
        rotating('c1', 6, { data: { step: 'x' } }), // no usable step: nothing to reload
        rotating('c1', 7, { type: 'door', verdict: null }),
      ]);
      await store.appendAudit([rotating('c2', 1, {})]);
      const marks = await store.recentReplayMarks('c1', at - 60_000, 0);
      expect(marks).toEqual(
        expect.arrayContaining([
          { issuer: 0, subject: '9001', step: 117_815_042 },
          { issuer: 17, subject: '5', step: 117_815_045 },
        ]),
      );
      expect(marks).toHaveLength(2);
    });

    it('gives the marks an older store kept in replay_marks, from a step on', async () => {
      await setup();
      await fresh.raw("INSERT INTO replay_marks (issuer, subject, step) VALUES (0, '7', 99), (0, '7', 100), (12, '5', 101)");
      expect(await store.recentReplayMarks('c1', 0, 100)).toEqual(
        expect.arrayContaining([
          { issuer: 0, subject: '7', step: 100 },
          { issuer: 12, subject: '5', step: 101 },
        ]),
      );
      expect(await store.recentReplayMarks('c1', 0, 100)).toHaveLength(2);
    });
  });

  describe('door sets and modes', () => {
    it('gives each set of doors one stable id from 0x40000000', async () => {
      await setup();
      const a = await store.doorSetScope(['lab', 'front']);
      expect(a).toBe(DOOR_SET_FIRST_ID);
      expect(await store.doorSetScope(['front', 'lab', 'front'])).toBe(a);
      const b = await store.doorSetScope(['front']);
      expect(b).toBe(DOOR_SET_FIRST_ID + 1);
      const concurrent = await Promise.all(Array.from({ length: 10 }, () => store.doorSetScope(['z', 'y'])));
      expect(new Set(concurrent).size).toBe(1);
      expect(await store.listDoorSets()).toEqual([
        { id: a, doors: ['front', 'lab'] },
        { id: b, doors: ['front'] },
        { id: concurrent[0], doors: ['y', 'z'] },
      ]);
      await store.stop();
      const again = fresh.reopen();
      open.push(again);
      await again.start();
      expect(await again.doorSetScope(['lab', 'front'])).toBe(a);
      await expectCode(again.doorSetScope([]), ErrorCodes.INVALID_ARGUMENT);
      await expectCode(again.doorSetScope(['a,b']), ErrorCodes.INVALID_ARGUMENT);
    });

    it('sets and reads door modes', async () => {
      await setup();
      expect(await store.getDoorModes()).toEqual({});
      await store.setDoorMode('front', 'lockdown');
      await store.setDoorMode('lab', 'passage');
      await store.setDoorMode('front', 'normal');
      expect(await store.getDoorModes()).toEqual({ front: 'normal', lab: 'passage' });
      await expectCode(store.setDoorMode('front', 'open' as never), ErrorCodes.INVALID_ARGUMENT);
    });
  });

  describe('audit events', () => {
    it('appends in order, reads the last one back with every field', async () => {
      await setup();
      const first = auditEvent('c1', 1, { data: { nested: { b: 2, a: [1, 'x'] }, count: 3 } });
      const second = auditEvent('c1', 2, { door: null, scanner: null, subject: null, kind: null, issuer: null, verdict: null, type: 'system', reason: 'started', actor: 'system' });
      await store.appendAudit([first, second]);
      await store.appendAudit([]);
      expect(await store.lastAudit('c1')).toEqual(second);
      expect(await store.lastAudit('nobody')).toBeUndefined();
      const [got] = await store.queryAudit({ controllerId: 'c1', limit: 1 });
      expect(got).toEqual(first);
      expect(typeof got?.at).toBe('number');
      expect(typeof got?.seq).toBe('number');
    });

    it('rejects a seq that exists already, writing nothing of that batch', async () => {
      await setup();
      await store.appendAudit([auditEvent('c1', 1)]);
      await expectCode(store.appendAudit([auditEvent('c1', 2), auditEvent('c1', 1)]), ErrorCodes.CONFLICT);
      expect((await store.lastAudit('c1'))?.seq).toBe(1);
    });

    it('is append-only: UPDATE and DELETE are rejected by the database', async () => {
      await setup();
      await store.appendAudit([auditEvent('c1', 1), auditEvent('c1', 2)]);
      await expect(fresh.raw(`UPDATE audit_events SET verdict = 'deny' WHERE seq = 1`)).rejects.toThrow(/append-only/);
      await expect(fresh.raw(`DELETE FROM audit_events WHERE seq = 2`)).rejects.toThrow(/append-only/);
      await expect(fresh.raw(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
      if (getBackend().dialect === 'postgres') {
        await expect(fresh.raw(`TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
      }
      const events = await store.queryAudit({ controllerId: 'c1' });
      expect(events.map((e) => [e.seq, e.verdict])).toEqual([
        [1, 'grant'],
        [2, 'grant'],
      ]);
    });

    it('filters, orders and pages queries', async () => {
      await setup();
      const base = 1_767_225_600_000;
      const a = Array.from({ length: 10 }, (_, i) =>
        auditEvent('a', i + 1, {
          at: base + i * 1000,
          door: i % 2 === 0 ? 'front' : 'lab',
          subject: String(100 + (i % 3)),
          verdict: i % 4 === 0 ? 'deny' : 'grant',
        }),
      );
      const b = Array.from({ length: 3 }, (_, i) => auditEvent('b', i + 1, { at: base + i * 1000 + 500, door: 'front' }));
      await store.appendAudit(a);
      await store.appendAudit(b);

      expect(await store.auditControllers()).toEqual(['a', 'b']);
      expect((await store.queryAudit({})).length).toBe(13);
      const mixed = await store.queryAudit({ limit: 4 });
      expect(mixed.map((e) => `${e.controllerId}${e.seq}`)).toEqual(['a1', 'b1', 'a2', 'b2']);
      expect((await store.queryAudit({ order: 'desc', limit: 2 })).map((e) => `${e.controllerId}${e.seq}`)).toEqual(['a10', 'a9']);

      const sel = (q: Parameters<Store['queryAudit']>[0]) => store.queryAudit(q).then((r) => r.map((e) => e.seq));
      expect(await sel({ controllerId: 'a', door: 'lab' })).toEqual([2, 4, 6, 8, 10]);
      expect(await sel({ controllerId: 'a', subject: '101' })).toEqual([2, 5, 8]);
      expect(await sel({ controllerId: 'a', verdict: 'deny' })).toEqual([1, 5, 9]);
      expect(await sel({ controllerId: 'a', since: base + 2000, until: base + 5000 })).toEqual([3, 4, 5]);
      expect(await sel({ controllerId: 'a', afterSeq: 7 })).toEqual([8, 9, 10]);
      expect(await sel({ controllerId: 'a', order: 'desc', limit: 3 })).toEqual([10, 9, 8]);
      expect(await sel({ controllerId: 'b', door: 'front', since: base + 1000 })).toEqual([2, 3]);

      // forward paging with afterSeq
      const pages: number[][] = [];
      let after = 0;
      for (;;) {
        const page = await sel({ controllerId: 'a', afterSeq: after, limit: 4 });
        if (page.length === 0) break;
        pages.push(page);
        after = page.at(-1) ?? after;
      }
      expect(pages).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
    });

    it('defaults the query limit to 100 and clamps it to 10_000', async () => {
      await setup();
      await store.appendAudit(Array.from({ length: 150 }, (_, i) => auditEvent('c', i + 1)));
      expect(await store.queryAudit({ controllerId: 'c' })).toHaveLength(100);
      expect(await store.queryAudit({ controllerId: 'c', limit: 1_000_000 })).toHaveLength(150);
      expect(await store.queryAudit({ controllerId: 'c', limit: 0 })).toHaveLength(1);
    });

    it('iterates a controller in seq order, in pages', async () => {
      await setup();
      await store.appendAudit(Array.from({ length: 10 }, (_, i) => auditEvent('x', i + 1)));
      await store.appendAudit([auditEvent('y', 1)]);
      const seen: number[] = [];
      for await (const event of store.iterateAudit('x', 3)) {
        expect(event.controllerId).toBe('x');
        seen.push(event.seq);
      }
      expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const all: number[] = [];
      for await (const event of store.iterateAudit('x')) all.push(event.seq);
      expect(all).toHaveLength(10);
      const none: number[] = [];
      for await (const event of store.iterateAudit('nobody', 3)) none.push(event.seq);
      expect(none).toEqual([]);
    });

    it('writes a large batch in one call', async () => {
      await setup();
      await store.appendAudit(Array.from({ length: 1200 }, (_, i) => auditEvent('big', i + 1)));
      expect((await store.lastAudit('big'))?.seq).toBe(1200);
    });
  });
}

const sqlite = await sqliteBackend();
describe('store on SQLite', () => {
  afterAll(() => sqlite.cleanup());
  storeSuite(() => sqlite);
});

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('store on PostgreSQL', pgUp), () => {
  let backend: Backend | undefined;
  beforeAll(async () => {
    backend = await postgresBackend();
  });
  afterAll(async () => {
    await backend?.cleanup();
  });
  storeSuite(() => {
    if (backend === undefined) throw new Error('PostgreSQL backend not set up');
    return backend;
  });
});

