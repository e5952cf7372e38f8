/**
 * The udev rules shipped in docs/deploy/: every line is read by a parser of udev's rule syntax
 * here (keys, operators, quoting), and by udev itself where it can be: `udevadm verify` (systemd
 * 254 and later), else `udevadm test` in a private mount namespace whose rules directories hold
 * only these files, so that nothing else runs and nothing on the machine changes (needs root and
 * unshare; said plainly when skipped). Their USB ids are the drivers' and the docs'.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HID_RELAY_PRODUCT_ID, HID_RELAY_VENDOR_ID } from '../../drivers/doorIo/hidRelayBoard.ts';
import { tempDir } from '../support/testSite.ts';

const root = path.resolve(import.meta.dirname, '../..');
const DEPLOY = path.join(root, 'docs/deploy');
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
const ruleFiles = readdirSync(DEPLOY).filter((f) => f.endsWith('.rules')).sort();
const read = (name: string) => readFileSync(path.join(DEPLOY, name), 'utf8');

const MATCH_KEYS = /^(ACTION|DEVPATH|KERNEL|NAME|SYMLINK|SUBSYSTEM|DRIVER|ATTR\{[^}]+\}|SYSCTL\{[^}]+\}|KERNELS|SUBSYSTEMS|DRIVERS|ATTRS\{[^}]+\}|TAGS|ENV\{[^}]+\}|CONST\{[^}]+\}|TAG|TEST(\{[0-7]+\})?|PROGRAM|RESULT)$/;
const ASSIGN_KEYS = /^(NAME|SYMLINK|OWNER|GROUP|MODE|SECLABEL\{[^}]+\}|ATTR\{[^}]+\}|SYSCTL\{[^}]+\}|ENV\{[^}]+\}|TAG|RUN(\{[^}]+\})?|LABEL|GOTO|IMPORT\{[^}]+\}|OPTIONS)$/;

/** The problems of one rules file, by line, as udev's parser would see them; empty when none. */
function lintRules(text: string): string[] {
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `line ${index + 1}`;
    const pairs = line.split(/,\s*(?=[A-Z])/);
    let matches = 0;
    for (const pair of pairs) {
      const m = /^([A-Z]+(?:\{[^}]*\})?)(==|!=|\+=|-=|:=|=)"([^"]*)"$/.exec(pair.trim());
      if (!m) {
        problems.push(`${where}: cannot read ${JSON.stringify(pair)}`);
        continue;
      }
      const [, key, op, value] = m;
      const isMatch = op === '==' || op === '!=';
      if (isMatch) {
        matches++;
        if (!MATCH_KEYS.test(key!)) problems.push(`${where}: ${key} cannot be matched`);
      } else if (!ASSIGN_KEYS.test(key!)) problems.push(`${where}: ${key} cannot be assigned`);
      if (/^ATTRS?\{id(Vendor|Product)\}$/.test(key!) && !/^[0-9a-f]{4}$/.test(value!)) problems.push(`${where}: ${key} must be 4 lower-case hex digits, not "${value}"`);
      if (key === 'MODE' && !/^0[0-7]{3}$/.test(value!)) problems.push(`${where}: MODE must be octal, not "${value}"`);
    }
    if (matches === 0) problems.push(`${where}: a rule without a match applies to every device`);
  });
  return problems;
}

/** The rule lines of a file (no comments, no blank lines). */
const ruleLines = (text: string) => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

describe('udev rules (docs/deploy/*.rules)', () => {
  it('ships a rule for the relay boards and for the scanners, and the input rule after 60-input-id.rules', () => {
    expect(ruleFiles).toEqual(['50-postern-scanner.rules', '50-postern-usbrelay.rules', '61-postern-scanner-input.rules']);
    // 60-input-id.rules sets ID_INPUT_KEYBOARD: a rule that clears it must sort after it.
    expect('61-postern-scanner-input.rules' > '60-input-id.rules').toBe(true);
  });

  it.each(ruleFiles)('%s reads as udev rules', (name) => {
    expect(lintRules(read(name))).toEqual([]);
  });

  it('the parser finds what udev would refuse', () => {
    expect(lintRules('SUBSYSTEM=="hidraw", ATTRS{idVendor}="16c0", MODE="0660"')).toEqual(['line 1: ATTRS{idVendor} cannot be assigned']);
    expect(lintRules('SUBSYSTEM=="hidraw", ATTRS{idVendor}=="16C0", MODE="660"')).toHaveLength(2);
    expect(lintRules('MODE="0660", GROUP="postern"')).toEqual(['line 1: a rule without a match applies to every device']);
    expect(lintRules("SUBSYSTEM=='hidraw', MODE=\"0660\"")[0]).toMatch(/cannot read/);
  });

  it('gives the relay boards\' hidraw nodes to the postern group, with the drivers\' USB id and the text of docs/drivers.md', () => {
    const [line] = ruleLines(read('50-postern-usbrelay.rules'));
    const vendor = HID_RELAY_VENDOR_ID.toString(16).padStart(4, '0');
    const product = HID_RELAY_PRODUCT_ID.toString(16).padStart(4, '0');
    expect(line).toBe(`SUBSYSTEM=="hidraw", ATTRS{idVendor}=="${vendor}", ATTRS{idProduct}=="${product}", MODE="0660", GROUP="postern"`);
    expect(readFileSync(path.join(root, 'docs/drivers.md'), 'utf8')).toContain(line);
  });

  it('gives the scanners\' hidraw nodes to the postern group; the input rule names the same scanners', () => {
    const hidraw = ruleLines(read('50-postern-scanner.rules'));
    const input = ruleLines(read('61-postern-scanner-input.rules'));
    const ids = (lines: string[]) => lines.map((l) => /ATTRS\{idVendor\}=="(\w+)", ATTRS\{idProduct\}=="(\w+)"/.exec(l)!.slice(1).join(':'));
    expect(hidraw.every((l) => l.startsWith('SUBSYSTEM=="hidraw"') && l.endsWith('MODE="0660", GROUP="postern"'))).toBe(true);
    expect(input.every((l) => l.startsWith('SUBSYSTEM=="input"') && l.includes('ENV{LIBINPUT_IGNORE_DEVICE}="1"'))).toBe(true);
    expect(ids(input)).toEqual(ids(hidraw));
    const site = readFileSync(path.join(DEPLOY, 'site.example.yaml'), 'utf8');
    const [vendor, product] = ids(hidraw)[0]!.split(':');
    expect(site).toContain(`vendorId: 0x${vendor}`);
    expect(site).toContain(`productId: 0x${product}`);
  });
});

const verify = spawnSync('udevadm', ['verify', '--help'], { encoding: 'utf8' });
const hasVerify = verify.status === 0;
const isRoot = process.getuid?.() === 0;
const unshare = spawnSync('unshare', ['--version'], { encoding: 'utf8' }).status === 0;
const hasUdevadm = spawnSync('udevadm', ['--version'], { encoding: 'utf8' }).status === 0;
const canTest = hasUdevadm && isRoot && unshare && existsSync('/sys/class/net/lo');
const udevSuite = hasVerify || canTest;
const why = !hasUdevadm ? 'udevadm not found' : 'neither udevadm verify (systemd 254+) nor root with unshare for udevadm test';

describe.skipIf(!udevSuite && !requireAll)(udevSuite ? 'udev reads the rules' : `udev reads the rules (${requireAll ? `${why}, and POSTERN_TEST_REQUIRE_ALL=1: failing` : `skipped: ${why}`})`, () => {
  it('with no error on any line (an unknown group aside: postern exists only once installed)', async () => {
    const files = ruleFiles.map((f) => path.join(DEPLOY, f));
    let output: string;
    if (hasVerify) {
      const result = spawnSync('udevadm', ['verify', '--resolve-names=never', ...files], { encoding: 'utf8' });
      output = `${result.stdout}${result.stderr}`;
      expect(result.status, output).toBe(0);
    } else {
      output = await udevadmTest(files);
      for (const name of ruleFiles) expect(output).toContain(`Reading rules file: /etc/udev/rules.d/${name}`);
    }
    const complaints = output
      .split('\n')
      .filter((line) => /postern[^:]*\.rules:\d+/.test(line))
      .filter((line) => !/Unknown group 'postern'/.test(line));
    expect(complaints).toEqual([]);
  });

  it.skipIf(hasVerify)('and udevadm test does report a broken rule (the check is real)', async () => {
    const dir = await tempDir('postern-badrule-');
    const bad = path.join(dir, '50-postern-broken.rules');
    writeFileSync(bad, 'SUBSYSTEM=="hidraw", ATTRS{idVendor}="16c0", MODE="0660"\n');
    expect(await udevadmTest([bad])).toMatch(/50-postern-broken\.rules:1 Invalid operator/);
  });
});

/**
 * udevadm test on the loopback device, in a mount namespace of its own where /etc/udev/rules.d
 * holds only `files` and the system's rules directories are empty: udev reads (and reports on)
 * these rules alone, none of which matches the loopback device, so nothing is run or changed.
 */
async function udevadmTest(files: string[]): Promise<string> {
  const dir = await tempDir('postern-udev-');
  const rules = path.join(dir, 'rules');
  const empty = path.join(dir, 'empty');
  mkdirSync(rules);
  mkdirSync(empty);
  for (const file of files) writeFileSync(path.join(rules, path.basename(file)), readFileSync(file));
  const systemDirs = ['/usr/lib/udev/rules.d', '/lib/udev/rules.d', '/run/udev/rules.d', '/usr/local/lib/udev/rules.d'].filter((d) => existsSync(d));
  const script = [`mount --bind '${rules}' /etc/udev/rules.d`, ...systemDirs.map((d) => `mount --bind '${empty}' '${d}'`), 'exec udevadm test /sys/class/net/lo'].join(' && ');
  const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
  const output = `${result.stdout}${result.stderr}`;
  if (!output.includes('Reading rules file')) throw new Error(`udevadm test did not run: ${output}`);
  return output;
}
