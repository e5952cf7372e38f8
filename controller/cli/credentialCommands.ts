import { badgeBaseUrl, createEnrolment, DEFAULT_ENROL_HOURS } from '../badge/enrolment.ts';
import { encodeCredential, timeStep } from '../credentials/credentialCodec.ts';
import { intFlag, parse, requirePositional, requireString, UsageError } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';
import { formatMs, table } from './format.ts';
import { qrForTerminal } from './qrOutput.ts';
import { revokeSubcommand, subcommands } from './subcommands.ts';

export const CREDENTIAL_USAGE = `postern credential create --name NAME --scope ID [--enrol-hours H]   (also prints a one-time badge enrolment link)
postern credential list [--all]
postern credential revoke ID [--reason TEXT]
postern credential code ID --secret HEX     (the code a badge shows now)`;

export const credentialCommand = subcommands('credential', CREDENTIAL_USAGE, {
  create,
  list,
  revoke: revokeSubcommand('credential', (ctx, id, reason) => ctx.issuing.revokeCredential(id, ctx.actor, reason)),
  code,
});

async function create(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { name: { type: 'string' }, scope: { type: 'string' }, 'enrol-hours': { type: 'string' } });
  const scope = intFlag(requireString(values.scope, 'scope'), 'scope')!;
  const enrolHours = values['enrol-hours'] === undefined ? DEFAULT_ENROL_HOURS : Number(values['enrol-hours']);
  if (!/^\d+(\.\d+)?$/.test(values['enrol-hours'] ?? '24') || !(enrolHours > 0) || enrolHours > 720) throw new UsageError('--enrol-hours is a number of hours, more than 0 and at most 720');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const { credential, secret } = await ctx.issuing.createCredential({ name: requireString(values.name, 'name'), scope }, ctx.actor);
    io.stdout.write(
      `Rotating credential ${credential.id} for ${credential.name}, scope ${credential.scope}\n` +
        `secret: ${secret.toString('hex')}\n` +
        `This secret is shown once and cannot be read back. Give it to the holder's badge only.\n`,
    );
    const link = await createEnrolment(ctx, { credentialId: credential.id, validHours: enrolHours, baseUrl: badgeBaseUrl(ctx.config), actor: ctx.actor });
    io.stdout.write(
      `enrolment link (opens the badge on the holder's phone; works once, until ${new Date(link.expiresAt).toISOString()}):\n${link.url}\n`,
    );
  });
}

async function list(args: string[], io: CliEnvironment): Promise<void> {
  const { values } = parse(args, { all: { type: 'boolean' } });
  await withAdminContext(values.config, io.env, async (ctx) => {
    const credentials = await ctx.issuing.listCredentials({ includeRevoked: values.all ?? false });
    io.stdout.write(table([['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'], ...credentials.map((c) => [c.id, c.name, String(c.scope), formatMs(c.createdAt), formatMs(c.revokedAt)])]));
  });
}

/** Computes what a badge shows right now, from the holder's secret; touches no store. */
async function code(args: string[], io: CliEnvironment): Promise<void> {
  const { values, positionals } = parse(args, { secret: { type: 'string' } });
  const id = requirePositional(positionals[0], 'id (the credential id)');
  if (!/^\d{1,20}$/.test(id)) throw new UsageError(`"${id}" is not a credential id`);
  const secretHex = requireString(values.secret, 'secret');
  if (!/^[0-9a-fA-F]{64}$/.test(secretHex)) throw new UsageError('--secret is the 64 hex characters that credential create printed');
  const text = encodeCredential(
    { kind: 'rotating', issuer: 0, subject: BigInt(id), a: timeStep(Date.now() / 1000), b: 0, scope: 0 },
    Buffer.from(secretHex, 'hex'),
  );
  io.stdout.write((await qrForTerminal(text)) + `\n${text}\n(valid for this 15 s step and the next, once)\n`);
}
