/**
 * SQLite writes leave the event loop: they run in the writer thread, durable (synchronous = FULL)
 * when they resolve, grouped when they queue up; a lock held by another process costs the writes a
 * busy timeout and a clear STORE_UNAVAILABLE, never the event loop; a dead writer thread is
 * reported and replaced.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { sqliteBackend } from '../../controller/store/openStore.ts';
import type { SqliteBackend } from '../../controller/store/sqliteBackend.ts';
import { KyselyStore } from '../../controller/store/store.ts';
import type { AuditEvent, StoreProblem } from '../../controller/store/storeTypes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
let n = 0;
const stores: KyselyStore[] = [];
const holders: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'postern-writer-'));
});
afterEach(async () => {
  for (const holder of holders.splice(0)) holder.kill('SIGKILL');
  for (const store of stores.splice(0)) await store.stop();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function started(options: { busyTimeoutMs?: number } = {}): Promise<{ store: KyselyStore; backend: SqliteBackend; file: string }> {
  const fileName = `w${++n}.sqlite`;
  const backend = sqliteBackend({ dataDir: dir, fileName, quickCheck: false, ...options });
  const store = new KyselyStore({ backend });
  stores.push(store);
  await store.start();
  return { store, backend, file: join(dir, fileName) };
}

function event(seq: number, controllerId = 'c'): AuditEvent {
  return {
    controllerId,
    seq,
    at: 1_767_225_600_000 + seq,
    type: 'decision',
    door: 'front',
    scanner: 'front-in',
    subject: '42',
    kind: 'link',
    issuer: 0,
    verdict: 'grant',
    reason: null,
    actor: null,
    data: null,
    prevHash: '0'.repeat(64),
    hash: String(seq).padStart(64, '0'),
  };
}

/** Another process holding SQLite's write lock on the file (BEGIN IMMEDIATE), as `sqlite3` would. */
async function holdWriteLock(file: string): Promise<ChildProcess> {
  const source = `const D = require('better-sqlite3'); const d = new D(process.argv[1]); d.exec('BEGIN IMMEDIATE'); console.log('locked'); setInterval(() => {}, 60000);`;
  const child = spawn(process.execPath, ['-e', source, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  holders.push(child);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code})`)));
  });
  return child;
}

/** The longest gap between timer ticks while `work` runs: how long the event loop was blocked. */
async function longestStall<T>(work: () => Promise<T>): Promise<{ stallMs: number; result: PromiseSettledResult<T> }> {
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stallMs = Math.max(stallMs, now - last);
    last = now;
  }, 5);
  const [result] = await Promise.allSettled([work()]);
  clearInterval(timer);
  return { stallMs, result: result as PromiseSettledResult<T> };
}

describe('SQLite writer thread', () => {
  it('a write waiting for another process lock fails with STORE_UNAVAILABLE (busy), while the event loop and reads go on', async () => {
    const { store, file } = await started({ busyTimeoutMs: 1500 });
    await store.setSettingIfAbsent('before', 'x');
    const holder = await holdWriteLock(file);

    const startedAt = Date.now();
    const write = store.setSettingIfAbsent('during', 'y');
    // Reads are not behind the lock: WAL readers do not wait for writers.
    const readAt = performance.now();
    expect(await store.getSetting('before')).toBe('x');
    expect(performance.now() - readAt).toBeLessThan(200);

    const { stallMs, result } = await longestStall(() => write);
    expect(result.status).toBe('rejected');
    const error = (result as PromiseRejectedResult).reason as PosternError;
    expect(error).toBeInstanceOf(PosternError);
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/busy.*setSettingIfAbsent waited for 1500 ms/);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1400);
    // Synchronous better-sqlite3 on the main thread stalled it for the whole busy timeout.
    expect(stallMs).toBeLessThan(500);

    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(await store.setSettingIfAbsent('during', 'z')).toBe('z');
  });

  it('commits with synchronous = FULL in WAL mode', async () => {
    const { backend } = await started();
    const writer = backend.writer!;
    expect((await writer.execute('PRAGMA synchronous', [])).rows).toEqual([{ synchronous: 2 }]);
    expect((await writer.execute('PRAGMA journal_mode', [])).rows).toEqual([{ journal_mode: 'wal' }]);
  });

  it('groups appendAudit calls that queue up into few commits', async () => {
    const { store, backend } = await started();
    const before = { ...backend.writer!.stats };
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.appendAudit([event(i + 1)])));
    const stats = backend.writer!.stats;
    expect(stats.statements - before.statements).toBe(200);
    expect(stats.batches - before.batches).toBeLessThan(20);
    expect((await store.lastAudit('c'))?.seq).toBe(200);
    expect(await store.queryAudit({ controllerId: 'c', limit: 1000 })).toHaveLength(200);
  });

  it('fails only the statement that fails in a group', async () => {
    const { store, backend } = await started();
    await store.appendAudit([event(1)]);
    const before = backend.writer!.stats.batches;
    const results = await Promise.allSettled([
      store.appendAudit([event(2)]),
      store.appendAudit([event(3)]),
      store.appendAudit([event(1)]), // exists already
      store.appendAudit([event(4)]),
      store.revoke(0, '9', null),
      store.revoke(0, '9', null),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(((results[2] as PromiseRejectedResult).reason as PosternError).code).toBe(ErrorCodes.CONFLICT);
    expect(results.slice(4).map((r) => (r as PromiseFulfilledResult<boolean>).value)).toEqual([true, false]);
    expect(backend.writer!.stats.batches - before).toBeLessThan(6);
    expect((await store.queryAudit({ controllerId: 'c' })).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('reads run on the main connection, not in the writer thread', async () => {
    const { store, backend } = await started();
    await store.createLink({ id: '1', name: 'a', email: null, scope: 1, notBefore: 0, notAfter: 0xffffffff, onlineOnly: false, maxUses: null, createdBy: null });
    const before = { ...backend.writer!.stats };
    for (let i = 0; i < 20; i++) {
      await store.getLink('1');
      await store.isRevoked(0, '1');
      await store.getCredentialKey('1');
    }
    expect(backend.writer!.stats).toEqual(before);
  });

  it('a transaction reads its own writes in the thread, and writes that arrive meanwhile wait for it', async () => {
    const { store } = await started();
    await store.createLink({ id: '7', name: 'a', email: null, scope: 1, notBefore: 0, notAfter: 0xffffffff, onlineOnly: true, maxUses: 1, createdBy: null });
    const [revoked, used, again] = await Promise.all([store.revoke(0, '7', 'gone'), store.useOnlineLink('7'), store.revoke(0, '7', 'twice')]);
    expect(revoked).toBe(true);
    expect(used).toBe('revoked');
    expect(again).toBe(false);
  });

  it('reports a writer thread that dies, fails what it held, and starts a new one for the next write', async () => {
    const { store, backend } = await started();
    const problems: StoreProblem[] = [];
    store.onProblem((problem) => problems.push(problem));
    await store.setSettingIfAbsent('a', '1');

    const racing = store.setSettingIfAbsent('b', '2');
    await backend.writer!.kill();
    const outcome = await racing.then(
      (value) => value,
      (error: PosternError) => error.code,
    );
    // Either it ran before the thread died, or it fails as unavailable: it never hangs.
    expect(['2', ErrorCodes.STORE_UNAVAILABLE]).toContain(outcome);
    expect(problems.map((p) => [p.kind, p.error.code])).toEqual([['writer-exited', ErrorCodes.STORE_UNAVAILABLE]]);
    expect(problems[0]?.error.message).toContain('writer thread');

    expect(await store.setSettingIfAbsent('c', '3')).toBe('3');
    expect(await store.getSetting('a')).toBe('1');
    expect(backend.writer!.stats.threads).toBe(2);
  });

  it('a thread that dies inside a transaction fails it, and its locks and changes go with it', async () => {
    const { store, backend } = await started({ busyTimeoutMs: 2000 });
    const writer = backend.writer!;
    const transaction = await writer.begin();
    await transaction.execute(`INSERT INTO settings (key, value) VALUES ('uncommitted', 'x')`, []);
    const waiting = store.setSettingIfAbsent('after', 'y'); // queued behind the transaction
    await writer.kill();
    const error = (await transaction.execute('SELECT 1', []).catch((e: unknown) => e)) as PosternError;
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    const startedAt = Date.now();
    expect(await waiting).toBe('y'); // on a new thread, not waiting for a lock the dead one held
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect(await store.getSetting('uncommitted')).toBeUndefined();
  });

  it('stop() lets queued writes finish first', async () => {
    const { store } = await started();
    const writes = Array.from({ length: 50 }, (_, i) => store.appendAudit([event(i + 1, 'stop')]));
    await store.stop();
    await Promise.all(writes);
    const again = new KyselyStore({ backend: sqliteBackend({ dataDir: dir, fileName: `w${n}.sqlite`, quickCheck: false }) });
    stores.push(again);
    await again.start();
    expect((await again.lastAudit('stop'))?.seq).toBe(50);
  });
});
