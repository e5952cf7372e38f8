/**
 * No silent surprises: a store is made only where the caller allows it. With `create: false` (CLI
 * commands other than `start`, unless given --create) a missing store is refused with
 * STORE_UNAVAILABLE "no store at <path>", and nothing is made; where a store is made, start() warns
 * and `store.created` says so, for `postern start` to print.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { openAdminContext, openReadContext } from '../../controller/cli/cliContext.ts';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { Controller } from '../../controller/controller.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { ErrorCodes } from '../../machines/shared/errors.ts';
import { createTestDatabase, postgresAvailable, postgresSuiteName, requireAll, type TestDatabase } from '../support/postgres.ts';
import { tempDir, testSite, testSiteInput } from '../support/testSite.ts';

function recordingLogger() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (_: object, msg?: string) => warnings.push(msg ?? '') } };
}

const noStore = (location: string) => `no store at ${location}: run \`postern start\` first, or pass --create`;

describe('a SQLite store that is not there', () => {
  it('is refused with create: false, and neither the directory nor the file is made', async () => {
    const root = await tempDir('postern-nostore-');
    const dataDir = path.join(root, 'site', 'data');
    await expect(openStore({ dataDir, create: false }).start()).rejects.toMatchObject({
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: noStore(path.join(dataDir, 'postern.sqlite')),
    });
    expect(existsSync(path.join(root, 'site'))).toBe(false);

    await mkdir(dataDir, { recursive: true });
    await expect(openStore({ dataDir, create: false }).start()).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('is made by default, with a warning, and store.created says so until it exists', async () => {
    const dataDir = path.join(await tempDir('postern-newstore-'), 'data');
    const file = path.join(dataDir, 'postern.sqlite');
    const first = recordingLogger();
    const store = openStore({ dataDir, logger: first.logger, quickCheck: false });
    expect(store.created).toBe(false);
    await store.start();
    expect(store.created).toBe(true);
    expect(store.location).toBe(file);
    await store.stop();
    expect(first.warnings).toEqual([expect.stringMatching(new RegExp(`^new empty store at ${file}: there was no store there, so one was made`))]);

    const again = recordingLogger();
    const reopened = openStore({ dataDir, logger: again.logger, create: false, quickCheck: false });
    await reopened.start();
    expect(reopened.created).toBe(false);
    await reopened.stop();
    expect(again.warnings).toEqual([]);
  });

  it('is still STORE_READ_ONLY for a store opened read-only', async () => {
    const dataDir = await tempDir('postern-nostore-ro-');
    await expect(openStore({ dataDir, readOnly: true }).start()).rejects.toMatchObject({ code: ErrorCodes.STORE_READ_ONLY });
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('is warned about by a controller that makes it', async () => {
    const dataDir = path.join(await tempDir('postern-newstore-ctl-'), 'data');
    const lines: string[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    const controller = new Controller({ config: testSite(dataDir), terminal: new PassThrough(), logger: createLogger('warn', sink) });
    await controller.start();
    await controller.stop();
    const warnings = lines.map((l) => JSON.parse(l) as { level: number; component?: string; msg: string });
    expect(warnings).toContainEqual(
      expect.objectContaining({ level: 40, component: 'store', msg: expect.stringMatching(new RegExp(`^new empty store at ${path.join(dataDir, 'postern.sqlite')}`)) }),
    );
  });
});

describe('CLI contexts', () => {
  let siteFile: string;
  let dataDir: string;
  beforeAll(async () => {
    const root = await tempDir('postern-nostore-cli-');
    siteFile = path.join(root, 'site.yaml');
    dataDir = path.join(root, 'data');
    await writeFile(siteFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
  });

  it('refuse to make a store with { create: false }, make one with { create: true }, and say which', async () => {
    const env = {};
    await expect(openAdminContext(siteFile, env, { create: false })).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE, message: noStore(path.join(dataDir, 'postern.sqlite')) });
    await expect(openReadContext(siteFile, env, { create: false })).rejects.toMatchObject({ code: ErrorCodes.STORE_UNAVAILABLE });
    expect(existsSync(dataDir)).toBe(false);

    const made = await openAdminContext(siteFile, env, { create: true });
    expect(made.store.created).toBe(true);
    await made.close();
    const opened = await openReadContext(siteFile, env, { create: false });
    expect(opened.store.created).toBe(false);
    await opened.close();
  });
});

describe('paths in the site file', () => {
  it('are resolved against the site file\'s folder, every one of them, whatever the working directory', async () => {
    const folder = path.join(await tempDir('postern-paths-'), 'site');
    await mkdir(folder);
    const siteFile = path.join(folder, 'site.yaml');
    const input = testSiteInput('./data');
    await writeFile(
      siteFile,
      stringify({
        ...input,
        api: { port: 0, tls: { cert: 'tls/cert.pem', key: '../keys/key.pem' } },
        email: { from: 'doors@example.org', smtp: { host: 'smtp.example.org', user: 'doors', passwordFile: 'smtp-password' } },
        scanners: [
          { id: 'cam-file', door: 'front', driver: 'camera', options: { url: 'videos/front.mp4', ffmpegPath: './bin/ffmpeg' } },
          { id: 'cam-stream', door: 'front', driver: 'camera', options: { url: 'rtsp://camera.local/stream' } },
          { id: 'cam-device', door: 'lab', driver: 'camera', options: { device: '/dev/video0', ffmpegPath: '/usr/bin/ffmpeg' } },
          { id: 'hid', door: 'lab', driver: 'hid', options: { path: '/dev/hidraw3' } },
        ],
      }),
    );
    const config = loadConfig(siteFile);
    expect(config.dataDir).toBe(path.join(folder, 'data'));
    expect(config.api.tls).toEqual({ cert: path.join(folder, 'tls', 'cert.pem'), key: path.join(path.dirname(folder), 'keys', 'key.pem') });
    expect(config.email?.smtp?.passwordFile).toBe(path.join(folder, 'smtp-password'));
    const options = Object.fromEntries(config.scanners.map((s) => [s.id, s.options]));
    expect(options['cam-file']).toMatchObject({ url: path.join(folder, 'videos', 'front.mp4'), ffmpegPath: path.join(folder, 'bin', 'ffmpeg') });
    expect(options['cam-stream']).toMatchObject({ url: 'rtsp://camera.local/stream', ffmpegPath: 'ffmpeg' });
    expect(options['cam-device']).toMatchObject({ device: '/dev/video0', ffmpegPath: '/usr/bin/ffmpeg' });
    expect(options.hid).toMatchObject({ path: '/dev/hidraw3' });
    expect(Object.isFrozen(config.scanners[0]!.options)).toBe(true);
    // POSTERN_DATA_DIR is the exception the docs name: it is resolved against the working directory.
    expect(loadConfig(siteFile, { POSTERN_DATA_DIR: 'elsewhere' }).dataDir).toBe(path.resolve('elsewhere'));
  });
});

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp && !requireAll)(postgresSuiteName('a PostgreSQL database without a store', pgUp), () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is refused with create: false, and no table is made; made by default, with store.created', async () => {
    const dataDir = await tempDir('postern-nostore-pg-');
    const location = new URL(db.url);
    await expect(openStore({ databaseUrl: db.url, dataDir, create: false }).start()).rejects.toMatchObject({
      code: ErrorCodes.STORE_UNAVAILABLE,
      message: noStore(`${location.hostname}:${location.port || '5432'}/${db.name}`),
    });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = await client.query(`select table_name from information_schema.tables where table_schema = 'public'`);
      expect(tables.rows).toEqual([]);
    } finally {
      await client.end();
    }

    const { warnings, logger } = recordingLogger();
    const store = openStore({ databaseUrl: db.url, dataDir, logger });
    await store.start();
    expect(store.created).toBe(true);
    await store.stop();
    expect(warnings).toEqual([expect.stringMatching(/^new empty store at /)]);
    const reopened = openStore({ databaseUrl: db.url, dataDir, create: false });
    await reopened.start();
    expect(reopened.created).toBe(false);
    await reopened.stop();
    expect(await readdir(dataDir)).toEqual([]);
  });
});
