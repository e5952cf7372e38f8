/**
 * The decision path end to end, where outside testers found the record and the door disagreeing:
 * debounce across a network scanner's reconnect, a store that another process holds locked, a
 * store and a journal that both fail, and a decision still waiting when the controller stops.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import Sqlite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';

import { verifyChain } from '../../controller/audit/auditChain.ts';
import { Controller } from '../../controller/controller.ts';
import { encodeCredential } from '../../controller/credentials/credentialCodec.ts';
import type { Decision } from '../../controller/decision/decisionLog.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { scanAt, tempDir, testSite, siteKeyOf } from '../support/testSite.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const now = () => Math.floor(Date.now() / 1000);


function link(key: Buffer, subject: bigint, scope = 7): string {
  return encodeCredential({ kind: 'link', issuer: 0, subject, a: now() - 60, b: now() + 3600, scope }, key);
}

async function auditEvents(dataDir: string, controllerId = 'test-site'): Promise<AuditEvent[]> {
  const store = openStore({ dataDir, readOnly: true });
  await store.start();
  try {
    const events: AuditEvent[] = [];
    for await (const event of store.iterateAudit(controllerId)) events.push(event);
    return events;
  } finally {
    await store.stop();
  }
}

/** Another writer, as another process would be: a second connection that takes the write lock and keeps it. */
function holdWriteLock(dataDir: string): Sqlite.Database {
  const other = new Sqlite(join(dataDir, 'postern.sqlite'));
  other.exec('BEGIN IMMEDIATE');
  cleanups.push(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
  });
  return other;
}

async function startController(dataDir: string, patch: Parameters<typeof testSite>[1] = () => {}): Promise<Controller> {
  const controller = new Controller({ config: testSite(dataDir, patch) });
  await controller.start();
  cleanups.push(() => controller.stop());
  return controller;
}

describe('debounce, whatever the driver does between reads', () => {
  let site: ApiSite;

  it('two network reads of one code 200 ms apart, each on its own connection: one grant, one debounced, one use of an online link', async () => {
    site = await startApiSite((input) => {
      input.scanners = input.scanners!.map((s) => s);
      input.scanners.push({ id: 'net-2', door: 'lab', driver: 'network', debounceMs: 1500 });
    });
    cleanups.push(() => site.stop());
    const admin = await ApiClient.connect(site.url, site.tokens.admin);
    cleanups.push(() => admin.close());
    const { link: created, code } = await admin.call('links.create', { name: 'Visitor', doors: ['lab'], onlineOnly: true, maxUses: 2 });

    const readOnce = async (text: string) => {
      // A device that opens a connection per read, as cheap network scanners do.
      const device = await ApiClient.connect(site.url, site.tokens.integrator);
      try {
        return await device.call('scanner.read', { scanner: 'net-2', text });
      } finally {
        device.close();
      }
    };
    const first = await readOnce(code);
    await new Promise((r) => setTimeout(r, 200));
    // The same code, as a scanner may send it: another letter case and a line end.
    const second = await readOnce(`${code.toLowerCase()}\r\n`);
    expect(first).toMatchObject({ decided: true, verdict: 'grant' });
    expect(second).toMatchObject({ decided: false, reason: 'debounced' });
    const links = await admin.call('links.list', {});
    expect(links.links?.find?.((l: { id: string }) => l.id === created.id)?.uses ?? (await admin.call('links.get', { id: created.id })).uses).toBe(1);
  });

  it('debounceMs 0 means no debounce: the same code twice at once is decided twice', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const controller = await startController(dataDir);
    const scanner = controller.scannerDriver('lab-in') as SimulatedScanner;
    const decisions: Decision[] = [];
    const off = controller.onDecision((d) => decisions.push(d));
    cleanups.push(off);
    const code = link(key, 5n);
    scanner.read(code);
    scanner.read(code);
    await expect.poll(() => decisions.length).toBe(2);
    expect(decisions.map((d) => d.verdict)).toEqual(['grant', 'grant']);
  });
});

describe('durable before the relay moves', () => {
  it('a grant waits for its record to be on disk: in the store, or in the journal while another process holds the store locked', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const controller = await startController(dataDir);
    const io = controller.doorIo('lab') as SimulatedDoorIo;

    const other = holdWriteLock(dataDir);

    // Door timers and other scanners keep running meanwhile: the event loop is never held for the
    // lock's busy timeout (5 s), as it was when the store wrote on the main thread.
    let last = performance.now();
    let longestGap = 0;
    const ticker = setInterval(() => {
      longestGap = Math.max(longestGap, performance.now() - last);
      last = performance.now();
    }, 10);
    cleanups.push(() => clearInterval(ticker));
    const started = Date.now();
    const decision = await scanAt(controller, 'lab-in', link(key, 11n));
    expect(decision).toMatchObject({ verdict: 'grant' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(io.relayHistory.at(-1)).toBe(true);
    const journalFile = join(dataDir, 'audit-journal.test-site.ndjson');
    const journaled = (await readFile(journalFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as AuditEvent);
    expect(journaled.find((e) => e.seq === decision.auditSeq)).toMatchObject({ verdict: 'grant', subject: '11', door: 'lab' });
    expect(longestGap).toBeLessThan(1000);

    // The lock goes: the store gets every event exactly once, the journal empties.
    other.exec('ROLLBACK');
    await expect.poll(async () => (await readFile(journalFile, 'utf8').catch(() => '')).length, { timeout: 10_000, interval: 100 }).toBe(0);
    await controller.stop();
    const events = await auditEvents(dataDir);
    expect(events.filter((e) => e.seq === decision.auditSeq)).toHaveLength(1);
    expect(await verifyChain(events)).toMatchObject({ ok: true });
  });

  it('denies store-unavailable, and never moves the relay, when neither the store nor the journal takes the record', async () => {
    const dataDir = await tempDir();
    const key = await siteKeyOf(dataDir);
    const controller = await startController(dataDir);
    // A journal that cannot be written: from now on its path is a directory.
    await mkdir(join(dataDir, 'audit-journal.test-site.ndjson'));
    const io = controller.doorIo('lab') as SimulatedDoorIo;
    const other = holdWriteLock(dataDir);
    const relayBefore = [...io.relayHistory];
    const decision = await scanAt(controller, 'lab-in', link(key, 12n));
    expect(decision).toMatchObject({ verdict: 'deny', reason: 'store-unavailable' });
    expect(io.relayHistory).toEqual(relayBefore);

    // Once the store is back, the record says both: the grant the door began, and its refusal voiding it.
    other.exec('ROLLBACK');
    await controller.stop();
    await rm(join(dataDir, 'audit-journal.test-site.ndjson'), { recursive: true });
    const events = await auditEvents(dataDir);
    const refusal = events.find((e) => e.seq === decision.auditSeq)!;
    expect(refusal).toMatchObject({ verdict: 'deny', reason: 'store-unavailable', subject: '12' });
    const voided = events.find((e) => e.seq === (refusal.data as { voids: number }).voids);
    expect(voided).toMatchObject({ verdict: 'grant', subject: '12' });
    expect(await verifyChain(events)).toMatchObject({ ok: true });
  });

  it('an operator unlock is recorded before the relay moves, and refused at a door in lockdown', async () => {
    const dataDir = await tempDir();
    const controller = await startController(dataDir);
    const io = controller.doorIo('front') as SimulatedDoorIo;
    await controller.doors.unlock('front', 1, 'alice');
    expect(io.relayHistory.at(-1)).toBe(true);
    await controller.doors.lockdown('front', true, 'alice');
    await expect(controller.doors.unlock('front', 1, 'alice')).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFLICT' });
    await controller.stop();
    const operator = (await auditEvents(dataDir)).filter((e) => e.type === 'operator');
    expect(operator.map((e) => e.reason)).toEqual(['door.unlock', 'lockdown.on']);
  });
});

describe('a decision still waiting when the controller stops', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it('is audited as denied stopped, and the door never opens', async () => {
    // A partner's webhook that takes its time (the delegation's hard timeout is longer than the test).
    server = createServer(() => {});
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/decide`;
    const dataDir = await tempDir();
    const controller = new Controller({
      config: testSite(dataDir, (input) => {
        input.delegation = { url, secret: 'a'.repeat(64), timeoutMs: 5000, scanners: ['store-in'] };
      }),
    });
    await controller.start();
    // The store door is fail-secure: its relay has no reason to unlock, even at stop.
    const io = controller.doorIo('store') as SimulatedDoorIo;
    const relayBefore = io.relayHistory.length;
    const decided = new Promise<Decision>((resolve) => controller.onDecision(resolve));
    (controller.scannerDriver('store-in') as SimulatedScanner).read('TICKET-0001');
    await new Promise((r) => setTimeout(r, 200));
    await controller.stop();
    expect(await decided).toMatchObject({ verdict: 'deny', reason: 'stopped', door: 'store' });
    expect(io.relayHistory.slice(relayBefore)).not.toContain(true);
    const events = await auditEvents(dataDir);
    expect(events.find((e) => e.type === 'decision')).toMatchObject({ verdict: 'deny', reason: 'stopped', kind: 'unknown', data: { length: 11 } });
    expect(events.at(-1)).toMatchObject({ type: 'system', reason: 'stopped' });
  });
});
