/**
 * The sync link against a hub in this file (fakeHub.ts) over a real WebSocket, with a real SQLite
 * store and audit trail: what goes on the wire (hello, audit batches), what lands in the store
 * (revocations, the cursor, their audit events), and how it resumes after a dropped link.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { GENESIS_HASH, hashEvent } from '../../controller/audit/auditChain.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { CURSOR_SETTING, HUB_REVOKE, HUB_SNAPSHOT } from '../../controller/sync/applyChanges.ts';
import { SyncLink } from '../../controller/sync/syncLink.ts';
import { tempDir } from '../support/testSite.ts';
import { FakeHub, until } from './fakeHub.ts';

const CREDENTIAL = 'pstc_0123456789abcdef0123456789abcdef';
/** Short timing so that a dropped link comes back within a test. */
const FAST = { backoffBaseMs: 50, backoffMaxMs: 100, heartbeatMs: 200, silenceMs: 2000, random: () => 1 };

interface Rig {
  hub: FakeHub;
  store: Store;
  audit: AuditTrail;
  link: SyncLink;
  logs: () => string;
  credentialFile: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig(options: { seed?: (store: Store, audit: AuditTrail) => Promise<void>; hub?: FakeHub; credential?: string } = {}): Promise<Rig> {
  const dir = await tempDir('postern-sync-');
  const hub = options.hub ?? (await new FakeHub({ credential: CREDENTIAL }).start());
  if (!options.hub) cleanups.push(() => hub.stop());
  const store = openStore({ dataDir: dir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'test-site' });
  await audit.start();
  cleanups.push(async () => {
    await audit.stop();
    await store.stop();
  });
  await options.seed?.(store, audit);
  const credentialFile = path.join(dir, 'hub-credential.test-site');
  await writeFile(credentialFile, `${options.credential ?? CREDENTIAL}\n`);
  const output = new PassThrough();
  let logs = '';
  output.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  const link = new SyncLink({ hub: { url: hub.url }, credentialFile, store, audit, logger: createLogger('trace', output), timing: FAST });
  cleanups.push(() => link.stop());
  return { hub, store, audit, link, logs: () => logs, credentialFile };
}

describe('sync link', () => {
  it('says hello with the stored cursor, its chain and its newest event, the credential only in the Authorization header', async () => {
    const { hub, link, audit } = await rig({
      seed: async (store) => {
        await store.putSetting(CURSOR_SETTING, '7');
      },
    });
    const newest = await audit.append({ type: 'system', actor: 'system', reason: 'before the link' });
    await link.start();
    const hello = await until(() => hub.hellos[0], 5000, 'hello');
    expect(hello).toMatchObject({ type: 'hello', cursor: 7, chain: 'test-site', head: { seq: newest.seq, hash: newest.hash } });
    expect(Math.abs(hello.time - Date.now())).toBeLessThan(5000);
    expect(hub.connections[0]!.headers.authorization).toBe(`Bearer ${CREDENTIAL}`);
    // Nowhere else: not in the URL, not in a frame.
    expect(JSON.stringify(hub.connections[0]!.frames)).not.toContain(CREDENTIAL);
  });

  it('applies a snapshot to the store: every revocation, one audit event by `hub` for the whole snapshot, the cursor; then live', async () => {
    const hub = await new FakeHub({ credential: CREDENTIAL }).start();
    cleanups.push(() => hub.stop());
    hub.revoke(0, '42', 'lost phone');
    hub.revoke(5, '18446744073709551615', null);
    hub.revoke(0, '43', 'left');
    const { store, link } = await rig({
      hub,
      seed: async (store) => {
        // Revoked here already: applying the snapshot must not fail on it.
        await store.revoke(0, '43', 'local');
      },
    });
    await link.start();
    await until(() => link.status()?.state === 'live', 5000, 'live');
    expect(hub.connections[0]!.frames[0]).toMatchObject({ type: 'hello', cursor: 0 });
    expect(await store.isRevoked(0, '42')).toBe(true);
    expect(await store.isRevoked(5, '18446744073709551615')).toBe(true);
    expect(await store.getSetting(CURSOR_SETTING)).toBe('3');
    expect(link.status()).toMatchObject({ state: 'live', cursor: 3, lag: 0, lastError: null });
    const events = await store.queryAudit({ controllerId: 'test-site' });
    // A snapshot is one event with its counts, not one a subject (a snapshot may hold a million).
    expect(events.filter((e) => e.reason === HUB_REVOKE)).toEqual([]);
    const snapshots = events.filter((e) => e.reason === HUB_SNAPSHOT);
    expect(snapshots.map((e) => [e.type, e.actor, e.data])).toEqual([['system', 'hub', { cursor: 3, revocations: 3, revoked: 2 }]]);
  });

  it('applies changes pushed while live, in order, and persists each cursor', async () => {
    const { hub, store, link } = await rig();
    await link.start();
    await until(() => link.status()?.state === 'live', 5000, 'live');
    hub.revoke(0, '100');
    hub.revoke(0, '101', 'second');
    await until(async () => (await store.getSetting(CURSOR_SETTING)) === '2', 5000, 'cursor 2');
    // The machine hears the change applied just after the cursor is stored: wait for it too.
    await until(() => link.status()?.cursor === 2, 5000, 'the link at cursor 2');
    expect(await store.isRevoked(0, '100')).toBe(true);
    expect(await store.isRevoked(0, '101')).toBe(true);
    expect(link.status()).toMatchObject({ state: 'live', cursor: 2, lag: 0 });
    expect(hub.connections).toHaveLength(1);
    const subjects = (await store.queryAudit({ controllerId: 'test-site' })).filter((e) => e.reason === HUB_REVOKE).map((e) => e.subject);
    expect(subjects).toEqual(['100', '101']);
  });

  it('applies nothing after a change it cannot take: the link ends there and the cursor stays before it', async () => {
    const { hub, store, link } = await rig();
    await link.start();
    await until(() => link.status()?.state === 'live', 5000, 'live');
    hub.revoke(0, '100');
    // Not a subject of Postern's codes (the real hub refuses it too), then a good one after it.
    hub.revoke(0, 'badge-7');
    hub.revoke(0, '101');
    await until(() => link.status()?.lastError?.includes('does not fit'), 5000, 'the refusal');
    expect(link.status()!.lastError).toMatch(/^the hub sent a frame of type changes that does not fit the protocol/);
    // Every later link stops at the same change: the cursor never passes it, and 101 is not applied out of order.
    await until(() => hub.connections.length >= 3, 5000, 'reconnections');
    expect(await store.getSetting(CURSOR_SETTING)).toBe('1');
    expect(await store.isRevoked(0, '101')).toBe(false);
    expect(link.status()!.state).not.toBe('live');
  });

  it('uploads the audit trail in batches of at most 500, each acknowledged, and resumes after a drop from what the hub holds', async () => {
    const { hub, audit, link, store } = await rig({
      seed: async (_store, audit) => {
        for (let i = 0; i < 1203; i += 1) void audit.append({ type: 'system', reason: 'test', actor: 'system', data: { i } });
        await audit.flush();
      },
    });
    // The hub stores the first batch and the link drops there (its ack may be lost with it): the
    // next link must go on from what the hub says it holds (welcome.auditAcked 500).
    let dropped = false;
    hub.onAudit = (ws) => {
      if (!dropped) {
        dropped = true;
        ws.terminate();
      }
    };
    await link.start();
    await until(() => hub.held.length === 1203, 10_000, 'every event at the hub');
    expect(hub.connections.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...hub.batches)).toBeLessThanOrEqual(500);
    expect(hub.batches[0]).toBe(500);
    // The second link's first batch continues after the hub's auditAcked (500): nothing sent twice.
    const second = hub.connections[1]!.frames.find((f) => f.type === 'audit');
    expect(second.events[0].seq).toBe(501);
    expect(hub.batches.reduce((a, b) => a + b, 0)).toBe(1203);
    expect(hub.held.map((e) => e.seq)).toEqual(Array.from({ length: 1203 }, (_, i) => i + 1));
    // What the hub holds is the chain itself, every hash as the controller made it.
    let prev = GENESIS_HASH;
    for (const event of hub.held) {
      expect(event.prevHash).toBe(prev);
      expect(hashEvent(prev, event)).toBe(event.hash);
      prev = event.hash;
    }
    await until(() => link.status()?.outboxDepth === 0, 5000, 'outbox empty');

    // An event appended now goes up on its own (OUTBOX.HEAD), though not yet in the store at append time.
    await audit.append({ type: 'system', reason: 'later', actor: 'system' });
    await until(() => hub.held.length === 1204, 5000, 'the new event at the hub');
    expect(hub.held.at(-1)!.reason).toBe('later');
    expect((await store.lastAudit('test-site'))!.seq).toBe(1204);
  });

  it('is refused with a wrong credential: the error says 401, the link backs off, the credential is in no log', async () => {
    const { hub, link, logs } = await rig({ credential: 'pstc_wrong_credential_value_0000000000' });
    await link.start();
    await until(() => link.status()?.lastError?.includes('401'), 5000, 'the refusal');
    expect(hub.refused).toBeGreaterThan(0);
    expect(['backoff', 'connecting']).toContain(link.status()!.state);
    expect(link.status()!.lastError).toBe('the hub refused the credential (401): enrol again');
    expect(logs()).not.toContain('pstc_wrong_credential_value');
  });

  it('never logs the credential while working, at trace level', async () => {
    const { hub, link, logs } = await rig();
    hub.revoke(0, '9');
    await link.start();
    await until(() => link.status()?.state === 'live', 5000, 'live');
    hub.dropAll();
    await until(() => hub.connections.length >= 2 && link.status()?.state === 'live', 5000, 'live again');
    expect(logs()).toContain('hub link state');
    expect(logs()).not.toContain(CREDENTIAL);
  });

  it('refuses to start without its credential file, naming the file and not the credential', async () => {
    const { link, credentialFile } = await rig();
    await import('node:fs/promises').then((fs) => fs.rm(credentialFile));
    await expect(link.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_CONFIG_UNREADABLE', message: expect.stringContaining(credentialFile) });
    expect(link.status()).toBeUndefined();
  });
});
