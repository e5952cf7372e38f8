/**
 * credentials.enrol (controller/api/methods/enrolmentMethods.ts, BadgeEnrolments): the enrolment
 * link `postern credential create` prints, for the API and the web UI. Its method table is called
 * as the API calls it (roles, parameters), on a second connection to a running site's store, and
 * the link it answers is traded for the secret at the site's POST /badge/enrol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal, Role } from '../../controller/accounts/accountTypes.ts';
import { invokeMethod } from '../../controller/api/invokeMethod.ts';
import { enrolmentMethods } from '../../controller/api/methods/enrolmentMethods.ts';
import type { CallContext, MethodTable } from '../../controller/api/methodTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import { BadgeEnrolments } from '../../controller/badge/enrolment.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store } from '../../controller/store/storeTypes.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

const HOUR_MS = 3600 * 1000;

function as(role: Role): CallContext {
  const principal: Principal = { kind: 'token', id: `t-${role}`, name: role, role, scanner: null };
  return { principal, actor: `token:${role}`, subscriber: {} as CallContext['subscriber'] };
}

function tokenOf(url: string): string {
  return new URL(url).hash.replace(/^#enrol=/, '');
}

async function enrolWith(site: ApiSite, token: string): Promise<Response> {
  return fetch(`${site.url}/badge/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
}

describe('credentials.enrol', () => {
  let site: ApiSite;
  let store: Store;
  let audit: AuditTrail;
  let methods: MethodTable;
  let credentialId: string;
  let secret: Buffer;
  let now = Date.now();

  beforeAll(async () => {
    site = await startApiSite();
    // Where phones reach this site; the test site's API listens on port 0.
    const config = { ...site.controller.config, badge: { ...site.controller.config.badge, publicUrl: site.url } };
    store = openStore({ dataDir: site.dataDir });
    await store.start();
    audit = new AuditTrail({ store, controllerId: 'test-site/admin' });
    await audit.start();
    methods = enrolmentMethods({ enrolments: new BadgeEnrolments({ config, store, audit, clock: () => now }) });
    ({ credential: { id: credentialId }, secret } = await site.controller.issuing.createCredential({ name: 'Ada Member', scope: 7 }, 'test'));
  });

  afterAll(async () => {
    await audit?.stop();
    await store?.stop();
    await site?.stop();
  });

  it('answers a one-time link that gives the badge page the secret once, and records who made it', async () => {
    now = Date.now();
    const answer = (await invokeMethod(methods, 'credentials.enrol', { id: credentialId }, as('integrator'))) as { id: string; url: string; expiresAt: number };
    expect(answer).toEqual({ id: credentialId, url: expect.stringMatching(new RegExp(`^${site.url}/badge#enrol=[A-Za-z0-9_-]{43}$`)), expiresAt: now + 24 * HOUR_MS });

    const first = await enrolWith(site, tokenOf(answer.url));
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ credentialId, name: 'Ada Member', secret: secret.toString('hex') });
    expect((await enrolWith(site, tokenOf(answer.url))).status).toBe(410);

    await expect
      .poll(async () => (await store.queryAudit({ controllerId: 'test-site/admin', subject: credentialId })).filter((e) => e.reason === 'credential.enrol-link'))
      .toEqual([expect.objectContaining({ actor: 'token:integrator', kind: 'rotating', data: { expiresAt: now + 24 * HOUR_MS } })]);
  });

  it('makes a new link that works while an older one is unused, for the hours asked', async () => {
    now = Date.now();
    const older = (await invokeMethod(methods, 'credentials.enrol', { id: credentialId }, as('admin'))) as { url: string };
    const newer = (await invokeMethod(methods, 'credentials.enrol', { id: credentialId, validHours: 0.5 }, as('admin'))) as { url: string; expiresAt: number };
    expect(newer.expiresAt).toBe(now + HOUR_MS / 2);
    expect(newer.url).not.toBe(older.url);
    expect((await enrolWith(site, tokenOf(newer.url))).status).toBe(200);
    expect((await enrolWith(site, tokenOf(older.url))).status).toBe(200);
  });

  it('is for the roles that may make a credential', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      await expect(invokeMethod(methods, 'credentials.enrol', { id: credentialId }, as(role))).rejects.toMatchObject({ data: { code: ErrorCodes.FORBIDDEN } });
    }
  });

  it('refuses hours out of range, an unknown credential and a revoked one', async () => {
    for (const validHours of [0, -1, 721]) {
      await expect(invokeMethod(methods, 'credentials.enrol', { id: credentialId, validHours }, as('integrator'))).rejects.toMatchObject({ rpcCode: -32602 });
    }
    await expect(invokeMethod(methods, 'credentials.enrol', { id: 'abc' }, as('integrator'))).rejects.toMatchObject({ rpcCode: -32602 });
    for (const id of ['123456789', '0']) {
      await expect(invokeMethod(methods, 'credentials.enrol', { id }, as('integrator'))).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    }
    await expect(invokeMethod(methods, 'credentials.enrol', { id: '18446744073709551616' }, as('integrator'))).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      details: { field: 'id' },
    });
    const { credential } = await site.controller.issuing.createCredential({ name: 'Gone Member', scope: 7 }, 'test');
    await site.controller.issuing.revokeCredential(credential.id, 'test');
    await expect(invokeMethod(methods, 'credentials.enrol', { id: credential.id }, as('integrator'))).rejects.toMatchObject({ code: ErrorCodes.CONFLICT });
  });

  it('is not offered by a controller without enrolments', () => {
    expect(enrolmentMethods({})).toEqual({});
  });
});
