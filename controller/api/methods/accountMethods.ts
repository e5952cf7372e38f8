/**
 * users.* and tokens.*: the admin's `postern user ...` and `postern token ...` over the API (and so
 * in the web UI). Every rule and audit event is the Accounts class's, as for the CLI; this file
 * adds only what a remote admin needs and the CLI does not: the site must keep one enabled admin
 * user, since whoever runs the CLI can make another but a browser cannot.
 */
import { z } from 'zod';
import type { Role, TokenRecord, UserRecord, UserRole } from '../../accounts/accountTypes.ts';
import { requireApiScanner, requireSiteDoors } from '../../accounts/tokenScanner.ts';
import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { idempotencyKeyParam } from '../idempotency.ts';

// Bounds for the transport only: Accounts checks names, roles and passwords, with the CLI's messages.
const name = z.string().max(64);
const role = z.string().max(32);
const password = z.string().max(4096);

/** Only these fields leave the controller: a store that returned more (a hash) would not leak it. */
function userView(u: UserRecord) {
  return { id: u.id, name: u.name, role: u.role, disabled: u.disabled, createdAt: u.createdAt, createdBy: u.createdBy, lastLoginAt: u.lastLoginAt };
}

function tokenView(t: TokenRecord) {
  return { id: t.id, name: t.name, role: t.role, scanner: t.scanner, doors: t.doors, prefix: t.prefix, createdAt: t.createdAt, createdBy: t.createdBy, lastUsedAt: t.lastUsedAt, revokedAt: t.revokedAt };
}

export function accountMethods(api: ApiServices): MethodTable {
  const { accounts } = api;
  if (accounts === undefined) return {};
  const serial = serialize();

  /** Refuses a change that would leave no enabled admin user to sign in to the web UI. */
  const keepAnAdmin = async (target: string, what: string): Promise<void> => {
    const users = await accounts.listUsers();
    const user = users.find((u) => u.name.toLowerCase() === target.toLowerCase());
    if (user === undefined || user.role !== 'admin' || user.disabled) return;
    if (users.some((u) => u.id !== user.id && u.role === 'admin' && !u.disabled)) return;
    throw new PosternError(ErrorCodes.CONFLICT, `cannot ${what}: ${user.name} is the last enabled admin, and nobody could administer the site from the web UI; add another admin first`);
  };

  return {
    'users.list': method({ role: 'admin', params: z.strictObject({}), handler: async () => (await accounts.listUsers()).map(userView) }),
    'users.add': method({
      role: 'admin',
      // The admin chooses the password, as with `postern user add`: the controller never makes one up.
      params: z.strictObject({ name, role, password, idempotencyKey: idempotencyKeyParam }),
      // The key's hash covers the password: a retry with another password is a conflict, not a reset.
      handler: ({ name, role, password, idempotencyKey }, { actor }) =>
        api.idempotency.run(actor, 'users.add', idempotencyKey, { name, role, password }, {
          reserve: () => name,
          create: async () => ({ result: await serial(async () => userView(await accounts.createUser({ name, role: role as UserRole, password }, actor))), ref: name }),
          replay: async (ref) => {
            const user = (await accounts.listUsers()).find((u) => u.name.toLowerCase() === ref.toLowerCase());
            return user === undefined ? undefined : userView(user);
          },
        }),
    }),
    'users.setRole': method({
      role: 'admin',
      params: z.strictObject({ name, role }),
      handler: ({ name, role }, { actor }) =>
        serial(async () => {
          if (role !== 'admin') await keepAnAdmin(name, `make ${name} ${role}`);
          return userView(await accounts.setRole(name, role as UserRole, actor));
        }),
    }),
    'users.disable': method({
      role: 'admin',
      params: z.strictObject({ name }),
      handler: ({ name }, { actor }) =>
        serial(async () => {
          await keepAnAdmin(name, `disable ${name}`);
          return userView(await accounts.disableUser(name, actor));
        }),
    }),
    'users.enable': method({
      role: 'admin',
      params: z.strictObject({ name }),
      handler: ({ name }, { actor }) => serial(async () => userView(await accounts.enableUser(name, actor))),
    }),
    'users.resetPassword': method({
      role: 'admin',
      params: z.strictObject({ name, password }),
      handler: ({ name, password }, { actor }) => serial(async () => userView(await accounts.setPassword(name, password, actor))),
    }),
    'tokens.list': method({ role: 'admin', params: z.strictObject({}), handler: async () => (await accounts.listTokens()).map(tokenView) }),
    'tokens.create': method({
      role: 'admin',
      params: z.strictObject({
        name,
        role,
        scanner: z.string().max(64).nullable().optional(),
        /** The doors it may act on and read; absent or null: every door. */
        doors: z.array(z.string().min(1).max(64)).min(1).max(256).nullable().optional(),
        idempotencyKey: idempotencyKeyParam,
      }),
      // The token is in this answer and nowhere else: the store keeps only its hash. A retry with
      // the same key therefore cannot get it again: it is told which token was made, to revoke.
      handler: ({ name, role, scanner, doors, idempotencyKey }, { actor }) =>
        api.idempotency.run(actor, 'tokens.create', idempotencyKey, { name, role, scanner, doors }, {
          create: async () => {
            if (scanner !== null && scanner !== undefined) requireApiScanner(api.config, scanner);
            if (doors) requireSiteDoors(api.config, doors);
            const { token, record } = await accounts.createToken({ name, role: role as Role, scanner: scanner ?? null, doors: doors ?? null }, actor);
            return { result: { token, record: tokenView(record) }, ref: record.id };
          },
          replay: (id) => {
            throw new PosternError(ErrorCodes.CONFLICT, `this idempotencyKey made token ${id} already; its text was shown once and is not kept: revoke it (tokens.revoke) and make another`, { details: { field: 'idempotencyKey', token: id } });
          },
        }),
    }),
    'tokens.revoke': method({
      role: 'admin',
      params: z.strictObject({ id: z.string().max(64) }),
      handler: async ({ id }, { actor }) => tokenView(await accounts.revokeToken(id, actor)),
    }),
  };
}

/**
 * Runs user changes one at a time: two admins disabling each other at once would otherwise both
 * pass the last-admin check.
 */
function serialize(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  };
}
