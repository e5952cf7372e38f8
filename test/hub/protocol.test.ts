/** Malformed frames on the sync link: an `error` frame and a close (1008), never a crash; the hub keeps serving. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { chainEvents, enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub sync protocol', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;
  let credential: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('harbour');
    ({ credential } = await enrolledController(admin, hub, 'harbour'));
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  const hello = { type: 'hello', cursor: 0, chain: 'harbour', time: 1 };
  const malformed: Array<[string, unknown[]]> = [
    ['not JSON', ['{nope']],
    ['JSON but not an object', ['[1,2,3]']],
    ['an unknown type', [{ type: 'shutdown' }]],
    ['hello without a cursor', [{ type: 'hello', chain: 'harbour', time: 1 }]],
    ['a negative cursor', [{ ...hello, cursor: -1 }]],
    ['audit before hello', [{ type: 'audit', events: chainEvents('harbour', 1, 1) }]],
    ['a second hello', [hello, hello]],
    ['an audit event without its hash', [hello, { type: 'audit', events: [{ ...chainEvents('harbour', 1, 1)[0], hash: undefined }] }]],
    ['an empty audit batch', [hello, { type: 'audit', events: [] }]],
    ['a binary frame', [Buffer.from('hello')]],
    ['a flood of audit batches', [hello, ...Array.from({ length: 50 }, () => ({ type: 'audit', events: chainEvents('harbour', 1, 1) }))]],
  ];

  it.each(malformed)('%s: error frame, then close 1008', async (_name, frames) => {
    const link = await TestLink.open(hub, credential);
    for (const frame of frames) {
      if (Buffer.isBuffer(frame)) link.ws.send(frame);
      else link.send(frame);
    }
    expect(await link.next('error')).toMatchObject({ type: 'error', code: 'hub.protocol', message: expect.any(String) });
    expect((await link.waitClosed()).code).toBe(1008);
  });

  it('a frame over 4 MiB closes the link (1009)', async () => {
    const link = await TestLink.open(hub, credential);
    await link.hello(0, 'harbour');
    link.send(JSON.stringify({ type: 'ping', id: 'x'.repeat(4 * 1024 * 1024 + 10) }));
    expect((await link.waitClosed()).code).toBe(1009);
  });

  it('a link that sends no hello in time is closed', async () => {
    const impatient = await startHub(db.url, { helloTimeoutMs: 200 });
    try {
      const link = await TestLink.open(impatient, credential);
      expect((await link.waitClosed(3000)).code).toBe(4008);
    } finally {
      await impatient.stop();
    }
  });

  it('keeps serving after all that: hello, ping and audit work', async () => {
    const link = await TestLink.open(hub, credential);
    await link.hello(0, 'harbour');
    link.send({ type: 'ping', id: 7, time: Date.now() });
    const pong = await link.next('pong');
    expect(pong).toEqual({ type: 'pong', id: 7, hubTime: expect.any(Number) });
    expect(Math.abs((pong.hubTime as number) - Date.now())).toBeLessThan(5000);
    const from = link.frames.length;
    link.send({ type: 'audit', events: chainEvents('harbour', 1, 2) });
    expect(await link.next('auditAck', from)).toEqual({ type: 'auditAck', seq: 2 });
    link.close();
  });
});
