/**
 * Issuing: access links, rotating credentials and partners, and their revocation. The CLI uses it
 * now and the API later; every change lands in the audit trail with the account that made it.
 */
import { randomBytes } from 'node:crypto';
import type { AuditTrail } from '../audit/auditTrail.ts';
import { FIRST_DOOR_SET_SCOPE, type SiteConfig } from '../config/configSchema.ts';
import { encodeCredential, NO_END } from '../credentials/credentialCodec.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { LinkRecord, ListOptions, PartnerRecord, Store } from '../store/storeTypes.ts';
import { HolderViews, type CredentialView, type LinkView } from './holderViews.ts';

export type { ListOptions } from '../store/storeTypes.ts';

export interface LinkRequest {
  name: string;
  email?: string | null;
  /** Either a scope id of the site file, or a list of doors (not both). */
  scope?: number;
  doors?: string[];
  /** unix seconds; default now */
  notBefore?: number;
  /** unix seconds or null for no end; default 24 hours after notBefore */
  notAfter?: number | null;
  onlineOnly?: boolean;
  /** online-only links only: how many times the hub confirms it */
  maxUses?: number | null;
}

/** What links.update may change; any of it. */
export interface LinkUpdate {
  name?: string;
  email?: string | null;
  scope?: number;
  doors?: string[];
  notBefore?: number;
  notAfter?: number | null;
}

export interface IssuingDependencies {
  store: Store;
  siteKey: Buffer;
  config: SiteConfig;
  audit: Pick<AuditTrail, 'append'>;
  clock?: () => number;
}

const DEFAULT_LINK_SECONDS = 24 * 3600;
const MIN_PARTNER_SECRET_BYTES = 32;

export class Issuing {
  private readonly clock: () => number;
  readonly views: HolderViews;

  constructor(private readonly deps: IssuingDependencies) {
    this.clock = deps.clock ?? Date.now;
    this.views = new HolderViews(deps.config, deps.store, this.clock);
  }

  /** `options.id`: the new link's id, chosen beforehand (an idempotent create); `options.audit`: more for its audit event. */
  async createLink(request: LinkRequest, actor: string, options: { id?: string; audit?: Record<string, unknown> } = {}): Promise<{ link: LinkView; code: string }> {
    const name = request.name?.trim();
    if (!name) throw invalid('name', 'a link needs a name');
    if (request.email != null && !/^[^\s@]+@[^\s@]+$/.test(request.email)) throw invalid('email', `"${request.email}" is not an email address`);
    const scope = await this.resolveScope(request);
    const notBefore = request.notBefore ?? Math.floor(this.clock() / 1000);
    const notAfter = request.notAfter === null ? NO_END : (request.notAfter ?? notBefore + DEFAULT_LINK_SECONDS);
    if (!Number.isInteger(notBefore) || notBefore < 0 || notBefore >= NO_END) throw invalid('notBefore', 'must be a time between 1970 and 2106');
    if (!Number.isInteger(notAfter) || notAfter <= notBefore || notAfter > NO_END) throw invalid('notAfter', 'must be after notBefore');
    const onlineOnly = request.onlineOnly ?? false;
    if (request.maxUses != null && (!onlineOnly || !Number.isInteger(request.maxUses) || request.maxUses < 1)) {
      throw invalid('maxUses', 'a use limit is a positive whole number, and only online-only links can count uses');
    }
    const link = await this.deps.store.createLink({
      id: options.id ?? newSubjectId(),
      name,
      email: request.email ?? null,
      scope,
      notBefore,
      notAfter,
      onlineOnly,
      maxUses: request.maxUses ?? null,
      createdBy: actor,
    });
    // The use limit too: the hub learns an online-only link's limit from this event (siteWideEffects.ts).
    await this.record(actor, 'link.create', link.id, { scope, notBefore, notAfter, onlineOnly, ...(link.maxUses !== null ? { maxUses: link.maxUses } : {}), ...options.audit });
    return { link: await this.views.link(link), code: this.linkCode(link) };
  }

  /** The code of a link: derived again from the site key, never stored. */
  linkCode(link: LinkRecord): string {
    return encodeCredential(
      { kind: link.onlineOnly ? 'online-link' : 'link', issuer: 0, subject: BigInt(link.id), a: link.notBefore, b: link.notAfter, scope: link.scope },
      this.deps.siteKey,
    );
  }

  async getLink(id: string): Promise<LinkView> {
    const link = await this.deps.store.getLink(parseSubject(id));
    if (link === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no link ${id}`);
    return this.views.link(link);
  }

  async listLinks(options: ListOptions = {}): Promise<LinkView[]> {
    return Promise.all((await this.deps.store.listLinks(options)).map((link) => this.views.link(link)));
  }

  async revokeLink(id: string, actor: string, reason: string | null = null): Promise<void> {
    await this.getLink(id);
    await this.revoke(0, id, actor, reason, 'link.revoke');
  }

  async createCredential(request: { name: string; scope: number }, actor: string, options: { id?: string } = {}): Promise<{ credential: CredentialView; secret: Buffer }> {
    const name = request.name?.trim();
    if (!name) throw invalid('name', 'a credential needs a name');
    this.requireConfigScope(request.scope, 'scope');
    const secret = randomBytes(32);
    const credential = await this.deps.store.createCredential({ id: options.id ?? newSubjectId(), name, scope: request.scope, createdBy: actor, secret });
    await this.record(actor, 'credential.create', credential.id, { scope: request.scope });
    return { credential: await this.views.credential(credential), secret };
  }

  /** The credential and its secret, for an idempotent create's replay; undefined when there is none. */
  async credentialWithSecret(id: string): Promise<{ credential: CredentialView; secret: Buffer } | undefined> {
    const [credential] = (await this.deps.store.listCredentials({ search: id, includeRevoked: true })).filter((c) => c.id === id);
    const key = credential === undefined ? undefined : await this.deps.store.getCredentialKey(id);
    return credential === undefined || key === undefined ? undefined : { credential: await this.views.credential(credential), secret: key.secret };
  }

  /**
   * Changes a link. Its name and email change in place. Its window and its doors are signed into
   * its code, so changing them makes a new link with a new code, and revokes this one: the
   * answer's `replaced` names the old id, and the new code goes to the holder.
   */
  async updateLink(id: string, changes: LinkUpdate, actor: string): Promise<{ link: LinkView; code?: string; replaced?: string }> {
    const old = await this.getLink(id);
    if (old.revokedAt !== null) throw new PosternError(ErrorCodes.CONFLICT, `link ${old.id} is revoked: it cannot change`);
    const name = changes.name === undefined ? undefined : changes.name.trim();
    if (name === '') throw invalid('name', 'a link needs a name');
    if (changes.email != null && !/^[^\s@]+@[^\s@]+$/.test(changes.email)) throw invalid('email', `"${changes.email}" is not an email address`);
    const codeChanges = changes.notBefore !== undefined || changes.notAfter !== undefined || changes.scope !== undefined || changes.doors !== undefined;
    if (!codeChanges) {
      const updated = await this.deps.store.updateLink(old.id, { name, email: changes.email });
      if (updated === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no link ${id}`);
      await this.record(actor, 'link.update', old.id, { ...(name !== undefined ? { name } : {}), ...(changes.email !== undefined ? { email: changes.email } : {}) });
      return { link: await this.views.link(updated) };
    }
    // What the caller leaves out stays as it was: the doors of a door set are given again as doors.
    const keepDoors = changes.scope === undefined && changes.doors === undefined && old.scope >= FIRST_DOOR_SET_SCOPE;
    const target = changes.doors !== undefined || keepDoors ? { doors: changes.doors ?? old.doors } : { scope: changes.scope ?? old.scope };
    const { link, code } = await this.createLink(
      {
        name: name ?? old.name,
        email: changes.email !== undefined ? changes.email : old.email,
        ...target,
        notBefore: changes.notBefore ?? old.notBefore,
        notAfter: changes.notAfter !== undefined ? changes.notAfter : old.notAfter === NO_END ? null : old.notAfter,
        onlineOnly: old.onlineOnly,
        maxUses: old.maxUses,
      },
      actor,
      { audit: { replaces: old.id } },
    );
    if (!(await this.deps.store.revoke(0, old.id, `replaced by link ${link.id}`))) throw new PosternError(ErrorCodes.CONFLICT, `link ${old.id} was revoked meanwhile`);
    await this.record(actor, 'link.update', old.id, { replacedBy: link.id });
    return { link, code, replaced: old.id };
  }

  /** Changes a credential's name or scope in place: its codes name no scope, the store's is used at each scan. */
  async updateCredential(id: string, changes: { name?: string; scope?: number }, actor: string): Promise<CredentialView> {
    const subject = parseSubject(id);
    const name = changes.name === undefined ? undefined : changes.name.trim();
    if (name === '') throw invalid('name', 'a credential needs a name');
    if (changes.scope !== undefined) this.requireConfigScope(changes.scope, 'scope');
    const current = await this.credentialWithSecret(subject);
    if (current === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no credential ${id}`);
    if (current.credential.revokedAt !== null) throw new PosternError(ErrorCodes.CONFLICT, `credential ${subject} is revoked: it cannot change`);
    const updated = await this.deps.store.updateCredential(subject, { name, scope: changes.scope });
    if (updated === undefined) throw new PosternError(ErrorCodes.NOT_FOUND, `no credential ${id}`);
    await this.record(actor, 'credential.update', subject, { ...(name !== undefined ? { name } : {}), ...(changes.scope !== undefined ? { scope: changes.scope } : {}) });
    return this.views.credential(updated);
  }

  async listCredentials(options: ListOptions = {}): Promise<CredentialView[]> {
    return Promise.all((await this.deps.store.listCredentials(options)).map((credential) => this.views.credential(credential)));
  }

  async revokeCredential(id: string, actor: string, reason: string | null = null): Promise<void> {
    const subject = parseSubject(id);
    const known = (await this.deps.store.getCredentialKey(subject)) !== undefined || (await this.deps.store.isRevoked(0, subject));
    if (!known) throw new PosternError(ErrorCodes.NOT_FOUND, `no credential ${id}`);
    await this.revoke(0, id, actor, reason, 'credential.revoke');
  }

  /** A partner's shared secret, for an idempotent partners.add's replay to the caller that made it. */
  async partnerSecret(id: number): Promise<Buffer | undefined> {
    return (await this.deps.store.loadPartnerKeys()).find((k) => k.id === id)?.secret;
  }

  async addPartner(
    request: { id: number; name: string; allowedScopes: number[]; defaultScope?: number | null; secret?: Buffer },
    actor: string,
  ): Promise<{ partner: PartnerRecord; secret: Buffer }> {
    if (!Number.isInteger(request.id) || request.id < 1 || request.id > 0xffff) throw invalid('id', 'a partner id is a whole number from 1 to 65535');
    if (!request.name?.trim()) throw invalid('name', 'a partner needs a name');
    if (request.allowedScopes.length === 0) throw invalid('allowedScopes', 'allow the partner at least one scope');
    request.allowedScopes.forEach((s) => this.requireConfigScope(s, 'allowedScopes'));
    const defaultScope = request.defaultScope ?? null;
    if (defaultScope !== null && !request.allowedScopes.includes(defaultScope)) throw invalid('defaultScope', 'the default scope must be one of the allowed scopes');
    const secret = request.secret ?? randomBytes(32);
    if (secret.length < MIN_PARTNER_SECRET_BYTES) throw invalid('secret', `a partner secret has at least ${MIN_PARTNER_SECRET_BYTES} bytes`);
    if ((await this.deps.store.listPartners()).some((p) => p.id === request.id)) {
      throw new PosternError(ErrorCodes.CONFLICT, `partner ${request.id} exists already`);
    }
    const partner = await this.deps.store.addPartner({ id: request.id, name: request.name.trim(), allowedScopes: request.allowedScopes, defaultScope, enabled: true, secret });
    await this.record(actor, 'partner.add', String(partner.id), { allowedScopes: partner.allowedScopes, defaultScope });
    return { partner, secret };
  }

  listPartners(): Promise<PartnerRecord[]> {
    return this.deps.store.listPartners();
  }

  async removePartner(id: number, actor: string): Promise<void> {
    if (!(await this.deps.store.removePartner(id))) throw new PosternError(ErrorCodes.NOT_FOUND, `no partner ${id}`);
    await this.record(actor, 'partner.remove', String(id), null);
  }

  /**
   * Revokes one subject of a partner (a holder or a ticket in its codes): its codes are denied
   * `revoked` from now on, while the partner's other codes keep working. The subject is the
   * decimal uint64 of the codes, written canonically (no sign, no leading zero, at most 2^64 - 1).
   */
  async revokePartnerSubject(partnerId: number, subject: string, actor: string, reason: string | null = null): Promise<{ partner: number; subject: string }> {
    if (!Number.isInteger(partnerId) || partnerId < 1 || partnerId > 0xffff) throw invalid('partner', 'a partner id is a whole number from 1 to 65535');
    if (!/^(0|[1-9][0-9]{0,19})$/.test(subject) || BigInt(subject) > 0xffffffffffffffffn) {
      throw invalid('subject', `"${subject}" is not a subject: a whole number from 0 to 18446744073709551615, in decimal without leading zeros`);
    }
    if (!(await this.deps.store.listPartners()).some((p) => p.id === partnerId)) {
      throw new PosternError(ErrorCodes.NOT_FOUND, `no partner ${partnerId}`, { details: { field: 'partner' } });
    }
    if (!(await this.deps.store.revoke(partnerId, subject, reason))) throw new PosternError(ErrorCodes.CONFLICT, `subject ${subject} of partner ${partnerId} is revoked already`);
    await this.record(actor, 'partner.revokeSubject', subject, reason === null ? null : { reason }, partnerId);
    return { partner: partnerId, subject };
  }

  private async revoke(issuer: number, id: string, actor: string, reason: string | null, action: string): Promise<void> {
    const subject = parseSubject(id);
    if (!(await this.deps.store.revoke(issuer, subject, reason))) throw new PosternError(ErrorCodes.CONFLICT, `${id} is revoked already`);
    await this.record(actor, action, subject, reason === null ? null : { reason });
  }

  private async resolveScope(request: LinkRequest): Promise<number> {
    if (request.scope !== undefined && request.doors !== undefined) throw invalid('scope', 'give a scope or a list of doors, not both');
    if (request.doors !== undefined) {
      if (request.doors.length === 0) throw invalid('doors', 'name at least one door');
      const known = new Set(this.deps.config.doors.map((d) => d.id));
      const unknown = request.doors.filter((d) => !known.has(d));
      if (unknown.length > 0) throw invalid('doors', `no door ${unknown.map((d) => `"${d}"`).join(', ')}`);
      return this.deps.store.doorSetScope(request.doors);
    }
    if (request.scope === undefined) {
      if (this.deps.config.site.defaultScope === null) throw invalid('scope', 'give a scope or doors: this site has no default scope');
      return this.deps.config.site.defaultScope;
    }
    this.requireConfigScope(request.scope, 'scope');
    return request.scope;
  }

  private requireConfigScope(scope: number, field: string): void {
    if (!this.deps.config.scopes.some((s) => s.id === scope)) {
      const known = this.deps.config.scopes.map((s) => `${s.id} (${s.name})`).join(', ') || 'none';
      throw invalid(field, `no scope ${scope}; this site has ${known}`);
    }
  }

  private async record(actor: string, action: string, subject: string, data: Record<string, unknown> | null, issuer = 0): Promise<void> {
    await this.deps.audit.append({ type: 'operator', door: null, scanner: null, subject, kind: null, issuer, verdict: null, reason: action, actor, data });
  }
}

/** Random 48-bit subject ids: unique without coordination between a hub and offline sites. */
export function newSubjectId(): string {
  let id = 0;
  while (id === 0) id = randomBytes(6).readUIntBE(0, 6);
  return String(id);
}

function parseSubject(id: string): string {
  if (!/^\d{1,20}$/.test(id) || BigInt(id) > 0xffffffffffffffffn) throw invalid('id', `"${id}" is not a link or credential id`);
  return BigInt(id).toString();
}

function invalid(field: string, message: string): PosternError {
  return new PosternError(ErrorCodes.INVALID_ARGUMENT, `${field}: ${message}`, { details: { field } });
}
