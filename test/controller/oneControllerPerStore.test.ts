/**
 * One controller per store. A second controller for the same site on the same SQLite file or
 * PostgreSQL database refuses to start with a clear error (it used to start, and the first one's
 * audit events silently stayed in memory and were lost at stop while `audit verify` said intact);
 * a controller killed with kill -9 never blocks the restart.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { verifyChain } from '../../controller/audit/auditChain.ts';
import { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { AuditEvent } from '../../controller/store/storeTypes.ts';
import { poolApplicationName } from '../../controller/store/postgresSessionNames.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll } from '../support/postgres.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSite, testSiteInput } from '../support/testSite.ts';

const running: Controller[] = [];
afterEach(async () => {
  for (const controller of running.splice(0).reverse()) await controller.stop();
});

async function chain(dataDir: string, databaseUrl?: string): Promise<AuditEvent[]> {
  const store = openStore({ dataDir, databaseUrl, readOnly: databaseUrl === undefined });
  await store.start();
  try {
    const events: AuditEvent[] = [];
    for await (const event of store.iterateAudit('test-site')) events.push(event);
    return events;
  } finally {
    await store.stop();
  }
}

async function started(dataDir: string, databaseUrl?: string): Promise<Controller> {
  const controller = new Controller({ config: testSite(dataDir), databaseUrl });
  await controller.start();
  running.push(controller);
  return controller;
}

describe('one controller per store: SQLite', () => {
  it('a second controller in the same process refuses to start; the first keeps deciding and loses nothing', async () => {
    const dataDir = await tempDir();
    const first = await started(dataDir);
    const second = new Controller({ config: testSite(dataDir) });
    await expect(second.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_STORE_IN_USE', message: expect.stringMatching(/another controller for site test-site/) });
    await first.doors.unlock('front', 1, 'alice');
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const events = await chain(dataDir);
    expect(events.filter((e) => e.type !== 'door').map((e) => `${e.type}:${e.reason}`)).toEqual(['system:started', 'operator:door.unlock', 'system:stopped']);
    expect(await verifyChain(events)).toMatchObject({ ok: true });
  });

  it('`postern start` in a second process exits non-zero with the reason; after kill -9 of the holder a new one starts', async () => {
    const dir = await tempDir();
    const site = join(dir, 'site.yaml');
    await writeFile(site, stringify({ ...testSiteInput('./data'), scanners: [] }));
    const holder = spawn(process.execPath, ['--import', 'tsx', 'controller/bin/postern.ts', 'start', '--config', site], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    holder.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    holder.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await expect.poll(() => output, { timeout: 30_000, interval: 100 }).toMatch(/Postern controller for "Test site"/);
      const refused = await runCli(['start', '--config', site]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/another controller for site test-site already runs/);
      expect(refused.stderr).toContain(String(holder.pid));
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    // The lock died with its process: the store opens for a new controller at once.
    const next = await started(join(dir, 'data'));
    expect(next.storeDialect).toBe('sqlite');
  });
});

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('one controller per store: PostgreSQL', pgUp), () => {
  it('a second controller on the same database refuses to start; the first keeps its chain', async () => {
    const db = await createTestDatabase();
    try {
      const first = await started(await tempDir(), db.url);
      const second = new Controller({ config: testSite(await tempDir()), databaseUrl: db.url });
      await expect(second.start()).rejects.toMatchObject({ code: 'POSTERN_ERR_STORE_IN_USE' });
      await first.doors.unlock('front', 1, 'alice');
      await first.stop();
      running.splice(running.indexOf(first), 1);
      const events = await chain(await tempDir(), db.url);
      expect(events.filter((e) => e.type !== 'door').map((e) => `${e.type}:${e.reason}`)).toEqual(['system:started', 'operator:door.unlock', 'system:stopped']);
      expect(await verifyChain(events)).toMatchObject({ ok: true });
    } finally {
      await db.drop();
    }
  });

  it('ends the sessions of the controller that held the site before: its write still in flight cannot land after the new start', async () => {
    const db = await createTestDatabase();
    const zombie = new pg.Client({ connectionString: db.url, application_name: poolApplicationName('4242@gone-host') });
    zombie.on('error', () => undefined);
    try {
      // A controller ran (the schema, a chain); then another process, now dead, held the claim.
      const dataDir = await tempDir();
      const earlier = await started(dataDir, db.url);
      await earlier.stop();
      running.splice(running.indexOf(earlier), 1);
      const head = (await chain(dataDir, db.url)).at(-1)!;
      await zombie.connect();
      await zombie.query("UPDATE settings SET value = '4242@gone-host' WHERE key = 'controller.holder.test-site'");
      // Its last write, stalled in the network: begun, its event in, the commit not yet arrived.
      await zombie.query('BEGIN');
      await zombie.query(
        `INSERT INTO audit_events (controller_id, seq, at, type, door, scanner, subject, kind, issuer, verdict, reason, actor, data, prev_hash, hash)
         VALUES ('test-site', $1, $2, 'decision', 'front', 'front-in', '99', 'link', 0, 'grant', NULL, NULL, NULL, $3, $4)`,
        [head.seq + 1, Date.now(), head.hash, 'f'.repeat(64)],
      );

      const next = await started(dataDir, db.url);
      // The new controller ended that session at its claim: the commit, delivered late, finds no session.
      await expect(zombie.query('COMMIT')).rejects.toThrow();
      await next.doors.unlock('front', 1, 'alice');
      await next.stop();
      running.splice(running.indexOf(next), 1);
      const events = await chain(dataDir, db.url);
      expect(events.find((e) => e.seq === head.seq + 1)).toMatchObject({ type: 'system', reason: 'started' });
      expect(events.some((e) => e.subject === '99')).toBe(false);
      expect(await verifyChain(events)).toMatchObject({ ok: true });
    } finally {
      await zombie.end().catch(() => undefined);
      await db.drop();
    }
  });
});
