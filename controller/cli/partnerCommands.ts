import { intFlag, intList, parse, requirePositional, requireString, UsageError } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';
import { formatMs, table } from './format.ts';
import { subcommands } from './subcommands.ts';

export const PARTNER_USAGE = `postern partner add --id N --name NAME --scopes 3,4 [--default-scope 3] [--secret HEX]
postern partner list
postern partner remove ID
postern partner revoke-subject PARTNER SUBJECT [--reason TEXT]`;

export const partnerCommand = subcommands('partner', PARTNER_USAGE, { add, list, remove, 'revoke-subject': revokeSubject });

async function add(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { id: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' }, 'default-scope': { type: 'string' }, secret: { type: 'string' } });
  const id = intFlag(requireString(values.id, 'id'), 'id')!;
  const allowedScopes = intList(requireString(values.scopes, 'scopes'), 'scopes')!;
  if (values.secret !== undefined && !/^([0-9a-fA-F]{2}){32,}$/.test(values.secret)) throw new UsageError('--secret is at least 64 hex characters (32 bytes)');
  await withAdminContext(values.config, io.env, async (ctx) => {
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
  });
}

async function list(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, {});
  await withAdminContext(values.config, io.env, async (ctx) => {
    const partners = await ctx.issuing.listPartners();
    io.stdout.write(table([['ID', 'NAME', 'SCOPES', 'DEFAULT', 'ENABLED', 'CREATED'], ...partners.map((p) => [String(p.id), p.name, p.allowedScopes.join(','), p.defaultScope === null ? '' : String(p.defaultScope), p.enabled ? 'yes' : 'no', formatMs(p.createdAt)])]));
  });
}

async function remove(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, {});
  const id = intFlag(requirePositional(positionals[0], 'id (the partner id)'), 'id')!;
  await withAdminContext(values.config, io.env, async (ctx) => {
    await ctx.issuing.removePartner(id, ctx.actor);
    io.stdout.write(`Partner ${id} removed\n`);
  });
}

/**
 * One subject of a partner (a holder, a ticket): its codes are denied `revoked`, the partner's
 * other codes keep working. Issuing checks both arguments (INVALID_ARGUMENT, NOT_FOUND).
 */
async function revokeSubject(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, { reason: { type: 'string' } });
  const partner = requirePositional(positionals[0], 'PARTNER (the partner id)');
  const subject = requirePositional(positionals[1], 'SUBJECT (the subject id in the partner\'s codes)');
  if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}": give PARTNER and SUBJECT only (quote a --reason with spaces)`);
  await withAdminContext(values.config, io.env, async (ctx) => {
    const revoked = await ctx.issuing.revokePartnerSubject(/^\d+$/.test(partner) ? Number(partner) : Number.NaN, subject, ctx.actor, values.reason ?? null);
    io.stdout.write(`Subject ${revoked.subject} of partner ${revoked.partner} revoked: its codes are denied from now on\n`);
  });
}
