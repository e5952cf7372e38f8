/**
 * One controller per store: claimController() holds the store for a site until stop(); a second
 * claim for that site fails with STORE_IN_USE from another Store object, another process, or
 * another PostgreSQL session, and a holder killed with kill -9 never blocks the next claim. Stores
 * that do not claim (the CLI) keep working beside the holder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { describePostgresUrl, openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';

const SCRIPT = fileURLToPath(new URL('./claimProcess.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Outcome {
  claimed: boolean;
  pid: number;
  code?: string;
  message?: string;
}

const children: ChildProcess[] = [];

/** Runs claimProcess.ts; resolves with its first line (the outcome) and the child. */
function runClaimProcess(mode: 'hold' | 'try', dataDir: string, siteId: string, databaseUrl?: string): Promise<{ outcome: Outcome; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, mode, dataDir, siteId, ...(databaseUrl ? [databaseUrl] : [])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ outcome: JSON.parse(line) as Outcome, child }));
    // 'close', not 'exit': a child that prints its line and exits at once may be seen to exit
    // before its output is read; 'close' comes after the last of it.
    child.once('close', (code) => reject(new Error(`claimProcess ${mode} exited (${code}) before answering: ${stderr}`)));
  });
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function claimError(store: Store, siteId: string): Promise<PosternError> {
  const error = await store.claimController(siteId).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the claim should have failed').toBeInstanceOf(PosternError);
  return error as PosternError;
}

/** Claims, trying again for a while: a PostgreSQL server notices a killed client's socket a moment later. */
async function claimSoon(store: Store, siteId: string, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    try {
      await store.claimController(siteId);
      return;
    } catch (error) {
      if ((error as PosternError).code !== ErrorCodes.STORE_IN_USE || Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

interface Target {
  /** Opens a Store on the shared database (not started). */
  open(): Store;
  dataDir: string;
  databaseUrl?: string;
  /** What a refusal must name. */
  where: string;
}

function claimSuite(getTarget: () => Target): void {
  const open: Store[] = [];
  async function started(): Promise<Store> {
    const store = getTarget().open();
    open.push(store);
    await store.start();
    return store;
  }

  afterEach(async () => {
    for (const child of children.splice(0)) await killHard(child);
    for (const store of open.splice(0)) await store.stop();
  });

  it('refuses a second claim for the same site from another store object, until the first stops', async () => {
    const first = await started();
    const second = await started();
    await first.claimController('site-a');
    await first.claimController('site-a'); // again: a no-op

    const refused = await claimError(second, 'site-a');
    expect(refused.code).toBe(ErrorCodes.STORE_IN_USE);
    expect(refused.message).toContain('another controller for site site-a already runs on this store');
    expect(refused.message).toContain(getTarget().where);
    expect(refused.message).toContain(String(process.pid));

    // Another site on the same store is another controller's business.
    await second.claimController('site-b');
    expect((await claimError(first, 'site-c')).code).toBe(ErrorCodes.CONFLICT);

    await first.stop();
    const third = await started();
    await third.claimController('site-a');
    await third.releaseController();
    await second.releaseController();
    await second.claimController('site-a');
  });

  it('lets stores that do not claim (the CLI) read and write beside the holder', async () => {
    const controller = await started();
    await controller.claimController('site-a');
    const cli = await started();
    await cli.createLink({ id: '5', name: 'visitor', email: null, scope: 1, notBefore: 0, notAfter: 0xffffffff, onlineOnly: false, maxUses: null, createdBy: 'cli' });
    expect((await controller.getLink('5'))?.name).toBe('visitor');
    await cli.stop();
    expect(await controller.revoke(0, '5', null)).toBe(true);
  });

  it('refuses a claim before start', async () => {
    const store = getTarget().open();
    expect((await claimError(store, 'site-a')).code).toBe(ErrorCodes.STORE_UNAVAILABLE);
  });

  it('refuses a second process, names it, and frees the store when it is killed with kill -9', async () => {
    const { dataDir, databaseUrl, where } = getTarget();
    await (await started()).stop(); // migrated before the child opens it
    const { outcome, child } = await runClaimProcess('hold', dataDir, 'site-a', databaseUrl);
    expect(outcome.claimed).toBe(true);

    const store = await started();
    const refused = await claimError(store, 'site-a');
    expect(refused.code).toBe(ErrorCodes.STORE_IN_USE);
    expect(refused.message).toContain(where);
    expect(refused.message).toContain(`process ${outcome.pid} on ${hostname()}`);

    await killHard(child);
    await claimSoon(store, 'site-a', 5000);

    // And the other way round: this process holds, a second one is refused.
    const { outcome: tried } = await runClaimProcess('try', dataDir, 'site-a', databaseUrl);
    expect(tried).toMatchObject({ claimed: false, code: ErrorCodes.STORE_IN_USE });
    expect(tried.message).toContain(`process ${process.pid} on ${hostname()}`);
  });
}

describe('controller claim on SQLite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'postern-claim-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  claimSuite(() => ({ open: () => openStore({ dataDir: dir, quickCheck: false }), dataDir: dir, where: join(dir, 'postern.sqlite') }));

  it('refuses a claim on a store opened read-only', async () => {
    const store = openStore({ dataDir: dir, readOnly: true });
    await store.start();
    try {
      expect((await claimError(store, 'site-a')).code).toBe(ErrorCodes.STORE_READ_ONLY);
    } finally {
      await store.stop();
    }
  });
});

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('controller claim on PostgreSQL', pgUp), () => {
  let database: TestDatabase | undefined;
  let dir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'postern-claim-pg-'));
  });
  afterAll(async () => {
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });
  claimSuite(() => {
    const url = database?.url ?? '';
    return { open: () => openStore({ databaseUrl: url, dataDir: dir }), dataDir: dir, databaseUrl: url, where: describePostgresUrl(url).location };
  });
});
