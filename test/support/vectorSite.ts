/**
 * The small site of credential-vectors.json, set up in a real store with a real Verifier, as
 * the controller wires them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PartnerDirectory } from '../../controller/credentials/partnerDirectory.ts';
import { ScanThrottle, type ThrottleOptions } from '../../controller/credentials/scanThrottle.ts';
import { ScopeDirectory } from '../../controller/credentials/scopeDirectory.ts';
import { ReplayGuard } from '../../controller/credentials/replayGuard.ts';
import { Verifier } from '../../controller/credentials/verifier.ts';
import { LocalHub } from '../../controller/decision/localHub.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { vectors } from './vectors.ts';

export interface VectorSite {
  store: Store;
  verifier: Verifier;
  close(): Promise<void>;
}

export async function openVectorSite(options: { databaseUrl?: string; throttle?: ThrottleOptions } = {}): Promise<VectorSite> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'postern-vectors-'));
  const store = openStore({ databaseUrl: options.databaseUrl, dataDir });
  await store.start();
  for (const [id, partner] of Object.entries(vectors.site.partners)) {
    await store.addPartner({
      id: Number(id),
      name: `partner ${id}`,
      allowedScopes: partner.allowed_scopes,
      defaultScope: partner.default_scope,
      enabled: true,
      secret: Buffer.from(vectors.partner_17_secret, 'hex'),
    });
  }
  for (const [id, credential] of Object.entries(vectors.site.rotating_credentials)) {
    await store.createCredential({ id, name: `credential ${id}`, scope: credential.scope, createdBy: 'test', secret: Buffer.from(vectors.credential_9001_secret, 'hex') });
  }
  const scopes = Object.entries(vectors.site.scopes).map(([id, doors]) => ({ id: Number(id), name: `scope ${id}`, doors }));
  const verifier = new Verifier({
    siteKey: Buffer.from(vectors.site_key, 'hex'),
    store,
    replay: new ReplayGuard(),
    partners: new PartnerDirectory(store),
    scopes: new ScopeDirectory(scopes, store),
    throttle: new ScanThrottle(options.throttle),
    onlineLinks: new LocalHub(store),
    siteDefaultScope: vectors.site.site_default_scope,
  });
  return {
    store,
    verifier,
    async close() {
      await store.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
