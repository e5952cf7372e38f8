import { z } from 'zod';
import { requireEmailable, type LinkEmails } from '../../email/linkEmails.ts';
import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { MAX_SEARCH_CHARS } from '../../store/storeTypes.ts';
import { newSubjectId } from '../../issuing/issuing.ts';
import { idempotencyKeyParam } from '../idempotency.ts';
import { listCost } from '../methodTypes.ts';
import { invalidParams } from '../jsonRpc.ts';

const subjectId = z.string().regex(/^\d{1,20}$/, 'a decimal id');
const unixSeconds = z.number().int().min(0).max(0xfffffffe);
const DEFAULT_LIST_LIMIT = 500;
/** Lists come in pages, so that no answer outgrows a client's buffer. */
const listParams = z.strictObject({
  includeRevoked: z.boolean().default(false),
  limit: z.number().int().min(1).max(1000).default(DEFAULT_LIST_LIMIT),
  offset: z.number().int().min(0).default(0),
  /** Name text (any letter case), an id, or for links email text. */
  search: z.string().trim().min(1).max(MAX_SEARCH_CHARS).optional(),
});

export function issuingMethods(api: ApiServices): MethodTable {
  const { issuing } = api;
  return {
    'links.create': method({
      role: 'integrator',
      params: z.strictObject({
        name: z.string().min(1).max(200),
        email: z.string().max(320).nullable().optional(),
        scope: z.number().int().positive().optional(),
        doors: z.array(z.string().min(1).max(64)).min(1).max(256).optional(),
        notBefore: unixSeconds.optional(),
        notAfter: unixSeconds.nullable().optional(),
        onlineOnly: z.boolean().optional(),
        maxUses: z.number().int().positive().nullable().optional(),
        idempotencyKey: idempotencyKeyParam,
      }),
      // The code is answered to the caller that made the link (and to its retries with the same key): it is the visitor's key.
      handler: ({ idempotencyKey, ...params }, { actor }) =>
        api.idempotency.run(actor, 'links.create', idempotencyKey, params, {
          reserve: newSubjectId,
          create: async (id) => {
            const made = await issuing.createLink(params, actor, { id });
            api.events.publish('link', null, { change: 'created', link: made.link });
            return { result: made, ref: made.link.id };
          },
          replay: async (id) => {
            const link = await issuing.getLink(id).catch(() => undefined);
            return link === undefined ? undefined : { link, code: issuing.linkCode(link) };
          },
        }),
    }),
    'links.update': method({
      role: 'integrator',
      params: z.strictObject({
        id: subjectId,
        name: z.string().min(1).max(200).optional(),
        email: z.string().max(320).nullable().optional(),
        scope: z.number().int().positive().optional(),
        doors: z.array(z.string().min(1).max(64)).min(1).max(256).optional(),
        notBefore: unixSeconds.optional(),
        notAfter: unixSeconds.nullable().optional(),
      }),
      handler: async ({ id, ...changes }, { actor }) => {
        if (changes.scope !== undefined && changes.doors !== undefined) throw invalidParams('scope', 'give a scope or a list of doors, not both');
        const updated = await issuing.updateLink(id, changes, actor);
        if (updated.replaced !== undefined) {
          api.events.publish('link', null, { change: 'revoked', link: await issuing.getLink(updated.replaced) });
          api.events.publish('link', null, { change: 'created', link: updated.link });
        } else api.events.publish('link', null, { change: 'updated', link: updated.link });
        return updated;
      },
    }),
    'scopes.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => issuing.views.scopes.list() }),
    'links.list': method({ role: 'viewer', params: listParams, cost: (params) => listCost(params, DEFAULT_LIST_LIMIT), handler: async (params) => (await api.readBudget.take(params.limit), issuing.listLinks(params)) }),
    'links.get': method({ role: 'viewer', params: z.strictObject({ id: subjectId }), handler: ({ id }) => issuing.getLink(id) }),
    'links.send': method({
      role: 'integrator',
      params: z.strictObject({ id: subjectId, to: z.string().min(3).max(320).optional() }),
      handler: async ({ id, to }, { actor }) => (await linkEmailsOf(api, id)).send(id, to ?? null, actor),
    }),
    'links.eml': method({
      role: 'integrator',
      params: z.strictObject({ id: subjectId, to: z.string().min(3).max(320).optional() }),
      // The message carries the link's QR code: it goes to the integrator that asked, like the code.
      handler: async ({ id, to }, { actor }) => {
        const { eml, to: recipient } = await (await linkEmailsOf(api, id)).eml(id, to ?? null, actor);
        return { eml: eml.toString('base64'), to: recipient };
      },
    }),
    'links.revoke': method({
      role: 'integrator',
      params: z.strictObject({ id: subjectId, reason: z.string().max(500).optional() }),
      handler: async ({ id, reason }, { actor }) => {
        await issuing.revokeLink(id, actor, reason ?? null);
        const link = await issuing.getLink(id);
        api.events.publish('link', null, { change: 'revoked', link });
        return link;
      },
    }),
    'credentials.create': method({
      role: 'integrator',
      params: z.strictObject({ name: z.string().min(1).max(200), scope: z.number().int().positive(), idempotencyKey: idempotencyKeyParam }),
      // The secret is answered to the caller that made it (and its retries with the same key); reads never return it.
      handler: ({ idempotencyKey, ...params }, { actor }) =>
        api.idempotency.run(actor, 'credentials.create', idempotencyKey, params, {
          reserve: newSubjectId,
          create: async (id) => {
            const { credential, secret } = await issuing.createCredential(params, actor, { id });
            return { result: { credential, secret: secret.toString('hex') }, ref: credential.id };
          },
          replay: async (id) => {
            const made = await issuing.credentialWithSecret(id);
            return made === undefined ? undefined : { credential: made.credential, secret: made.secret.toString('hex') };
          },
        }),
    }),
    'credentials.update': method({
      role: 'integrator',
      params: z.strictObject({ id: subjectId, name: z.string().min(1).max(200).optional(), scope: z.number().int().positive().optional() }),
      handler: ({ id, ...changes }, { actor }) => issuing.updateCredential(id, changes, actor),
    }),
    'credentials.list': method({ role: 'viewer', params: listParams, cost: (params) => listCost(params, DEFAULT_LIST_LIMIT), handler: async (params) => (await api.readBudget.take(params.limit), issuing.listCredentials(params)) }),
    'credentials.revoke': method({
      role: 'integrator',
      params: z.strictObject({ id: subjectId, reason: z.string().max(500).optional() }),
      handler: async ({ id, reason }, { actor }) => {
        await issuing.revokeCredential(id, actor, reason ?? null);
        return { id, revoked: true };
      },
    }),
    'partners.add': method({
      role: 'admin',
      params: z.strictObject({
        id: z.number().int().min(1).max(65_535),
        name: z.string().min(1).max(200),
        allowedScopes: z.array(z.number().int().positive()).min(1).max(256),
        defaultScope: z.number().int().positive().nullable().optional(),
        secret: z.string().regex(/^([0-9a-fA-F]{2}){32,128}$/, 'at least 64 hex characters').optional(),
        idempotencyKey: idempotencyKeyParam,
      }),
      handler: ({ secret, idempotencyKey, ...params }, { actor }) =>
        // The key's hash covers the chosen secret too, so a retry with another secret is a conflict.
        api.idempotency.run(actor, 'partners.add', idempotencyKey, { ...params, secret }, {
          reserve: () => String(params.id),
          create: async () => {
            const added = await issuing.addPartner({ ...params, secret: secret === undefined ? undefined : Buffer.from(secret, 'hex') }, actor);
            // A secret the caller chose is not echoed back; a generated one is shown to the caller that made it.
            return { result: { partner: added.partner, ...(secret === undefined ? { secret: added.secret.toString('hex') } : {}) }, ref: String(added.partner.id) };
          },
          replay: async (ref) => {
            const partner = (await issuing.listPartners()).find((p) => String(p.id) === ref);
            if (partner === undefined) return undefined;
            const generated = secret === undefined ? (await issuing.partnerSecret(partner.id))?.toString('hex') : undefined;
            return { partner, ...(generated !== undefined ? { secret: generated } : {}) };
          },
        }),
    }),
    'partners.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => issuing.listPartners() }),
    'partners.remove': method({
      role: 'admin',
      params: z.strictObject({ id: z.number().int().min(1).max(65_535) }),
      handler: async ({ id }, { actor }) => {
        await issuing.removePartner(id, actor);
        return { id, removed: true };
      },
    }),
    'partners.revokeSubject': method({
      role: 'admin',
      // The subject is checked by Issuing, as for the CLI: a canonical decimal uint64.
      params: z.strictObject({ partner: z.number().int().min(1).max(65_535), subject: z.string().max(40), reason: z.string().max(500).optional() }),
      handler: async ({ partner, subject, reason }, { actor }) => {
        const revoked = await issuing.revokePartnerSubject(partner, subject, actor, reason ?? null);
        return { ...revoked, revoked: true };
      },
    }),
  };
}

/** The controller's link emails; where it has none, link `id`'s own faults are still said first. */
async function linkEmailsOf(api: ApiServices, id: string): Promise<LinkEmails> {
  if (api.linkEmails !== undefined) return api.linkEmails;
  requireEmailable(await api.issuing.getLink(id), Date.now());
  throw new PosternError(ErrorCodes.EMAIL_FAILED, 'link emails are not available on this controller', { details: { reason: 'not-configured' } });
}
