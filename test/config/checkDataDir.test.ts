/**
 * The data directory is checked at start before the store opens: made when missing (0700), and
 * refused with one PosternError naming it and its setting when it is a file, below a file, cannot
 * be made or cannot be written, whoever runs the test (as root, an immutable directory or a
 * read-only mount stands for a directory root cannot write).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDataDir } from '../../controller/config/checkDataDir.ts';
import { ErrorCodes, isPosternError, type PosternError } from '../../machines/shared/errors.ts';
import { tempDir } from '../support/testSite.ts';

const asRoot = process.getuid?.() === 0;
let dir: string;
const locked: string[] = [];

/** A directory nobody can make files in: immutable for root (chattr +i), 0555 for anyone else. */
function lock(folder: string): void {
  if (asRoot) execFileSync('chattr', ['+i', folder]);
  else chmodSync(folder, 0o555);
  locked.push(folder);
}

function unlock(folder: string): void {
  if (asRoot) execFileSync('chattr', ['-i', folder]);
  else chmodSync(folder, 0o755);
}

function refusal(folder: string, setting = 'POSTERN_DATA_DIR'): PosternError {
  try {
    checkDataDir(folder, setting);
  } catch (error) {
    if (isPosternError(error)) return error;
    throw error;
  }
  throw new Error(`expected ${folder} to be refused`);
}

beforeAll(async () => {
  dir = await tempDir('postern-datadir-');
});

afterAll(() => {
  for (const folder of locked.splice(0)) unlock(folder);
});

describe('checkDataDir', () => {
  it('makes a missing directory and the folders above it, 0700 whatever the umask, and leaves nothing in it', () => {
    const target = path.join(dir, 'made', 'deeper', 'data');
    const old = process.umask(0);
    try {
      checkDataDir(target);
    } finally {
      process.umask(old);
    }
    expect(statSync(target).isDirectory()).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, 'made')).mode & 0o777).toBe(0o700);
    expect(readdirSync(target)).toEqual([]);
  });

  it('accepts an existing writable directory and leaves its mode and contents alone', () => {
    const target = path.join(dir, 'existing');
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    writeFileSync(path.join(target, 'keep'), 'x');
    checkDataDir(target);
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(target)).toEqual(['keep']);
  });

  it('refuses a file where the directory should be (STORE_UNAVAILABLE), naming it and the setting', () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const error = refusal(file);
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toBe(`data directory ${file} (POSTERN_DATA_DIR) is not a directory: a file is there`);
  });

  it('refuses a directory below a file, naming the file', () => {
    const file = path.join(dir, 'another-file');
    writeFileSync(file, 'x');
    const error = refusal(path.join(file, 'sub', 'data'), 'dataDir in /etc/postern/site.yaml');
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toBe(`data directory ${path.join(file, 'sub', 'data')} (dataDir in /etc/postern/site.yaml) cannot be made: ${file} is a file, not a directory`);
  });

  it('refuses a symbolic link to nothing', () => {
    const link = path.join(dir, 'dangling');
    symlinkSync(path.join(dir, 'nowhere'), link);
    const error = refusal(link);
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toContain(`${link} (POSTERN_DATA_DIR) is a symbolic link to something that does not exist`);
  });

  it('refuses a directory that cannot be written (STORE_READ_ONLY), even one that already holds a store', () => {
    const target = path.join(dir, 'locked');
    mkdirSync(target);
    // A store left by an earlier run: its files stay writable, the folder does not.
    writeFileSync(path.join(target, 'postern.sqlite'), '');
    lock(target);
    const error = refusal(target);
    expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
    expect(error.message).toMatch(new RegExp(`^data directory ${target} \\(POSTERN_DATA_DIR\\) is not writable \\((EPERM|EACCES)`));
    expect(readdirSync(target)).toEqual(['postern.sqlite']);
  });

  it('refuses a directory that cannot be made (STORE_READ_ONLY), naming the folder above it', () => {
    const parent = path.join(dir, 'locked-parent');
    mkdirSync(parent);
    lock(parent);
    const target = path.join(parent, 'data');
    const error = refusal(target);
    expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
    expect(error.message).toMatch(new RegExp(`^data directory ${target} \\(POSTERN_DATA_DIR\\) cannot be made: ${parent} is not writable`));
    expect(existsSync(target)).toBe(false);
  });

  describe.skipIf(!asRoot)('on a read-only mount', () => {
    it('refuses it, and a directory to be made on it, as STORE_READ_ONLY naming EROFS', async () => {
      const mount = await tempDir('postern-rofs-');
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', mount], { stdio: 'ignore' });
      } catch {
        return; // no mount permission in this container: the immutable directory above stands in
      }
      try {
        for (const target of [mount, path.join(mount, 'sub', 'data')]) {
          const error = refusal(target);
          expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
          expect(error.message).toContain(target);
          expect(error.message).toContain('EROFS: a read-only file system');
        }
      } finally {
        execFileSync('umount', [mount]);
      }
    });
  });
});
