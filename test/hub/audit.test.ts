/** Audit batches at the hub: checked against the stored head and the hash, stored once, or rejected and flagged. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hashEvent } from '../../controller/audit/auditChain.ts';
import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { chainEvents, enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub audit', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('east');
    await admin.addSite('west');
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  async function storedSeqs(controllerId: string): Promise<number[]> {
    const rows = await admin.store.db.selectFrom('hub_audit_events').select('seq').where('controller_id', '=', controllerId).orderBy('seq').execute();
    return rows.map((r) => r.seq);
  }

  async function flag(controllerId: string) {
    const site = (await admin.status()).flatMap((s) => s.controllers).find((c) => c.controllerId === controllerId)!;
    return { seq: site.auditSeq, problem: site.problem, problemSeq: site.problemSeq };
  }

  /** Sends a batch and waits for its answer. */
  async function upload(link: TestLink, events: unknown[]) {
    const from = link.frames.length;
    link.send({ type: 'audit', events });
    return link.next(['auditAck', 'auditRejected'], from);
  }

  it('acknowledges batches that continue the chain, stores a resent batch once, and says what it holds at welcome', async () => {
    const { controllerId, credential } = await enrolledController(admin, hub, 'east');
    const link = await TestLink.open(hub, credential);
    await link.hello(0, 'east');
    const events = chainEvents('east', 1, 5);
    expect(await upload(link, events.slice(0, 3))).toEqual({ type: 'auditAck', seq: 3 });
    expect(await upload(link, events.slice(0, 3))).toEqual({ type: 'auditAck', seq: 3 });
    expect(await upload(link, events.slice(2, 5))).toEqual({ type: 'auditAck', seq: 5 });
    expect(await storedSeqs(controllerId)).toEqual([1, 2, 3, 4, 5]);
    link.close();
    const again = await TestLink.open(hub, credential);
    expect((await again.hello(0, 'east')).find((f) => f.type === 'welcome')).toMatchObject({ auditAcked: 5 });
    // A batch of more than 500 events is a protocol error.
    again.send({ type: 'audit', events: chainEvents('east', 6, 501, events[4]!.hash) });
    expect(await again.next('error')).toMatchObject({ code: 'hub.protocol' });
    expect((await again.waitClosed()).code).toBe(1008);
    expect(await storedSeqs(controllerId)).toHaveLength(5);
    expect((await flag(controllerId)).problem).toBeNull();
  });

  it.each([
    ['gap', (e: ReturnType<typeof chainEvents>) => e.slice(3), 4],
    ['edited', (e: ReturnType<typeof chainEvents>) => [e[2]!, { ...e[3]!, verdict: 'deny' }], 4],
    [
      'broken-link',
      (e: ReturnType<typeof chainEvents>) => {
        // Event 2 (held by the hub) was edited and re-hashed at the site: event 3 now links to that.
        const rewritten = { ...e[1]!, verdict: 'deny' };
        rewritten.hash = hashEvent(rewritten.prevHash, rewritten);
        const next = { ...e[2]!, prevHash: rewritten.hash };
        next.hash = hashEvent(next.prevHash, next);
        return [next];
      },
      3,
    ],
    ['fork', (e: ReturnType<typeof chainEvents>) => [{ ...e[0]!, subject: 'someone else' }, e[1]!, e[2]!], 1],
  ] as const)('rejects a batch with a %s, stores nothing of it and flags the controller', async (problem, batch, seq) => {
    const { controllerId, credential } = await enrolledController(admin, hub, 'east');
    const link = await TestLink.open(hub, credential);
    const chain = `east-${problem}`;
    await link.hello(0, chain);
    const events = chainEvents(chain, 1, 6);
    const head = problem === 'fork' ? 3 : 2;
    expect(await upload(link, events.slice(0, head))).toEqual({ type: 'auditAck', seq: head });
    expect(await upload(link, batch(events))).toEqual({ type: 'auditRejected', seq, problem });
    expect(await storedSeqs(controllerId)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    expect(await flag(controllerId)).toEqual({ seq: head, problem, problemSeq: seq });
    // The link stays up, and the true continuation is still taken.
    expect(await upload(link, events.slice(head))).toEqual({ type: 'auditAck', seq: 6 });
    link.close();
  });

  it("a controller of another site cannot upload into a chain it names, nor learn that chain's head", async () => {
    const victim = await enrolledController(admin, hub, 'east');
    const victimLink = await TestLink.open(hub, victim.credential);
    await victimLink.hello(0, 'east-victim');
    const events = chainEvents('east-victim', 1, 4);
    expect(await upload(victimLink, events.slice(0, 2))).toEqual({ type: 'auditAck', seq: 2 });
    victimLink.close();

    const hostile = await enrolledController(admin, hub, 'west');
    const link = await TestLink.open(hub, hostile.credential);
    const welcome = (await link.hello(0, 'east-victim')).find((f) => f.type === 'welcome');
    expect(welcome).toMatchObject({ siteId: 'west', controllerId: hostile.controllerId, auditAcked: 0 });
    // Continuing the victim's chain lands in its own (empty) chain: refused as a gap.
    expect(await upload(link, events.slice(2))).toEqual({ type: 'auditRejected', seq: 3, problem: 'gap' });
    expect(await storedSeqs(victim.controllerId)).toEqual([1, 2]);
    expect(await storedSeqs(hostile.controllerId)).toEqual([]);
    expect((await flag(victim.controllerId)).problem).toBeNull();
    // Events of another chain than its hello named are a protocol error.
    link.send({ type: 'audit', events: chainEvents('east-other', 1, 1) });
    expect(await link.next('error')).toMatchObject({ code: 'hub.protocol' });
    expect((await link.waitClosed()).code).toBe(1008);
  });

  it('binds the chain to the controller: another chain later is refused, and a chain of the site is one controller\'s', async () => {
    const first = await enrolledController(admin, hub, 'east');
    const link = await TestLink.open(hub, first.credential);
    await link.hello(0, 'east-bound');
    expect(await upload(link, chainEvents('east-bound', 1, 1))).toEqual({ type: 'auditAck', seq: 1 });
    link.close();
    const renamed = await TestLink.open(hub, first.credential);
    renamed.send({ type: 'hello', cursor: 0, chain: 'east-renamed', time: Date.now() });
    expect(await renamed.next('error')).toMatchObject({ code: 'hub.chain.mismatch' });
    expect((await renamed.waitClosed()).code).toBe(1008);

    const second = await enrolledController(admin, hub, 'east');
    const squatter = await TestLink.open(hub, second.credential);
    squatter.send({ type: 'hello', cursor: 0, chain: 'east-bound', time: Date.now() });
    expect(await squatter.next('error')).toMatchObject({ code: 'hub.chain.taken' });
    expect(squatter.frames.some((f) => f.type === 'welcome')).toBe(false);
    // Once the first is revoked, its successor takes the chain, from its own empty copy.
    await admin.revokeController(first.controllerId);
    const successor = await TestLink.open(hub, second.credential);
    expect((await successor.hello(0, 'east-bound')).find((f) => f.type === 'welcome')).toMatchObject({ controllerId: second.controllerId, auditAcked: 0 });
    successor.close();
  });
});
