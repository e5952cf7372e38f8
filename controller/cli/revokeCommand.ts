/**
 * `postern <what> revoke ID [--reason TEXT]`. Links and credentials are revoked alike: `revoke`
 * calls Issuing, which records the reason in the audit trail.
 */
import { opening, type StoreOptions } from './args.ts';
import type { AdminContext, CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';

export interface RevokeOptions extends StoreOptions {
  id: string;
  reason?: string;
}

export function revokeCommand(what: string, revoke: (ctx: AdminContext, id: string, reason: string | null) => Promise<void>) {
  const label = what.charAt(0).toUpperCase() + what.slice(1);
  return async (values: RevokeOptions, io: CliEnvironment): Promise<void> => {
    await withAdminContext(values.config, io.env, async (ctx) => {
      await revoke(ctx, values.id, values.reason ?? null);
      io.stdout.write(`${label} ${values.id} revoked\n`);
    }, opening(values));
  };
}
