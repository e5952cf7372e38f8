/**
 * Turns driver errors (better-sqlite3, pg, node's fs and net) into PosternErrors with stable
 * codes and a message that names the file or the server, so that the controller can report a
 * store problem in one line instead of a stack trace. The driver error is kept as `cause`.
 *
 *   STORE_UNAVAILABLE   PostgreSQL cannot be reached or refuses the login; the store is not started;
 *                       SQLite is locked by another process for longer than the busy timeout; the
 *                       SQLite writer thread stopped; a read failed for another reason
 *   STORE_READ_ONLY     the SQLite file or its directory cannot be written, the store was opened
 *                       read-only, or PostgreSQL is a read-only server
 *   STORE_CORRUPT       the file is not a SQLite database or is damaged; the schema history was
 *                       written by a newer version
 *   STORE_WRITE_FAILED  a write failed for another reason (disk full, I/O error, ...)
 *   CONFLICT            a row with that key exists already
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';

import { ErrorCodes, PosternError, isPosternError, type ErrorCode } from '../../machines/shared/errors.ts';
import type { Dialect } from './storeTypes.ts';

export interface StoreOperation {
  /** What was being done, for the message: 'open', 'migrate', 'createLink', ... */
  what: string;
  /** Whether the operation writes; decides between STORE_WRITE_FAILED and STORE_UNAVAILABLE. */
  write: boolean;
}

export interface StoreLocation {
  dialect: Dialect;
  /** The SQLite file path, or host:port/database for PostgreSQL (never a password). */
  location: string;
  /** For PostgreSQL: host:port alone. */
  server?: string;
  readOnly?: boolean;
}

function codeOf(error: unknown): string | undefined {
  if (error !== null && typeof error === 'object' && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0 && !error.message) {
    return error.errors.map(messageOf).join('; ');
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

function make(code: ErrorCode, message: string, cause: unknown, where: StoreLocation, op: StoreOperation) {
  return new PosternError(code, message, {
    cause,
    details: { dialect: where.dialect, location: where.location, operation: op.what, driverCode: codeOf(cause) },
  });
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

const UNIQUE_SQLITE = new Set(['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE']);
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

function translateSqlite(error: unknown, where: StoreLocation, op: StoreOperation): PosternError {
  const code = codeOf(error) ?? '';
  const detail = messageOf(error);
  const file = where.location;
  if (UNIQUE_SQLITE.has(code)) {
    return make(ErrorCodes.CONFLICT, `${op.what}: a row with that key exists already (${detail})`, error, where, op);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const why = where.readOnly ? 'the store was opened read-only' : 'the file or its directory is not writable';
    return make(ErrorCodes.STORE_READ_ONLY, `SQLite database ${file} is read-only: ${why} (${op.what}: ${detail})`, error, where, op);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    const waited = (error as { waitedMs?: unknown }).waitedMs;
    const after = typeof waited === 'number' ? ` for ${waited} ms` : '';
    return make(
      ErrorCodes.STORE_UNAVAILABLE,
      `SQLite database ${file} is busy: another process or connection holds its lock; ${op.what} waited${after} and gave up (${detail})`,
      error,
      where,
      op,
    );
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return make(
      ErrorCodes.STORE_CORRUPT,
      `${file} is not a valid SQLite database or is damaged (${detail}); restore it from a backup or move it away`,
      error,
      where,
      op,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    const dir = dirname(file);
    if ((existsSync(file) && !writable(file)) || !writable(dir)) {
      return make(
        ErrorCodes.STORE_READ_ONLY,
        `SQLite database ${file} cannot be opened for writing: the file or its directory ${dir} is not writable (${detail})`,
        error,
        where,
        op,
      );
    }
    return make(ErrorCodes.STORE_UNAVAILABLE, `SQLite database ${file} cannot be opened (${detail})`, error, where, op);
  }
  if (op.write) {
    return make(ErrorCodes.STORE_WRITE_FAILED, `${op.what} failed on SQLite database ${file}: ${detail}`, error, where, op);
  }
  return make(ErrorCodes.STORE_UNAVAILABLE, `${op.what} failed on SQLite database ${file}: ${detail}`, error, where, op);
}

function translatePostgres(error: unknown, where: StoreLocation, op: StoreOperation): PosternError {
  const code = codeOf(error) ?? '';
  const detail = messageOf(error);
  const server = where.server ?? where.location;
  if (code === '23505') {
    return make(ErrorCodes.CONFLICT, `${op.what}: a row with that key exists already (${detail})`, error, where, op);
  }
  if (code === '25006') {
    return make(ErrorCodes.STORE_READ_ONLY, `PostgreSQL ${where.location} is read-only (${op.what}: ${detail})`, error, where, op);
  }
  if (code === 'XX001' || code === 'XX002') {
    return make(ErrorCodes.STORE_CORRUPT, `PostgreSQL ${where.location} reports damaged data (${detail})`, error, where, op);
  }
  if (code.startsWith('28')) {
    return make(ErrorCodes.STORE_UNAVAILABLE, `PostgreSQL at ${server} refused the login (${detail})`, error, where, op);
  }
  if (code === '3D000') {
    return make(ErrorCodes.STORE_UNAVAILABLE, `PostgreSQL at ${server}: ${detail}`, error, where, op);
  }
  const lower = detail.toLowerCase();
  if (
    NET_CODES.has(code) ||
    code.startsWith('08') ||
    code.startsWith('57P') ||
    code === '53300' ||
    lower.includes('connection terminated') ||
    lower.includes('timeout') ||
    lower.includes('connection ended') ||
    lower.includes('not queryable') ||
    lower.includes('pool after calling end')
  ) {
    return make(
      ErrorCodes.STORE_UNAVAILABLE,
      `PostgreSQL is not reachable at ${server} (${code || detail}${code && detail !== code ? `: ${detail}` : ''})`,
      error,
      where,
      op,
    );
  }
  if (op.write) {
    return make(ErrorCodes.STORE_WRITE_FAILED, `${op.what} failed on PostgreSQL ${where.location}: ${detail}`, error, where, op);
  }
  return make(ErrorCodes.STORE_UNAVAILABLE, `${op.what} failed on PostgreSQL ${where.location}: ${detail}`, error, where, op);
}

/** Wraps any error of a store operation; a PosternError passes through unchanged. */
export function translateStoreError(error: unknown, where: StoreLocation, op: StoreOperation): PosternError {
  if (isPosternError(error)) return error;
  const detail = messageOf(error);
  if (detail.includes('corrupted migrations')) {
    return make(
      ErrorCodes.STORE_CORRUPT,
      `the schema history of ${where.location} does not match this version of Postern (${detail}); ` +
        'was it written by a newer version?',
      error,
      where,
      op,
    );
  }
  return where.dialect === 'sqlite' ? translateSqlite(error, where, op) : translatePostgres(error, where, op);
}
