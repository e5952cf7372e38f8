/**
 * The data directory, checked at start before the store opens: it exists or can be made, it is a
 * directory, and files can be made and removed in it (a file is made and removed, since permission
 * bits say nothing to root, to a read-only mount or to an immutable directory). Each problem is one
 * PosternError naming the directory and the setting it came from, so a controller that cannot keep
 * its state stops at once, before anything is opened that could keep the process alive.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';

/** The mode of a directory made here: the owner's alone, whatever the umask. */
export const DATA_DIR_MODE = 0o700;

/** Error codes that mean "this place cannot be written", whoever we are. */
const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Checks (and makes, when missing) the data directory. `setting` says where the path came from,
 * e.g. `POSTERN_DATA_DIR` or `dataDir in /etc/postern/site.yaml`. Throws STORE_UNAVAILABLE (not a
 * directory, unreachable, full) or STORE_READ_ONLY (cannot be made or written).
 */
export function checkDataDir(dir: string, setting = 'dataDir'): void {
  const resolved = path.resolve(dir);
  const where = `data directory ${resolved} (${setting})`;
  const stats = statOf(resolved, where);
  if (stats === undefined) makeDirectory(resolved, where);
  else if (!stats.isDirectory()) throw unavailable(`${where} is not a directory: ${kindOf(stats)} is there`, resolved);
  probeWrite(resolved, where);
}

function statOf(file: string, where: string): Stats | undefined {
  try {
    return statSync(file);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') {
      // A symbolic link to nothing: making the directory would fail with EEXIST, so say what it is.
      if (lstatOrUndefined(file)?.isSymbolicLink()) throw unavailable(`${where} is a symbolic link to something that does not exist`, file, error);
      return undefined;
    }
    if (code === 'ENOTDIR') throw unavailable(`${where} cannot be made: ${fileAbove(file) ?? 'a folder above it'} is a file, not a directory`, file, error);
    if (code === 'EACCES') throw readOnly(`${where} cannot be reached: permission denied on a folder above it`, file, error);
    throw unavailable(`${where} cannot be used: ${messageOf(error)}`, file, error);
  }
}

/** Makes the missing folders down to `dir`, each 0700 (chmod after mkdir: the umask is not relied on). */
function makeDirectory(dir: string, where: string): void {
  const missing: string[] = [];
  for (let current = dir; lstatOrUndefined(current) === undefined; current = path.dirname(current)) {
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: DATA_DIR_MODE });
      chmodSync(folder, DATA_DIR_MODE);
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'EEXIST' && isDirectory(folder)) continue; // made meanwhile
      const parent = path.dirname(folder);
      if (code !== undefined && READ_ONLY_CODES.has(code)) throw readOnly(`${where} cannot be made: ${parent} is not writable (${describeCode(code)})`, dir, error);
      if (code === 'ENOTDIR' || code === 'EEXIST') throw unavailable(`${where} cannot be made: ${fileAbove(folder) ?? parent} is a file, not a directory`, dir, error);
      throw unavailable(`${where} cannot be made: ${messageOf(error)}`, dir, error);
    }
  }
}

/** Makes, writes and removes a file in `dir`, as the store will. */
function probeWrite(dir: string, where: string): void {
  const probe = path.join(dir, `.postern-write-test-${process.pid}-${randomBytes(4).toString('hex')}`);
  let fd: number;
  try {
    fd = openSync(probe, 'wx', 0o600);
  } catch (error) {
    throw writeProblem(error, `${where} is not writable`, dir);
  }
  let failed: { error: unknown } | undefined;
  try {
    writeSync(fd, 'postern');
  } catch (error) {
    failed = { error };
  } finally {
    closeQuietly(fd);
  }
  if (failed) {
    unlinkQuietly(probe);
    throw writeProblem(failed.error, `${where} cannot be written to`, dir);
  }
  try {
    unlinkSync(probe);
  } catch (error) {
    throw writeProblem(error, `${where} lets files be made but not removed (remove ${probe} by hand)`, dir);
  }
}

function writeProblem(error: unknown, what: string, dir: string): PosternError {
  const code = errnoOf(error);
  if (code !== undefined && READ_ONLY_CODES.has(code)) return readOnly(`${what} (${describeCode(code)})`, dir, error);
  if (code === 'ENOSPC' || code === 'EDQUOT') return unavailable(`${what}: the disk is full (${code})`, dir, error);
  return unavailable(`${what}: ${messageOf(error)}`, dir, error);
}

function describeCode(code: string): string {
  if (code === 'EROFS') return 'EROFS: a read-only file system';
  if (code === 'EPERM') return 'EPERM: operation not permitted, e.g. an immutable directory';
  return 'EACCES: permission denied';
}

/** The nearest existing path at or above `file` that is not a directory, if any. */
function fileAbove(file: string): string | undefined {
  for (let current = file; ; current = path.dirname(current)) {
    let stats: Stats | undefined;
    try {
      stats = statSync(current);
    } catch {
      // missing, or below a file: look further up
    }
    if (stats !== undefined && !stats.isDirectory()) return current;
    if (path.dirname(current) === current) return undefined;
  }
}

function kindOf(stats: Stats): string {
  if (stats.isFile()) return 'a file';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'something else';
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function lstatOrUndefined(file: string): Stats | undefined {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // closed already
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // the error that matters is the one being reported
  }
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return (error as Error | undefined)?.message ?? String(error);
}

function readOnly(message: string, dir: string, cause?: unknown): PosternError {
  return new PosternError(ErrorCodes.STORE_READ_ONLY, message, { cause, details: { location: dir, operation: 'check data directory' } });
}

function unavailable(message: string, dir: string, cause?: unknown): PosternError {
  return new PosternError(ErrorCodes.STORE_UNAVAILABLE, message, { cause, details: { location: dir, operation: 'check data directory' } });
}
