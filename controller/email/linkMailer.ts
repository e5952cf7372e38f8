/**
 * Sends link emails over SMTP with nodemailer, or renders them as .eml files. A failed send is a
 * PosternError EMAIL_FAILED whose message says why in words an operator can act on; nothing here
 * logs a message or its parts.
 */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { EmailConfig } from '../config/configSchema.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

const TIMEOUT_MS = 10_000;

export const NOT_CONFIGURED_HINT = 'or write the message to a file instead (postern link email ID --eml FILE, or links.eml in the API) and send it yourself';

type SmtpConfig = NonNullable<EmailConfig['smtp']>;

export class LinkMailer {
  private readonly transport: Mail<SMTPTransport.SentMessageInfo> | undefined;
  private readonly smtp: SmtpConfig | undefined;

  /** `email` is the site file's email section (validated); a passwordFile is read here, once. */
  constructor(readonly email: EmailConfig | undefined) {
    this.smtp = email?.smtp;
    if (this.smtp === undefined) return;
    const { host, port, secure, requireTLS, user } = this.smtp;
    const pass = this.smtp.passwordFile === undefined ? this.smtp.password : readPasswordFile(this.smtp.passwordFile);
    this.transport = nodemailer.createTransport({
      host,
      port,
      secure,
      requireTLS: !secure && requireTLS,
      ...(user === undefined ? {} : { auth: { user, pass: pass ?? '' } }),
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: 3 * TIMEOUT_MS,
      logger: false,
      debug: false,
    });
  }

  /** The sender of the site's link emails, if the site file names one. */
  get from(): string | undefined {
    return this.email?.from;
  }

  get canSend(): boolean {
    return this.transport !== undefined;
  }

  /** Throws EMAIL_FAILED, saying what to do, when this site cannot send. */
  requireSmtp(): void {
    if (this.email === undefined) {
      throw new PosternError(ErrorCodes.EMAIL_FAILED, `email is not configured: add an email section (from, smtp) to the site file, ${NOT_CONFIGURED_HINT}`, {
        details: { reason: 'not-configured' },
      });
    }
    if (this.transport === undefined) {
      throw new PosternError(ErrorCodes.EMAIL_FAILED, `SMTP is not configured: add email.smtp (host, port, user, passwordFile) to the site file, ${NOT_CONFIGURED_HINT}`, {
        details: { reason: 'not-configured' },
      });
    }
  }

  /** Sends `message` over SMTP; returns its Message-ID. */
  async send(message: Mail.Options): Promise<string> {
    this.requireSmtp();
    const to = recipientsOf(message);
    let info: SMTPTransport.SentMessageInfo;
    try {
      info = await this.transport!.sendMail(message);
    } catch (error) {
      throw this.failure(error, to);
    }
    if (info.rejected.length > 0) {
      throw new PosternError(ErrorCodes.EMAIL_FAILED, `email to ${to} not sent: the SMTP server ${this.server} rejected the recipient ${info.rejected.map(String).join(', ')}`, {
        details: { reason: 'recipient-rejected' },
      });
    }
    return info.messageId;
  }

  /** The message as an RFC 5322 file (.eml), with the Message-ID it would be sent with. */
  async toEml(message: Mail.Options): Promise<Buffer> {
    const info = await nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' }).sendMail(message);
    return info.message as Buffer;
  }

  close(): void {
    this.transport?.close();
  }

  private get server(): string {
    return `${this.smtp!.host}:${this.smtp!.port}`;
  }

  /** nodemailer's error, as a sentence: connection, TLS, login, recipient, or the server's answer. */
  private failure(error: unknown, to: string): PosternError {
    const e = (error ?? {}) as { code?: string; responseCode?: number; response?: string; message?: string; command?: string };
    const answer = e.response ? ` (${e.response.trim()})` : '';
    const cause = e.message ?? String(error);
    let why: string;
    let reason: string;
    if (/ECONNREFUSED/.test(cause)) {
      reason = 'connection-refused';
      why = `the SMTP server ${this.server} refused the connection (is it running, and is the port right?)`;
    } else if (e.code === 'EDNS' || /ENOTFOUND|EAI_AGAIN/.test(cause)) {
      reason = 'host-unknown';
      why = `the SMTP host ${this.smtp!.host} could not be found`;
    } else if (e.code === 'ETIMEDOUT' || /timeout|timed out/i.test(cause)) {
      reason = 'timeout';
      why = `the SMTP server ${this.server} did not answer in time`;
    } else if (e.code === 'ETLS' || /STARTTLS|TLS|SSL|certificate/i.test(cause)) {
      reason = 'tls';
      why = `no secure connection to the SMTP server ${this.server}: ${cause}` + (this.smtp!.requireTLS ? ' (email.smtp.requireTLS is on: the server must offer STARTTLS)' : '');
    } else if (e.code === 'EAUTH') {
      reason = 'auth-failed';
      why = this.smtp!.user === undefined ? `the SMTP server ${this.server} wants a login: set email.smtp.user and a password${answer}` : `the SMTP server ${this.server} refused the login of user "${this.smtp!.user}"${answer}`;
    } else if (e.code === 'EENVELOPE' && e.command === 'MAIL FROM') {
      reason = e.responseCode === 530 ? 'auth-required' : 'sender-rejected';
      why = e.responseCode === 530 ? `the SMTP server ${this.server} wants a login: set email.smtp.user and a password${answer}` : `the SMTP server ${this.server} refused the sender ${this.from}${answer}`;
    } else if (e.code === 'EENVELOPE') {
      reason = 'recipient-rejected';
      why = `the SMTP server ${this.server} rejected the recipient ${to}${answer}`;
    } else if (e.code === 'EMESSAGE') {
      reason = 'message-rejected';
      why = `the SMTP server ${this.server} refused the message${answer}`;
    } else {
      reason = 'failed';
      why = `${cause}${answer && !cause.includes(e.response!.trim()) ? answer : ''}`;
    }
    return new PosternError(ErrorCodes.EMAIL_FAILED, `email to ${to} not sent: ${why}`, { cause: error, details: { reason } });
  }
}

function recipientsOf(message: Mail.Options): string {
  const to = message.to;
  if (to === undefined) return '(no recipient)';
  return (Array.isArray(to) ? to : [to]).map((a) => (typeof a === 'string' ? a : a.address)).join(', ');
}

function readPasswordFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_UNREADABLE, `email.smtp.passwordFile: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}
