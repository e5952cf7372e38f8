/**
 * PostgreSQL stores are backed up with pg_dump and restored with pg_restore, as docs/backup.md
 * says: a dump taken while the controller runs, restored into an empty database, verifies (every
 * audit chain), opens with `create: false` (it is a store, not an empty database), decides every
 * code as the original did through a real Controller, and goes on issuing past the door-set ids
 * the original may have given out after the dump.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { pgDumpCommand } from '../../controller/backup/backupStore.ts';
import { POSTGRES_SKIP_DOOR_SET_IDS_SQL, RESTORE_DOOR_SET_GAP, pgRestoreCommand } from '../../controller/backup/restoreStore.ts';
import { verifyChain } from '../../controller/audit/auditChain.ts';
import type { Controller } from '../../controller/controller.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir } from '../support/testSite.ts';
import { populate, scanAll, scenarioController, scenarioScans } from './siteScenario.ts';

const run = promisify(execFile);

async function tool(name: string): Promise<boolean> {
  try {
    await run(name, ['--version']);
    return true;
  } catch {
    return false;
  }
}

const pgUp = await postgresAvailable();
const tools = (await tool('pg_dump')) && (await tool('pg_restore')) && (await tool('psql'));
const name = !tools ? 'pg_dump and pg_restore (skipped: pg_dump, pg_restore or psql not found; they come with the PostgreSQL client)' : postgresSuiteName('pg_dump and pg_restore', pgUp);

describe.skipIf((!pgUp || !tools) && !requireAll)(name, () => {
  let source: TestDatabase;
  let target: TestDatabase;
  const running: Controller[] = [];
  beforeAll(async () => {
    source = await createTestDatabase();
    target = await createTestDatabase();
  });
  afterEach(async () => {
    for (const c of running.splice(0)) await c.stop();
  });
  afterAll(async () => {
    await source?.drop();
    await target?.drop();
  });

  it('the commands in docs/backup.md are the ones tested here', () => {
    expect(pgDumpCommand('postern.dump')).toBe('pg_dump -Fc -f "postern.dump" "$DATABASE_URL"');
    expect(pgRestoreCommand('postern.dump')).toBe('pg_restore --no-owner --single-transaction --exit-on-error -d "$DATABASE_URL" "postern.dump"');
  });

  it('a dump taken while the controller runs, restored into an empty database, verifies and decides every code the same way', async () => {
    const a = scenarioController(await tempDir('postern-pgdump-a-'), source.url);
    await a.controller.start();
    running.push(a.controller);
    const data = await populate(a.controller, a.terminal);

    // pg_dump reads one snapshot: the controller keeps running and writing meanwhile.
    const dump = path.join(await tempDir('postern-pgdump-file-'), 'postern.dump');
    await run('pg_dump', ['-Fc', '-f', dump, source.url]);
    const scans = scenarioScans(data);
    const before = await scanAll(a.controller, a.terminal, scans);
    await a.controller.stop();
    running.splice(0);

    await run('pg_restore', ['--no-owner', '--single-transaction', '--exit-on-error', '-d', target.url, dump]);
    await run('psql', [target.url, '-v', 'ON_ERROR_STOP=1', '-c', POSTGRES_SKIP_DOOR_SET_IDS_SQL]);
    const dataDir = await tempDir('postern-pgdump-b-');
    const store = openStore({ databaseUrl: target.url, dataDir, create: false });
    await store.start();
    try {
      expect(store.created).toBe(false);
      const controllers = await store.auditControllers();
      expect(controllers).toEqual(['test-site']);
      for (const controllerId of controllers) expect((await verifyChain(store.iterateAudit(controllerId))).problems).toEqual([]);
    } finally {
      await store.stop();
    }

    const b = scenarioController(dataDir, target.url);
    await b.controller.start();
    running.push(b.controller);
    const after = await scanAll(b.controller, b.terminal, scans);
    expect(after).toEqual(before);
    expect(new Set(before.map((v) => v.reason ?? v.verdict))).toEqual(
      new Set(['grant', 'out-of-scope', 'lockdown', 'expired', 'revoked', 'used-up', 'replayed', 'bad-mac', 'unknown-issuer', 'unknown-format']),
    );
    // Issuing goes on past the ids the original may have given out after the dump.
    const scopes = (await b.controller.issuing.listLinks({ includeRevoked: true })).map((l) => l.scope);
    const { link } = await b.controller.issuing.createLink({ name: 'After the restore', doors: ['front', 'store'] }, 'test');
    expect(link.scope).toBeGreaterThan(Math.max(...scopes) + RESTORE_DOOR_SET_GAP);
  });
});
