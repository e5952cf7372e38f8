/**
 * POSTERN_DATA_DIR and POSTERN_API_PORT replace the site file's settings before validation, so the
 * schema that checks the file checks them too, and a bad value is one line naming the variable.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { ErrorCodes, isPosternError, type PosternError } from '../../machines/shared/errors.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

let file: string;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('postern-env-');
  file = path.join(dir, 'site.yaml');
  await writeFile(file, stringify({ ...testSiteInput('./data'), api: { port: 8123 } }));
});

function refusal(run: () => unknown): PosternError {
  try {
    run();
  } catch (error) {
    if (isPosternError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('environment overrides of the site file', () => {
  it('replace api.port and dataDir (the directory resolved against the working directory)', () => {
    const config = loadConfig(file, { POSTERN_API_PORT: '0', POSTERN_DATA_DIR: 'some/where' });
    expect(config.api.port).toBe(0);
    expect(config.dataDir).toBe(path.resolve('some/where'));
    expect(Object.isFrozen(config.api)).toBe(true);
  });

  it('leave the file alone when unset or empty', () => {
    for (const env of [{}, { POSTERN_API_PORT: '', POSTERN_DATA_DIR: '' }, { POSTERN_API_PORT: '  ' }]) {
      const config = loadConfig(file, env);
      expect(config.api.port).toBe(8123);
      expect(config.dataDir).toBe(path.join(dir, 'data'));
    }
  });

  it.each(['70000', '65536', '-1', 'abc', '80a', '8080.5', '1e3', '0x50'])('refuse POSTERN_API_PORT=%s in one line naming it, as CONFIG_INVALID', (port) => {
    const error = refusal(() => loadConfig(file, { POSTERN_API_PORT: port }));
    expect(error.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(error.message).toBe(`POSTERN_API_PORT=${JSON.stringify(port)} is not a valid api.port: it must be a whole number from 0 to 65535 (0 picks a free port)`);
    expect(error.details).toEqual([expect.objectContaining({ path: 'api.port', env: 'POSTERN_API_PORT' })]);
  });

  it('accept the ends of the range', () => {
    expect(loadConfig(file, { POSTERN_API_PORT: '65535' }).api.port).toBe(65_535);
    expect(loadConfig(file, { POSTERN_API_PORT: ' 8080 ' }).api.port).toBe(8080);
  });

  it('list a bad variable with the site file\'s own problems, each by its path', async () => {
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, stringify({ ...testSiteInput('./data'), logLevel: 'loud' }));
    const error = refusal(() => loadConfig(broken, { POSTERN_API_PORT: '99999' }));
    expect(error.message).toContain(`${broken} is not a valid site file:`);
    expect(error.message).toContain('  - logLevel:');
    expect(error.message).toContain('  - POSTERN_API_PORT="99999" is not a valid api.port');
  });

  it('still report a bad port in the site file itself as the file\'s', async () => {
    const bad = path.join(dir, 'bad-port.yaml');
    await writeFile(bad, stringify({ ...testSiteInput('./data'), api: { port: 70000 } }));
    const error = refusal(() => loadConfig(bad, {}));
    expect(error.message).toContain(`${bad} is not a valid site file:`);
    expect(error.message).toContain('  - api.port:');
    // ...and the variable, when set, wins over it.
    expect(loadConfig(bad, { POSTERN_API_PORT: '0' }).api.port).toBe(0);
  });
});
