/** `postern partner ...`: other issuers whose codes this site accepts (docs/partners.md). */
import { intFlag, intList, opening, requireString, type StoreOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withAdminContext, withReadContext } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { formatMs, table } from './format.ts';

export { PARTNER_USAGE } from './program.ts';

export async function addPartner(values: StoreOptions & { id?: string; name?: string; scopes?: string; defaultScope?: string; secret?: string }, io: CliEnvironment): Promise<void> {
  const id = intFlag(requireString(values.id, 'id'), 'id')!;
  const name = requireString(values.name, 'name');
  const allowedScopes = intList(requireString(values.scopes, 'scopes'), 'scopes')!;
  if (values.secret !== undefined && !/^([0-9a-fA-F]{2}){32,}$/.test(values.secret)) throw new UsageError('--secret is at least 64 hex characters (32 bytes)');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const { partner, secret } = await ctx.issuing.addPartner(
      {
        id,
        name,
        allowedScopes,
        defaultScope: intFlag(values.defaultScope, 'default-scope') ?? null,
        secret: values.secret === undefined ? undefined : Buffer.from(values.secret, 'hex'),
      },
      ctx.actor,
    );
    io.stdout.write(
      `Partner ${partner.id} (${partner.name}) added, scopes ${partner.allowedScopes.join(', ')}` +
        `${partner.defaultScope === null ? '' : `, default ${partner.defaultScope}`}\n` +
        (values.secret === undefined ? `shared secret: ${secret.toString('hex')}\nThis secret is shown once. Send it to the partner over a secure channel.\n` : ''),
    );
  }, opening(values));
}

export async function listPartners(values: StoreOptions, io: CliEnvironment): Promise<void> {
  await withReadContext(values.config, io.env, async (ctx) => {
    const partners = await ctx.store.listPartners();
    // Scopes by id and name: a partner's codes carry the id, people know the name.
    const scopeName = new Map(ctx.config.scopes.map((s) => [s.id, `${s.id} (${s.name})`]));
    const named = (id: number): string => scopeName.get(id) ?? String(id);
    io.stdout.write(table([['ID', 'NAME', 'SCOPES', 'DEFAULT', 'ENABLED', 'CREATED'], ...partners.map((p) => [String(p.id), p.name, p.allowedScopes.map(named).join(', '), p.defaultScope === null ? '' : named(p.defaultScope), p.enabled ? 'yes' : 'no', formatMs(p.createdAt)])]));
  }, opening(values));
}

export async function removePartner(values: StoreOptions & { id: string }, io: CliEnvironment): Promise<void> {
  const id = intFlag(values.id, 'id')!;
  await withAdminContext(values.config, io.env, async (ctx) => {
    await ctx.issuing.removePartner(id, ctx.actor);
    io.stdout.write(`Partner ${id} removed\n`);
  }, opening(values));
}

/**
 * One subject of a partner (a holder, a ticket): its codes are denied `revoked`, the partner's
 * other codes keep working. Issuing checks both arguments (INVALID_ARGUMENT, NOT_FOUND).
 */
export async function revokePartnerSubject(values: StoreOptions & { partner: string; subject: string; reason?: string }, io: CliEnvironment): Promise<void> {
  const { partner, subject } = values;
  await withAdminContext(values.config, io.env, async (ctx) => {
    const revoked = await ctx.issuing.revokePartnerSubject(/^\d+$/.test(partner) ? Number(partner) : Number.NaN, subject, ctx.actor, values.reason ?? null);
    io.stdout.write(`Subject ${revoked.subject} of partner ${revoked.partner} revoked: its codes are denied from now on\n`);
  }, opening(values));
}
