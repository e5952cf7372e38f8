/**
 * The other files of docs/deploy/: the example site file validates and agrees with the unit; the
 * journald drop-in has only keys journald knows; the wrapper /usr/local/bin/postern is valid sh,
 * and (as root, with runuser) really runs the command as the service's user with the
 * environment file's variables and the unit's site file and data directory.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { tempDir } from '../support/testSite.ts';

const root = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(root, 'docs/deploy');
const read = (name: string) => readFileSync(path.join(DEPLOY, name), 'utf8');

describe('the example site file (docs/deploy/site.example.yaml)', () => {
  it('is a valid site file with the unit\'s data directory, a relay board door and a HID scanner', () => {
    const config = loadConfig(path.join(DEPLOY, 'site.example.yaml'));
    expect(config.dataDir).toBe('/var/lib/postern');
    expect(read('postern.service')).toContain(`POSTERN_DATA_DIR=${config.dataDir}`);
    expect(config.doors[0]?.io.driver).toBe('hid-relay');
    expect(config.scanners[0]?.driver).toBe('hid');
    expect(config.api.tls?.key).toBe('/etc/postern/tls/key.pem');
  });
});

describe('the journald drop-in (docs/deploy/journald-postern.conf)', () => {
  const KNOWN = new Set(['Storage', 'Compress', 'Seal', 'SplitMode', 'SyncIntervalSec', 'RateLimitIntervalSec', 'RateLimitBurst', 'SystemMaxUse', 'SystemKeepFree', 'SystemMaxFileSize', 'SystemMaxFiles', 'RuntimeMaxUse', 'RuntimeKeepFree', 'RuntimeMaxFileSize', 'RuntimeMaxFiles', 'MaxRetentionSec', 'MaxFileSec', 'ForwardToSyslog', 'ForwardToKMsg', 'ForwardToConsole', 'ForwardToWall', 'MaxLevelStore', 'MaxLevelSyslog', 'MaxLevelKMsg', 'MaxLevelConsole', 'MaxLevelWall', 'LineMax', 'ReadKMsg', 'Audit']);

  it('sets only [Journal] keys journald knows: persistent, bounded in size and age', () => {
    const lines = read('journald-postern.conf').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines[0]).toBe('[Journal]');
    const settings = new Map(lines.slice(1).map((l) => l.split('=', 2) as [string, string]));
    for (const key of settings.keys()) expect(KNOWN, key).toContain(key);
    expect(settings.get('Storage')).toBe('persistent');
    expect(settings.get('SystemMaxUse')).toMatch(/^\d+[KMGT]$/);
    expect(settings.get('SystemKeepFree')).toMatch(/^\d+[KMGT]$/);
    expect(settings.get('MaxRetentionSec')).toMatch(/^\d+(s|min|h|day|week|month|year)$/);
  });
});

describe('the environment file example (docs/deploy/postern.env.example)', () => {
  it('holds only comments and VARIABLE=value lines, as systemd and sh both read them', () => {
    for (const line of read('postern.env.example').split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(/^[A-Z_][A-Z0-9_]*=\S*$/);
    }
  });
});

const wrapper = path.join(DEPLOY, 'postern');
const canSwitch = process.getuid?.() === 0 && spawnSync('runuser', ['--version']).status === 0;

describe('the wrapper (docs/deploy/postern)', () => {
  it('is valid sh and executable', () => {
    const result = spawnSync('sh', ['-n', wrapper], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(readFileSync(wrapper, 'utf8').startsWith('#!/bin/sh\n')).toBe(true);
  });

  it.skipIf(!canSwitch)('run by root, runs the command as the service user with the environment file, the site file and the data directory', async () => {
    // A fake installation: its "postern.js" prints what it was given.
    const home = await tempDir('postern-home-');
    chmodSync(home, 0o755);
    const bin = path.join(home, 'node_modules/postern/dist/controller/bin');
    mkdirSync(bin, { recursive: true, mode: 0o755 });
    writeFileSync(
      path.join(bin, 'postern.js'),
      `const { execSync } = require('node:child_process');
       console.log(JSON.stringify({ user: execSync('id -un').toString().trim(), args: process.argv.slice(2), env: { DATABASE_URL: process.env.DATABASE_URL, POSTERN_CONFIG: process.env.POSTERN_CONFIG, POSTERN_DATA_DIR: process.env.POSTERN_DATA_DIR } }));`,
      { mode: 0o644 },
    );
    const envFile = path.join(home, 'postern.env');
    writeFileSync(envFile, '# test\nDATABASE_URL=postgres://postern:secret@127.0.0.1:5432/postern\n', { mode: 0o600 });
    const result = spawnSync(wrapper, ['doctor', '--json', 'two words'], {
      encoding: 'utf8',
      cwd: home,
      env: { PATH: process.env.PATH, POSTERN_APP: home, POSTERN_USER: 'nobody', POSTERN_ENV_FILE: envFile, NODE: process.execPath },
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({
      user: 'nobody',
      args: ['doctor', '--json', 'two words'],
      env: { DATABASE_URL: 'postgres://postern:secret@127.0.0.1:5432/postern', POSTERN_CONFIG: '/etc/postern/site.yaml', POSTERN_DATA_DIR: '/var/lib/postern' },
    });
  });

  it.skipIf(!canSwitch)('refuses a user that is neither root nor the service user', async () => {
    // A copy that user can read: the checkout may sit in a folder only root may enter.
    const readable = await tempDir('postern-wrapper-');
    chmodSync(readable, 0o755);
    const copy = path.join(readable, 'postern');
    writeFileSync(copy, readFileSync(wrapper), { mode: 0o755 });
    const result = spawnSync('runuser', ['-u', 'nobody', '--', 'sh', copy, 'doctor'], { encoding: 'utf8', env: { PATH: process.env.PATH, POSTERN_USER: 'postern-nobody-is' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/run this as root or as postern-nobody-is/);
  });
});
