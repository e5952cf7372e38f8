/** users.* and tokens.*: the CLI's account commands for admins over the API, against a real controller. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, upgradeStatus } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

const PASSWORD = 'correct horse battery';

let site: ApiSite;
const clients: Record<string, ApiClient> = {};
beforeAll(async () => {
  site = await startApiSite();
  for (const role of ['viewer', 'operator', 'integrator', 'admin'] as const) clients[role] = await ApiClient.connect(site.url, site.tokens[role]);
});
afterAll(async () => {
  for (const c of Object.values(clients)) c.close();
  await site.stop();
});

const admin = () => clients.admin!;

/** The operator events about one subject, oldest first, as [reason, actor, data]. */
async function auditOf(subject: string): Promise<Array<[string, string, Record<string, unknown>]>> {
  const { events } = await admin().call('audit.query', { order: 'asc', limit: 1000 });
  return events
    .filter((e: { type: string; subject: string }) => e.type === 'operator' && e.subject === subject)
    .map((e: { reason: string; actor: string; data: Record<string, unknown> }) => [e.reason, e.actor, e.data]);
}

const METHODS: Array<[string, unknown]> = [
  ['users.list', {}],
  ['users.add', { name: 'x', role: 'viewer', password: PASSWORD }],
  ['users.setRole', { name: 'x', role: 'admin' }],
  ['users.disable', { name: 'x' }],
  ['users.enable', { name: 'x' }],
  ['users.resetPassword', { name: 'x', password: PASSWORD }],
  ['tokens.list', {}],
  ['tokens.create', { name: 'x', role: 'admin' }],
  ['tokens.revoke', { id: 'tok_x' }],
];

describe('roles', () => {
  it('refuses every account method to viewers, operators and integrators', async () => {
    for (const role of ['viewer', 'operator', 'integrator']) {
      for (const [name, params] of METHODS) {
        const { error } = await clients[role]!.request(name, params);
        expect(error, `${role} ${name}`).toMatchObject({ code: -32001, message: expect.stringContaining('admin'), data: { code: 'POSTERN_ERR_FORBIDDEN' } });
      }
    }
    expect((await admin().call('users.list')).find((u: { name: string }) => u.name === 'x')).toBeUndefined();
  });
});

describe('users', () => {
  it('adds, lists, changes the role of, disables, enables and resets the password of a user, audited as the CLI does', async () => {
    const ada = await admin().call('users.add', { name: 'ada', role: 'operator', password: PASSWORD });
    expect(ada).toMatchObject({ name: 'ada', role: 'operator', disabled: false, createdBy: 'token:admin', lastLoginAt: null });
    expect(Object.keys(ada).sort()).toEqual(['createdAt', 'createdBy', 'disabled', 'id', 'lastLoginAt', 'name', 'role']);
    const listed = await admin().call('users.list');
    expect(listed.find((u: { name: string }) => u.name === 'ada')).toEqual(ada);
    expect(JSON.stringify(listed)).not.toMatch(/hash|scrypt/i);

    expect(await admin().call('users.setRole', { name: 'ada', role: 'integrator' })).toMatchObject({ role: 'integrator' });
    expect(await admin().call('users.disable', { name: 'ada' })).toMatchObject({ disabled: true });
    // As in Accounts: a second disable changes nothing and records nothing.
    expect(await admin().call('users.disable', { name: 'ada' })).toMatchObject({ disabled: true });
    expect(await admin().call('users.enable', { name: 'ada' })).toMatchObject({ disabled: false });
    expect(await admin().call('users.resetPassword', { name: 'ada', password: 'another long password' })).toMatchObject({ name: 'ada' });

    expect(await auditOf(ada.id)).toEqual([
      ['user.create', 'token:admin', { name: 'ada', role: 'operator' }],
      ['user.role', 'token:admin', { name: 'ada', role: 'integrator', previous: 'operator' }],
      ['user.disable', 'token:admin', { name: 'ada' }],
      ['user.enable', 'token:admin', { name: 'ada' }],
      ['user.password', 'token:admin', { name: 'ada' }],
    ]);
    expect(JSON.stringify(await auditOf(ada.id))).not.toContain('another long password');
  });

  it('answers the stable error codes: bad name, short password, unknown role, taken name, unknown user', async () => {
    const err = async (method: string, params: unknown) => (await admin().request(method, params)).error;
    expect(await err('users.add', { name: 'bad name', role: 'viewer', password: PASSWORD })).toMatchObject({ code: -32602, data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'name' } });
    expect(await err('users.add', { name: 'bob', role: 'viewer', password: 'short' })).toMatchObject({ code: -32602, data: { field: 'password' } });
    expect(await err('users.add', { name: 'bob', role: 'scanner', password: PASSWORD })).toMatchObject({ code: -32602, data: { field: 'role' } });
    expect(await err('users.add', { name: 'bob', role: 'viewer' })).toMatchObject({ code: -32602, data: { field: 'password' } });
    expect(await err('users.add', { name: 'bob', role: 'viewer', password: PASSWORD, extra: 1 })).toMatchObject({ code: -32602 });
    await admin().call('users.add', { name: 'bob', role: 'viewer', password: PASSWORD });
    expect(await err('users.add', { name: 'BOB', role: 'viewer', password: PASSWORD })).toMatchObject({ code: -32003, data: { code: 'POSTERN_ERR_CONFLICT', field: 'name' } });
    for (const [method, params] of [
      ['users.setRole', { name: 'nobody', role: 'viewer' }],
      ['users.disable', { name: 'nobody' }],
      ['users.enable', { name: 'nobody' }],
      ['users.resetPassword', { name: 'nobody', password: PASSWORD }],
    ] as const) {
      expect(await err(method, params), method).toMatchObject({ data: { code: 'POSTERN_ERR_NOT_FOUND' } });
    }
    expect(await err('users.setRole', { name: 'bob', role: 'root' })).toMatchObject({ code: -32602, data: { field: 'role' } });
  });

  it('never leaves the site without an enabled admin user: refuses disabling or demoting the last one', async () => {
    const root = await admin().call('users.add', { name: 'root', role: 'admin', password: PASSWORD });
    const refusal = { code: -32003, message: expect.stringContaining('last enabled admin'), data: { code: 'POSTERN_ERR_CONFLICT' } };
    expect((await admin().request('users.disable', { name: 'root' })).error).toMatchObject(refusal);
    expect((await admin().request('users.setRole', { name: 'root', role: 'operator' })).error).toMatchObject(refusal);

    await admin().call('users.add', { name: 'root2', role: 'admin', password: PASSWORD });
    expect(await admin().call('users.disable', { name: 'root' })).toMatchObject({ disabled: true });
    // root is disabled: root2 is now the last enabled admin.
    expect((await admin().request('users.disable', { name: 'root2' })).error).toMatchObject(refusal);
    expect((await admin().request('users.setRole', { name: 'root2', role: 'viewer' })).error).toMatchObject(refusal);
    // Changing the role of a disabled admin, or of a user that is not admin, is no threat.
    expect(await admin().call('users.setRole', { name: 'root', role: 'viewer' })).toMatchObject({ role: 'viewer', disabled: true });
    await admin().call('users.setRole', { name: 'root', role: 'admin' });
    await admin().call('users.enable', { name: 'root' });
    expect(await admin().call('users.setRole', { name: 'root2', role: 'operator' })).toMatchObject({ role: 'operator' });

    // Two admins disabling each other at once: one of them stays.
    await admin().call('users.setRole', { name: 'root2', role: 'admin' });
    const both = await Promise.all([admin().request('users.disable', { name: 'root' }), admin().request('users.disable', { name: 'root2' })]);
    expect(both.filter((r) => r.error).length).toBe(1);
    const admins = (await admin().call('users.list')).filter((u: { role: string; disabled: boolean }) => u.role === 'admin' && !u.disabled);
    expect(admins).toHaveLength(1);
    expect((await auditOf(root.id)).map(([reason]) => reason)).toContain('user.disable');
  });
});

describe('tokens', () => {
  it('makes a token answered once, lists it by prefix only, revokes it, and the token then opens no socket', async () => {
    const created = await admin().call('tokens.create', { name: 'ci', role: 'integrator' });
    expect(created.token).toMatch(/^pst_[A-Za-z0-9_-]{43}$/);
    expect(created.record).toMatchObject({ name: 'ci', role: 'integrator', scanner: null, prefix: created.token.slice(0, 8), createdBy: 'token:admin', revokedAt: null });
    const list = await admin().call('tokens.list');
    expect(list.find((t: { id: string }) => t.id === created.record.id)).toEqual(created.record);
    const text = JSON.stringify(list);
    expect(text).not.toContain(created.token);
    expect(text).not.toMatch(/hash/i);

    const ci = await ApiClient.connect(site.url, created.token);
    expect(await ci.call('links.list', {})).toEqual(expect.any(Array));
    ci.close();

    expect(await admin().call('tokens.revoke', { id: created.record.id })).toMatchObject({ id: created.record.id, revokedAt: expect.any(Number) });
    expect(await upgradeStatus(site.url, { authorization: `Bearer ${created.token}` })).toBe(401);
    expect((await admin().request('tokens.revoke', { id: created.record.id })).error).toMatchObject({ code: -32003, data: { code: 'POSTERN_ERR_CONFLICT' } });
    expect((await admin().request('tokens.revoke', { id: 'tok_0000000000000000' })).error).toMatchObject({ code: -32002, data: { code: 'POSTERN_ERR_NOT_FOUND' } });
    expect((await admin().call('tokens.list')).find((t: { id: string }) => t.id === created.record.id).revokedAt).toEqual(expect.any(Number));

    expect(await auditOf(created.record.id)).toEqual([
      ['token.create', 'token:admin', { name: 'ci', role: 'integrator', scanner: null }],
      ['token.revoke', 'token:admin', { name: 'ci' }],
    ]);
    const { events } = await admin().call('audit.query', { order: 'asc', limit: 1000 });
    expect(JSON.stringify(events)).not.toContain(created.token);
  });

  it("checks a scanner token's scanner against the site, as the CLI does", async () => {
    const err = async (params: unknown) => (await admin().request('tokens.create', params)).error;
    expect(await err({ name: 'dev', role: 'scanner' })).toMatchObject({ code: -32602, data: { field: 'scanner' } });
    expect(await err({ name: 'dev', role: 'scanner', scanner: 'lab-in' })).toMatchObject({ code: -32602, data: { field: 'scanner' } });
    expect(await err({ name: 'dev', role: 'viewer', scanner: 'net-1' })).toMatchObject({ code: -32602, data: { field: 'scanner' } });
    expect(await err({ name: 'dev', role: 'root' })).toMatchObject({ code: -32602, data: { field: 'role' } });
    const made = await admin().call('tokens.create', { name: 'dev', role: 'scanner', scanner: 'net-1' });
    expect(made.record).toMatchObject({ role: 'scanner', scanner: 'net-1' });
  });
});
