/**
 * The methods of the hub's API (docs/hub-api.md), by name: each with the least hub role that may
 * call it, its zod params and its handler. Viewers read; operators revoke and run a site's
 * operator methods; admins manage sites, controllers and accounts. Everything that changes
 * something is written to hub_actions (hubActions.ts) under `account:<name>`.
 *
 * The admin work itself is HubAdmin's (the functions `postern hub ...` runs) and the readers'
 * (hubAuditReader.ts, changeStore.ts): nothing here talks to the database but to check that a
 * controller named with a site is of that site.
 */
import { z } from 'zod';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { RpcError, RpcErrorCodes } from '../api/jsonRpc.ts';
import { MAX_REASON_LENGTH, SUBJECT_PATTERN } from '../sync/syncFrames.ts';
import { hubRoleSchema, type HubAccount, type HubAccounts, type HubRole } from './hubAccounts.ts';
import type { HubActions } from './hubActions.ts';
import type { HubAdmin } from './hubAdmin.ts';
import { auditTail, chainHeads, controllerEventsAfter, verifyHubChain } from './hubAuditReader.ts';
import type { LinkPresence } from './linkPresence.ts';
import type { SiteCalls } from './siteCalls.ts';
import { siteOverview } from './siteOverview.ts';

export interface HubApiServices {
  admin: HubAdmin;
  accounts: HubAccounts;
  actions: HubActions;
  presence: LinkPresence;
  siteCalls: SiteCalls;
  clock: () => number;
}

export interface HubCallContext {
  account: HubAccount;
  /** What hub_actions names: `account:<name>`. */
  actor: string;
}

export interface HubMethod {
  role: HubRole;
  params: z.ZodType;
  /** Against the connection's rate limit, in requests (1 when absent). */
  cost?: number;
  handler(params: never, context: HubCallContext): Promise<unknown>;
}

function method<S extends z.ZodType>(definition: { role: HubRole; params: S; cost?: number; handler(params: z.output<S>, context: HubCallContext): Promise<unknown> }): HubMethod {
  return definition as unknown as HubMethod;
}

const siteId = z.string().min(1).max(63);
const controllerId = z.string().min(1).max(80);

/**
 * Methods of a controller that only read, by the last part of their name: a hub viewer's site.call
 * of anything else is refused at the hub without a round trip. The controller checks every call
 * again against its own method table (which may be of another version than the hub's): this list
 * only ever refuses early what a viewer could not do there anyway.
 */
const READ_VERBS = new Set(['list', 'get', 'status', 'info', 'query', 'stats', 'discover']);
export const isReadMethod = (name: string) => READ_VERBS.has(name.split('.').at(-1) ?? '');

/** Methods of the controller that make no sense through the hub: live events need the controller's own socket. */
const NOT_THROUGH_THE_HUB = new Set(['subscribe', 'unsubscribe', 'scanner.read', 'scanner.frame']);

/** A site id from a site's name, when sites.add is given only a name. */
function siteIdOf(name: string): string {
  return (
    name
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .replace(/-+$/, '')
      .slice(0, 63) || 'site'
  );
}

async function controllerOfSite(services: HubApiServices, site: string, controller: string): Promise<void> {
  const heads = await chainHeads(services.admin.store.db, { siteId: site, controllerId: controller });
  if (heads.length === 0) throw new PosternError(ErrorCodes.NOT_FOUND, `no controller ${controller} at site ${site}`, { details: { field: 'controller' } });
}

export function hubApiMethods(services: HubApiServices): Record<string, HubMethod> {
  const { admin, accounts, actions, presence, siteCalls, clock } = services;
  const db = admin.store.db;
  return {
    'session.whoami': method({
      role: 'viewer',
      params: z.strictObject({}),
      handler: async (_params, { account }) => ({ account: { name: account.name, role: account.role } }),
    }),

    'sites.list': method({
      role: 'viewer',
      params: z.strictObject({}),
      handler: async () => ({
        sites: (await admin.status()).map((s) => ({ id: s.id, name: s.name, createdAt: s.createdAt, revocations: s.revocations, controllers: s.controllers.filter((c) => c.revokedAt === null).length })),
      }),
    }),
    'sites.add': method({
      role: 'admin',
      params: z.strictObject({ name: z.string().min(1).max(200), id: siteId.optional() }),
      handler: async ({ name, id }, { actor }) => {
        const site = id ?? siteIdOf(name);
        await admin.addSite(site, name);
        await actions.record(actor, 'sites.add', site, { name });
        return { site: { id: site, name } };
      },
    }),
    'sites.overview': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId.optional() }),
      cost: 2,
      handler: async ({ site }) => {
        if (site !== undefined) await admin.store.requireSite(site);
        return { sites: await siteOverview(db, presence, clock, site) };
      },
    }),

    'controllers.list': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId }),
      handler: async ({ site }) => {
        const [status] = await admin.status(site);
        const online = new Map((await siteOverview(db, presence, clock, site))[0]?.controllers.map((c) => [c.id, c.online]) ?? []);
        return { controllers: status!.controllers.map((c) => ({ ...c, online: online.get(c.controllerId) ?? false })) };
      },
    }),
    'controllers.add': method({
      role: 'admin',
      params: z.strictObject({ site: siteId, name: z.string().min(1).max(200) }),
      handler: async ({ site, name }, { actor }) => {
        const issued = await admin.addController(site, name);
        await actions.record(actor, 'controllers.add', site, { controller: issued.controllerId, name });
        return { controller: issued.controllerId, enrolmentCode: issued.code, expiresAt: issued.expiresAt };
      },
    }),
    'controllers.rotate': method({
      role: 'admin',
      params: z.strictObject({ site: siteId, controller: controllerId }),
      handler: async ({ site, controller }, { actor }) => {
        await controllerOfSite(services, site, controller);
        const issued = await admin.rotateController(controller);
        await actions.record(actor, 'controllers.rotate', site, { controller });
        return { controller, enrolmentCode: issued.code, expiresAt: issued.expiresAt };
      },
    }),
    'controllers.revoke': method({
      role: 'admin',
      params: z.strictObject({ site: siteId, controller: controllerId }),
      handler: async ({ site, controller }, { actor }) => {
        await controllerOfSite(services, site, controller);
        const revoked = await admin.revokeController(controller);
        if (revoked) await actions.record(actor, 'controllers.revoke', site, { controller });
        return { controller, revoked };
      },
    }),

    'revocations.create': method({
      role: 'operator',
      params: z.strictObject({
        site: siteId,
        issuer: z.number().int().min(0).max(0xffff).default(0),
        subject: z.string().regex(SUBJECT_PATTERN, 'a whole number from 0 to 18446744073709551615, in decimal'),
        reason: z.string().max(MAX_REASON_LENGTH).nullable().optional(),
      }),
      handler: async ({ site, issuer, subject, reason }, { actor }) => {
        const result = await admin.revokeSubject(site, issuer, subject, reason ?? null);
        if (result.created) await actions.record(actor, 'revocations.create', site, { issuer, subject, cursor: result.cursor });
        return result;
      },
    }),
    'revocations.list': method({
      role: 'viewer',
      params: z.strictObject({
        site: siteId,
        limit: z.number().int().min(1).max(1000).default(100),
        after: z.strictObject({ issuer: z.number().int().min(0).max(0xffff), subject: z.string().max(20) }).optional(),
      }),
      handler: async ({ site, limit, after }) => {
        await admin.store.requireSite(site);
        const page = await admin.changes.snapshotPage(site, after, limit);
        return { revocations: page.revocations, next: page.next ?? null };
      },
    }),

    'audit.query': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId, controller: controllerId.optional(), afterSeq: z.number().int().min(0).optional(), limit: z.number().int().min(1).max(500).default(100) }),
      cost: 3,
      handler: async ({ site, controller, afterSeq, limit }) => {
        if (afterSeq !== undefined) {
          if (controller === undefined) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'afterSeq: give controller too: seqs are per controller', { details: { field: 'afterSeq' } });
          const [head] = await chainHeads(db, { siteId: site, controllerId: controller });
          return { events: await controllerEventsAfter(db, head!, afterSeq, limit) };
        }
        // Checks the site (and the controller of it) first: NOT_FOUND rather than an empty page.
        await chainHeads(db, { siteId: site, controllerId: controller });
        return { events: await auditTail(db, { siteId: site, controllerId: controller }, limit) };
      },
    }),
    'audit.verify': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId }),
      cost: 20,
      handler: async ({ site }) => {
        const checks = [];
        for (const head of await chainHeads(db, { siteId: site })) {
          const { report, lastSeq } = await verifyHubChain(db, head);
          checks.push({
            controller: head.controllerId,
            ok: report.ok && head.problem === null,
            checked: report.checked,
            lastSeq,
            problems: report.problems.slice(0, 100),
            flag: head.problem === null ? null : { problem: head.problem, seq: head.problemSeq, flaggedAt: head.flaggedAt },
          });
        }
        return { ok: checks.every((c) => c.ok), controllers: checks };
      },
    }),

    'site.call': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId, method: z.string().min(1).max(100), params: z.unknown().optional() }),
      handler: async ({ site, method: name, params }, { account, actor }) => {
        if (NOT_THROUGH_THE_HUB.has(name)) throw new RpcError(RpcErrorCodes.methodNotFound, `${name} is not offered through the hub: connect to the controller's own API for it`);
        if (account.role === 'viewer' && !isReadMethod(name)) {
          throw new RpcError(RpcErrorCodes.forbidden, `forbidden: a hub viewer may only call a site's read methods, not ${name}`, { code: ErrorCodes.FORBIDDEN });
        }
        await admin.store.requireSite(site);
        const write = !isReadMethod(name);
        try {
          const result = await siteCalls.call(site, name, params, account);
          // Done at the controller (and in its own trail) already: a record that fails here must not make it look undone.
          if (write) await actions.record(actor, 'site.call', site, { method: name, ok: true }).catch(() => undefined);
          return result;
        } catch (error) {
          if (write) await actions.record(actor, 'site.call', site, { method: name, ok: false, error: errorCodeOf(error) }).catch(() => undefined);
          throw error;
        }
      },
    }),

    'actions.list': method({
      role: 'viewer',
      params: z.strictObject({ site: siteId.optional(), before: z.number().int().min(1).optional(), limit: z.number().int().min(1).max(500).default(100) }),
      handler: async ({ site, before, limit }) => ({ actions: await actions.list({ siteId: site, before, limit }) }),
    }),

    'accounts.list': method({
      role: 'admin',
      params: z.strictObject({}),
      handler: async () => ({ accounts: (await accounts.list()).map(({ name, role, createdAt, revokedAt }) => ({ name, role, createdAt, revokedAt })) }),
    }),
    'accounts.add': method({
      role: 'admin',
      params: z.strictObject({ name: z.string().min(1).max(64), role: hubRoleSchema }),
      handler: async ({ name, role }, { actor }) => {
        const { account, token } = await accounts.add(name, role);
        await actions.record(actor, 'accounts.add', null, { name, role });
        // The one answer that holds a token: the new account's own, shown this once.
        return { account: { name: account.name, role: account.role, createdAt: account.createdAt }, token };
      },
    }),
    'accounts.revoke': method({
      role: 'admin',
      params: z.strictObject({ name: z.string().min(1).max(64) }),
      handler: async ({ name }, { actor }) => {
        const revoked = await accounts.revoke(name);
        if (revoked) await actions.record(actor, 'accounts.revoke', null, { name });
        return { name, revoked };
      },
    }),
  };
}

function errorCodeOf(error: unknown): string | null {
  if (error instanceof PosternError) return error.code;
  if (error instanceof RpcError) return typeof error.data?.code === 'string' ? error.data.code : String(error.rpcCode);
  return null;
}

