/**
 * `postern scan TEXT --scanner ID`: a read of a network scanner, sent to the running controller over
 * its API; the verdict is printed, and a denial is exit status 4.
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { requireString } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { ScanDenied } from './cliErrors.ts';
import { callController, type ControllerCallOptions } from './controllerCall.ts';

export async function scanCommand(values: ControllerCallOptions & { text: string; scanner?: string }, io: CliEnvironment): Promise<void> {
  const { text } = values;
  const scanner = requireString(values.scanner, 'scanner');
  const answer = await callController(values, io, 'scanner.read', { scanner, text }, { tokenRole: 'integrator' });
  const result = answer as { decided: boolean; verdict?: string; reason: string | null; door?: string };
  if (!result.decided) throw new PosternError(ErrorCodes.REQUEST_FAILED, `the read was not decided: ${result.reason}`);
  io.stdout.write(`${result.verdict === 'grant' ? 'GRANT' : 'DENY'} ${result.door}${result.reason ? `: ${result.reason}` : ''}\n`);
  if (result.verdict !== 'grant') throw new ScanDenied();
}
