/**
 * A store that cannot work must say so at start(), with a stable code and the file or server named.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Sqlite from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { openStore } from '../../controller/store/openStore.ts';
import type { Store, StoreProblem } from '../../controller/store/storeTypes.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';

const isRoot = process.getuid?.() === 0;

async function startError(store: Store): Promise<PosternError> {
  const error = await store.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  await store.stop();
  expect(error, 'start() should have failed').toBeInstanceOf(PosternError);
  return error as PosternError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'postern-failures-'));
});
afterAll(async () => {
  await chmod(dir, 0o755).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

/** A migrated database in its own directory. */
async function migratedDatabase(name: string): Promise<{ dataDir: string; file: string }> {
  const dataDir = join(dir, name);
  const store = openStore({ dataDir });
  await store.start();
  await store.createLink({
    id: '1',
    name: 'a',
    email: null,
    scope: 1,
    notBefore: 0,
    notAfter: 0xffffffff,
    onlineOnly: false,
    maxUses: null,
    createdBy: null,
  });
  await store.stop();
  return { dataDir, file: join(dataDir, 'postern.sqlite') };
}

describe('PostgreSQL that cannot be reached', () => {
  const servers: Server[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  async function listen(onConnection?: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => {
      sockets.push(socket);
      onConnection?.(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return { server, port: address.port };
  }

  it('fails fast with STORE_UNAVAILABLE naming host:port when nothing listens', async () => {
    const { server, port } = await listen();
    await new Promise((resolve) => server.close(resolve)); // the port is now closed
    const started = Date.now();
    const error = await startError(
      openStore({ databaseUrl: `postgres://postern:secret-password@127.0.0.1:${port}/postern`, dataDir: dir, connectTimeoutMs: 1000 }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).not.toContain('secret-password');
    expect(error.cause).toBeDefined();
  });

  it('gives up after the connect timeout when the server does not answer', async () => {
    const { server, port } = await listen(); // accepts, never speaks
    servers.push(server);
    const started = Date.now();
    const error = await startError(
      openStore({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/postern`, dataDir: dir, connectTimeoutMs: 300 }),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toContain(`127.0.0.1:${port}`);
  });
});

const pgUp = await postgresAvailable();
describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('PostgreSQL refusals', pgUp), () => {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('a database that does not exist is STORE_UNAVAILABLE naming it', async () => {
    const url = new URL(database?.url ?? '');
    url.pathname = '/postern_no_such_database';
    const error = await startError(openStore({ databaseUrl: url.toString(), dataDir: dir }));
    expect(error.code).toBe(ErrorCodes.STORE_UNAVAILABLE);
    expect(error.message).toContain('postern_no_such_database');
  });

  it('readOnly: reads work, writes fail with STORE_READ_ONLY', async () => {
    const url = database?.url ?? '';
    const writer = openStore({ databaseUrl: url, dataDir: dir });
    await writer.start();
    await writer.setSettingIfAbsent('k', 'v');
    await writer.stop();
    const reader = openStore({ databaseUrl: url, dataDir: dir, readOnly: true });
    await reader.start();
    try {
      expect(await reader.getSetting('k')).toBe('v');
      const error = await reader.setSettingIfAbsent('k2', 'v').catch((e: unknown) => e);
      expect((error as PosternError).code).toBe(ErrorCodes.STORE_READ_ONLY);
    } finally {
      await reader.stop();
    }
  });
});

describe('SQLite that cannot be written', () => {
  it('readOnly on a missing file is STORE_READ_ONLY naming the file', async () => {
    const dataDir = join(dir, 'missing');
    const error = await startError(openStore({ dataDir, readOnly: true }));
    expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
    expect(error.message).toContain(join(dataDir, 'postern.sqlite'));
  });

  it('readOnly on a migrated file: reads work, writes fail with STORE_READ_ONLY naming the file', async () => {
    const { dataDir, file } = await migratedDatabase('ro-migrated');
    const store = openStore({ dataDir, readOnly: true });
    await store.start();
    try {
      expect((await store.getLink('1'))?.name).toBe('a');
      const error = (await store.revoke(0, '1', null).catch((e: unknown) => e)) as PosternError;
      expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
      expect(error.message).toContain(file);
    } finally {
      await store.stop();
    }
  });

  it('readOnly on a file that needs migrating is STORE_READ_ONLY at start', async () => {
    const dataDir = join(dir, 'ro-old');
    const file = join(dataDir, 'postern.sqlite');
    await rm(dataDir, { recursive: true, force: true });
    await mkdir(dataDir, { recursive: true });
    const db = new Sqlite(file);
    db.exec('CREATE TABLE something_else (x integer)');
    db.close();
    const error = await startError(openStore({ dataDir, readOnly: true }));
    expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
    expect(error.message).toContain(file);
    expect(error.message).toContain('0001_initial');
  });

  it.skipIf(isRoot)(
    'a read-only file and directory (chmod 0444 / 0555) is STORE_READ_ONLY at start, naming the file' +
      (isRoot ? ' (skipped: running as root, and chmod does not stop root from writing)' : ''),
    async () => {
      const { dataDir, file } = await migratedDatabase('chmod');
      await chmod(file, 0o444);
      await chmod(dataDir, 0o555);
      try {
        const error = await startError(openStore({ dataDir }));
        expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
        expect(error.message).toContain(file);
      } finally {
        await chmod(dataDir, 0o755);
        await chmod(file, 0o644);
      }
    },
  );

  it.skipIf(isRoot)(
    'a data directory that cannot be created is STORE_READ_ONLY naming it' +
      (isRoot ? ' (skipped: running as root, and chmod does not stop root from writing)' : ''),
    async () => {
      const parent = join(dir, 'locked');
      await mkdir(parent, { recursive: true });
      await chmod(parent, 0o555);
      try {
        const error = await startError(openStore({ dataDir: join(parent, 'data') }));
        expect(error.code).toBe(ErrorCodes.STORE_READ_ONLY);
        expect(error.message).toContain(join(parent, 'data'));
      } finally {
        await chmod(parent, 0o755);
      }
    },
  );
});

describe('SQLite file that is not a database', () => {
  async function corruptWith(name: string, content: Buffer | string): Promise<{ dataDir: string; file: string }> {
    const dataDir = join(dir, name);
    await mkdir(dataDir, { recursive: true });
    const file = join(dataDir, 'postern.sqlite');
    await writeFile(file, content);
    return { dataDir, file };
  }

  it('random bytes are STORE_CORRUPT naming the file', async () => {
    const { dataDir, file } = await corruptWith('random', randomBytes(8192));
    const error = await startError(openStore({ dataDir }));
    expect(error.code).toBe(ErrorCodes.STORE_CORRUPT);
    expect(error.message).toContain(file);
  });

  it('a text file is STORE_CORRUPT naming the file, and is left untouched', async () => {
    const text = 'site:\n  id: not-a-database\n'.repeat(200);
    const { dataDir, file } = await corruptWith('text', text);
    const error = await startError(openStore({ dataDir }));
    expect(error.code).toBe(ErrorCodes.STORE_CORRUPT);
    expect(error.message).toContain(file);
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  // Start reads the header, the schema and the migration history; a full quick_check runs in the
  // background after start (see the next test).
  it('a database with damaged pages is STORE_CORRUPT at start', async () => {
    const { dataDir, file } = await migratedDatabase('damaged');
    // Fill every page after the first with garbage: the header is intact, the schema is not.
    const handle = await open(file, 'r+');
    try {
      const { size } = await handle.stat();
      await handle.write(randomBytes(size - 4096), 0, size - 4096, 4096);
    } finally {
      await handle.close();
    }
    const error = await startError(openStore({ dataDir }));
    expect(error.code).toBe(ErrorCodes.STORE_CORRUPT);
    expect(error.message).toContain(file);
  });

  it('damage that start does not read is found by the background check: reported, logged, and in integrityCheck()', async () => {
    const { dataDir, file } = await migratedDatabase('damaged-index');
    const db = new Sqlite(file);
    const { rootpage } = db.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'audit_events_at'`).get() as { rootpage: number };
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const handle = await open(file, 'r+');
    try {
      await handle.write(randomBytes(pageSize), 0, pageSize, (rootpage - 1) * pageSize);
    } finally {
      await handle.close();
    }

    const logged: string[] = [];
    const logger = { warn: (_: object, msg?: string) => logged.push(`warn ${msg}`), error: (_: object, msg?: string) => logged.push(`error ${msg}`) };
    const store = openStore({ dataDir, logger });
    const problems: StoreProblem[] = [];
    store.onProblem((problem) => problems.push(problem));
    await store.start(); // the index is not read at start
    try {
      const result = await store.integrityCheck();
      expect(result.status).toBe('corrupt');
      expect(problems.map((p) => [p.kind, p.error.code])).toEqual([['integrity', ErrorCodes.STORE_CORRUPT]]);
      expect(problems[0]?.error.message).toContain(file);
      expect(logged.some((line) => line.startsWith('error ') && line.includes(file) && line.includes('damaged'))).toBe(true);
      // The store goes on working; what to do about it is the operator's call.
      expect(await store.setSettingIfAbsent('k', 'v')).toBe('v');
    } finally {
      await store.stop();
    }
  });

  it('a healthy file checks ok in the background; quickCheck: false and read-only stores skip it', async () => {
    const { dataDir } = await migratedDatabase('healthy');
    for (const [options, status] of [
      [{}, 'ok'],
      [{ quickCheck: false }, 'skipped'],
      [{ readOnly: true }, 'skipped'],
    ] as const) {
      const store = openStore({ dataDir, ...options });
      await store.start();
      try {
        expect((await store.integrityCheck()).status).toBe(status);
      } finally {
        await store.stop();
      }
    }
  });
});
