/**
 * `postern link ...`: access links, codes for visitors. The QR code (qrcode) and email (nodemailer)
 * modules are loaded only by the commands that draw or send one.
 */
import path from 'node:path';
import type { LinkEmails } from '../email/linkEmails.ts';
import { ErrorCodes, isPosternError, PosternError } from '../../machines/shared/errors.ts';
import { writePrivateFile } from '../secureFiles.ts';
import { intFlag, opening, parseTime, requireString, scopeFlag, searchFlag, type StoreOptions } from './args.ts';
import type { AdminContext, CliEnvironment } from './cliContext.ts';
import { withAdminContext, withReadContext } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { HolderViews } from '../issuing/holderViews.ts';
import { formatUnixSeconds, opensText, statusText, writeList } from './format.ts';
import { revokeCommand } from './revokeCommand.ts';

export interface LinkCreateOptions extends StoreOptions {
  name?: string;
  email?: string;
  scope?: string;
  doors?: string;
  from?: string;
  until?: string;
  onlineOnly?: boolean;
  maxUses?: string;
  out?: string;
  send?: boolean;
}

export const revokeLink = revokeCommand('link', (ctx, id, reason) => ctx.issuing.revokeLink(id, ctx.actor, reason));

export async function createLink(values: LinkCreateOptions, io: CliEnvironment): Promise<void> {
  const name = requireString(values.name, 'name');
  if (values.send && values.email === undefined) throw new UsageError('--send needs --email: the address to send the link to');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const emails = values.send ? await linkEmails(ctx) : undefined;
    emails?.mailer.requireSmtp(); // before the link exists: a site that cannot send makes no link here
    const now = Date.now();
    const { link, code } = await ctx.issuing.createLink(
      {
        name,
        email: values.email ?? null,
        scope: scopeFlag(values.scope, ctx.config.scopes),
        doors: values.doors?.split(',').map((d) => d.trim()),
        notBefore: values.from === undefined ? undefined : parseTime(values.from, 'from', now),
        notAfter: values.until === 'never' ? null : values.until === undefined ? undefined : parseTime(values.until, 'until', now),
        onlineOnly: values.onlineOnly ?? false,
        maxUses: intFlag(values.maxUses, 'max-uses') ?? null,
      },
      ctx.actor,
    );
    const { qrForTerminal, writeQrFiles } = await import('./qrOutput.ts');
    const dir = values.out ?? path.join(ctx.config.dataDir, 'links');
    // The link exists now: its code is printed whether or not the files can be written.
    const written = await writeQrFiles(code, dir, `link-${link.id}`).then(
      (files) => ({ files }),
      (error: unknown) => ({ error }),
    );
    io.stdout.write(
      `Link ${link.id} for ${link.name}${link.onlineOnly ? ' (online only)' : ''}\n` +
        `valid ${formatUnixSeconds(link.notBefore)} to ${formatUnixSeconds(link.notAfter)}\n` +
        `opens ${opensText(link, ctx.config.doors)}\n\n` +
        (await qrForTerminal(code)) +
        `\n${code}\n` +
        ('files' in written ? `\nQR code written to ${written.files.png} and ${written.files.svg}\n` : ''),
    );
    const where = values.out === undefined ? `the data directory's links folder ${dir}` : `--out ${dir}`;
    const fileProblem = 'error' in written ? fileError(written.error, `link ${link.id} was created and its code is printed above, but its QR files could not be written to ${where}`, values.out !== undefined) : undefined;
    if (emails !== undefined) {
      try {
        const sent = await emails.send(link.id, null, ctx.actor);
        io.stdout.write(`Email sent to ${sent.to} (${sent.messageId})\n`);
      } catch (error) {
        if (!isPosternError(error)) throw error;
        throw new PosternError(error.code, `link ${link.id} was created, but its email was not sent: ${error.message}\n  Send it again with: postern link email ${link.id}`, { cause: error });
      } finally {
        emails.mailer.close();
      }
    }
    if (fileProblem) throw fileProblem;
  }, opening(values));
}

/** `link email ID [--to ADDRESS] [--eml FILE]`: sends the link's email, or writes it as an .eml file. */
export async function emailLink(values: StoreOptions & { id: string; to?: string; eml?: string }, io: CliEnvironment): Promise<void> {
  const { id } = values;
  await withAdminContext(values.config, io.env, async (ctx) => {
    const emails = await linkEmails(ctx);
    try {
      if (values.eml !== undefined) {
        const file = path.resolve(values.eml);
        const { eml, to } = await emails.eml(id, values.to ?? null, ctx.actor);
        // The file holds the visitor's key: readable by its owner only, from its first byte.
        await writePrivateFile(file, eml).catch((error: unknown) => {
          throw fileError(error, `--eml ${file}: the email for link ${id} could not be written`, true);
        });
        io.stdout.write(`Email for link ${id}${to ? ` to ${to}` : ''} written to ${file}\n`);
        return;
      }
      const sent = await emails.send(id, values.to ?? null, ctx.actor);
      io.stdout.write(`Email for link ${id} sent to ${sent.to} (${sent.messageId})\n`);
    } finally {
      emails.mailer.close();
    }
  }, opening(values));
}

async function linkEmails(ctx: AdminContext): Promise<LinkEmails> {
  const [{ LinkEmails }, { LinkMailer }] = await Promise.all([import('../email/linkEmails.ts'), import('../email/linkMailer.ts')]);
  return new LinkEmails({ config: ctx.config, issuing: ctx.issuing, audit: ctx.audit, mailer: new LinkMailer(ctx.config.email) });
}

export async function listLinks(values: StoreOptions & { all?: boolean; json?: boolean; search?: string }, io: CliEnvironment): Promise<void> {
  const search = searchFlag(values.search);
  await withReadContext(values.config, io.env, async (ctx) => {
    const views = new HolderViews(ctx.config, ctx.store);
    const links = await Promise.all((await ctx.store.listLinks({ includeRevoked: values.all ?? false, search })).map((l) => views.link(l)));
    const header = ['ID', 'NAME', 'EMAIL', 'OPENS', 'FROM', 'UNTIL', 'ONLINE', 'STATUS'];
    writeList(io.stdout, values.json, links, header, (l) => [l.id, l.name, l.email ?? '', opensText(l, ctx.config.doors), formatUnixSeconds(l.notBefore), formatUnixSeconds(l.notAfter), l.onlineOnly ? `yes (${l.uses}${l.maxUses === null ? '' : `/${l.maxUses}`})` : 'no', statusText(l)]);
  }, opening(values));
}

/**
 * A file that could not be written, as one line: INVALID_ARGUMENT for a path the user gave
 * (--out, --eml), STORE_READ_ONLY / STORE_WRITE_FAILED for the data directory.
 */
function fileError(error: unknown, what: string, userPath: boolean): PosternError {
  if (isPosternError(error)) return error;
  const code = (error as NodeJS.ErrnoException).code;
  const reason = (error as Error).message ?? String(error);
  const readOnly = code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
  const errorCode = userPath ? ErrorCodes.INVALID_ARGUMENT : readOnly ? ErrorCodes.STORE_READ_ONLY : ErrorCodes.STORE_WRITE_FAILED;
  return new PosternError(errorCode, `${what}: ${reason}`, { cause: error });
}
