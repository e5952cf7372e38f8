/**
 * The SQLite store holds secrets (credential and partner keys, password and token hashes), so its
 * files are the owner's alone: the data directory 0700, the database, its -wal and -shm and the
 * controller lock files 0600. SQLite makes -wal and -shm with the mode of the database file, so the
 * database file is made 0600 before SQLite first opens it.
 *
 * A looser mode found at open is tightened by taking away the group and other bits (0644 -> 0600,
 * 0755 -> 0700), never by adding a bit the owner lacks, so a file the owner made read-only stays
 * read-only; the change is logged. When chmod fails (not the owner), only the warning remains.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';

import type { StoreLogger } from './storeBackend.ts';

export const DATA_DIR_MODE = 0o700;
export const DATA_FILE_MODE = 0o600;
const LOOSE_BITS = 0o077;

/** Creates the directory (0700) when missing. Throws what mkdir throws. */
export function makePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
}

/**
 * Creates an empty file with mode 0600 when it does not exist; never opens an existing one (closing
 * a descriptor of a file SQLite has locked would drop this process's locks on it). Throws what open
 * throws, except EEXIST.
 */
export function makePrivateFile(file: string): void {
  try {
    closeSync(openSync(file, 'wx', DATA_FILE_MODE));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/**
 * Takes the group and other bits away from each path that exists and has any (fix: false only
 * warns, for stores opened read-only). Never throws.
 */
export function tightenModes(paths: string[], logger: StoreLogger | undefined, fix = true): void {
  for (const path of paths) {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      continue; // not there (yet)
    }
    if ((mode & LOOSE_BITS) === 0) continue;
    const wanted = mode & ~LOOSE_BITS;
    const octal = (m: number) => `0${m.toString(8)}`;
    // A sticky directory (/tmp and the like) is shared on purpose: said, never changed.
    if (!fix || (mode & 0o1000) !== 0) {
      logger?.warn({ path, mode: octal(mode) }, `${path} is readable by other users (mode ${octal(mode)}); it holds secrets: chmod ${octal(wanted)} it`);
      continue;
    }
    try {
      chmodSync(path, wanted);
      logger?.warn({ path, mode: octal(mode), fixed: octal(wanted) }, `${path} was open to other users (mode ${octal(mode)}); changed to ${octal(wanted)}`);
    } catch (error) {
      logger?.warn(
        { path, mode: octal(mode), err: error },
        `${path} is open to other users (mode ${octal(mode)}) and could not be changed (${(error as Error).message}); it holds secrets: chmod ${octal(wanted)} it`,
      );
    }
  }
}
