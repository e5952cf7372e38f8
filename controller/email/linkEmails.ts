/**
 * A link's email from its id, for the CLI and the API alike: the link is looked up, its code derived
 * again, its doors resolved; then the message is sent (or rendered as .eml) and the audit trail
 * records to whom. A failure leaves the link as it was.
 */
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ScopeDirectory } from '../credentials/scopeDirectory.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Issuing } from '../issuing/issuing.ts';
import type { LinkRecord, Store } from '../store/storeTypes.ts';
import { composeLinkEmail, type LinkEmailDoor, type LinkEmailMessage } from './linkEmail.ts';
import type { LinkMailer } from './linkMailer.ts';

export interface LinkEmailsDependencies {
  config: SiteConfig;
  store: Pick<Store, 'listDoorSets'>;
  issuing: Pick<Issuing, 'getLink' | 'linkCode'>;
  audit: Pick<AuditTrail, 'append'>;
  mailer: LinkMailer;
  clock?: () => number;
}

export interface ComposedLinkEmail {
  link: LinkRecord;
  to: string | null;
  message: LinkEmailMessage;
}

const ADDRESS = /^[^\s@<>,;]+@[^\s@<>,;]+$/;

export class LinkEmails {
  private readonly scopes: ScopeDirectory;
  private readonly clock: () => number;

  constructor(private readonly deps: LinkEmailsDependencies) {
    this.scopes = new ScopeDirectory(deps.config.scopes, deps.store);
    this.clock = deps.clock ?? Date.now;
  }

  get mailer(): LinkMailer {
    return this.deps.mailer;
  }

  /** The email of link `id`, to `to` or else the link's own address (none: no To header). */
  async compose(id: string, to?: string | null): Promise<ComposedLinkEmail> {
    const link = await this.deps.issuing.getLink(id);
    if (link.revokedAt !== null) throw new PosternError(ErrorCodes.CONFLICT, `link ${link.id} is revoked: its email would not open any door`);
    if (link.notAfter <= Math.floor(this.clock() / 1000)) throw new PosternError(ErrorCodes.CONFLICT, `link ${link.id} has expired: its email would not open any door`);
    const recipient = to?.trim() || link.email;
    if (recipient && !ADDRESS.test(recipient)) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `to: "${recipient}" is not an email address`, { details: { field: 'to' } });
    }
    const message = await composeLinkEmail({
      site: this.deps.config.site,
      link,
      code: this.deps.issuing.linkCode(link),
      doors: await this.doorsOf(link.scope),
      from: this.deps.mailer.from,
      to: recipient || null,
    });
    return { link, to: recipient || null, message };
  }

  /** Sends link `id`'s email over SMTP; returns the Message-ID and the recipient. */
  async send(id: string, to: string | null | undefined, actor: string): Promise<{ messageId: string; to: string }> {
    this.deps.mailer.requireSmtp();
    const composed = await this.compose(id, to);
    if (composed.to === null) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `to: link ${composed.link.id} has no email address: name a recipient`, { details: { field: 'to' } });
    }
    const messageId = await this.deps.mailer.send(composed.message);
    await this.record(actor, composed.link.id, { to: composed.to, via: 'smtp' });
    return { messageId, to: composed.to };
  }

  /** Link `id`'s email as an .eml file, for the operator to send or hand over. */
  async eml(id: string, to: string | null | undefined, actor: string): Promise<{ eml: Buffer; to: string | null }> {
    const composed = await this.compose(id, to);
    const eml = await this.deps.mailer.toEml(composed.message);
    await this.record(actor, composed.link.id, { to: composed.to, via: 'eml' });
    return { eml, to: composed.to };
  }

  /** The doors a scope opens, in the site file's order, with their names. */
  async doorsOf(scope: number): Promise<LinkEmailDoor[]> {
    const ids = await this.scopes.doorsOf(scope);
    if (ids === undefined) return [];
    return this.deps.config.doors.filter((d) => ids.has(d.id)).map((d) => ({ id: d.id, name: d.name }));
  }

  private async record(actor: string, subject: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({ type: 'operator', door: null, scanner: null, subject, kind: null, issuer: 0, verdict: null, reason: 'link.email', actor, data });
  }
}
