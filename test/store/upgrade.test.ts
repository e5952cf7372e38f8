/**
 * Upgrades: a store written by the previous release (test/fixtures/store-0.1.0, made by Postern
 * 0.1.0) opens and migrates with this code, its audit chains verify, and a controller of this
 * version decides its codes as 0.1.0 did. A store written by a newer version (a migration this
 * code does not know) is refused with POSTERN_ERR_STORE_TOO_NEW, and left untouched.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Accounts } from '../../controller/accounts/accounts.ts';
import { verifyChain } from '../../controller/audit/auditChain.ts';
import { Controller } from '../../controller/controller.ts';
import { encodeCredential, timeStep } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { MIGRATED_BY_SETTING, SCHEMA_VERSION } from '../../controller/store/migrate.ts';
import { migrations } from '../../controller/store/migrations.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/store-0.1.0/', import.meta.url));

interface FixtureCodes {
  siteId: string;
  auditChains: Record<string, number>;
  links: Record<string, { id: string; code: string }>;
  credentials: Record<string, { id: string; secret: string }>;
  partners: Record<string, { id: number; secret: string }>;
  users: Record<string, { role: string; password: string }>;
  tokens: Record<string, { id: string; role: string }>;
}

const fixture = JSON.parse(await readFile(path.join(FIXTURE_DIR, 'codes.json'), 'utf8')) as FixtureCodes;

/** The fixture, copied into a data directory of its own, as a site being upgraded has it. */
async function fixtureCopy(): Promise<string> {
  const dataDir = await tempDir('postern-upgrade-');
  await chmod(dataDir, 0o700);
  const file = path.join(dataDir, 'postern.sqlite');
  await copyFile(path.join(FIXTURE_DIR, 'postern.sqlite'), file);
  await chmod(file, 0o600);
  return dataDir;
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

async function verifyAll(store: Store): Promise<Record<string, number>> {
  const checked: Record<string, number> = {};
  for (const controllerId of await store.auditControllers()) {
    const report = await verifyChain(store.iterateAudit(controllerId));
    expect(report.problems, controllerId).toEqual([]);
    checked[controllerId] = report.checked;
  }
  return checked;
}

const running: Controller[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

describe('a store written by Postern 0.1.0', () => {
  it('opens with this version (migrated), and its data and audit chains are intact', async () => {
    const dataDir = await fixtureCopy();
    const store = openStore({ dataDir, create: false, quickCheck: false });
    await store.start();
    try {
      expect(store.created).toBe(false);
      expect(await verifyAll(store)).toEqual(fixture.auditChains);
      const links = await store.listLinks({ includeRevoked: true });
      expect(links.map((l) => l.id).sort()).toEqual(Object.values(fixture.links).map((l) => l.id).sort());
      expect(links.find((l) => l.id === fixture.links.revoked!.id)?.revokedAt).toBeTypeOf('number');
      expect((await store.listCredentials({ includeRevoked: true })).map((c) => c.id).sort()).toEqual(Object.values(fixture.credentials).map((c) => c.id).sort());
      expect((await store.listPartners()).map((p) => p.id)).toEqual([fixture.partners.tickets!.id]);
      expect((await store.listTokens()).map((t) => [t.id, t.role])).toEqual([[fixture.tokens.tablet!.id, 'integrator']]);
      // The password set by 0.1.0 still signs in.
      const accounts = new Accounts({ store, audit: { append: async () => undefined } as never });
      await expect(accounts.verifyPassword('ada', fixture.users.ada!.password)).resolves.toMatchObject({ name: 'ada', role: 'admin' });
    } finally {
      await store.stop();
    }
  });

  it('decides its codes with a controller of this version as 0.1.0 did', async () => {
    const dataDir = await fixtureCopy();
    const terminal = new PassThrough();
    const config = testSite(dataDir, (input) => {
      input.site.id = fixture.siteId;
      input.throttle = { maxFailures: 1000, windowSeconds: 10, lockoutSeconds: 1, maxLockoutSeconds: 1 };
    });
    const controller = new Controller({ config, terminal });
    await controller.start();
    running.push(controller);

    const scan = (scanner: 'front-in' | 'lab-in', text: string) =>
      new Promise<string>((resolve) => {
        const off = controller.onDecision((d: Decision) => {
          if (d.scanner !== scanner) return;
          off();
          // The next code meets its door at rest, whatever this one did to it.
          setTimeout(() => resolve(d.reason ?? d.verdict), 350);
        });
        if (scanner === 'front-in') terminal.write(text + '\n');
        else (controller.scannerDriver(scanner) as SimulatedScanner).read(text);
      });
    const { links, credentials, partners } = fixture;
    const rotating = (name: string) => {
      const credential = credentials[name]!;
      return encodeCredential({ kind: 'rotating', issuer: 0, subject: BigInt(credential.id), a: timeStep(Date.now() / 1000), b: 0, scope: 0 }, Buffer.from(credential.secret, 'hex'));
    };
    const partnerCode = (name: string, subject: bigint, scope: number) => {
      const now = Math.floor(Date.now() / 1000);
      return encodeCredential({ kind: 'link', issuer: partners[name]!.id, subject, a: now - 60, b: now + 3600, scope }, Buffer.from(partners[name]!.secret, 'hex'));
    };

    const verdicts: Array<[string, string]> = [];
    const check = async (label: string, scanner: 'front-in' | 'lab-in', text: string) => verdicts.push([label, await scan(scanner, text)]);
    // What 0.1.0 said at its own terminal when the fixture was made (README.md), and more.
    await check('ada at front', 'front-in', links.ada!.code);
    await check('lab tech at front', 'front-in', links.labTech!.code);
    await check('lab tech at lab', 'lab-in', links.labTech!.code);
    await check('old visit', 'front-in', links.oldVisit!.code);
    await check('revoked link', 'front-in', links.revoked!.code);
    await check('front only at front', 'front-in', links.frontOnly!.code);
    await check('front only at lab', 'lab-in', links.frontOnly!.code);
    await check('online only, use 2 of 2', 'front-in', links.onlineOnly!.code);
    await check('online only, use 3 of 2', 'front-in', links.onlineOnly!.code);
    const grace = rotating('grace');
    await check('grace', 'lab-in', grace);
    await check('grace again', 'lab-in', grace);
    await check('old badge', 'front-in', rotating('oldBadge'));
    await check('partner 12', 'front-in', partnerCode('tickets', 5n, 3));
    await check('partner 12, scope 3 at lab', 'lab-in', partnerCode('tickets', 5n, 3));
    await check('removed partner 13', 'front-in', partnerCode('removed', 5n, 3));
    await check('garbage', 'front-in', 'HELLO-TICKET-42');
    expect(Object.fromEntries(verdicts)).toEqual({
      'ada at front': 'grant',
      'lab tech at front': 'out-of-scope',
      'lab tech at lab': 'grant',
      'old visit': 'expired',
      'revoked link': 'revoked',
      'front only at front': 'grant',
      'front only at lab': 'out-of-scope',
      'online only, use 2 of 2': 'grant',
      'online only, use 3 of 2': 'used-up',
      grace: 'grant',
      'grace again': 'replayed',
      'old badge': 'revoked',
      'partner 12': 'grant',
      'partner 12, scope 3 at lab': 'out-of-scope',
      'removed partner 13': 'unknown-issuer',
      garbage: 'unknown-format',
    });
    await controller.stop();
    running.splice(0);

    // The controller carried on 0.1.0's chain: one chain, its events after the fixture's, intact.
    const store = openStore({ dataDir, create: false, quickCheck: false });
    await store.start();
    try {
      const checked = await verifyAll(store);
      expect(checked[`${fixture.siteId}/admin`]).toBe(fixture.auditChains[`${fixture.siteId}/admin`]);
      expect(checked[fixture.siteId]).toBeGreaterThan(fixture.auditChains[fixture.siteId]! + verdicts.length);
    } finally {
      await store.stop();
    }
  });
});

/** Adds a migration from the future to a SQLite store file, as a newer Postern would have. */
function fromTheFuture(file: string): void {
  const db = new Database(file);
  db.prepare('insert into postern_migrations (name, timestamp) values (?, ?)').run('0099_from_the_future', new Date().toISOString());
  db.prepare('insert into settings (key, value) values (?, ?) on conflict (key) do update set value = excluded.value').run(MIGRATED_BY_SETTING, '9.9.0');
  db.close();
}

const TOO_NEW = expect.stringMatching(
  new RegExp(`was written by a newer version of Postern \\(9\\.9\\.0\\): its schema has migration\\(s\\) 0099_from_the_future, which Postern [0-9.]+ does not know \\(its newest is ${SCHEMA_VERSION}\\)`),
);

describe('a store written by a newer version', () => {
  it('is refused (STORE_TOO_NEW) by the store, read-only or not, and by the controller, and left untouched', async () => {
    const dataDir = await fixtureCopy();
    const file = path.join(dataDir, 'postern.sqlite');
    fromTheFuture(file);
    const hash = await sha256(file);
    const files = (await readdir(dataDir)).sort();

    await expect(openStore({ dataDir, quickCheck: false }).start()).rejects.toMatchObject({ code: ErrorCodes.STORE_TOO_NEW, message: TOO_NEW });
    await expect(openStore({ dataDir, readOnly: true }).start()).rejects.toMatchObject({ code: ErrorCodes.STORE_TOO_NEW, message: TOO_NEW });
    const controller = new Controller({ config: testSite(dataDir, (input) => void (input.site.id = fixture.siteId)), terminal: new PassThrough() });
    await expect(controller.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_STORE_TOO_NEW', message: TOO_NEW });

    expect(await sha256(file)).toBe(hash);
    expect((await readdir(dataDir)).sort()).toEqual(files);
  });

  it('records the version that migrated a store, for the refusal of an older one to name', async () => {
    const dataDir = await tempDir('postern-upgrade-new-');
    const store = openStore({ dataDir, quickCheck: false });
    await store.start();
    try {
      expect(await store.getSetting(MIGRATED_BY_SETTING)).toMatch(/^\d+\.\d+\.\d+/);
    } finally {
      await store.stop();
    }
  });
});

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('a PostgreSQL store written by a newer version', pgUp), () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is refused with STORE_TOO_NEW, and nothing is migrated or written', async () => {
    const dataDir = await tempDir('postern-upgrade-pg-');
    const store = openStore({ databaseUrl: db.url, dataDir });
    await store.start();
    await store.stop();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`insert into postern_migrations (name, timestamp) values ('0099_from_the_future', $1)`, [new Date().toISOString()]);
      await client.query(`update settings set value = '9.9.0' where key = $1`, [MIGRATED_BY_SETTING]);
      await expect(openStore({ databaseUrl: db.url, dataDir }).start()).rejects.toMatchObject({ code: ErrorCodes.STORE_TOO_NEW, message: TOO_NEW });
      const names = (await client.query<{ name: string }>('select name from postern_migrations order by name')).rows.map((r) => r.name);
      expect(names).toEqual([...Object.keys(migrations).sort(), '0099_from_the_future']);
      expect((await client.query(`select value from settings where key = $1`, [MIGRATED_BY_SETTING])).rows).toEqual([{ value: '9.9.0' }]);
    } finally {
      await client.end();
    }
  });
});
