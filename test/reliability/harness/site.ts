/**
 * A site for the reliability suites, set up only through public interfaces: a site file, the
 * `postern token create` command, and (once the controller runs) the API. The store is SQLite in
 * a fresh directory, or a throwaway PostgreSQL database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../support/postgres.ts';
import { runPostern } from './controllerProcess.ts';
import type { RpcClient } from './rpc.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface DoorSpec {
  id: string;
  failMode?: 'secure' | 'safe';
  unlockSeconds?: number;
}

export interface SiteSpec {
  /** Site id, also the audit chain's controller id. */
  id: string;
  store: StoreKind;
  doors: DoorSpec[];
  /** Network scanners: id → door. */
  scanners: Record<string, string>;
  scopes: Array<{ id: number; doors: string[] }>;
  /** Default: throttling out of the way (1000 denials within 1 ms), so a flood of denials is decided, not locked out. */
  throttle?: { maxFailures: number; windowSeconds: number; lockoutSeconds: number; maxLockoutSeconds: number };
}

export interface Partner {
  id: number;
  secret: Buffer;
  allowedScopes: number[];
  defaultScope: number;
}

export interface Site {
  spec: SiteSpec;
  dir: string;
  siteFile: string;
  /** The SQLite file's directory (the site file's dataDir). */
  dataDir: string;
  databaseUrl: string | undefined;
  /** An admin token: every method, and reads for any network scanner. */
  adminToken: string;
  /** scanner id → its own scanner token. */
  scannerTokens: Record<string, string>;
  partner: Partner;
  /** Removes the directory and the database. */
  dispose(): Promise<void>;
}

async function createToken(siteFile: string, databaseUrl: string | undefined, args: string[]): Promise<string> {
  const result = await runPostern(['token', 'create', '--config', siteFile, ...args], databaseUrl, 90_000);
  const token = result.stdout.trim();
  if (result.code !== 0 || !/^pst_\S+$/.test(token)) throw new Error(`postern token create ${args.join(' ')} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return token;
}

/** Sites not disposed yet, for a run cut short (the soak's Ctrl-C). */
const undisposed = new Set<() => Promise<void>>();

/** Removes every site's directory and database that is still there. */
export async function disposeAllSites(): Promise<void> {
  await Promise.all([...undisposed].map((dispose) => dispose().catch(() => undefined)));
}

export async function createSite(spec: SiteSpec): Promise<Site> {
  const dir = await mkdtemp(path.join(tmpdir(), `postern-reliability-${spec.id}-`));
  let database: TestDatabase | undefined;
  try {
    if (spec.store === 'postgres') database = await createTestDatabase();
    const siteFile = path.join(dir, 'site.json');
    const site = {
      site: { id: spec.id, name: `Reliability ${spec.id}`, defaultScope: null },
      dataDir: path.join(dir, 'data'),
      logLevel: 'warn',
      throttle: spec.throttle ?? { maxFailures: 1000, windowSeconds: 0.001, lockoutSeconds: 1, maxLockoutSeconds: 1 },
      api: {
        host: '127.0.0.1',
        port: 0,
        maxBufferedBytes: 64 * 1024 * 1024,
        rateLimit: { perConnection: { rate: 100_000, burst: 100_000 }, perToken: { rate: 100_000, burst: 100_000 } },
      },
      web: { enabled: false },
      scopes: spec.scopes.map((s) => ({ id: s.id, name: `scope ${s.id}`, doors: s.doors })),
      doors: spec.doors.map((d) => ({
        id: d.id,
        name: `Door ${d.id}`,
        io: { driver: 'simulated', autoWalkThrough: false },
        unlockSeconds: d.unlockSeconds ?? 0.3,
        heldOpenSeconds: 30,
        failMode: d.failMode ?? 'secure',
      })),
      scanners: Object.entries(spec.scanners).map(([id, door]) => ({ id, door, driver: 'network', debounceMs: 0 })),
    };
    await writeFile(siteFile, JSON.stringify(site, null, 2));
    const databaseUrl = database?.url;
    // One command after the other: two at once can race for the same seq of the "<site>/admin"
    // audit chain, and the loser exits 1 with its token made but its audit event lost (see the report).
    // The first one makes the store (`--create`: the commands refuse a missing store otherwise).
    const adminToken = await createToken(siteFile, databaseUrl, ['--name', 'reliability-admin', '--role', 'admin', '--create']);
    const scannerTokens: Record<string, string> = {};
    for (const id of Object.keys(spec.scanners)) {
      scannerTokens[id] = await createToken(siteFile, databaseUrl, ['--name', `scanner-${id}`, '--role', 'scanner', '--scanner', id]);
    }
    const allScopes = spec.scopes.map((s) => s.id);
    const partner: Partner = { id: 4242, secret: randomBytes(32), allowedScopes: allScopes.slice(0, 2), defaultScope: allScopes[0]! };
    const dispose = async () => {
      undisposed.delete(dispose);
      await database?.drop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    };
    undisposed.add(dispose);
    return { spec, dir, siteFile, dataDir: site.dataDir, databaseUrl, adminToken, scannerTokens, partner, dispose };
  } catch (error) {
    await database?.drop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Adds the site's partner over the API (admin), unless it is there already. */
export async function ensurePartner(admin: RpcClient, partner: Partner): Promise<void> {
  const existing = (await admin.call('partners.list')) as Array<{ id: number }>;
  if (existing.some((p) => p.id === partner.id)) return;
  await admin.call('partners.add', {
    id: partner.id,
    name: 'Reliability partner',
    allowedScopes: partner.allowedScopes,
    defaultScope: partner.defaultScope,
    secret: partner.secret.toString('hex'),
  });
}
