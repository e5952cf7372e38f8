/**
 * A small site for the verifier's properties, in a real SQLite store in a temporary folder, wired
 * as the controller wires it (partner directory, scope directory with a door set, local hub), with
 * fresh random keys. Everything a test needs to predict a verdict from the spec is kept beside it,
 * as plain data, so that the expected verdict is worked out without the verifier's own code.
 */
import { randomBytes } from 'node:crypto';
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

export const DOORS = ['front', 'lab', 'store', 'back', 'roof'] as const;

export interface SitePartner {
  secret: Buffer;
  allowedScopes: number[];
  defaultScope: number | null;
  enabled: boolean;
}

export interface PropertySite {
  store: Store;
  siteKey: Buffer;
  /** Verifiers over the same store: site.defaultScope 2, and none. */
  verifiers: { withDefault: Verifier; withoutDefault: Verifier };
  siteDefaultScope: number;
  /** Scope id -> doors, the site file's and the door set the store made. */
  scopes: Map<number, ReadonlySet<string>>;
  doorSetScope: number;
  partners: Map<number, SitePartner>;
  /** Rotating credentials of the site: id -> secret and scope. */
  credentials: Map<string, { secret: Buffer; scope: number }>;
  /** Online-only links of the site issuer (unlimited uses). */
  onlineLinks: Set<string>;
  /** `${issuer}/${subject}` revoked. */
  revoked: Set<string>;
  /** A scanner id never used before: each verdict then stands alone, with no throttle state. */
  nextScanner(): string;
  /** Another verifier over the same store, with a throttle of its own (site.defaultScope 2). */
  verifierWithThrottle(options: ThrottleOptions): Verifier;
  close(): Promise<void>;
}

export async function openPropertySite(): Promise<PropertySite> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'postern-properties-'));
  const store = openStore({ dataDir, quickCheck: false });
  await store.start();
  const siteKey = randomBytes(32);
  const configScopes = [
    { id: 1, name: 'front only', doors: ['front'] },
    { id: 2, name: 'front and lab', doors: ['front', 'lab'] },
    { id: 3, name: 'lab and store', doors: ['lab', 'store'] },
    { id: 4, name: 'back', doors: ['back'] },
    { id: 9, name: 'all but the roof', doors: ['front', 'lab', 'store', 'back'] },
  ];
  const doorSetScope = await store.doorSetScope(['back', 'lab']);
  const scopes = new Map<number, ReadonlySet<string>>(configScopes.map((s) => [s.id, new Set(s.doors)]));
  scopes.set(doorSetScope, new Set(['back', 'lab']));

  const partners = new Map<number, SitePartner>([
    [17, { secret: randomBytes(32), allowedScopes: [3, 4], defaultScope: 3, enabled: true }],
    [18, { secret: randomBytes(40), allowedScopes: [1], defaultScope: 1, enabled: false }],
    [19, { secret: randomBytes(64), allowedScopes: [9, doorSetScope], defaultScope: null, enabled: true }],
  ]);
  for (const [id, p] of partners) await store.addPartner({ id, name: `partner ${id}`, ...p });

  const credentials = new Map<string, { secret: Buffer; scope: number }>([
    ['9001', { secret: randomBytes(32), scope: 2 }],
    ['9002', { secret: randomBytes(32), scope: 4 }],
    ['9003', { secret: randomBytes(32), scope: 3 }],
  ]);
  for (const [id, c] of credentials) await store.createCredential({ id, name: `credential ${id}`, scope: c.scope, createdBy: 'properties', secret: c.secret });

  const onlineLinks = new Set(['5000', '5001', '5002']);
  for (const id of onlineLinks) {
    await store.createLink({ id, name: `online ${id}`, email: null, scope: 2, notBefore: 0, notAfter: 0xffffffff, onlineOnly: true, maxUses: null, createdBy: 'properties' });
  }
  const revoked = new Set(['0/1000', '0/5002', '0/9002', '17/1000', '17/1001', '19/7']);
  for (const key of revoked) {
    const [issuer, subject] = key.split('/');
    await store.revoke(Number(issuer), subject!, 'properties');
  }

  // One guard for both verifiers, as one controller has: a step used through one is used.
  const replay = new ReplayGuard();
  const make = (siteDefaultScope: number | null, throttle = new ScanThrottle()) =>
    new Verifier({
      siteKey,
      store,
      replay,
      partners: new PartnerDirectory(store),
      scopes: new ScopeDirectory(configScopes, store),
      throttle,
      onlineLinks: new LocalHub(store),
      siteDefaultScope,
    });
  let scanner = 0;
  return {
    store,
    siteKey,
    verifiers: { withDefault: make(2), withoutDefault: make(null) },
    siteDefaultScope: 2,
    scopes,
    doorSetScope,
    partners,
    credentials,
    onlineLinks,
    revoked,
    nextScanner: () => `scanner-${++scanner}`,
    verifierWithThrottle: (options) => make(2, new ScanThrottle(options)),
    async close() {
      await store.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
