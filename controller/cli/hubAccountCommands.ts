/**
 * `postern hub account ...`: the accounts of the hub's API (docs/hub-api.md), on the hub's
 * database (--database-url, default $DATABASE_URL). `add` prints the new token once: the hub keeps
 * only its sha256. Each change is recorded in the hub's actions under the actor `cli`.
 */
import { HubAccounts, HUB_ROLES, isHubRole } from '../hub/hubAccounts.ts';
import { HubActions } from '../hub/hubActions.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withHubDatabase } from './hubDatabaseOption.ts';
import { UsageError } from './cliErrors.ts';
import { formatMs, table } from './format.ts';

interface HubOptions {
  databaseUrl?: string;
}


export async function hubAccountAdd(values: HubOptions & { name: string; role?: string }, io: CliEnvironment): Promise<void> {
  if (values.role === undefined) throw new UsageError(`give --role: ${HUB_ROLES.join(', ')}`);
  if (!isHubRole(values.role)) throw new UsageError(`--role is ${HUB_ROLES.join(', ')}, not ${values.role}`);
  const role = values.role;
  await withHubDatabase(values, io, async (db) => {
    const { account, token } = await new HubAccounts(db).add(values.name, role);
    await new HubActions(db).record('cli', 'accounts.add', null, { name: account.name, role });
    io.stdout.write(`Account ${account.name} (${role}) added. Its token, shown this once (the hub keeps only its hash):\n${token}\n`);
  });
}

export async function hubAccountList(values: HubOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  await withHubDatabase(values, io, async (db) => {
    const accounts = await new HubAccounts(db).list();
    const shown = accounts.map(({ name, role, createdAt, revokedAt }) => ({ name, role, createdAt, revokedAt }));
    if (values.json) {
      io.stdout.write(JSON.stringify(shown, null, 2) + '\n');
      return;
    }
    if (accounts.length === 0) {
      io.stdout.write('No accounts at this hub yet: postern hub account add NAME --role admin\n');
      return;
    }
    io.stdout.write(table([['NAME', 'ROLE', 'CREATED', 'STATE'], ...shown.map((a) => [a.name, a.role, formatMs(a.createdAt), a.revokedAt === null ? 'active' : `revoked ${formatMs(a.revokedAt)}`])]));
  });
}

export async function hubAccountRevoke(values: HubOptions & { name: string }, io: CliEnvironment): Promise<void> {
  await withHubDatabase(values, io, async (db) => {
    const revoked = await new HubAccounts(db).revoke(values.name);
    if (revoked) await new HubActions(db).record('cli', 'accounts.revoke', null, { name: values.name });
    io.stdout.write(revoked ? `Account ${values.name} revoked: its token is refused from now on, and its open connections at their next call\n` : `Account ${values.name} was revoked already\n`);
  });
}
