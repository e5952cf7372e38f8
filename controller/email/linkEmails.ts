/**
 * A link's email from its id, for the CLI and the API alike: the link is looked up, its code derived
 * again, its doors resolved; then the message is sent (or rendered as .eml) and the audit trail
 * records to whom. A failure leaves the link as it was.
 */
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { Issuing } from '../issuing/issuing.ts';
import type { LinkView } from '../issuing/holderViews.ts';
import type { LinkRecord } from '../store/storeTypes.ts';
import { composeLinkEmail, type LinkEmailDoor, type LinkEmailMessage } from './linkEmail.ts';
import type { LinkMailer } from './linkMailer.ts';

export interface LinkEmailsDependencies {
  config: SiteConfig;
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
  private readonly clock: () => number;

  constructor(private readonly deps: LinkEmailsDependencies) {
    this.clock = deps.clock ?? Date.now;
  }

  get mailer(): LinkMailer {
    return this.deps.mailer;
  }

  /** The email of link `id`, to `to` or else the link's own address (none: no To header). */
  async compose(id: string, to?: string | null): Promise<ComposedLinkEmail> {
    const { link, to: recipient } = await this.addressed(id, to);
    return this.composed(link, recipient);
  }

  /**
   * Link `id` and its recipient, refused for the link's own faults (unknown, revoked, expired) or a
   * bad address: what the caller can fix about this link, said before anything about the site.
   */
  async addressed(id: string, to?: string | null): Promise<{ link: LinkView; to: string | null }> {
    const link = requireEmailable(await this.deps.issuing.getLink(id), this.clock());
    const recipient = to?.trim() || link.email;
    if (recipient && !ADDRESS.test(recipient)) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `to: "${recipient}" is not an email address`, { details: { field: 'to' } });
    }
    return { link, to: recipient || null };
  }

  /**
   * Sends link `id`'s email over SMTP; returns the Message-ID and the recipient. The link and the
   * recipient are checked before the site's email configuration: "email is not configured" for
   * a link that does not exist, or is revoked, would send the caller to fix the wrong thing.
   */
  async send(id: string, to: string | null | undefined, actor: string): Promise<{ messageId: string; to: string }> {
    const { link, to: recipient } = await this.addressed(id, to);
    if (recipient === null) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `to: link ${link.id} has no email address: name a recipient`, { details: { field: 'to' } });
    }
    this.deps.mailer.requireSmtp();
    const composed = await this.composed(link, recipient);
    const messageId = await this.deps.mailer.send(composed.message);
    await this.record(actor, link.id, { to: recipient, via: 'smtp' });
    return { messageId, to: recipient };
  }

  /** Link `id`'s email as an .eml file, for the operator to send or hand over. */
  async eml(id: string, to: string | null | undefined, actor: string): Promise<{ eml: Buffer; to: string | null }> {
    const composed = await this.compose(id, to);
    const eml = await this.deps.mailer.toEml(composed.message);
    await this.record(actor, composed.link.id, { to: composed.to, via: 'eml' });
    return { eml, to: composed.to };
  }

  /** The doors a link opens (its view lists them, in the site file's order), with their names. */
  private doorsOf(link: LinkView): LinkEmailDoor[] {
    return this.deps.config.doors.filter((d) => link.doors.includes(d.id)).map((d) => ({ id: d.id, name: d.name }));
  }

  private async composed(link: LinkView, to: string | null): Promise<ComposedLinkEmail> {
    const message = await composeLinkEmail({
      site: this.deps.config.site,
      link,
      code: this.deps.issuing.linkCode(link),
      doors: this.doorsOf(link),
      from: this.deps.mailer.from,
      to,
    });
    return { link, to, message };
  }

  private async record(actor: string, subject: string, data: Record<string, unknown>): Promise<void> {
    await this.deps.audit.append({ type: 'operator', door: null, scanner: null, subject, kind: null, issuer: 0, verdict: null, reason: 'link.email', actor, data });
  }
}

/** `link`, unless its email would open no door: revoked, or expired at `nowMs`. */
export function requireEmailable<T extends LinkRecord>(link: T, nowMs: number): T {
  if (link.revokedAt !== null) throw new PosternError(ErrorCodes.CONFLICT, `link ${link.id} is revoked: its email would not open any door`);
  if (link.notAfter <= Math.floor(nowMs / 1000)) throw new PosternError(ErrorCodes.CONFLICT, `link ${link.id} has expired: its email would not open any door`);
  return link;
}
