/**
 * Helpers for the end-to-end tests of a real controller (controller.ts, SQLite store in a temp dir)
 * against real hubs (hubServer.ts over a throwaway PostgreSQL database): the hub's database and
 * admin, hubs on port 0, a controller site that can be standalone or linked and be enrolled with
 * `postern enrol`'s function, and the comparison of the audit chain the hub holds with the one
 * the controller keeps.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { enrolCommand } from '../../controller/cli/enrolCommand.ts';
import { Controller } from '../../controller/controller.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import { Hub, type HubOptions } from '../../controller/hub/hubServer.ts';
import type { AuditEvent, Store } from '../../controller/store/storeTypes.ts';
import type { SyncLink, SyncTiming } from '../../controller/sync/syncLink.ts';
import { createTestDatabase, type TestDatabase } from '../support/postgres.ts';
import { scanAt, tempDir, testSite, testSiteInput } from '../support/testSite.ts';

import { until } from './fakeHub.ts';

export { until };

/** The chain the test site's events carry (its site id). */
export const CHAIN = 'test-site';

/** Short timing: a heartbeat every 200 ms, a link silent for 2 s dropped, retries within 50-200 ms. */
export const FAST: SyncTiming = { backoffBaseMs: 50, backoffMaxMs: 200, heartbeatMs: 200, silenceMs: 2000, random: () => 1 };

/** A throwaway hub database and the admin over it; close() drops it. */
export interface HubDatabaseFixture {
  db: TestDatabase;
  admin: HubAdmin;
  close(): Promise<void>;
}

export async function hubDatabase(): Promise<HubDatabaseFixture> {
  const db = await createTestDatabase();
  const admin = await HubAdmin.open(db.url);
  return {
    db,
    admin,
    async close() {
      await admin.close().catch(() => undefined);
      await db.drop();
    },
  };
}

export async function startHub(databaseUrl: string, options: Partial<HubOptions> = {}): Promise<Hub> {
  const hub = new Hub({ databaseUrl, port: 0, host: '127.0.0.1', helloTimeoutMs: 10_000, idleTimeoutMs: 10_000, logger: pino({ level: 'silent' }), ...options });
  await hub.start();
  return hub;
}

export function hubHttpUrl(hub: Hub): string {
  return `http://127.0.0.1:${hub.address().port}`;
}

/** What a running controller keeps private, read for assertions and for appending to its trail. */
interface Internals {
  store: Store;
  audit: AuditTrail;
  sync?: SyncLink;
}

/**
 * One controller's data directory and site file. start() runs a controller on it, with the hub
 * section when `hubUrl` is given (the credential in the default file, as `postern enrol` writes it).
 */
export class ControllerSite {
  controller: Controller | undefined;
  hubUrl: string | undefined;

  private constructor(
    readonly dataDir: string,
    readonly siteFile: string,
    /** The site file's site id, which names the controller's audit chain (default CHAIN). */
    readonly chain: string,
  ) {}

  /** `chain`: another site id than CHAIN, for a second controller of one hub site (a chain belongs to one controller). */
  static async create(options: { chain?: string } = {}): Promise<ControllerSite> {
    const dataDir = await tempDir('postern-e2e-');
    const siteFile = path.join(dataDir, 'site.yaml');
    const chain = options.chain ?? CHAIN;
    const input = testSiteInput(dataDir);
    input.site.id = chain;
    await writeFile(siteFile, stringify(input));
    return new ControllerSite(dataDir, siteFile, chain);
  }

  /** `postern enrol --hub URL --code CODE` as its function: writes the credential beside the store. Returns what it printed. */
  async enrol(hubUrl: string, code: string, options: { adoptSiteKey?: boolean } = {}): Promise<string> {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await enrolCommand({ hub: hubUrl, code, config: this.siteFile, ...options }, { env: {}, stdout, stderr: new PassThrough(), stdin: new PassThrough() });
    return out;
  }

  async start(options: { hubUrl?: string; timing?: SyncTiming; clock?: () => number; remoteAdmin?: boolean } = {}): Promise<Controller> {
    if (this.controller !== undefined) throw new Error('already running');
    this.hubUrl = options.hubUrl;
    const config = testSite(this.dataDir, (input) => {
      input.site.id = this.chain;
      if (options.hubUrl !== undefined) input.hub = { url: options.hubUrl, ...(options.remoteAdmin === undefined ? {} : { remoteAdmin: options.remoteAdmin }) };
    });
    const controller = new Controller({ config, terminal: new PassThrough(), logger: pino({ level: 'silent' }), syncTiming: options.timing ?? FAST, clock: options.clock });
    await controller.start();
    this.controller = controller;
    return controller;
  }

  async stop(): Promise<void> {
    const controller = this.controller;
    this.controller = undefined;
    await controller?.stop();
  }

  get running(): Controller {
    if (this.controller === undefined) throw new Error('the controller is not running');
    return this.controller;
  }

  get internals(): Internals {
    const running = (this.running as unknown as { running: Internals | undefined }).running;
    if (running === undefined) throw new Error('the controller is not running');
    return running;
  }

  /** The seq of the newest event appended to the controller's chain. */
  get head(): number {
    return this.internals.audit.head.seq;
  }

  /** A link for the lab that a scan opens, and its code. */
  async issue(name = 'Visitor'): Promise<{ id: string; code: string }> {
    const { link, code } = await this.running.issuing.createLink({ name, doors: ['lab'] }, 'test');
    return { id: link.id, code };
  }

  scan(code: string) {
    return scanAt(this.running, 'lab-in', code);
  }

  /** The controller's whole chain, from its store, in seq order (after every append is stored). */
  async trail(): Promise<AuditEvent[]> {
    await this.internals.audit.flush();
    const events: AuditEvent[] = [];
    for await (const event of this.internals.store.iterateAudit(this.chain, 5000)) events.push(event);
    return events;
  }
}

/** Every door's relay locked again: the relock after a grant is appended to the chain by then. */
export async function doorsLocked(site: ControllerSite, ms = 5000): Promise<void> {
  await until(() => site.running.config.doors.every((door) => site.running.doorStatus(door.id)?.relayUnlocked === false), ms, 'the doors locked again');
}

/**
 * The controller's chain and the hub's copy once they have settled: the doors locked again after
 * the last grant (the relock is an audit event of its own, appended a moment after the decision),
 * the hub holding the controller's head, and nothing appended while both were read. Returns what
 * it read when the deadline passes, for expectSameChain to describe the difference.
 */
export async function settledChains(site: ControllerSite, admin: HubAdmin, databaseUrl: string, controllerId: string, ms = 30_000): Promise<{ trail: AuditEvent[]; held: HeldEvent[] }> {
  const deadline = Date.now() + ms;
  const left = () => Math.max(1000, deadline - Date.now());
  for (;;) {
    await doorsLocked(site, left());
    await until(async () => site.running.syncStatus?.outboxDepth === 0 && (await hubSeq(admin, controllerId)) === site.head, left(), `the hub to hold the controller's head (${site.head})`);
    const trail = await site.trail();
    const held = await hubChain(databaseUrl, controllerId);
    if ((trail.length === site.head && held.length === trail.length) || Date.now() > deadline) return { trail, held };
  }
}

/** One row of the hub's copy of a chain. */
export interface HeldEvent {
  seq: number;
  prevHash: string;
  hash: string;
}

/** Every event the hub holds of the controller, in seq order, read straight from its table. */
export async function hubChain(databaseUrl: string, controllerId: string): Promise<HeldEvent[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ seq: string; prev_hash: string; hash: string }>('select seq, prev_hash, hash from hub_audit_events where controller_id = $1 order by seq', [controllerId]);
    return rows.map((row) => ({ seq: Number(row.seq), prevHash: row.prev_hash, hash: row.hash }));
  } finally {
    await client.end();
  }
}

/** The hub's head of the controller's chain (0: none), as `postern hub status` shows it. */
export async function hubSeq(admin: HubAdmin, controllerId: string): Promise<number> {
  return (await admin.audit.head(controllerId))?.seq ?? 0;
}

/**
 * The hub holds exactly the controller's chain from seq 1 to `upTo` (default: all of it): each seq
 * once, none missing, the same hashes and links. Returns the number of events compared. A
 * description of the first difference is thrown, not a 100,000-element diff.
 */
export function expectSameChain(held: readonly HeldEvent[], trail: readonly AuditEvent[], upTo = trail.length): number {
  if (held.length !== upTo) {
    const seqs = held.map((e) => e.seq);
    const dups = seqs.filter((s, i) => i > 0 && seqs[i - 1] === s).length;
    throw new Error(`the hub holds ${held.length} events, the controller's chain has ${upTo} to compare (duplicates at the hub: ${dups}; hub seqs ${seqs[0]}..${seqs.at(-1)})`);
  }
  for (let i = 0; i < upTo; i++) {
    const hub = held[i]!;
    const mine = trail[i]!;
    if (mine.seq !== i + 1) throw new Error(`the controller's own chain is not 1..N at index ${i}: seq ${mine.seq}`);
    if (hub.seq !== i + 1) throw new Error(`the hub's chain is not 1..N: at index ${i} it holds seq ${hub.seq} (a gap or a duplicate)`);
    if (hub.hash !== mine.hash || hub.prevHash !== mine.prevHash) throw new Error(`seq ${mine.seq}: the hub holds hash ${hub.hash} after ${hub.prevHash}, the controller ${mine.hash} after ${mine.prevHash}`);
  }
  return upTo;
}

export interface TwoControllers {
  fixture: HubDatabaseFixture;
  hub: Hub;
  front: ControllerSite;
  back: ControllerSite;
}

/**
 * A hub site ("lisbon") with two controllers, each with its own store and chain, both holding the
 * site's one issuing key (the front desk's, which the back door takes at enrolment), both live.
 * Everything made is handed to `cleanup`, to be stopped in reverse order.
 */
export async function twoLiveControllers(cleanup: (fn: () => Promise<void> | void) => void): Promise<TwoControllers> {
  const fixture = await hubDatabase();
  cleanup(() => fixture.close());
  await fixture.admin.addSite('lisbon', 'Lisbon office');
  const hub = await startHub(fixture.db.url);
  cleanup(() => hub.stop());
  const front = await ControllerSite.create({ chain: 'front-desk' });
  const back = await ControllerSite.create({ chain: 'back-door' });
  cleanup(() => front.stop());
  cleanup(() => back.stop());
  for (const site of [front, back]) {
    const { code } = await fixture.admin.addController('lisbon', site.chain);
    await site.enrol(hubHttpUrl(hub), code);
    await site.start({ hubUrl: hubHttpUrl(hub) });
  }
  await until(() => front.running.syncStatus?.state === 'live' && back.running.syncStatus?.state === 'live', 10_000, 'both links live');
  return { fixture, hub, front, back };
}
