/**
 * Files with secrets outside the store (the store keeps its own 0600/0700 in controller/store):
 *
 * - what Postern writes itself (a link's QR code as PNG and SVG, a link's .eml): writePrivateFile()
 *   makes a new file with mode 0600 from its first byte (a temporary file opened with O_EXCL and
 *   that mode, renamed over the target), so it is never readable by others, even for a moment and
 *   whatever the umask; makePrivateDir() makes missing folders 0700;
 * - what the site file names and Postern only reads (the TLS private key, the SMTP password file,
 *   the site file itself when it holds a secret inline): checkStartFiles(), called by
 *   `postern start`, warns in the log about each one other users can read, with the chmod to run.
 *   It changes the mode itself only for a file of the running user inside the data directory
 *   (which is Postern's own); anything else is the administrator's to change.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SiteConfig } from './config/configSchema.ts';
import { hubCredentialFile } from './sync/hubAddress.ts';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;
/** A file anyone on the machine may read: a certificate, which is copied onto tablets. */
export const PUBLIC_FILE_MODE = 0o644;
/** Group and other bits: a file with any of them is open to other users. */
const OTHERS = 0o077;

/** The part of a pino logger used here. */
export interface SecureFilesLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Writes `data` to `file` so that only its owner can read it: a new file of mode 0600 in the same
 * folder, written and flushed, then renamed over `file` (which then has mode 0600 too, even where
 * an older file had another). A `file` that exists and is no regular file (a device, a pipe such
 * as /dev/stdout) is written in place, never replaced. Throws what the file system throws.
 */
export async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  const existing = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined && !existing.isFile()) {
    await writeFile(file, data);
    return;
  }
  await replaceFile(file, data, PRIVATE_FILE_MODE);
}

/**
 * Replaces `file` whole with `data` at exactly `mode`: a new file in the same folder, written and
 * flushed, then renamed over it, so a reader never sees half a file. Throws what the file system
 * throws.
 */
export async function replaceFile(file: string, data: string | Uint8Array, mode: number): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // 'wx': O_CREAT | O_EXCL, so the temporary file is new (never a link planted there) and has the
  // mode from the start; the chmod makes it exactly `mode` whatever the umask took away.
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Makes `dir` and the folders above it that are missing, each 0700; leaves existing ones as they
 * are. Throws what the file system throws, and ENOTDIR naming the file where a folder should be.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const found = await stat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (found?.isDirectory()) break;
    if (found !== undefined) throw Object.assign(new Error(`${current} is a file, not a directory`), { code: 'ENOTDIR', path: current });
    missing.unshift(current);
    if (path.dirname(current) === current) break;
  }
  for (const folder of missing) {
    try {
      await mkdir(folder, { mode: PRIVATE_DIR_MODE });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue; // made meanwhile
      throw error;
    }
    await chmod(folder, PRIVATE_DIR_MODE);
  }
}

/** A file the site file names that holds a secret; `setting` is its path in the site file. */
export interface SecretFile {
  path: string;
  setting: string;
}

/**
 * The files of a site that hold secrets and that Postern reads: the TLS private key, the SMTP and MQTT
 * password files, the MQTT token file, the hub credential, and the site file itself when a secret is written in it (email.smtp.password, a
 * delegation or webhook secret). The TLS certificate is public; secretEnv names a variable, not a file.
 */
export function secretFilesOf(config: SiteConfig, siteFile?: string): SecretFile[] {
  const files: SecretFile[] = [];
  if (config.api.tls) files.push({ path: config.api.tls.key, setting: 'api.tls.key' });
  const smtp = config.email?.smtp;
  if (smtp?.passwordFile) files.push({ path: smtp.passwordFile, setting: 'email.smtp.passwordFile' });
  if (config.mqtt?.passwordFile) files.push({ path: config.mqtt.passwordFile, setting: 'mqtt.passwordFile' });
  if (config.mqtt?.tokenFile) files.push({ path: config.mqtt.tokenFile, setting: 'mqtt.tokenFile' });
  if (config.hub) files.push({ path: hubCredentialFile(config), setting: 'hub.credentialFile' });
  if (siteFile !== undefined) {
    const inline: string[] = [];
    if (smtp?.password !== undefined) inline.push('email.smtp.password');
    if (config.delegation?.secret !== undefined) inline.push('delegation.secret');
    config.doors.forEach((d, i) => d.delegation?.secret !== undefined && inline.push(`doors.${i}.delegation.secret`));
    config.scanners.forEach((s, i) => s.delegation?.secret !== undefined && inline.push(`scanners.${i}.delegation.secret`));
    config.webhooks.forEach((w, i) => w.secret !== undefined && inline.push(`webhooks.${i}.secret`));
    if (inline.length > 0) files.push({ path: siteFile, setting: `the site file (it holds ${inline.join(', ')})` });
  }
  return files;
}

export type SecretFileStatus =
  /** Only its owner can read it. */
  | 'ok'
  /** It was open to others; its mode was changed. */
  | 'fixed'
  /** It is open to others and was left so: the warning says what to run. */
  | 'open'
  /** Not there, or not readable: whoever reads it says so at start. */
  | 'missing';

export interface SecretFileCheck extends SecretFile {
  status: SecretFileStatus;
  /** As found, e.g. '0644'. */
  mode?: string;
  /** The command that makes it private, for 'open'. */
  fix?: string;
}

export interface CheckOptions {
  /** The data directory: a file of the running user in it is Postern's own, changed without asking. */
  dataDir: string;
  logger?: SecureFilesLogger;
  /** The running user, default process.getuid(). */
  uid?: number;
}

/**
 * Checks each file's mode: one that others can read (or write) is logged as a warning with its
 * path, mode and the chmod to run; it is changed (group and other bits taken away, owner bits kept)
 * only when the running user owns it and it is inside the data directory. Never throws. On a
 * system without POSIX owners (Windows) there is nothing to check.
 */
export function checkSecretFiles(files: SecretFile[], options: CheckOptions): SecretFileCheck[] {
  const uid = options.uid ?? process.getuid?.();
  if (uid === undefined) return [];
  return files.map((file) => checkOne(file, uid, options));
}

function checkOne(file: SecretFile, uid: number, options: CheckOptions): SecretFileCheck {
  let stats: Stats;
  try {
    stats = statSync(file.path);
  } catch {
    return { ...file, status: 'missing' };
  }
  const mode = stats.mode & 0o7777;
  const found = octal(mode);
  if ((mode & OTHERS) === 0) return { ...file, status: 'ok', mode: found };
  const wanted = mode & ~OTHERS;
  const how = (mode & 0o044) !== 0 ? 'readable by other users' : 'writable by other users';
  const fields: Record<string, unknown> = { path: file.path, setting: file.setting, mode: found, owner: stats.uid };
  const ours = stats.uid === uid;
  if (ours && isInside(file.path, options.dataDir)) {
    try {
      chmodSync(file.path, wanted);
      options.logger?.warn({ ...fields, fixed: octal(wanted) }, `${file.setting}: ${file.path} was ${how} (mode ${found}); it holds a secret, so its mode is now ${octal(wanted)}`);
      return { ...file, status: 'fixed', mode: found };
    } catch (error) {
      // Reported below as a file to change by hand.
      fields.chmodError = (error as Error).message;
    }
  }
  const quoted = shellQuote(file.path);
  const fix = ours ? `chmod ${wanted.toString(8)} ${quoted}` : `chown ${uid} ${quoted} && chmod ${wanted.toString(8)} ${quoted}`;
  const owner = ours ? '' : `, owned by uid ${stats.uid}, not by this process's uid ${uid}`;
  options.logger?.warn({ ...fields, fix }, `${file.setting}: ${file.path} is ${how} (mode ${found}${owner}); it holds a secret: run ${fix}`);
  return { ...file, status: 'open', mode: found, fix };
}

/**
 * The QR codes and emails of links written under the data directory by earlier versions, with
 * modes that let other users read them (a code opens doors until it expires): made private when
 * they belong to the running user, counted in one warning otherwise. Never throws.
 */
export function tightenLinkFiles(dataDir: string, options: { logger?: SecureFilesLogger; uid?: number } = {}): { fixed: number; open: number } {
  const uid = options.uid ?? process.getuid?.();
  const dir = path.join(dataDir, 'links');
  const counts = { fixed: 0, open: 0 };
  if (uid === undefined) return counts;
  const tighten = (file: string, stats: Stats) => {
    const mode = stats.mode & 0o7777;
    if ((mode & OTHERS) === 0) return;
    try {
      if (stats.uid !== uid) throw new Error('not ours');
      chmodSync(file, mode & ~OTHERS);
      counts.fixed++;
    } catch {
      counts.open++;
    }
  };
  let dirStats: Stats;
  try {
    dirStats = lstatSync(dir);
  } catch {
    return counts;
  }
  if (!dirStats.isDirectory()) return counts;
  tighten(dir, dirStats);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return counts;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const stats = lstatSync(file); // a link is not followed out of the folder
      if (stats.isFile()) tighten(file, stats);
    } catch {
      // gone meanwhile
    }
  }
  if (counts.fixed > 0) options.logger?.warn({ path: dir, fixed: counts.fixed }, `${dir}: ${counts.fixed} file(s) with access codes were readable by other users; made private (0600, folder 0700)`);
  if (counts.open > 0) options.logger?.warn({ path: dir, open: counts.open }, `${dir}: ${counts.open} file(s) with access codes are readable by other users and are not this user's: run chmod -R go-rwx ${shellQuote(dir)}`);
  return counts;
}

/**
 * What `postern start` checks before the controller starts: the secret files the site file names,
 * and the link files under the data directory. Warnings go to `logger`; never throws.
 */
export function checkStartFiles(config: SiteConfig, options: { siteFile?: string; logger?: SecureFilesLogger; uid?: number }): SecretFileCheck[] {
  const checks = checkSecretFiles(secretFilesOf(config, options.siteFile), { dataDir: config.dataDir, logger: options.logger, uid: options.uid });
  tightenLinkFiles(config.dataDir, { logger: options.logger, uid: options.uid });
  return checks;
}

/** Whether `file` is inside `dir`, after following symbolic links (a link out of it is not). */
export function isInside(file: string, dir: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const relative = path.relative(real(dir), real(file));
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
