/**
 * The hub over TLS (--tls-cert/--tls-key, HubOptions.tls): a controller enrols over https and links
 * over wss with its site file's hub.caFile; plain HTTP is not served on that port; a key that
 * cannot be read stops the start with the option named.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { enrolCommand } from '../../controller/cli/enrolCommand.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import { Hub } from '../../controller/hub/hubServer.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { hubCredentialFile } from '../../controller/sync/hubAddress.ts';
import { SyncLink } from '../../controller/sync/syncLink.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { makeTestCertificate, skipWithoutOpenssl } from '../support/testCertificate.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';
import { until } from '../sync/fakeHub.ts';

const pgUp = await postgresAvailable();

describe.skipIf((!pgUp && !requireAll) || skipWithoutOpenssl)(postgresSuiteName('hub over TLS', pgUp), () => {
  let db: TestDatabase;
  let admin: HubAdmin;
  let hub: Hub;
  let tls: { cert: string; key: string };
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = await HubAdmin.open(db.url);
    await admin.addSite('porto');
    tls = await makeTestCertificate();
    hub = new Hub({ databaseUrl: db.url, port: 0, host: '127.0.0.1', tls });
    await hub.start();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  it('enrols over https and links over wss with hub.caFile', async () => {
    const url = `https://127.0.0.1:${hub.address().port}`;
    const dir = await tempDir('postern-hub-tls-');
    const siteFile = path.join(dir, 'site.yaml');
    await writeFile(siteFile, stringify({ ...testSiteInput('./data'), hub: { url, caFile: tls.cert } }));
    const { code } = await admin.addController('porto', 'desk');
    const stdout = new PassThrough();
    await enrolCommand({ code, config: siteFile }, { env: {}, stdout, stderr: new PassThrough(), stdin: new PassThrough() });

    const dataDir = path.join(dir, 'data');
    const store = openStore({ dataDir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'test-site' });
    await audit.start();
    await audit.append({ type: 'system', actor: 'system', data: { note: 'over tls' } });
    const link = new SyncLink({
      hub: { url, caFile: tls.cert },
      credentialFile: hubCredentialFile({ dataDir, site: { id: 'test-site' } as never, hub: undefined }),
      store,
      audit,
      logger: createLogger('silent', new PassThrough()),
      timing: { backoffBaseMs: 50, backoffMaxMs: 200, heartbeatMs: 200, silenceMs: 2000, random: () => 1 },
    });
    cleanups.push(async () => {
      await link.stop();
      await audit.stop();
      await store.stop();
    });
    await link.start();
    await until(() => link.status()?.state === 'live' && link.status()?.outboxDepth === 0, 10_000, 'live over wss, the event uploaded');
    expect(link.status()!.hub).toBe(`wss://127.0.0.1:${hub.address().port}/sync`);
    const [site] = await admin.status('porto');
    expect(site!.controllers[0]!.auditSeq).toBe(audit.head.seq);
  });

  it('answers no plain HTTP on its port', async () => {
    await expect(fetch(`http://127.0.0.1:${hub.address().port}/enrol`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });

  it('refuses to start when the key cannot be read, naming the option', async () => {
    const other = new Hub({ databaseUrl: db.url, port: 0, host: '127.0.0.1', tls: { cert: tls.cert, key: path.join(path.dirname(tls.key), 'missing.pem') } });
    await expect(other.start()).rejects.toThrow(/--tls-key: cannot read .*missing\.pem/);
  });
});
