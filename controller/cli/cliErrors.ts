/**
 * The errors that choose `postern`'s exit status (main.ts maps them): 2 for a usage error, 3 for an
 * audit chain that failed verification, 4 for a denied scan; a PosternError or anything else is 1.
 */

/** A command given wrongly: the message, then the command's help, exit status 2. */
export class UsageError extends Error {}

/** `audit verify` found a broken chain (it has printed which): exit status 3. */
export class AuditBrokenError extends Error {}

/** `scan` was answered with a denial (it has printed the verdict): exit status 4, so scripts can tell it from a failure to ask. */
export class ScanDenied extends Error {}

/** The command has said all it had to (a report with a failure in it): exit with this status, printing nothing more. */
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit status ${status}`);
  }
}
