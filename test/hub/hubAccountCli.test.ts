/**
 * `postern hub account add|list|revoke` on a throwaway hub database: the token is printed once and
 * works at a hub's API, list never shows a token, revoke ends it, and each change is in hub_actions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAccounts } from '../../controller/hub/hubAccounts.ts';
import { HubActions } from '../../controller/hub/hubActions.ts';
import { openHubDatabase, type HubDb } from '../../controller/hub/hubDatabase.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { runMain } from '../support/runCli.ts';
import { HubApiClient } from './hubApiClient.ts';
import { startHub } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('postern hub account', pgUp), () => {
  let db: TestDatabase;
  let hubDb: HubDb;
  let hub: Hub;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    hubDb = await openHubDatabase(db.url);
  });
  afterAll(async () => {
    await hub?.stop();
    await hubDb?.destroy();
    await db?.drop();
  });

  it('add prints the token once, list shows no token, revoke ends it', async () => {
    const env = { DATABASE_URL: db.url };
    const added = await runMain(['hub', 'account', 'add', 'ada', '--role', 'admin'], env);
    expect(added.code).toBe(0);
    const token = /^(ph_\S+)$/m.exec(added.stdout)![1]!;
    expect(added.stdout).toMatch(/^Account ada \(admin\) added/);
    const client = await HubApiClient.connect(hub, token);
    expect(await client.call('session.whoami')).toEqual({ account: { name: 'ada', role: 'admin' } });
    client.close();
    // Only its hash is kept.
    const row = await hubDb.selectFrom('hub_accounts').selectAll().where('name', '=', 'ada').executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token);

    expect((await runMain(['hub', 'account', 'add', 'ada', '--role', 'viewer'], env)).stderr).toMatch(/exists already/);
    const badRole = await runMain(['hub', 'account', 'add', 'bob', '--role', 'root'], env);
    expect(badRole.code).not.toBe(0);
    const noRole = await runMain(['hub', 'account', 'add', 'bob'], env);
    expect(noRole.code).not.toBe(0);
    expect(noRole.stderr).toMatch(/--role/);
    expect((await runMain(['hub', 'account', 'add', 'vera', '--role', 'viewer', '--database-url', db.url], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' })).code).toBe(0);

    const listed = await runMain(['hub', 'account', 'list'], env);
    expect(listed.stdout).toMatch(/ada\s+admin\s+.*active/);
    expect(listed.stdout).toMatch(/vera\s+viewer\s+.*active/);
    expect(listed.stdout).not.toContain('ph_');
    const json = JSON.parse((await runMain(['hub', 'account', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
    expect(json.map((a) => [a.name, a.role, a.revokedAt])).toEqual([
      ['ada', 'admin', null],
      ['vera', 'viewer', null],
    ]);

    expect((await runMain(['hub', 'account', 'revoke', 'ada'], env)).stdout).toMatch(/^Account ada revoked/);
    expect((await runMain(['hub', 'account', 'revoke', 'ada'], env)).stdout).toMatch(/revoked already/);
    expect((await runMain(['hub', 'account', 'revoke', 'nobody'], env)).code).toBe(1);
    expect(await new HubAccounts(hubDb).authenticate(token)).toBeUndefined();
    expect(await HubApiClient.status(hub, { authorization: `Bearer ${token}` })).toBe(401);
    expect((await runMain(['hub', 'account', 'list'], env)).stdout).toMatch(/ada\s+admin\s+.*revoked/);

    const actions = await new HubActions(hubDb).list({ limit: 10 });
    expect(actions.map((a) => `${a.actor} ${a.action} ${String(a.detail?.name)}`)).toEqual(['cli accounts.revoke ada', 'cli accounts.add vera', 'cli accounts.add ada']);
  });
});
