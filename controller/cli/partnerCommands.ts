import { intFlag, intList, parse, requireString, UsageError } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { openAdminContext } from './cliContext.ts';
import { formatMs, table } from './format.ts';

export const PARTNER_USAGE = `postern partner add --id N --name NAME --scopes 3,4 [--default-scope 3] [--secret HEX]
postern partner list
postern partner remove ID`;

export async function partnerCommand(args: string[], io: CliEnvironment): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'add':
      return add(rest, io);
    case 'list':
      return list(rest, io);
    case 'remove':
      return remove(rest, io);
    default:
      throw new UsageError(`unknown partner command "${sub ?? ''}"\n${PARTNER_USAGE}`);
  }
}

async function add(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { id: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, 'default-scope': { type: 'string' }, secret: { type: 'string' } });
  const id = intFlag(requireString(values.id, 'id'), 'id')!;
  const allowedScopes = intList(requireString(values.scopes, 'scopes'), 'scopes')!;
  if (values.secret !== undefined && !/^([0-9a-fA-F]{2}){32,}$/.test(values.secret)) throw new UsageError('--secret is at least 64 hex characters (32 bytes)');
  const ctx = await openAdminContext(values.config, io.env);
  try {
    const { partner, secret } = await ctx.issuing.addPartner(
      {
        id,
        name: requireString(values.name, 'name'),
        allowedScopes,
        defaultScope: intFlag(values['default-scope'], 'default-scope') ?? null,
        secret: values.secret === undefined ? undefined : Buffer.from(values.secret, 'hex'),
      },
      ctx.actor,
    );
    io.stdout.write(
      `Partner ${partner.id} (${partner.name}) added, scopes ${partner.allowedScopes.join(', ')}` +
        `${partner.defaultScope === null ? '' : `, default ${partner.defaultScope}`}\n` +
        (values.secret === undefined ? `shared secret: ${secret.toString('hex')}\nThis secret is shown once. Send it to the partner over a secure channel.\n` : ''),
    );
  } finally {
    await ctx.close();
  }
}

async function list(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, {});
  const ctx = await openAdminContext(values.config, io.env);
  try {
    const partners = await ctx.issuing.listPartners();
    io.stdout.write(table([['ID', 'NAME', 'SCOPES', 'DEFAULT', 'ENABLED', 'CREATED'], ...partners.map((p) => [String(p.id), p.name, p.allowedScopes.join(','), p.defaultScope === null ? '' : String(p.defaultScope), p.enabled ? 'yes' : 'no', formatMs(p.createdAt)])]));
  } finally {
    await ctx.close();
  }
}

async function remove(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, {});
  const id = intFlag(requireString(positionals[0], 'id (the partner id)'), 'id')!;
  const ctx = await openAdminContext(values.config, io.env);
  try {
    await ctx.issuing.removePartner(id, ctx.actor);
    io.stdout.write(`Partner ${id} removed\n`);
  } finally {
    await ctx.close();
  }
}
