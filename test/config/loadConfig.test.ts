import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../../controller/config/loadConfig.ts';
import { DEMO_CONFIG } from '../../controller/config/demoConfig.ts';
import { ErrorCodes, isPosternError, type PosternError } from '../../machines/shared/errors.ts';

function problemsOf(raw: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig(raw);
  } catch (error) {
    if (isPosternError(error, ErrorCodes.CONFIG_INVALID)) return error.details as Array<{ path: string; message: string }>;
    throw error;
  }
  throw new Error('expected the config to be rejected');
}

const minimal = { site: { id: 'hq', name: 'HQ' }, doors: [{ id: 'front', name: 'Front' }] };

describe('site file', () => {
  it('loads the shipped demo site, with defaults filled in and dataDir resolved beside the file', () => {
    const config = loadConfig(DEMO_CONFIG);
    expect(config.site.id).toBe('demo');
    expect(config.doors.map((d) => d.id)).toEqual(['front', 'lab']);
    expect(config.scanners.find((s) => s.driver === 'terminal')?.door).toBe('front');
    expect(path.isAbsolute(config.dataDir)).toBe(true);
    expect(Object.isFrozen(config.doors[0])).toBe(true);
  });

  it('fills defaults for a minimal site', () => {
    const config = validateConfig(minimal);
    expect(config.doors[0]).toMatchObject({ unlockSeconds: 5, heldOpenSeconds: 30, failMode: 'secure', io: { driver: 'simulated' } });
    expect(config.site.defaultScope).toBeNull();
  });

  it('lists every problem with its path, not just the first', () => {
    const problems = problemsOf({
      site: { id: 'Bad Id', name: '' },
      doors: [
        { id: 'front', name: 'Front', unlockSeconds: -1, failMode: 'open' },
        { id: 'front', name: 'Again', io: { driver: 'laser' } },
      ],
      scanners: [
        { id: 's1', door: 'back', driver: 'terminal' },
        { id: 's2', door: 'front', driver: 'terminal' },
        { id: 's3', door: 'front', driver: 'simulated', colour: 'red' },
      ],
      scopes: [{ id: 0, name: 'x', doors: ['nowhere'] }],
    });
    const paths = problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['site.id', 'site.name', 'doors.0.unlockSeconds', 'doors.0.failMode', 'doors.1.io.driver', 'scanners.2', 'scopes.0.id']),
    );
    // Cross-references are checked once the shapes are right.
    const refs = problemsOf({ ...minimal, doors: [...minimal.doors, { id: 'front', name: 'Twice' }], scanners: [{ id: 's1', door: 'back', driver: 'simulated' }], scopes: [{ id: 4, name: 'x', doors: ['nowhere'] }], site: { id: 'hq', name: 'HQ', defaultScope: 9 } });
    expect(refs.map((p) => `${p.path}: ${p.message}`)).toEqual(
      expect.arrayContaining(['doors.1.id: duplicate door id "front"', 'scanners.0.door: no door "back"', 'scopes.0.doors.0: no door "nowhere"', 'site.defaultScope: no scope 9']),
    );
  });

  it('names the file when it is not YAML or cannot be read', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'postern-config-'));
    const broken = path.join(dir, 'site.yaml');
    await writeFile(broken, 'site: [unclosed\n');
    expect(() => loadConfig(broken)).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID, message: expect.stringContaining(broken) }) as PosternError);
    expect(() => loadConfig(path.join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_UNREADABLE }) as PosternError);
  });
});
