/**
 * The `postern` command line. Returns an exit code; only the entry file calls process.exit.
 * 0 done, 1 error, 2 usage (an unknown command or option, a missing argument: with the help),
 * 3 an audit chain failed verification, 4 a scan was denied.
 */
import { type Command, CommanderError } from 'commander';
import { isPosternError } from '../../machines/shared/errors.ts';
import type { CliEnvironment } from './cliContext.ts';
import { AuditBrokenError, ExitStatus, ScanDenied } from './cliErrors.ts';
import { buildProgram } from './program.ts';

export async function main(argv: string[], io: CliEnvironment): Promise<number> {
  try {
    const program = buildProgram(io);
    await program.parseAsync(helpRequest(program, argv), { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has printed what it had to say: the help or version asked for (its exit code 0), or a usage error with the help (2).
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ScanDenied) return 4;
    if (error instanceof ExitStatus) return error.status;
    if (error instanceof AuditBrokenError) {
      io.stderr.write(`postern: ${error.message}\n`);
      return 3;
    }
    if (isPosternError(error)) {
      io.stderr.write(`postern: ${error.message}\n  (${error.code})\n`);
      if (io.env.POSTERN_DEBUG) io.stderr.write(`${error.stack}\n`);
      return 1;
    }
    if (isSystemError(error)) {
      // A file or a socket the command could not use: the message names it; the stack is noise.
      io.stderr.write(`postern: ${error.message}\n${io.env.POSTERN_DEBUG ? `${error.stack}\n` : ''}`);
      return 1;
    }
    io.stderr.write(`postern: unexpected error: ${(error as Error)?.message ?? String(error)}\n${(error as Error)?.stack ?? ''}\n`);
    return 1;
  }
}

/**
 * `postern help link create` as `postern link create --help`: commander's own help command takes
 * one name only (`help link`). A name that is not a command of its group is left for commander to
 * refuse (unknown command, with the group's usage); whatever follows a command's name is ignored,
 * so `help link revoke 5` shows help and never revokes.
 */
function helpRequest(program: Command, argv: string[]): string[] {
  if (argv[0] !== 'help' || argv.length < 2) return argv;
  const names: string[] = [];
  let command = program;
  for (const name of argv.slice(1)) {
    if (command.commands.length === 0) break;
    names.push(name);
    const sub = command.commands.find((c) => c.name() === name);
    if (sub === undefined) return names;
    command = sub;
  }
  return [...names, '--help'];
}

/** An error of the operating system (ENOENT, EACCES, ...), as Node reports it with the call and path. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException | undefined;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === 'string';
}
