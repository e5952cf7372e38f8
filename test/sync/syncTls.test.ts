/**
 * The link and `postern enrol` over TLS to a hub whose certificate a private CA signed: trusted
 * through hub.caFile, refused without it (the system's CAs do not know it).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { enrolCommand } from '../../controller/cli/enrolCommand.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { SyncLink } from '../../controller/sync/syncLink.ts';
import { makeTestCertificate, skipWithoutOpenssl } from '../support/testCertificate.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';
import { FakeHub, until } from './fakeHub.ts';

const CREDENTIAL = 'pstc_tls_credential_0123456789abcdef';
const FAST = { backoffBaseMs: 50, backoffMaxMs: 100, heartbeatMs: 200, silenceMs: 2000, random: () => 1 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.skipIf(skipWithoutOpenssl)('hub over TLS', () => {
  async function linkTo(hub: FakeHub, caFile: string | undefined): Promise<SyncLink> {
    const dir = await tempDir('postern-sync-tls-');
    const store = openStore({ dataDir: dir });
    await store.start();
    const audit = new AuditTrail({ store, controllerId: 'test-site' });
    await audit.start();
    const credentialFile = path.join(dir, 'cred');
    await writeFile(credentialFile, CREDENTIAL);
    const link = new SyncLink({ hub: { url: hub.url, caFile }, credentialFile, store, audit, logger: createLogger('silent', new PassThrough()), timing: FAST });
    cleanups.push(async () => {
      await link.stop();
      await audit.stop();
      await store.stop();
    });
    await link.start();
    return link;
  }

  it('links over wss with hub.caFile, and refuses a certificate the system does not trust without it', async () => {
    const tls = await makeTestCertificate();
    const hub = await new FakeHub({ credential: CREDENTIAL, tls }).start();
    cleanups.push(() => hub.stop());
    expect(hub.url).toMatch(/^https:/);

    const trusting = await linkTo(hub, tls.cert);
    await until(() => trusting.status()?.state === 'live', 5000, 'live over wss');
    expect(trusting.status()!.hub).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/sync$/);

    const refusing = await linkTo(hub, undefined);
    await until(() => refusing.status()?.lastError, 5000, 'a TLS error');
    expect(refusing.status()!.lastError).toMatch(/self[- ]signed|certificate/);
    expect(refusing.status()!.state).not.toBe('live');
    expect(hub.connections).toHaveLength(1);
  });

  it('enrols over https with the site file\'s hub.caFile', async () => {
    const tls = await makeTestCertificate();
    const hub = await new FakeHub({ credential: CREDENTIAL, tls, enrol: () => ({ status: 200, body: { siteId: 's', controllerId: 'c', credential: CREDENTIAL } }) }).start();
    cleanups.push(() => hub.stop());
    const dir = await tempDir('postern-enrol-tls-');
    const file = path.join(dir, 'site.yaml');
    await writeFile(file, stringify({ ...testSiteInput('./data'), hub: { url: hub.url, caFile: tls.cert } }));
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await enrolCommand({ code: 'ABCD', config: file }, { env: {}, stdout, stderr: new PassThrough(), stdin: new PassThrough() });
    expect(out).toContain(`  caFile: ${tls.cert}`);
  });
});
