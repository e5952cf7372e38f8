/** GET /sync's credential: checked before the upgrade; rotation and revocation end it, and close its open link. */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { HubStore } from '../../controller/hub/hubStore.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrol, enrolledController, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub credentials', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let other: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    [hub, other] = await Promise.all([startHub(db.url), startHub(db.url)]);
    admin = await HubAdmin.open(db.url);
    await admin.addSite('porto');
  });
  afterAll(async () => {
    await hub?.stop();
    await other?.stop();
    await admin?.close();
    await db?.drop();
  });

  it('answers 401 before any upgrade for no, a malformed or an unknown credential', async () => {
    const { controllerId, credential } = await enrolledController(admin, hub, 'porto');
    const forged = `pc_${controllerId}_${'A'.repeat(43)}`;
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer nonsense' }, { authorization: `Bearer ${forged}` }];
    for (const headers of attempts) {
      const refused = await TestLink.refusal(hub, headers);
      expect(refused.status).toBe(401);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'hub.unauthorized' } });
    }
    expect((await TestLink.refusal(hub, { authorization: `Bearer ${credential}` })).status).toBe(101);
  });

  it('rotation: the new code replaces the credential, the old one is refused and its open link closed', async () => {
    const { controllerId, credential: old } = await enrolledController(admin, hub, 'porto');
    const link = await TestLink.open(other, old);
    await link.hello(0, 'porto-rot');
    const { code } = await admin.rotateController(controllerId);
    // Until the new code is used, the old credential keeps working: its link stays open.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(link.closed).toBeUndefined();
    const answer = await enrol(hub, { code });
    expect(answer.status).toBe(200);
    expect(answer.body.controllerId).toBe(controllerId);
    const fresh = answer.body.credential as string;
    expect(fresh).not.toBe(old);
    expect((await link.waitClosed(1000)).code).toBe(4003);
    expect((await TestLink.refusal(hub, { authorization: `Bearer ${old}` })).status).toBe(401);
    const again = await TestLink.open(hub, fresh);
    await again.hello(0, 'porto-rot');
    again.close();
  });

  it('rotation makes earlier unused codes stop working', async () => {
    const { code: first, controllerId } = await admin.addController('porto', 'spare');
    await admin.rotateController(controllerId);
    expect((await enrol(hub, { code: first })).status).toBe(403);
  });

  it('revoking a controller closes its open link at once on another hub and refuses it from then on', async () => {
    const { controllerId, credential } = await enrolledController(admin, hub, 'porto');
    const link = await TestLink.open(other, credential);
    await link.hello(0, 'porto-rev');
    expect(await admin.revokeController(controllerId)).toBe(true);
    expect((await link.waitClosed(1000)).code).toBe(4003);
    expect((await TestLink.refusal(hub, { authorization: `Bearer ${credential}` })).status).toBe(401);
    expect((await TestLink.refusal(other, { authorization: `Bearer ${credential}` })).status).toBe(401);
    expect(await admin.revokeController(controllerId)).toBe(false);
    await expect(admin.rotateController(controllerId)).rejects.toThrow(/revoked/);
  });

  it('one link per controller: a second link, on either hub, closes the first with 4001', async () => {
    const { credential } = await enrolledController(admin, hub, 'porto');
    const first = await TestLink.open(hub, credential);
    await first.hello(0, 'porto-one');
    const second = await TestLink.open(other, credential);
    expect((await first.waitClosed(1000)).code).toBe(4001);
    await second.hello(0, 'porto-one');
    const third = await TestLink.open(other, credential);
    expect((await second.waitClosed(1000)).code).toBe(4001);
    await third.hello(0, 'porto-one');
    // The newest stays open.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(third.closed).toBeUndefined();
    third.close();
  });

  it('a link that closed never replaces the next one, however late its own announcement commits', async () => {
    const { credential } = await enrolledController(admin, hub, 'porto');
    // The first link's `!link` commits 300 ms late, as on a hub whose database is slow for a moment.
    const announce = HubStore.prototype.announceLink;
    let slowed = false;
    const spy = vi.spyOn(HubStore.prototype, 'announceLink').mockImplementation(async function (this: HubStore, controllerId: string, nonce: string) {
      if (!slowed) {
        slowed = true;
        await sleep(300);
      }
      return announce.call(this, controllerId, nonce);
    });
    try {
      const first = await TestLink.open(hub, credential);
      await first.hello(0, 'porto-late');
      first.close();
      await first.waitClosed(1000);
      const second = await TestLink.open(hub, credential);
      await second.hello(0, 'porto-late');
      await sleep(600);
      expect(second.closed).toBeUndefined();
      second.close();
    } finally {
      spy.mockRestore();
    }
  });
});
