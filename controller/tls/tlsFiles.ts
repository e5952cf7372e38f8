/**
 * A server's certificate and key, read once at start. A file that cannot be read is a
 * configuration error naming the setting it came from, so the server never starts half-secured.
 */
import { readFileSync } from 'node:fs';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

export interface TlsFiles {
  cert: string;
  key: string;
}

/** The PEM contents of `files`; `where` names their setting in an error (`api.tls`, `--tls-cert`). */
export function readTlsFiles(files: TlsFiles, where: { cert: string; key: string }): { cert: Buffer; key: Buffer } {
  return { cert: readTlsFile(files.cert, where.cert), key: readTlsFile(files.key, where.key) };
}

function readTlsFile(file: string, where: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_INVALID, `${where}: cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
}
