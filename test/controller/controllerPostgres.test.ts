/**
 * The controller on a real PostgreSQL: the same decision path as on SQLite, and a database that
 * dies under it (a proxy in between is cut): the controller keeps deciding, denies what it cannot
 * check, loses no audit event, and recovers by itself when the database returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyChain } from '../../controller/audit/auditChain.ts';
import { Controller } from '../../controller/controller.ts';
import { encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { loadOrCreateSiteKey } from '../../controller/issuing/siteKey.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcpProxy.ts';
import { tempDir, testSite } from '../support/testSite.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('controller on PostgreSQL', pgUp), () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let controller: Controller;
  let siteKey: Buffer;
  let proxiedUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    const url = new URL(db.url);
    proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    url.host = `127.0.0.1:${proxy.port}`;
    proxiedUrl = url.toString();
    const store = openStore({ databaseUrl: db.url, dataDir: await tempDir() });
    await store.start();
    siteKey = await loadOrCreateSiteKey(store);
    await store.stop();
    controller = new Controller({ config: testSite(await tempDir()), databaseUrl: proxiedUrl });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
    await proxy?.close();
    await db?.drop();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const link = (subject: bigint) => encodeCredential({ kind: 'link', issuer: 0, subject, a: now() - 60, b: now() + 3600, scope: 7 }, siteKey);

  function scan(text: string): Promise<Decision> {
    return new Promise((resolve) => {
      const off = controller.onDecision((d) => {
        off();
        resolve(d);
      });
      (controller.scannerDriver('lab-in') as SimulatedScanner).read(text);
    });
  }

  it('grants a valid link with the audit event in PostgreSQL', async () => {
    expect(controller.storeDialect).toBe('postgres');
    const decision = await scan(link(1n));
    expect(decision).toMatchObject({ verdict: 'grant', door: 'lab', subject: '1' });
  });

  it('keeps deciding while the database is dead, and flushes every audit event when it returns', async () => {
    proxy.cut();
    const started = Date.now();
    const during = [await scan(link(2n)), await scan('garbage while down')];
    expect(during.map((d) => d.reason)).toEqual(['store-unavailable', 'unknown-format']);
    expect(Date.now() - started).toBeLessThan(12_000);
    proxy.restore();

    // The pool reconnects by itself; the next valid scan is granted again.
    let after: Decision | undefined;
    for (let i = 0; i < 20 && after?.verdict !== 'grant'; i++) {
      after = await scan(link(BigInt(100 + i)));
      if (after.verdict !== 'grant') await new Promise((r) => setTimeout(r, 500));
    }
    expect(after?.verdict).toBe('grant');

    // Nothing was lost: the outage's decisions reached the store in order, and the chain holds.
    const store = openStore({ databaseUrl: db.url, dataDir: await tempDir() });
    await store.start();
    try {
      let events = await store.queryAudit({ controllerId: 'test-site', limit: 1000 });
      for (let i = 0; i < 40 && !events.some((e) => e.reason === 'store-unavailable'); i++) {
        await new Promise((r) => setTimeout(r, 250));
        events = await store.queryAudit({ controllerId: 'test-site', limit: 1000 });
      }
      const reasons = events.filter((e) => e.type === 'decision').map((e) => e.reason);
      expect(reasons).toEqual(expect.arrayContaining([null, 'store-unavailable', 'unknown-format']));
      const report = await verifyChain(store.iterateAudit('test-site'));
      expect(report.problems).toEqual([]);
    } finally {
      await store.stop();
    }
  }, 60_000);
});
