/**
 * The hello's `head`: the hub compares the newest event a controller says it holds with the chain
 * it holds, so a trail cut short at the site (events deleted, an old backup restored) or rewritten
 * is flagged when the controller connects, before it uploads anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { chainEvents, enrolledController, startHub, TestLink, type Frame } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub audit tip at hello', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('north');
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  async function problemOf(controllerId: string) {
    const controller = (await admin.status('north')).flatMap((s) => s.controllers).find((c) => c.controllerId === controllerId)!;
    return { problem: controller.problem, problemSeq: controller.problemSeq, auditSeq: controller.auditSeq };
  }

  /** A controller whose first 10 events the hub holds. */
  async function controllerWithTen(chain: string) {
    const { controllerId, credential } = await enrolledController(admin, hub, 'north');
    const events = chainEvents(chain, 1, 10);
    const link = await TestLink.open(hub, credential);
    await link.hello(0, chain);
    link.send({ type: 'audit', events });
    await link.next('auditAck');
    link.close();
    return { controllerId, credential, events };
  }

  async function helloWith(credential: string, chain: string, head: { seq: number; hash: string }): Promise<Frame[]> {
    const link = await TestLink.open(hub, credential);
    link.send({ type: 'hello', cursor: 0, chain, time: Date.now(), head });
    await link.next('synced');
    const frames = [...link.frames];
    link.close();
    return frames;
  }

  it('accepts a controller that holds the hub head or more', async () => {
    const { controllerId, credential, events } = await controllerWithTen('n-equal');
    const frames = await helloWith(credential, 'n-equal', { seq: 10, hash: events[9]!.hash });
    expect(frames.some((f) => f.type === 'auditRejected')).toBe(false);
    const ahead = chainEvents('n-equal', 11, 1, events[9]!.hash)[0]!;
    expect((await helloWith(credential, 'n-equal', { seq: 11, hash: ahead.hash })).some((f) => f.type === 'auditRejected')).toBe(false);
    expect(await problemOf(controllerId)).toEqual({ problem: null, problemSeq: null, auditSeq: 10 });
  });

  it('flags a chain cut short at the site: truncated, from the first event it lost', async () => {
    const { controllerId, credential, events } = await controllerWithTen('n-cut');
    const frames = await helloWith(credential, 'n-cut', { seq: 7, hash: events[6]!.hash });
    expect(frames.find((f) => f.type === 'auditRejected')).toMatchObject({ seq: 8, problem: 'truncated' });
    expect(await problemOf(controllerId)).toEqual({ problem: 'truncated', problemSeq: 8, auditSeq: 10 });
  });

  it('flags a chain emptied at the site', async () => {
    const { controllerId, credential } = await controllerWithTen('n-empty');
    await helloWith(credential, 'n-empty', { seq: 0, hash: '0'.repeat(64) });
    expect(await problemOf(controllerId)).toMatchObject({ problem: 'truncated', problemSeq: 1 });
  });

  it('flags a chain rewritten at the site: another event at a seq the hub holds is a fork', async () => {
    const { controllerId, credential } = await controllerWithTen('n-fork');
    const rewritten = chainEvents('n-fork-other', 1, 5);
    const frames = await helloWith(credential, 'n-fork', { seq: 5, hash: rewritten[4]!.hash });
    expect(frames.find((f) => f.type === 'auditRejected')).toMatchObject({ seq: 5, problem: 'fork' });
    expect(await problemOf(controllerId)).toMatchObject({ problem: 'fork', problemSeq: 5 });
  });
});
