import path from 'node:path';
import { LinkEmails } from '../email/linkEmails.ts';
import { LinkMailer } from '../email/linkMailer.ts';
import { ErrorCodes, isPosternError, PosternError } from '../../machines/shared/errors.ts';
import { writePrivateFile } from '../secureFiles.ts';
import { intFlag, parse, parseTime, requirePositional, requireString, UsageError } from './args.ts';
import type { AdminContext, CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';
import { formatMs, formatUnixSeconds, writeList } from './format.ts';
import { qrForTerminal, writeQrFiles } from './qrOutput.ts';
import { revokeSubcommand, subcommands } from './subcommands.ts';

export const LINK_USAGE = `postern link create --name NAME [--email ADDRESS] (--scope ID | --doors a,b)
                   [--from TIME] [--until TIME|never] [--online-only [--max-uses N]] [--out DIR] [--send]
postern link list [--all] [--json]
postern link email ID [--to ADDRESS] [--eml FILE]
postern link revoke ID [--reason TEXT]
  TIME is ISO 8601 (2026-12-01T09:00Z), unix seconds, or +30m / +8h / +7d from now.`;

export const linkCommand = subcommands('link', LINK_USAGE, {
  create: createLink,
  list: listLinks,
  email: emailLink,
  revoke: revokeSubcommand('link', (ctx, id, reason) => ctx.issuing.revokeLink(id, ctx.actor, reason)),
});

async function createLink(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, {
    name: { type: 'string' },
    email: { type: 'string' },
    scope: { type: 'string' },
    doors: { type: 'string' },
    from: { type: 'string' },
    until: { type: 'string' },
    'online-only': { type: 'boolean' },
    'max-uses': { type: 'string' },
    out: { type: 'string' },
    send: { type: 'boolean' },
  });
  if (values.send && values.email === undefined) throw new UsageError('--send needs --email: the address to send the link to');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const emails = values.send ? linkEmails(ctx) : undefined;
    emails?.mailer.requireSmtp(); // before the link exists: a site that cannot send makes no link here
    const now = Date.now();
    const { link, code } = await ctx.issuing.createLink(
      {
        name: requireString(values.name, 'name'),
        email: values.email ?? null,
        scope: intFlag(values.scope, 'scope'),
        doors: values.doors?.split(',').map((d) => d.trim()),
        notBefore: values.from === undefined ? undefined : parseTime(values.from, 'from', now),
        notAfter: values.until === 'never' ? null : values.until === undefined ? undefined : parseTime(values.until, 'until', now),
        onlineOnly: values['online-only'] ?? false,
        maxUses: intFlag(values['max-uses'], 'max-uses') ?? null,
      },
      ctx.actor,
    );
    const dir = values.out ?? path.join(ctx.config.dataDir, 'links');
    // The link exists now: its code is printed whether or not the files can be written.
    const written = await writeQrFiles(code, dir, `link-${link.id}`).then(
      (files) => ({ files }),
      (error: unknown) => ({ error }),
    );
    io.stdout.write(
      `Link ${link.id} for ${link.name}${link.onlineOnly ? ' (online only)' : ''}\n` +
        `valid ${formatUnixSeconds(link.notBefore)} to ${formatUnixSeconds(link.notAfter)}, scope ${link.scope}\n\n` +
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
  });
}

/** `link email ID [--to ADDRESS] [--eml FILE]`: sends the link's email, or writes it as an .eml file. */
async function emailLink(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, { to: { type: 'string' }, eml: { type: 'string' } });
  const id = requirePositional(positionals[0], 'id (the link id)');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const emails = linkEmails(ctx);
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
  });
}

function linkEmails(ctx: AdminContext): LinkEmails {
  return new LinkEmails({ config: ctx.config, store: ctx.store, issuing: ctx.issuing, audit: ctx.audit, mailer: new LinkMailer(ctx.config.email) });
}

async function listLinks(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { all: { type: 'boolean' }, json: { type: 'boolean' } });
  await withAdminContext(values.config, io.env, async (ctx) => {
    const links = await ctx.issuing.listLinks({ includeRevoked: values.all ?? false });
    const header = ['ID', 'NAME', 'EMAIL', 'SCOPE', 'FROM', 'UNTIL', 'ONLINE', 'REVOKED'];
    writeList(io.stdout, values.json, links, header, (l) => [l.id, l.name, l.email ?? '', String(l.scope), formatUnixSeconds(l.notBefore), formatUnixSeconds(l.notAfter), l.onlineOnly ? `yes (${l.uses}${l.maxUses === null ? '' : `/${l.maxUses}`})` : 'no', formatMs(l.revokedAt)]);
  });
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
