/**
 * Files with secrets outside the store: what Postern writes is 0600 from its first byte whatever
 * the umask, and the key files a site file names are checked at start: a loose one is warned
 * about with the chmod to run, and changed only when it is the running user's and inside the
 * data directory.
 */
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../controller/config/loadConfig.ts';
import { checkSecretFiles, checkStartFiles, isInside, makePrivateDir, secretFilesOf, tightenLinkFiles, writePrivateFile } from '../../controller/secureFiles.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const uid = process.getuid!();
const modeOf = (file: string) => statSync(file).mode & 0o777;

function collectingLogger() {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  return { lines, warn: (obj: object, msg: string) => lines.push({ obj: obj as Record<string, unknown>, msg }) };
}

let dir: string;
beforeEach(async () => {
  dir = await tempDir('postern-secure-');
});

describe('writePrivateFile', () => {
  it('makes a new file 0600 with umask 0, and leaves no temporary file', async () => {
    const file = path.join(dir, 'link.png');
    const old = process.umask(0);
    try {
      await writePrivateFile(file, Buffer.from('secret'));
    } finally {
      process.umask(old);
    }
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('secret');
    expect(readdirSync(dir)).toEqual(['link.png']);
  });

  it('replaces a world-readable file with a 0600 one (writeFile with a mode would keep 0644)', async () => {
    const file = path.join(dir, 'old.eml');
    writeFileSync(file, 'old and longer than the new one');
    chmodSync(file, 0o644);
    await writePrivateFile(file, 'new');
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('new');
  });

  it('replaces a symbolic link instead of writing through it', async () => {
    const elsewhere = path.join(dir, 'elsewhere');
    writeFileSync(elsewhere, 'untouched');
    const file = path.join(dir, 'planted');
    symlinkSync(elsewhere, file);
    await writePrivateFile(file, 'code');
    expect(readFileSync(elsewhere, 'utf8')).toBe('untouched');
    expect(statSync(file).isFile()).toBe(true);
    expect(modeOf(file)).toBe(0o600);
  });

  it('writes into a device in place (--eml /dev/null), never replacing it', async () => {
    await writePrivateFile('/dev/null', 'x');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });

  it('throws what the file system says, and cleans up', async () => {
    await expect(writePrivateFile(path.join(dir, 'missing', 'file'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('makePrivateDir', () => {
  it('makes missing folders 0700 whatever the umask, and leaves existing ones alone', async () => {
    mkdirSync(path.join(dir, 'kept'), { mode: 0o755 });
    chmodSync(path.join(dir, 'kept'), 0o755);
    const old = process.umask(0);
    try {
      await makePrivateDir(path.join(dir, 'kept', 'a', 'b'));
    } finally {
      process.umask(old);
    }
    expect(modeOf(path.join(dir, 'kept'))).toBe(0o755);
    expect(modeOf(path.join(dir, 'kept', 'a'))).toBe(0o700);
    expect(modeOf(path.join(dir, 'kept', 'a', 'b'))).toBe(0o700);
  });
});

describe('secretFilesOf', () => {
  it('names the TLS key, the SMTP password file and a site file with a secret in it', () => {
    const config = validateConfig({
      ...testSiteInput(dir),
      api: { port: 0, tls: { cert: '/etc/postern/cert.pem', key: '/etc/postern/key.pem' } },
      email: { from: 'door@example.org', smtp: { host: 'smtp.example.org', user: 'door', passwordFile: '/etc/postern/smtp' } },
    });
    expect(secretFilesOf(config, '/etc/postern/site.yaml')).toEqual([
      { path: '/etc/postern/key.pem', setting: 'api.tls.key' },
      { path: '/etc/postern/smtp', setting: 'email.smtp.passwordFile' },
    ]);
    const inline = validateConfig({ ...testSiteInput(dir), email: { from: 'door@example.org', smtp: { host: 'smtp.example.org', user: 'door', password: 'hunter2hunter2' } } });
    expect(secretFilesOf(inline, '/etc/postern/site.yaml')).toEqual([{ path: '/etc/postern/site.yaml', setting: 'the site file (it holds email.smtp.password)' }]);
    expect(secretFilesOf(validateConfig(testSiteInput(dir)), '/etc/postern/site.yaml')).toEqual([]);
  });
});

describe('checkSecretFiles', () => {
  const make = (file: string, mode: number) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'secret');
    chmodSync(file, mode);
    return file;
  };

  it('tightens a loose key of the running user inside the data directory, and says so', () => {
    const dataDir = path.join(dir, 'data');
    const key = make(path.join(dataDir, 'tls', 'key.pem'), 0o644);
    const logger = collectingLogger();
    const [check] = checkSecretFiles([{ path: key, setting: 'api.tls.key' }], { dataDir, logger });
    expect(check).toMatchObject({ status: 'fixed', mode: '0644' });
    expect(modeOf(key)).toBe(0o600);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.msg).toBe(`api.tls.key: ${key} was readable by other users (mode 0644); it holds a secret, so its mode is now 0600`);
  });

  it('only warns about a loose key outside the data directory, with the chmod to run', () => {
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir);
    const key = make(path.join(dir, 'etc', 'smtp-password'), 0o640);
    const logger = collectingLogger();
    const [check] = checkSecretFiles([{ path: key, setting: 'email.smtp.passwordFile' }], { dataDir, logger });
    expect(check).toMatchObject({ status: 'open', mode: '0640', fix: `chmod 600 ${key}` });
    expect(modeOf(key)).toBe(0o640);
    expect(logger.lines[0]!.msg).toBe(`email.smtp.passwordFile: ${key} is readable by other users (mode 0640); it holds a secret: run chmod 600 ${key}`);
    expect(logger.lines[0]!.obj).toMatchObject({ path: key, mode: '0640', fix: `chmod 600 ${key}` });
  });

  it('only warns about a key in the data directory that another user owns', () => {
    const dataDir = path.join(dir, 'data');
    const key = make(path.join(dataDir, 'key.pem'), 0o644);
    const logger = collectingLogger();
    const other = uid + 4242;
    const [check] = checkSecretFiles([{ path: key, setting: 'api.tls.key' }], { dataDir, logger, uid: other });
    expect(check).toMatchObject({ status: 'open', fix: `chown ${other} ${key} && chmod 600 ${key}` });
    expect(modeOf(key)).toBe(0o644);
    expect(logger.lines[0]!.msg).toContain(`owned by uid ${uid}, not by this process's uid ${other}`);
  });

  it('does not follow a link in the data directory out of it', () => {
    const dataDir = path.join(dir, 'data');
    const outside = make(path.join(dir, 'outside.pem'), 0o644);
    mkdirSync(dataDir);
    const link = path.join(dataDir, 'key.pem');
    symlinkSync(outside, link);
    expect(isInside(link, dataDir)).toBe(false);
    const [check] = checkSecretFiles([{ path: link, setting: 'api.tls.key' }], { dataDir });
    expect(check!.status).toBe('open');
    expect(modeOf(outside)).toBe(0o644);
  });

  it('says nothing about a private key, keeps owner bits, and skips a missing file', () => {
    const dataDir = path.join(dir, 'data');
    const good = make(path.join(dataDir, 'good.pem'), 0o600);
    const readOnly = make(path.join(dataDir, 'ro.pem'), 0o444);
    const logger = collectingLogger();
    const checks = checkSecretFiles(
      [
        { path: good, setting: 'api.tls.key' },
        { path: readOnly, setting: 'email.smtp.passwordFile' },
        { path: path.join(dir, 'missing'), setting: 'api.tls.key' },
      ],
      { dataDir, logger },
    );
    expect(checks.map((c) => c.status)).toEqual(['ok', 'fixed', 'missing']);
    expect(modeOf(readOnly)).toBe(0o400);
    expect(logger.lines).toHaveLength(1);
  });
});

describe('checkStartFiles', () => {
  it('checks the site\'s key files and makes old link files in the data directory private', () => {
    const dataDir = path.join(dir, 'data');
    const links = path.join(dataDir, 'links');
    mkdirSync(links, { recursive: true });
    chmodSync(dataDir, 0o755);
    chmodSync(links, 0o755);
    for (const name of ['link-1.png', 'link-1.svg']) {
      writeFileSync(path.join(links, name), 'qr');
      chmodSync(path.join(links, name), 0o644);
    }
    const password = path.join(dataDir, 'smtp-password');
    writeFileSync(password, 'pw');
    chmodSync(password, 0o604);
    const config = validateConfig({ ...testSiteInput(dataDir), email: { from: 'door@example.org', smtp: { host: 'smtp.example.org', user: 'door', passwordFile: password } } });
    const logger = collectingLogger();
    const checks = checkStartFiles(config, { siteFile: path.join(dir, 'site.yaml'), logger });
    expect(checks).toEqual([expect.objectContaining({ setting: 'email.smtp.passwordFile', status: 'fixed', mode: '0604' })]);
    expect(modeOf(password)).toBe(0o600);
    expect(modeOf(links)).toBe(0o700);
    expect(modeOf(path.join(links, 'link-1.png'))).toBe(0o600);
    expect(modeOf(path.join(links, 'link-1.svg'))).toBe(0o600);
    expect(logger.lines.map((l) => l.msg)).toContain(`${links}: 3 file(s) with access codes were readable by other users; made private (0600, folder 0700)`);
    // A second start has nothing to say.
    const quiet = collectingLogger();
    checkStartFiles(config, { siteFile: path.join(dir, 'site.yaml'), logger: quiet });
    expect(quiet.lines).toEqual([]);
    expect(tightenLinkFiles(dataDir)).toEqual({ fixed: 0, open: 0 });
  });

  it('leaves link files of another user alone, saying what to run', () => {
    const links = path.join(dir, 'links');
    mkdirSync(links);
    writeFileSync(path.join(links, 'link-2.png'), 'qr');
    chmodSync(path.join(links, 'link-2.png'), 0o644);
    chmodSync(links, 0o700);
    const logger = collectingLogger();
    expect(tightenLinkFiles(dir, { logger, uid: uid + 1 })).toEqual({ fixed: 0, open: 1 });
    expect(modeOf(path.join(links, 'link-2.png'))).toBe(0o644);
    expect(logger.lines[0]!.msg).toContain(`run chmod -R go-rwx ${links}`);
  });
});
