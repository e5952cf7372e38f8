/**
 * docs/deploy/postern.service: hardened as docs/install.md says (no root, a read-only system with
 * only the data directory writable, no new privileges, private /tmp, no /home, restarts on
 * failure, logs to the journal, devices through groups), and accepted by systemd's own parser:
 * `systemd-analyze verify` on a copy whose paths point at this checkout (verify wants ExecStart's
 * program to exist), with no warning at all, and `systemd-analyze security --offline` rating it
 * at most 3.0 ("OK"). Skipped, saying so, where systemd-analyze is missing, unless
 * POSTERN_TEST_REQUIRE_ALL=1.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/testSite.ts';

const root = path.resolve(import.meta.dirname, '../..');
const UNIT = path.join(root, 'docs/deploy/postern.service');
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
const unitText = readFileSync(UNIT, 'utf8');

/** The unit's settings by section: every value of each key, in order. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const pair = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!pair || current === undefined) throw new Error(`not a unit line: ${raw}`);
    current.set(pair[1]!, [...(current.get(pair[1]!) ?? []), pair[2]!]);
  }
  return sections;
}

const unit = parseUnit(unitText);
const service = unit.get('Service')!;
const one = (key: string) => service.get(key)?.at(-1);

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const hasAnalyze = analyze.status === 0;
const systemdVersion = Number(/systemd (\d+)/.exec(analyze.stdout ?? '')?.[1] ?? 0);
const suiteName = (name: string) =>
  hasAnalyze ? name : requireAll ? `${name} (systemd-analyze not found, and POSTERN_TEST_REQUIRE_ALL=1: failing)` : `${name} (skipped: systemd-analyze not found)`;

describe('the systemd unit (docs/deploy/postern.service)', () => {
  it('runs the controller as postern, never root, with the site file and the data directory', () => {
    expect(one('User')).toBe('postern');
    expect(one('Group')).toBe('postern');
    expect(one('ExecStart')).toBe('/usr/bin/node /opt/postern/node_modules/postern/dist/controller/bin/postern.js start --config /etc/postern/site.yaml');
    expect(service.get('Environment')).toContain('POSTERN_DATA_DIR=/var/lib/postern');
    expect(service.get('Environment')).toContain('POSTERN_CONFIG=/etc/postern/site.yaml');
    expect(one('EnvironmentFile')).toBe('-/etc/postern/postern.env');
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is sandboxed: read-only system, only its state directory writable, no new privileges, no capabilities', () => {
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('StateDirectory')).toBe('postern');
    expect(one('StateDirectoryMode')).toBe('0700');
    // StateDirectory= is the one writable place: no other path is opened.
    expect(service.has('ReadWritePaths')).toBe(false);
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('AmbientCapabilities')).toBe('');
    expect(one('UMask')).toBe('0077');
    expect(one('RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6 AF_NETLINK');
  });

  it('keeps devices reachable by group: nothing that hides /dev/hidraw* or /dev/video*, and no JIT-breaking W^X', () => {
    for (const key of ['PrivateDevices', 'DevicePolicy', 'DeviceAllow', 'ProtectClock', 'PrivateUsers', 'MemoryDenyWriteExecute']) {
      expect(service.has(key), key).toBe(false);
    }
    expect(service.has('SupplementaryGroups')).toBe(false); // the user's own groups (postern, video) apply
  });

  it('restarts on failure, forever, and logs to the journal', () => {
    expect(one('Restart')).toBe('on-failure');
    expect(one('RestartSec')).toBe('5s');
    expect(unit.get('Unit')?.get('StartLimitIntervalSec')).toEqual(['0']);
    expect(one('StandardOutput')).toBe('journal');
    expect(one('StandardError')).toBe('journal');
    expect(one('SyslogIdentifier')).toBe('postern');
    expect(one('KillMode')).toBe('mixed');
  });

  describe.skipIf(!hasAnalyze && !requireAll)(suiteName('systemd-analyze'), () => {
    /** The unit with its paths pointing at this checkout and this Node.js, in a folder of its own. */
    async function localCopy(): Promise<string> {
      const dir = await tempDir('postern-unit-');
      const file = path.join(dir, 'postern.service');
      writeFileSync(file, unitText.replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/postern/node_modules/postern', root).replaceAll('/opt/postern', root));
      return file;
    }

    it('systemd-analyze verify accepts it without a single warning', async () => {
      const file = await localCopy();
      const result = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', cwd: path.dirname(file) });
      const output = `${result.stdout}${result.stderr}`.trim();
      expect(output).toBe('');
      expect(result.status).toBe(0);
    });

    it('systemd-analyze verify does complain about a unit with an unknown key (the check is real)', async () => {
      const file = await localCopy();
      writeFileSync(file, readFileSync(file, 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes'));
      const result = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', cwd: path.dirname(file) });
      expect(`${result.stdout}${result.stderr}`).toMatch(/Unknown key.*NoNewPrivilege/);
    });

    it.skipIf(systemdVersion < 250)('systemd-analyze security rates its exposure at most 3.0', async () => {
      const file = await localCopy();
      const result = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=30', '--no-pager', file], { encoding: 'utf8', cwd: path.dirname(file) });
      const level = /Overall exposure level for [^:]+: ([\d.]+)/.exec(result.stdout)?.[1];
      expect(level, result.stdout + result.stderr).toBeDefined();
      expect(Number(level)).toBeLessThanOrEqual(3);
      expect(result.status, result.stdout).toBe(0);
    });
  });
});
