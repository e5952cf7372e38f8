/**
 * What the `postern <name> <sub> ...` commands share: the dispatcher, in which the first argument
 * picks the subcommand and the rest goes to it, and subcommands that work alike for several names.
 */
import { parse, requirePositional, UsageError } from './args.ts';
import type { AdminContext, CliEnvironment } from './cliContext.ts';
import { withAdminContext } from './cliContext.ts';

export type Command = (args: string[], io: CliEnvironment) => Promise<void>;

/**
 * The command `postern <name>`, dispatching to `table`. A missing or unknown subcommand is a usage
 * error that carries `usage`: main.ts prints that instead of the whole USAGE, because the message
 * then holds a line break.
 */
export function subcommands(name: string, usage: string, table: Record<string, Command>): Command {
  return async (args, io) => {
    const [sub, ...rest] = args;
    // Own keys only: "toString" or "constructor" must be unknown subcommands, not Object's methods.
    const run = sub !== undefined && Object.hasOwn(table, sub) ? table[sub] : undefined;
    if (run === undefined) throw new UsageError(`unknown ${name} command "${sub ?? ''}"\n${usage}`);
    return run(rest, io);
  };
}

/**
 * `postern <what> revoke ID [--reason TEXT]`. Links and credentials are revoked alike: `revoke`
 * calls Issuing, which records the reason in the audit trail.
 */
export function revokeSubcommand(what: string, revoke: (ctx: AdminContext, id: string, reason: string | null) => Promise<void>): Command {
  const label = what.charAt(0).toUpperCase() + what.slice(1);
  return async (args, io) => {
    const { values, positionals } = parse(args, { reason: { type: 'string' } });
    const id = requirePositional(positionals[0], `id (the ${what} id)`);
    await withAdminContext(values.config, io.env, async (ctx) => {
      await revoke(ctx, id, values.reason ?? null);
      io.stdout.write(`${label} ${id} revoked\n`);
    });
  };
}
