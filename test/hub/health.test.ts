/**
 * `GET /health` for a load balancer: 200 while the hub's database answers and its change feed
 * listens, 503 (naming which) while its database is cut off, 200 again once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Hub } from '../../controller/hub/hubServer.ts';
import { adminUrl, createTestDatabase, databaseUrlThrough, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { until } from '../sync/fakeHub.ts';
import { startHubProxy, type HubProxy } from '../sync/hubProxy.ts';
import { hubUrl, startHub } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub health', pgUp), () => {
  let db: TestDatabase;
  let proxy: HubProxy;
  let hub: Hub;

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = await startHubProxy(Number(new URL(adminUrl).port || 5432));
    hub = await startHub(databaseUrlThrough(db.url, proxy.port));
  });
  afterAll(async () => {
    await hub?.stop();
    await proxy?.close();
    await db?.drop();
  });

  async function health(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${hubUrl(hub)}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('is 200 when the database answers and the feed listens, 503 while the database is cut off, 200 once it is back', async () => {
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', database: 'ok', changeFeed: 'listening' } });

    proxy.cut();
    const down = await until(async () => {
      const answer = await health();
      return answer.status === 503 && answer.body.changeFeed === 'reconnecting' ? answer : undefined;
    }, 10_000, '503 with the database cut off');
    expect(down!.body).toEqual({ status: 'unavailable', database: 'unreachable', changeFeed: 'reconnecting' });

    proxy.restore();
    await until(async () => (await health()).status === 200, 20_000, '200 again');
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', database: 'ok', changeFeed: 'listening' } });
  });

  it('answers GET only', async () => {
    const res = await fetch(`${hubUrl(hub)}/health`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});
