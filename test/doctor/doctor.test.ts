/**
 * `postern doctor` (controller/doctor/doctor.ts) on a good installation and on each thing an
 * installer gets wrong. The installation is real where it can be here (a site file, a store made
 * by the store code, modes, a port held by a server or by a running controller, PostgreSQL); the
 * hardware is faked at the edge the doctor reads: a sysfs tree with HID devices' uevent files,
 * device nodes that are links to /dev/null, an ffmpeg that is a script, and injected answers for
 * the clock, free space and node-hid.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { doctorExitCode, formatDoctorReport, runDoctor, type DoctorCheck, type DoctorReport, type DoctorSystem, type RunResult } from '../../controller/doctor/doctor.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { postgresAvailable, createTestDatabase } from '../support/postgres.ts';
import { hasOpenssl } from '../support/testCertificate.ts';
import { tempDir } from '../support/testSite.ts';

const GiB = 1024 ** 3;
const isRoot = process.getuid?.() === 0;

interface Installation {
  dir: string;
  siteFile: string;
  dataDir: string;
  devDir: string;
  env: NodeJS.ProcessEnv;
  system: Partial<DoctorSystem>;
  /** Writes the site file again after a change. */
  write(patch: (site: SiteConfigInput) => void): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The answers of timedatectl and chronyc; any other program runs for real. */
function fakeRun(answers: Record<string, RunResult | undefined>, real: DoctorSystem['run']): DoctorSystem['run'] {
  return async (command, args, options) => {
    const key = `${path.basename(command)} ${args.join(' ')}`;
    if (key in answers) return answers[key] ?? { missing: true, code: null, stdout: '', stderr: '' };
    if (['timedatectl', 'chronyc'].includes(path.basename(command))) return { missing: true, code: null, stdout: '', stderr: '' };
    return real(command, args, options);
  };
}

const said = (stdout: string): RunResult => ({ missing: false, code: 0, stdout, stderr: '' });
const { defaultSystem } = await import('../../controller/doctor/system.ts');
const realRun = defaultSystem().run;

/**
 * A good installation: a site file with a relay board door, a HID scanner, a camera and a network
 * scanner; a data directory with a store made by the store code; the devices present; a clock
 * that timedatectl says is synchronised; plenty of space.
 */
async function installation(): Promise<Installation> {
  const dir = await tempDir('postern-doctor-');
  const dataDir = path.join(dir, 'data');
  const store = openStore({ dataDir });
  await store.start();
  await store.stop();

  // sysfs: a scanner (0c2e:0b61) at hidraw0 and a USBRelay board (16c0:05df) at hidraw1.
  const sys = path.join(dir, 'sys');
  const hid = (node: string, id: string, name: string, uniq: string) => {
    mkdirSync(path.join(sys, 'class/hidraw', node, 'device'), { recursive: true });
    writeFileSync(path.join(sys, 'class/hidraw', node, 'device/uevent'), `DRIVER=hid-generic\nHID_ID=${id}\nHID_NAME=${name}\nHID_PHYS=usb-0000:00:14.0-1/input0\nHID_UNIQ=${uniq}\nMODALIAS=hid:b0003\n`);
  };
  hid('hidraw0', '0003:00000C2E:00000B61', 'Honeywell Imaging Scanner', '19283SX04');
  hid('hidraw1', '0003:000016C0:000005DF', 'www.dcttech.com USBRelay2', '');
  const devDir = path.join(dir, 'dev');
  mkdirSync(devDir);
  for (const node of ['hidraw0', 'hidraw1', 'video0']) symlinkSync('/dev/null', path.join(devDir, node));
  mkdirSync(path.join(sys, 'class/video4linux/null'), { recursive: true });

  // An ffmpeg that answers -version.
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'ffmpeg'), '#!/bin/sh\necho "ffmpeg version 9.9-test Copyright (c) the FFmpeg developers"\n', { mode: 0o755 });

  const web = path.join(dir, 'webui');
  mkdirSync(web);
  writeFileSync(path.join(web, 'index.html'), '<!doctype html>');

  const port = await freePort();
  const base: SiteConfigInput = {
    site: { id: 'doc-site', name: 'Doctor site', defaultScope: 1 },
    dataDir,
    logLevel: 'silent',
    api: { host: '127.0.0.1', port },
    scopes: [{ id: 1, name: 'everyone', doors: ['front', 'lab'] }],
    doors: [
      { id: 'front', name: 'Front', io: { driver: 'hid-relay', serial: 'QWERT', channel: 1 } },
      { id: 'lab', name: 'Lab' },
    ],
    scanners: [
      { id: 'front-in', door: 'front', driver: 'hid', options: { vendorId: 0x0c2e, productId: 0x0b61, mode: 'pos' } },
      { id: 'lab-cam', door: 'lab', driver: 'camera', options: { device: path.join(devDir, 'video0') } },
      { id: 'lab-net', door: 'lab', driver: 'network' },
    ],
  };
  const siteFile = path.join(dir, 'site.yaml');
  const write = (patch: (site: SiteConfigInput) => void) => {
    const site = structuredClone(base);
    patch(site);
    writeFileSync(siteFile, toYaml(site));
  };
  write(() => {});
  return {
    dir,
    siteFile,
    dataDir,
    devDir,
    env: { PATH: `${bin}:/usr/bin:/bin` },
    system: {
      sysRoot: sys,
      devRoot: devDir,
      timesyncFile: path.join(dir, 'no-timesync-flag'),
      webDistDir: web,
      statfs: async () => ({ bsize: 4096, blocks: (100 * GiB) / 4096, bavail: (60 * GiB) / 4096, files: 1_000_000, ffree: 900_000 }),
      run: fakeRun({ 'timedatectl show -p NTPSynchronized --value': said('yes\n') }, realRun),
      loadNodeHid: async () => {},
      readRelaySerial: async () => 'QWERT',
    },
    write,
  };
}

async function doctor(site: Installation, system: Partial<DoctorSystem> = {}, env: NodeJS.ProcessEnv = {}): Promise<DoctorReport> {
  return runDoctor({ configFile: site.siteFile, env: { ...site.env, ...env }, system: { ...site.system, ...system } });
}

function check(report: DoctorReport, name: string): DoctorCheck {
  const found = report.checks.find((c) => c.name === name);
  if (found === undefined) throw new Error(`no check "${name}" in: ${report.checks.map((c) => c.name).join(', ')}`);
  return found;
}

/** Every check that is not ok, but for the warning that the tests run as root. */
const notOk = (report: DoctorReport) => report.checks.filter((c) => c.status !== 'ok' && !(c.name === 'user' && isRoot));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

describe('postern doctor on a good installation', () => {
  it('finds nothing wrong: every check ok, exit code 0', async () => {
    const site = await installation();
    const report = await doctor(site);
    expect(notOk(report)).toEqual([]);
    expect(doctorExitCode(report)).toBe(0);
    expect(report.checks.map((c) => c.name)).toEqual([
      'node',
      'user',
      'site file',
      'data directory',
      'store files',
      'store',
      'disk space',
      'node-hid',
      'door front',
      'scanner front-in',
      'ffmpeg',
      'scanner lab-cam',
      'api port',
      'web pages',
      'clock',
    ]);
    expect(check(report, 'site file').message).toContain('valid (site doc-site, 2 doors, 3 scanners)');
    expect(check(report, 'data directory').message).toContain('mode 0700');
    expect(check(report, 'store').message).toMatch(/^SQLite \d/);
    expect(check(report, 'door front').message).toContain('relay board "QWERT" at');
    expect(check(report, 'scanner front-in').message).toContain('USB HID device 0c2e:0b61 "Honeywell Imaging Scanner"');
    expect(check(report, 'ffmpeg').message).toContain('ffmpeg version 9.9-test');
    expect(check(report, 'clock').message).toContain('synchronised');
  });

  it('formats the report: a line per check, hints under warnings and failures, a count at the end', async () => {
    const site = await installation();
    const report = await doctor(site, { run: fakeRun({ 'timedatectl show -p NTPSynchronized --value': said('no\n'), 'timedatectl show -p NTP --value': said('no\n') }, realRun) });
    const text = formatDoctorReport(report);
    expect(text).toMatch(/^postern doctor: .*site\.yaml, checked as user \S+/);
    expect(text).toMatch(/^ {2}ok {4}site file +.*valid/m);
    expect(text).toMatch(/^ {2}WARN {2}clock +not synchronised \(timedatectl: NTPSynchronized=no, and NTP is off\)/m);
    expect(text).toMatch(/^ +-> timedatectl set-ntp true$/m);
    expect(text).toMatch(/\d+ ok, \d+ warnings?, 0 failures: no failure; look at the warnings\n$/);
    expect(doctorExitCode(report)).toBe(0);
  });
});

describe('postern doctor when a check itself breaks', () => {
  it('reports that check as failed and runs the others', async () => {
    const site = await installation();
    const report = await doctor(site, {
      run: async () => {
        throw new Error('boom');
      },
    });
    expect(check(report, 'clock')).toMatchObject({ status: 'fail', message: 'the check itself failed: boom' });
    expect(check(report, 'devices')).toMatchObject({ status: 'fail', message: 'the check itself failed: boom' });
    expect(check(report, 'api port').status).toBe('ok');
    expect(doctorExitCode(report)).toBe(1);
  });
});

describe('postern doctor on a broken site file', () => {
  it('fails on a site file that does not validate, naming the problem, and checks nothing else', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![0]!.door = 'back';
    });
    const report = await doctor(site);
    expect(check(report, 'site file')).toMatchObject({ status: 'fail' });
    expect(check(report, 'site file').message).toContain('scanners.0.door: no door "back"');
    expect(report.checks.map((c) => c.name)).toEqual(['node', 'user', 'site file']);
    expect(doctorExitCode(report)).toBe(1);
    expect(formatDoctorReport(report)).toMatch(/1 failure: the controller will not run as it should/);
  });

  it('fails on a site file that is not there, or not YAML', async () => {
    const site = await installation();
    const missing = await runDoctor({ configFile: path.join(site.dir, 'nope.yaml'), env: site.env, system: site.system });
    expect(check(missing, 'site file').message).toMatch(/cannot read site file .*nope\.yaml/);
    writeFileSync(site.siteFile, 'site: [unclosed');
    expect(check(await doctor(site), 'site file').message).toContain('is not valid YAML or JSON');
  });

  it('applies POSTERN_API_PORT as the controller does, and fails on a bad one naming the variable', async () => {
    const site = await installation();
    const report = await doctor(site, {}, { POSTERN_API_PORT: '99999' });
    expect(check(report, 'site file').message).toContain('POSTERN_API_PORT="99999" is not a valid api.port');
  });

  it('fails when a delegation secret\'s variable is not set', async () => {
    const site = await installation();
    site.write((s) => {
      s.delegation = { url: 'https://tickets.example.org/postern', secretEnv: 'TICKETS_SECRET' };
    });
    expect(check(await doctor(site), 'delegation secrets')).toMatchObject({ status: 'fail', message: expect.stringContaining('TICKETS_SECRET not set') });
    expect(check(await doctor(site, {}, { TICKETS_SECRET: 'x'.repeat(40) }), 'delegation secrets').status).toBe('ok');
  });
});

describe('postern doctor on the data directory and the store', () => {
  it('fails on a data directory that other users can open (0755)', async () => {
    const site = await installation();
    chmodSync(site.dataDir, 0o755);
    const report = await doctor(site);
    expect(check(report, 'data directory')).toMatchObject({ status: 'fail', hint: `chmod 700 ${site.dataDir}` });
    expect(check(report, 'data directory').message).toContain('its mode is 0755');
    expect(doctorExitCode(report)).toBe(1);
  });

  it('fails on a store file other users can read (0644)', async () => {
    const site = await installation();
    chmodSync(path.join(site.dataDir, 'postern.sqlite'), 0o644);
    const report = await doctor(site);
    const store = check(report, 'store files');
    expect(store.status).toBe('fail');
    expect(store.message).toContain('postern.sqlite has mode 0644: other users can read it (it must be 0600)');
    expect(store.hint).toContain(`chmod -R u+rwX,go-rwx ${site.dataDir}`);
    expect(doctorExitCode(report)).toBe(1);
  });

  it.skipIf(!isRoot)('fails on a store file another user owns (as a command run as root before the first start leaves it)', async () => {
    const site = await installation();
    chownSync(path.join(site.dataDir, 'postern.sqlite'), 65534, 65534);
    const store = check(await doctor(site), 'store files');
    expect(store.status).toBe('fail');
    expect(store.message).toMatch(/postern\.sqlite is owned by \S+, not root: the controller cannot write it/);
    expect(store.hint).toContain(`chown -R root: ${site.dataDir}`);
  });

  it('fails on a file that is not a SQLite database where the store should be', async () => {
    const site = await installation();
    writeFileSync(path.join(site.dataDir, 'postern.sqlite'), 'not a database at all', { mode: 0o600 });
    expect(check(await doctor(site), 'store files').message).toContain('postern.sqlite is not a SQLite database');
  });

  it('warns when the data directory does not exist yet, and says the controller will make it', async () => {
    const site = await installation();
    const report = await doctor(site, {}, { POSTERN_DATA_DIR: path.join(site.dir, 'fresh') });
    expect(check(report, 'data directory')).toMatchObject({ status: 'warn', message: expect.stringContaining('(POSTERN_DATA_DIR) does not exist yet') });
    expect(report.checks.some((c) => c.name === 'store files')).toBe(false);
    expect(doctorExitCode(report)).toBe(0);
  });

  it('fails when the data directory is a file', async () => {
    const site = await installation();
    writeFileSync(path.join(site.dir, 'afile'), '');
    const report = await doctor(site, {}, { POSTERN_DATA_DIR: path.join(site.dir, 'afile') });
    expect(check(report, 'data directory')).toMatchObject({ status: 'fail', message: expect.stringContaining('is not a directory') });
  });

  it('fails when PostgreSQL does not answer at DATABASE_URL, naming the server but never the password', async () => {
    const site = await installation();
    const report = await doctor(site, {}, { DATABASE_URL: 'postgres://postern:hunter2secret@127.0.0.1:1/postern' });
    const store = check(report, 'store');
    expect(store.status).toBe('fail');
    expect(store.message).toContain('PostgreSQL at 127.0.0.1:1/postern (DATABASE_URL) does not answer: ');
    expect(formatDoctorReport(report)).not.toContain('hunter2secret');
  });

  it('finds PostgreSQL at DATABASE_URL when it is there', async (ctx) => {
    if (!(await postgresAvailable())) {
      if (process.env.POSTERN_TEST_REQUIRE_ALL === '1') throw new Error('PostgreSQL not reachable, and POSTERN_TEST_REQUIRE_ALL=1');
      ctx.skip();
    }
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const site = await installation();
    const store = check(await doctor(site, {}, { DATABASE_URL: db.url }), 'store');
    expect(store).toMatchObject({ status: 'ok', message: expect.stringMatching(/^PostgreSQL \d+.* answers$/) });
  });

  it('warns under 1 GiB or 10% free, and fails under 64 MiB', async () => {
    const site = await installation();
    const space = (free: number, total = 100 * GiB) => ({ statfs: async () => ({ bsize: 4096, blocks: total / 4096, bavail: Math.floor(free / 4096), files: 0, ffree: 0 }) });
    const low = await doctor(site, space(0.5 * GiB));
    expect(check(low, 'disk space')).toMatchObject({ status: 'warn', message: expect.stringContaining('512 MiB free of 100.0 GiB (0.5%)') });
    expect(doctorExitCode(low)).toBe(0);
    expect(check(await doctor(site, space(5 * GiB)), 'disk space').status).toBe('warn');
    expect(check(await doctor(site, space(3 * GiB, 8 * GiB)), 'disk space').status).toBe('ok');
    const full = await doctor(site, space(10 * 1024 * 1024));
    expect(check(full, 'disk space')).toMatchObject({ status: 'fail', message: expect.stringContaining('cannot take writes') });
    expect(doctorExitCode(full)).toBe(1);
  });

  it('reads the real free space when nothing is injected', async () => {
    const site = await installation();
    const { statfs: _ignored, ...system } = site.system;
    const report = await runDoctor({ configFile: site.siteFile, env: site.env, system });
    expect(check(report, 'disk space').message).toMatch(/ free of [\d.]+ GiB/);
  });
});

describe('postern doctor on devices', () => {
  it('fails on a hidraw path that does not exist, listing the devices there are', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![0] = { id: 'front-in', door: 'front', driver: 'hid', options: { path: path.join(site.devDir, 'hidraw7') } };
    });
    const scanner = check(await doctor(site), 'scanner front-in');
    expect(scanner.status).toBe('fail');
    expect(scanner.message).toContain(`${path.join(site.devDir, 'hidraw7')} does not exist`);
    expect(scanner.message).toContain('hidraw devices now: hidraw0 0c2e:0b61 "Honeywell Imaging Scanner", hidraw1 16c0:05df');
  });

  it('fails on a scanner whose USB id is not plugged in', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![0] = { id: 'front-in', door: 'front', driver: 'hid', options: { vendorId: 0x05e0, productId: 0x1200 } };
    });
    expect(check(await doctor(site), 'scanner front-in')).toMatchObject({ status: 'fail', message: expect.stringContaining('no USB HID device 05e0:1200 is plugged in') });
  });

  it('tells one scanner from another by its serial', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![0] = { id: 'front-in', door: 'front', driver: 'hid', options: { vendorId: 0x0c2e, productId: 0x0b61, serial: 'OTHER' } };
    });
    expect(check(await doctor(site), 'scanner front-in').message).toContain('with serial "OTHER" is plugged in');
  });

  it('fails when the user cannot open the device, with the udev rule as the hint', async () => {
    const site = await installation();
    const denied = path.join(site.devDir, 'hidraw0');
    const access: DoctorSystem['access'] = async (file, mode) => {
      if (file === denied) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      return defaultSystem().access(file, mode);
    };
    const scanner = check(await doctor(site, { access }), 'scanner front-in');
    expect(scanner.status).toBe('fail');
    expect(scanner.message).toContain(`cannot open ${denied} for reading and writing (EACCES`);
    expect(scanner.hint).toContain('50-postern-*.rules');
  });

  it('fails when no relay board reports the serial of the site file, naming those that are there', async () => {
    const site = await installation();
    const door = check(await doctor(site, { readRelaySerial: async () => 'ABCDE' }), 'door front');
    expect(door.status).toBe('fail');
    expect(door.message).toBe(`relay board "QWERT" not found among 1 USBRelay board(s); the boards report "ABCDE" at ${path.join(site.devDir, 'hidraw1')}`);
  });

  it('fails when no relay board is plugged in', async () => {
    const site = await installation();
    execFileSync('rm', ['-r', path.join(site.system.sysRoot!, 'class/hidraw/hidraw1')]);
    expect(check(await doctor(site), 'door front')).toMatchObject({ status: 'fail', message: expect.stringContaining('no USBRelay board (16c0:05df) is plugged in') });
  });

  it('fails when node-hid cannot be loaded (no libusb)', async () => {
    const site = await installation();
    const report = await doctor(site, {
      loadNodeHid: async () => {
        throw new Error('libusb-1.0.so.0: cannot open shared object file');
      },
    });
    expect(check(report, 'node-hid')).toMatchObject({ status: 'fail', hint: expect.stringContaining('libusb-1.0-0') });
    expect(check(report, 'door front').status).toBe('warn');
  });

  it('fails when the SQLite module cannot be loaded, saying how to build it where npm skipped its script', async () => {
    const site = await installation();
    const report = await doctor(site, {
      sqliteVersion: async () => {
        throw new Error('Could not locate the bindings file. Tried:\n → /opt/postern/node_modules/better-sqlite3/build/better_sqlite3.node');
      },
    });
    expect(check(report, 'store')).toMatchObject({
      status: 'fail',
      message: 'the SQLite module cannot be loaded: Could not locate the bindings file. Tried:',
      hint: expect.stringMatching(/npm rebuild better-sqlite3.*"allowScripts": \{ "better-sqlite3": true \}/),
    });
    expect(doctorExitCode(report)).toBe(1);
  });

  it('fails when ffmpeg is not in PATH, for a site with a camera', async () => {
    const site = await installation();
    const report = await doctor(site, {}, { PATH: '/nonexistent-bin' });
    expect(check(report, 'ffmpeg')).toMatchObject({ status: 'fail', message: '"ffmpeg" not found in PATH (/nonexistent-bin): camera scanners cannot start' });
    expect(doctorExitCode(report)).toBe(1);
  });

  it('fails on an ffmpegPath that does not run', async () => {
    const site = await installation();
    const broken = path.join(site.dir, 'broken-ffmpeg');
    writeFileSync(broken, '#!/bin/sh\necho "error while loading shared libraries: libavdevice.so.59" >&2\nexit 127\n', { mode: 0o755 });
    site.write((s) => {
      s.scanners![1] = { id: 'lab-cam', door: 'lab', driver: 'camera', options: { device: path.join(site.devDir, 'video0'), ffmpegPath: broken } };
    });
    expect(check(await doctor(site), 'ffmpeg')).toMatchObject({ status: 'fail', message: `${broken} does not run: error while loading shared libraries: libavdevice.so.59` });
  });

  it('fails on a camera device that is missing, or that is no device', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![1] = { id: 'lab-cam', door: 'lab', driver: 'camera', options: { device: '/dev/video-missing-9' } };
    });
    expect(check(await doctor(site), 'scanner lab-cam')).toMatchObject({ status: 'fail', message: expect.stringContaining('/dev/video-missing-9 does not exist') });
    site.write((s) => {
      s.scanners![1] = { id: 'lab-cam', door: 'lab', driver: 'camera', options: { device: site.siteFile } };
    });
    expect(check(await doctor(site), 'scanner lab-cam').message).toContain('is not a device node');
  });

  it('checks a camera reading a file, and does not open a stream (nor show its password)', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners![1] = { id: 'lab-cam', door: 'lab', driver: 'camera', options: { url: 'rtsp://viewer:s3cret@camera.local/stream' } };
    });
    const report = await doctor(site);
    expect(check(report, 'scanner lab-cam')).toMatchObject({ status: 'ok', message: 'stream rtsp://***@camera.local/stream: not opened here (ffmpeg opens it at start)' });
    expect(formatDoctorReport(report)).not.toContain('s3cret');
    site.write((s) => {
      s.scanners![1] = { id: 'lab-cam', door: 'lab', driver: 'camera', options: { url: path.join(site.dir, 'missing.mp4') } };
    });
    expect(check(await doctor(site), 'scanner lab-cam')).toMatchObject({ status: 'fail', message: expect.stringContaining('missing.mp4 cannot be read') });
  });

  it('warns about a kiosk without HTTPS, which browsers give no camera', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners!.push({ id: 'lobby-kiosk', door: 'lab', driver: 'kiosk' });
    });
    expect(check(await doctor(site), 'scanner lobby-kiosk')).toMatchObject({ status: 'warn', message: expect.stringContaining('HTTPS') });
    site.write((s) => {
      s.scanners!.push({ id: 'lobby-kiosk', door: 'lab', driver: 'kiosk' });
      s.badge = { publicUrl: 'https://doors.example.org' };
    });
    expect((await doctor(site)).checks.some((c) => c.name === 'scanner lobby-kiosk')).toBe(false);
  });

  it('warns about a terminal scanner, which reads nothing under systemd', async () => {
    const site = await installation();
    site.write((s) => {
      s.scanners!.push({ id: 'desk', door: 'lab', driver: 'terminal' });
    });
    const report = await doctor(site);
    expect(check(report, 'scanner desk')).toMatchObject({ status: 'warn', message: expect.stringContaining('standard input') });
    expect(doctorExitCode(report)).toBe(0);
  });
});

describe('postern doctor on the API port', () => {
  let server: HttpServer | undefined;
  let running: ApiSite | undefined;
  afterEach(async () => {
    const closing = server;
    server = undefined;
    closing?.closeAllConnections();
    await new Promise((resolve) => (closing ? closing.close(resolve) : resolve(undefined)));
    await running?.stop();
    running = undefined;
  });

  it('fails when another program holds the port', async () => {
    const site = await installation();
    // Another web server: it answers every path with 200 and a text of its own.
    server = createHttpServer((_req, res) => res.end('hello\n'));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const report = await doctor(site, {}, { POSTERN_API_PORT: String(port) });
    const api = check(report, 'api port');
    expect(api).toMatchObject({ status: 'fail', message: `127.0.0.1:${port} (POSTERN_API_PORT) is in use by another program, which is not a Postern: the controller cannot start its API there` });
    expect(api.hint).toContain(`ss -ltnp 'sport = :${port}'`);
    expect(doctorExitCode(report)).toBe(1);
  });

  it('is content when the port is held by a running Postern', async () => {
    running = await startApiSite();
    const port = Number(new URL(running.url).port);
    const site = await installation();
    const api = check(await doctor(site, {}, { POSTERN_API_PORT: String(port) }), 'api port');
    expect(api).toEqual({ name: 'api port', status: 'ok', message: `127.0.0.1:${port} (POSTERN_API_PORT) is held by a running Postern, which is ready` });
  });

  it('fails on an api.host that is not an address of this machine', async () => {
    const site = await installation();
    site.write((s) => {
      s.api = { host: '192.0.2.77', port: 18080 };
    });
    expect(check(await doctor(site), 'api port')).toMatchObject({ status: 'fail', message: expect.stringContaining('is not an address of this machine (EADDRNOTAVAIL)') });
  });

  it('warns about port 0, and says nothing is needed with the API off', async () => {
    const site = await installation();
    site.write((s) => {
      s.api = { port: 0 };
    });
    expect(check(await doctor(site), 'api port').status).toBe('warn');
    site.write((s) => {
      s.api = { enabled: false };
      s.scanners = s.scanners!.filter((x) => x.driver !== 'network');
    });
    const off = await doctor(site);
    expect(check(off, 'api port')).toMatchObject({ status: 'ok', message: 'api.enabled is false: no HTTP server, so no port' });
    expect(off.checks.some((c) => c.name === 'web pages')).toBe(false);
  });
});

describe('postern doctor on the clock', () => {
  const missing: RunResult = { missing: true, code: null, stdout: '', stderr: '' };

  it('warns when timedatectl says the clock is not synchronised', async () => {
    const site = await installation();
    const report = await doctor(site, { run: fakeRun({ 'timedatectl show -p NTPSynchronized --value': said('no\n'), 'timedatectl show -p NTP --value': said('yes\n') }, realRun) });
    expect(check(report, 'clock')).toMatchObject({ status: 'warn', message: expect.stringMatching(/^not synchronised \(timedatectl: NTPSynchronized=no\)/) });
  });

  it('falls back to systemd-timesyncd\'s flag file, then to chrony', async () => {
    const site = await installation();
    const noSystemd: RunResult = { missing: false, code: 1, stdout: '', stderr: 'System has not been booted with systemd as init system (PID 1). Can\'t operate.' };
    const flag = path.join(site.dir, 'synchronized');
    writeFileSync(flag, '');
    const timesyncd = await doctor(site, { timesyncFile: flag, run: fakeRun({ 'timedatectl show -p NTPSynchronized --value': noSystemd }, realRun) });
    expect(check(timesyncd, 'clock')).toMatchObject({ status: 'ok', message: expect.stringContaining('systemd-timesyncd') });
    const chrony = (leap: string) => fakeRun({ 'timedatectl show -p NTPSynchronized --value': missing, 'chronyc -n tracking': said(`Reference ID    : 0A000001 (10.0.0.1)\nLeap status     : ${leap}\n`) }, realRun);
    expect(check(await doctor(site, { run: chrony('Normal') }), 'clock')).toMatchObject({ status: 'ok', message: 'synchronised (chrony: leap status Normal)' });
    expect(check(await doctor(site, { run: chrony('Not synchronised') }), 'clock')).toMatchObject({ status: 'warn', message: expect.stringMatching(/^not synchronised \(chrony\)/) });
  });

  it('says it cannot tell when nothing can', async () => {
    const site = await installation();
    const report = await doctor(site, { run: fakeRun({ 'timedatectl show -p NTPSynchronized --value': missing }, realRun) });
    expect(check(report, 'clock')).toMatchObject({ status: 'warn', message: expect.stringMatching(/^cannot tell whether the clock is synchronised/) });
  });
});

describe.skipIf(!hasOpenssl && process.env.POSTERN_TEST_REQUIRE_ALL !== '1')(hasOpenssl ? 'postern doctor on TLS files' : 'postern doctor on TLS files (skipped: openssl not found)', () => {
  function certificate(dir: string, name: string, days: number): { cert: string; key: string } {
    const cert = path.join(dir, `${name}.pem`);
    const key = path.join(dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', String(days), '-subj', '/CN=doors.example.org', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    chmodSync(key, 0o600);
    return { cert, key };
  }

  it('accepts a valid certificate with its private key', async () => {
    const site = await installation();
    const tls = certificate(site.dir, 'good', 365);
    site.write((s) => {
      s.api = { ...s.api, tls };
    });
    expect(check(await doctor(site), 'tls')).toMatchObject({ status: 'ok', message: expect.stringContaining('CN=doors.example.org') });
  });

  it('fails on a key that is not the certificate\'s, warns on a certificate about to end and on a key others can read', async () => {
    const site = await installation();
    const a = certificate(site.dir, 'a', 365);
    const b = certificate(site.dir, 'b', 365);
    site.write((s) => {
      s.api = { ...s.api, tls: { cert: a.cert, key: b.key } };
    });
    expect(check(await doctor(site), 'tls')).toMatchObject({ status: 'fail', message: expect.stringContaining('is not the key of the certificate') });
    const soon = certificate(site.dir, 'soon', 3);
    site.write((s) => {
      s.api = { ...s.api, tls: soon };
    });
    expect(check(await doctor(site), 'tls')).toMatchObject({ status: 'warn', message: expect.stringMatching(/expires on .* \(in \d days\)/) });
    chmodSync(a.key, 0o644);
    site.write((s) => {
      s.api = { ...s.api, tls: a };
    });
    expect(check(await doctor(site), 'tls')).toMatchObject({ status: 'warn', hint: `chmod 600 ${a.key}` });
  });
});
