/**
 * The SQLite store's files hold secrets: the data directory is 0700, the database, -wal, -shm and
 * lock files 0600; a looser mode found at open is tightened, with a warning.
 */
import { statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openStore } from '../../controller/store/openStore.ts';
import { sqliteLockFile } from '../../controller/store/sqliteClaim.ts';

const modeOf = (path: string) => statSync(path).mode & 0o777;

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'postern-modes-'));
  // What a typical shell gives, so that the store cannot rely on a strict umask.
  await chmod(root, 0o755);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function recordingLogger() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_: object, msg?: string) => warnings.push(msg ?? '') } };
}

describe('SQLite file modes', () => {
  it('makes a new data directory 0700 and the database, -wal, -shm and lock file 0600', async () => {
    const previous = process.umask(0o022);
    const dataDir = join(root, 'fresh', 'data');
    const { warnings, logger } = recordingLogger();
    const store = openStore({ dataDir, logger, quickCheck: false });
    try {
      await store.start();
      await store.setSettingIfAbsent('k', 'v');
      await store.claimController('site-a');
      const file = join(dataDir, 'postern.sqlite');
      expect(modeOf(dataDir)).toBe(0o700);
      for (const path of [file, `${file}-wal`, `${file}-shm`, sqliteLockFile(file, 'site-a'), `${sqliteLockFile(file, 'site-a')}.json`]) {
        expect([path, modeOf(path)]).toEqual([path, 0o600]);
      }
      // No warning about modes; only the one that says a new, empty store was made.
      expect(warnings).toEqual([expect.stringMatching(/^new empty store at /)]);
    } finally {
      await store.stop();
      process.umask(previous);
    }
  });

  it('tightens a looser directory and files found at open, and says so', async () => {
    const dataDir = join(root, 'loose');
    const file = join(dataDir, 'postern.sqlite');
    const first = openStore({ dataDir, quickCheck: false });
    await first.start();
    await first.setSettingIfAbsent('k', 'v');
    await first.stop();
    await chmod(dataDir, 0o755);
    await chmod(file, 0o644);

    const { warnings, logger } = recordingLogger();
    const store = openStore({ dataDir, logger, quickCheck: false });
    try {
      await store.start();
      expect(modeOf(dataDir)).toBe(0o700);
      for (const path of [file, `${file}-wal`, `${file}-shm`]) expect([path, modeOf(path)]).toEqual([path, 0o600]);
      expect(warnings.some((w) => w.includes(dataDir) && w.includes('0755') && w.includes('0700'))).toBe(true);
      expect(warnings.some((w) => w.includes(file) && w.includes('0644') && w.includes('0600'))).toBe(true);
      expect(await store.getSetting('k')).toBe('v');
    } finally {
      await store.stop();
    }
  });

  it('only takes bits away: a file the owner made read-only stays read-only', async () => {
    const dataDir = join(root, 'readonly-owner');
    await mkdir(dataDir, { recursive: true });
    const first = openStore({ dataDir, quickCheck: false });
    await first.start();
    await first.stop();
    await chmod(join(dataDir, 'postern.sqlite'), 0o444);
    const { logger } = recordingLogger();
    const reader = openStore({ dataDir, logger, readOnly: true });
    try {
      await reader.start();
      // A read-only store changes nothing, modes included; it only warns.
      expect(modeOf(join(dataDir, 'postern.sqlite'))).toBe(0o444);
    } finally {
      await reader.stop();
    }
    const store = openStore({ dataDir, logger, quickCheck: false });
    await store.start().catch(() => undefined); // as root the file stays writable; otherwise STORE_READ_ONLY
    await store.stop();
    expect(modeOf(join(dataDir, 'postern.sqlite'))).toBe(0o400);
  });
});
