import { z } from 'zod';
import { requireEmailable, type LinkEmails } from '../../email/linkEmails.ts';
import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { MAX_SEARCH_CHARS } from '../../store/storeTypes.ts';

const subjectId = z.string().regex(/^\d{1,20}$/, 'a decimal id');
const unixSeconds = z.number().int().min(0).max(0xfffffffe);
/** Lists come in pages, so that no answer outgrows a client's buffer. */
const listParams = z.strictObject({
  includeRevoked: z.boolean().default(false),
  limit: z.number().int().min(1).max(1000).default(500),
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
      }),
      // The code is answered once, to the caller that made the link: it is the visitor's key.
      handler: async (params, { actor }) => {
        const { link, code } = await issuing.createLink(params, actor);
        api.events.publish('link', null, { change: 'created', link });
        return { link, code };
      },
    }),
    'scopes.list': method({ role: 'viewer', params: z.strictObject({}), handler: () => issuing.views.scopes.list() }),
    'links.list': method({ role: 'viewer', params: listParams, handler: (params) => issuing.listLinks(params) }),
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
      params: z.strictObject({ name: z.string().min(1).max(200), scope: z.number().int().positive() }),
      // The secret is answered once; reads never return it.
      handler: async (params, { actor }) => {
        const { credential, secret } = await issuing.createCredential(params, actor);
        return { credential, secret: secret.toString('hex') };
      },
    }),
    'credentials.list': method({ role: 'viewer', params: listParams, handler: (params) => issuing.listCredentials(params) }),
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
      }),
      handler: async ({ secret, ...params }, { actor }) => {
        const added = await issuing.addPartner({ ...params, secret: secret === undefined ? undefined : Buffer.from(secret, 'hex') }, actor);
        // A secret the caller chose is not echoed back; a generated one is shown this once.
        return { partner: added.partner, ...(secret === undefined ? { secret: added.secret.toString('hex') } : {}) };
      },
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
