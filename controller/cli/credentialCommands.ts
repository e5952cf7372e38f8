/** `postern credential ...`: rotating credentials, badges on phones whose code changes every 15 s. */
import { badgeBaseUrl, createEnrolment, DEFAULT_ENROL_HOURS } from '../badge/enrolment.ts';
import { HolderViews } from '../issuing/holderViews.ts';
import { opening, requireString, scopeFlag, searchFlag, type StoreOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withAdminContext, withReadContext } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { formatMs, opensText, statusText, writeList } from './format.ts';
import { revokeCommand } from './revokeCommand.ts';

export const revokeCredential = revokeCommand('credential', (ctx, id, reason) => ctx.issuing.revokeCredential(id, ctx.actor, reason));

export async function createCredential(values: StoreOptions & { name?: string; scope?: string; enrolHours?: string }, io: CliEnvironment): Promise<void> {
  const name = requireString(values.name, 'name');
  const scopeValue = requireString(values.scope, 'scope');
  const enrolHours = values.enrolHours === undefined ? DEFAULT_ENROL_HOURS : Number(values.enrolHours);
  if (!/^\d+(\.\d+)?$/.test(values.enrolHours ?? '24') || !(enrolHours > 0) || enrolHours > 720) throw new UsageError('--enrol-hours is a number of hours, more than 0 and at most 720');
  await withAdminContext(values.config, io.env, async (ctx) => {
    const scope = scopeFlag(scopeValue, ctx.config.scopes)!;
    const { credential, secret } = await ctx.issuing.createCredential({ name, scope }, ctx.actor);
    io.stdout.write(
      `Rotating credential ${credential.id} for ${credential.name}, opens ${opensText(credential, ctx.config.doors)}\n` +
        `secret: ${secret.toString('hex')}\n` +
        `This secret is shown once and cannot be read back. Give it to the holder's badge only.\n`,
    );
    const link = await createEnrolment(ctx, { credentialId: credential.id, validHours: enrolHours, baseUrl: badgeBaseUrl(ctx.config), actor: ctx.actor });
    io.stdout.write(
      `enrolment link (opens the badge on the holder's phone; works once, until ${new Date(link.expiresAt).toISOString()}):\n${link.url}\n`,
    );
  }, opening(values));
}

export async function listCredentials(values: StoreOptions & { all?: boolean; json?: boolean; search?: string }, io: CliEnvironment): Promise<void> {
  const search = searchFlag(values.search);
  await withReadContext(values.config, io.env, async (ctx) => {
    const views = new HolderViews(ctx.config, ctx.store);
    const credentials = await Promise.all((await ctx.store.listCredentials({ includeRevoked: values.all ?? false, search })).map((c) => views.credential(c)));
    const header = ['ID', 'NAME', 'OPENS', 'CREATED', 'STATUS'];
    writeList(io.stdout, values.json, credentials, header, (c) => [c.id, c.name, opensText(c, ctx.config.doors), formatMs(c.createdAt), statusText(c)]);
  }, opening(values));
}
