import path from 'node:path';
import { intFlag, parse, parseTime, requireString } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';
import { formatMs, formatUnixSeconds, writeList } from './format.ts';
import { qrForTerminal, writeQrFiles } from './qrOutput.ts';
import { revokeSubcommand, subcommands } from './subcommands.ts';

export const LINK_USAGE = `postern link create --name NAME [--email ADDRESS] (--scope ID | --doors a,b)
                   [--from TIME] [--until TIME|never] [--online-only [--max-uses N]] [--out DIR]
postern link list [--all] [--json]
postern link revoke ID [--reason TEXT]
  TIME is ISO 8601 (2026-12-01T09:00Z), unix seconds, or +30m / +8h / +7d from now.`;

export const linkCommand = subcommands('link', LINK_USAGE, {
  create: createLink,
  list: listLinks,
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
  });
  await withAdminContext(values.config, io.env, async (ctx) => {
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
    const files = await writeQrFiles(code, values.out ?? path.join(ctx.config.dataDir, 'links'), `link-${link.id}`);
    io.stdout.write(
      `Link ${link.id} for ${link.name}${link.onlineOnly ? ' (online only)' : ''}\n` +
        `valid ${formatUnixSeconds(link.notBefore)} to ${formatUnixSeconds(link.notAfter)}, scope ${link.scope}\n\n` +
        (await qrForTerminal(code)) +
        `\n${code}\n\nQR code written to ${files.png} and ${files.svg}\n`,
    );
  });
}

async function listLinks(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { all: { type: 'boolean' }, json: { type: 'boolean' } });
  await withAdminContext(values.config, io.env, async (ctx) => {
    const links = await ctx.issuing.listLinks({ includeRevoked: values.all ?? false });
    const header = ['ID', 'NAME', 'EMAIL', 'SCOPE', 'FROM', 'UNTIL', 'ONLINE', 'REVOKED'];
    writeList(io.stdout, values.json, links, header, (l) => [l.id, l.name, l.email ?? '', String(l.scope), formatUnixSeconds(l.notBefore), formatUnixSeconds(l.notAfter), l.onlineOnly ? `yes (${l.uses}${l.maxUses === null ? '' : `/${l.maxUses}`})` : 'no', formatMs(l.revokedAt)]);
  });
}
