/** POST /enrol: a code works once, until it expires; guesses are throttled. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HubAdmin } from '../../controller/hub/hubAdmin.ts';
import type { Hub } from '../../controller/hub/hubServer.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { enrol, hubUrl, startHub, TestLink } from './hubHarness.ts';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('hub enrolment', pgUp), () => {
  let db: TestDatabase;
  let hub: Hub;
  let admin: HubAdmin;

  beforeAll(async () => {
    db = await createTestDatabase();
    hub = await startHub(db.url, { enrolThrottle: { rate: 100, burst: 100 } });
    admin = await HubAdmin.open(db.url);
    await admin.addSite('lisbon', 'Lisbon office');
  });
  afterAll(async () => {
    await hub?.stop();
    await admin?.close();
    await db?.drop();
  });

  it('gives a credential for a code, once: of two racing requests exactly one wins', async () => {
    const { code, controllerId } = await admin.addController('lisbon', 'front desk');
    expect(code).toMatch(/^[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}$/);
    const answers = await Promise.all([enrol(hub, { code }), enrol(hub, { code: code.toLowerCase() })]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 403]);
    const won = answers.find((a) => a.status === 200)!.body;
    expect(won).toMatchObject({ siteId: 'lisbon', controllerId });
    expect(won.credential).toMatch(new RegExp(`^pc_${controllerId}_[A-Za-z0-9_-]{43}$`));
    const lost = answers.find((a) => a.status === 403)!.body;
    expect(lost).toEqual({ error: { code: 'hub.enrolment.invalid', message: expect.any(String) } });
    // The credential opens a link.
    const link = await TestLink.open(hub, won.credential as string);
    const welcome = (await link.hello(0, 'lisbon')).find((f) => f.type === 'welcome');
    expect(welcome).toMatchObject({ siteId: 'lisbon', controllerId, auditAcked: 0 });
    link.close();
  });

  it('answers an unknown, a used and an expired code alike: 403 hub.enrolment.invalid', async () => {
    const past = await HubAdmin.open(db.url, { clock: () => Date.now() - 25 * 60 * 60 * 1000 });
    const expired = await past.addController('lisbon', 'old desk');
    await past.close();
    const fresh = await admin.addController('lisbon', 'new desk');
    expect((await enrol(hub, { code: fresh.code })).status).toBe(200);
    const unknown = await enrol(hub, { code: 'ABCD-EFGH-JKLM-NPQR' });
    const used = await enrol(hub, { code: fresh.code });
    const late = await enrol(hub, { code: expired.code });
    for (const answer of [unknown, used, late]) {
      expect(answer.status).toBe(403);
      expect(answer.body).toEqual(unknown.body);
    }
    expect((await enrol(hub, { code: 'not a code' })).status).toBe(403);
    expect((await enrol(hub, '{"code":')).status).toBe(400);
  });

  it('refuses a body over 4 KiB', async () => {
    const res = await fetch(`${hubUrl(hub)}/enrol`, { method: 'POST', body: JSON.stringify({ code: 'x'.repeat(5000) }) });
    expect(res.status).toBe(413);
  });

  it('throttles enrolment attempts per client address: 429 hub.throttled', async () => {
    const strict = await startHub(db.url, { enrolThrottle: { rate: 0.01, burst: 3 } });
    try {
      const { code } = await admin.addController('lisbon', 'throttled desk');
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await enrol(strict, { code: 'ABCD-EFGH-JKLM-NPQR' })).status);
      const refused = await enrol(strict, { code });
      expect(statuses).toEqual([403, 403, 403]);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: { code: 'hub.throttled' } });
      // The throttled request did not use the code: another hub (another address budget) still takes it.
      expect((await enrol(hub, { code })).status).toBe(200);
    } finally {
      await strict.stop();
    }
  });
});
