/**
 * The `postern` command line. Returns an exit code; only the entry file calls process.exit.
 */
import { isPosternError } from '../../machines/shared/errors.ts';
import { TOKEN_USAGE, USER_USAGE, tokenCommand, userCommand } from './accountCommands.ts';
import { UsageError } from './args.ts';
import { AUDIT_USAGE, AuditBrokenError, auditCommand } from './auditCommands.ts';
import type { CliEnvironment } from './cliContext.ts';
import { CREDENTIAL_USAGE, credentialCommand } from './credentialCommands.ts';
import { LINK_USAGE, linkCommand } from './linkCommands.ts';
import { PARTNER_USAGE, partnerCommand } from './partnerCommands.ts';
import { SCAN_USAGE, ScanDenied, scanCommand } from './scanCommand.ts';
import { START_USAGE, startCommand } from './startCommand.ts';

export const USAGE = `usage:
${START_USAGE}
${LINK_USAGE}
${CREDENTIAL_USAGE}
${PARTNER_USAGE}
${AUDIT_USAGE}
${USER_USAGE}
${TOKEN_USAGE}
${SCAN_USAGE}
Every command takes --config FILE (default: $POSTERN_CONFIG, else the demo site).
`;

const COMMANDS: Record<string, (args: string[], io: CliEnvironment) => Promise<void>> = {
  start: startCommand,
  link: linkCommand,
  credential: credentialCommand,
  partner: partnerCommand,
  audit: auditCommand,
  user: userCommand,
  token: tokenCommand,
  scan: scanCommand,
};

export async function main(argv: string[], io: CliEnvironment): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  try {
    if (run === undefined) throw new UsageError(`unknown command "${command}"`);
    await run(rest, io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`postern: ${error.message}\n${error.message.includes('\n') ? '' : USAGE}`);
      return 2;
    }
    if (error instanceof ScanDenied) return 4;
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

/** An error of the operating system (ENOENT, EACCES, ...), as Node reports it with the call and path. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  const e = error as NodeJS.ErrnoException | undefined;
  return e instanceof Error && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) && typeof e.syscall === 'string';
}
