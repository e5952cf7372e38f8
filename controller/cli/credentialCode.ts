import { encodeCredential, timeStep } from '../credentials/credentialCodec.ts';
import { requireString, type SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { qrForTerminal } from './qrOutput.ts';

/** Computes what a badge shows right now, from the holder's secret; touches no store. */
export async function credentialCode(values: SiteOptions & { id: string; secret?: string }, io: CliEnvironment): Promise<void> {
  const { id } = values;
  if (!/^\d{1,20}$/.test(id)) throw new UsageError(`"${id}" is not a credential id`);
  const secretHex = requireString(values.secret, 'secret');
  if (!/^[0-9a-fA-F]{64}$/.test(secretHex)) throw new UsageError('--secret is the 64 hex characters that credential create printed');
  const text = encodeCredential(
    { kind: 'rotating', issuer: 0, subject: BigInt(id), a: timeStep(Date.now() / 1000), b: 0, scope: 0 },
    Buffer.from(secretHex, 'hex'),
  );
  io.stdout.write((await qrForTerminal(text)) + `\n${text}\n(valid for this 15 s step and the next, once)\n`);
}
