/**
 * `postern hub audit tail|export|verify` over a real hub's database: chains uploaded through raw
 * sync links (TestLink), then read, exported (CSV and JSON lines, page by page) and verified by the
 * commands run through main(), as a user would; a row edited or deleted in the hub's database and
 * a controller flagged at upload are caught with exit status 3.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GENESIS_HASH, hashEvent } from '../../controller/audit/auditChain.ts';
import { AUDIT_CSV_HEADER, auditCsvLine } from '../../controller/audit/auditCsv.ts';
import { formatEvent } from '../../controller/cli/auditCommands.ts';
import { auditPages } from '../../controller/hub/hubAuditReader.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import { runMain } from '../support/runCli.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/testSite.ts';
import { chainEvents, enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

/** A controller of the site, enrolled, that has uploaded `events` of `chain` through a sync link. */
interface Uploaded {
  siteId: string;
  controllerId: string;
  chain: string;
  events: AuditEvent[];
}

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('postern hub audit', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;
  let url: string[];

  /** Enrols a controller of the site (made when new) and uploads the events in batches of 500, each acknowledged. */
  async function upload(siteId: string, chain: string, events: AuditEvent[]): Promise<Uploaded> {
    if ((await admin.status()).every((s) => s.id !== siteId)) await admin.addSite(siteId);
    const { controllerId, credential } = await enrolledController(admin, hub, siteId);
    const link = await TestLink.open(hub, credential);
    try {
      await link.hello(0, chain);
      for (let i = 0; i < events.length; i += 500) {
        const batch = events.slice(i, i + 500);
        const from = link.frames.length;
        link.send({ type: 'audit', events: batch });
        expect(await link.next(['auditAck', 'auditRejected'], from)).toEqual({ type: 'auditAck', seq: batch.at(-1)!.seq });
      }
    } finally {
      link.close();
    }
    return { siteId, controllerId, chain, events };
  }

  /** The events of chainEvents, `at` 1 s apart from `start` (`at` is part of the hash: rehashed). */
  function timed(chain: string, count: number, start: number): AuditEvent[] {
    const events: AuditEvent[] = [];
    let prevHash = GENESIS_HASH;
    for (const { prevHash: _p, hash: _h, ...e } of chainEvents(chain, 1, count)) {
      const fields = { ...e, at: start + e.seq * 1000 };
      const hash = hashEvent(prevHash, fields);
      events.push({ ...fields, prevHash, hash });
      prevHash = hash;
    }
    return events;
  }

  let lyonA: Uploaded;
  let lyonB: Uploaded;
  let porto: Uploaded;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    url = ['--database-url', db.url];
    // lyon's second controller is the newest; porto's events are older than all of lyon's.
    lyonA = await upload('lyon', 'lyon-a', timed('lyon-a', 30, 1_800_000_000_000));
    lyonB = await upload('lyon', 'lyon-b', timed('lyon-b', 12, 1_800_000_100_000));
    porto = await upload('porto', 'porto', timed('porto', 8, 1_700_000_000_000));
  });
  afterAll(async () => {
    await admin?.close();
    await hub?.stop();
    await db?.drop();
  });

  const line = (u: Uploaded, e: AuditEvent) => `${u.siteId} ${u.controllerId} ${formatEvent(e)}`;
  /** The controllers in (controller id) order, as the export has them. */
  const byId = (...uploaded: Uploaded[]) => [...uploaded].sort((a, b) => (a.controllerId < b.controllerId ? -1 : 1));

  it('tail: the newest events the hub holds, oldest first, of every site, one site or one controller', async () => {
    const site = await runMain(['hub', 'audit', 'tail', 'lyon', '-n', '5', ...url]);
    expect(site.code).toBe(0);
    // lyon-b's events are the newest of lyon, then lyon-a's.
    expect(site.stdout).toBe(lyonB.events.slice(-5).map((e) => line(lyonB, e) + '\n').join(''));
    expect(site.stdout).toMatch(/^lyon ctl-[0-9a-f]+ 2027-\S+ lyon-b#8 decision door=front scanner=front-in GRANT subject=s8\n/);

    const all = await runMain(['hub', 'audit', 'tail', ...url], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/wrong' });
    const expected = [...lyonA.events.slice(-8).map((e) => line(lyonA, e)), ...lyonB.events.map((e) => line(lyonB, e))];
    expect(all.stdout.trimEnd().split('\n')).toEqual(expected);

    const one = await runMain(['hub', 'audit', 'tail', '--controller', lyonA.controllerId, '-n', '3', ...url]);
    expect(one.stdout.trimEnd().split('\n')).toEqual(lyonA.events.slice(-3).map((e) => line(lyonA, e)));
    const older = await runMain(['hub', 'audit', 'tail', 'porto', ...url]);
    expect(older.stdout.trimEnd().split('\n')).toEqual(porto.events.map((e) => line(porto, e)));

    const unknown = await runMain(['hub', 'audit', 'tail', 'nowhere', ...url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no site nowhere at this hub/);
    const foreign = await runMain(['hub', 'audit', 'tail', 'porto', '--controller', lyonA.controllerId, ...url]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toMatch(`no controller ${lyonA.controllerId} at site porto`);
  });

  it("export: every event of the site's controllers in (controller, seq) order, as CSV or JSON lines, none of another site", async () => {
    const csv = await runMain(['hub', 'audit', 'export', 'lyon', '--csv', ...url]);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split('\r\n');
    expect(rows.pop()).toBe('');
    expect(rows[0]).toBe(`siteId,hubControllerId,${AUDIT_CSV_HEADER}`);
    const expectedCsv = byId(lyonA, lyonB).flatMap((u) => u.events.map((e) => `lyon,${u.controllerId},${auditCsvLine(e)}`));
    expect(rows.slice(1)).toEqual(expectedCsv);
    expect(csv.stdout).not.toContain('porto');

    const dir = await tempDir('postern-hub-audit-');
    const file = path.join(dir, 'lyon.jsonl');
    const jsonl = await runMain(['hub', 'audit', 'export', 'lyon', '--jsonl', '--out', file, ...url]);
    expect(jsonl).toMatchObject({ code: 0, stdout: '' });
    const parsed = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual(byId(lyonA, lyonB).flatMap((u) => u.events.map((e) => ({ ...e, siteId: 'lyon', hubControllerId: u.controllerId }))));

    const one = await runMain(['hub', 'audit', 'export', 'lyon', '--jsonl', '--controller', lyonB.controllerId, ...url]);
    expect(one.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as AuditEvent).seq)).toEqual(lyonB.events.map((e) => e.seq));
    const portoCsv = await runMain(['hub', 'audit', 'export', 'porto', ...url]);
    expect(portoCsv.stdout.split('\r\n').slice(1, -1)).toEqual(porto.events.map((e) => `porto,${porto.controllerId},${auditCsvLine(e)}`));

    const both = await runMain(['hub', 'audit', 'export', 'lyon', '--csv', '--jsonl', ...url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--csv or --jsonl, not both/);
    const missing = path.join(dir, 'none.csv');
    expect((await runMain(['hub', 'audit', 'export', 'nowhere', '--out', missing, ...url])).code).toBe(1);
    await expect(readFile(missing)).rejects.toThrow(/ENOENT/);
  });

  it('export of 5,000 events, page by page across two controllers, and their verify', async () => {
    const a = await upload('bulk', 'bulk-a', chainEvents('bulk-a', 1, 2600));
    const b = await upload('bulk', 'bulk-b', chainEvents('bulk-b', 1, 2400));
    const csv = await runMain(['hub', 'audit', 'export', 'bulk', ...url]);
    expect(csv.code).toBe(0);
    const rows = csv.stdout.split('\r\n').slice(1, -1);
    expect(rows).toHaveLength(5000);
    expect(rows).toEqual(byId(a, b).flatMap((u) => u.events.map((e) => `bulk,${u.controllerId},${auditCsvLine(e)}`)));

    // Pages of 1000, the third one crossing from one controller to the next.
    const pages: Array<{ size: number; controllers: number }> = [];
    for await (const page of auditPages(admin.store.db, { siteId: 'bulk' })) pages.push({ size: page.length, controllers: new Set(page.map((e) => e.hubControllerId)).size });
    expect(pages).toEqual([1, 1, 2, 1, 1].map((controllers) => ({ size: 1000, controllers })));

    const verify = await runMain(['hub', 'audit', 'verify', 'bulk', ...url]);
    expect(verify.code).toBe(0);
    expect(verify.stdout.trimEnd().split('\n').sort()).toEqual([`bulk ${a.controllerId} (chain bulk-a): ok 2600`, `bulk ${b.controllerId} (chain bulk-b): ok 2400`].sort());
  });

  it('verify: ok per controller, exit 0', async () => {
    const result = await runMain(['hub', 'audit', 'verify', 'lyon', ...url]);
    expect(result).toEqual({
      code: 0,
      stdout: byId(lyonA, lyonB).map((u) => `lyon ${u.controllerId} (chain ${u.chain}): ok ${u.events.length}\n`).join(''),
      stderr: '',
    });
  });

  it("verify: a row edited or the newest deleted in the hub's database is named with its controller and seq, exit 3", async () => {
    const nantes = await upload('nantes', 'nantes', chainEvents('nantes', 1, 40));
    expect((await runMain(['hub', 'audit', 'verify', 'nantes', ...url])).code).toBe(0);
    await sql`UPDATE hub_audit_events SET verdict = 'deny' WHERE controller_id = ${nantes.controllerId} AND seq = 17`.execute(admin.store.db);

    const edited = await runMain(['hub', 'audit', 'verify', 'nantes', ...url]);
    expect(edited.code).toBe(3);
    expect(edited.stdout).toBe(
      `nantes ${nantes.controllerId} (chain nantes): 40 events, 1 problem(s)\n` + '  event #17: edited: event 17 does not match its hash: its content was changed\n',
    );
    expect(edited.stderr).toBe('postern: 1 controller(s) failed verification or are flagged\n');

    // The whole hub: the other sites still ok, nantes broken.
    const all = await runMain(['hub', 'audit', 'verify', ...url]);
    expect(all.code).toBe(3);
    expect(all.stdout).toContain(`lyon ${lyonA.controllerId} (chain lyon-a): ok 30\n`);
    expect(all.stdout).toContain(`porto ${porto.controllerId} (chain porto): ok 8\n`);
    expect(all.stdout).toContain(`nantes ${nantes.controllerId} (chain nantes): 40 events, 1 problem(s)\n  event #17: edited`);

    // The newest event deleted: the chain is whole, but shorter than the head the hub keeps.
    await sql`DELETE FROM hub_audit_events WHERE controller_id = ${nantes.controllerId} AND seq = 40`.execute(admin.store.db);
    const cut = await runMain(['hub', 'audit', 'verify', 'nantes', '--controller', nantes.controllerId, ...url]);
    expect(cut.code).toBe(3);
    expect(cut.stdout).toContain('  event #17: edited');
    expect(cut.stdout).toContain('  event #40: missing: event 40 is missing\n');
  });

  it('verify: a controller flagged at upload is shown with its problem and seq, exit 3, though its chain is intact', async () => {
    const rennes = await upload('rennes', 'rennes', chainEvents('rennes', 1, 3));
    // Another controller of the site sends seq 5 after seq 3: a gap, flagged, nothing of it stored.
    const { controllerId: flaggedId, credential: flaggedCredential } = await enrolledController(admin, hub, 'rennes');
    const link = await TestLink.open(hub, flaggedCredential);
    try {
      await link.hello(0, 'rennes-2');
      const events = chainEvents('rennes-2', 1, 5);
      link.send({ type: 'audit', events: events.slice(0, 3) });
      await link.next('auditAck');
      const from = link.frames.length;
      link.send({ type: 'audit', events: events.slice(4) });
      expect(await link.next('auditRejected', from)).toMatchObject({ problem: 'gap', seq: 5 });
    } finally {
      link.close();
    }

    const result = await runMain(['hub', 'audit', 'verify', 'rennes', ...url]);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain(`rennes ${rennes.controllerId} (chain rennes): ok 3\n`);
    expect(result.stdout).toMatch(new RegExp(`^rennes ${flaggedId} \\(chain rennes-2\\): chain intact to seq 3, FLAGGED: gap at seq 5 \\(\\d{4}-\\S+Z\\)$`, 'm'));
    expect(result.stderr).toBe('postern: 1 controller(s) failed verification or are flagged\n');
  });
});
