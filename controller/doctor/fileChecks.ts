/**
 * The doctor's file checks: the files with secrets the site file names, the data directory, the
 * files in it and the free space under it. Modes and owners are read, never changed: the hints
 * say what to run.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { lstat, open, readdir, readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { secretFilesOf } from '../secureFiles.ts';
import type { DoctorCheck, DoctorContext } from './doctor.ts';
import { ACCESS } from './system.ts';

/** Group and other bits. */
const OTHERS = 0o077;
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Free space below which the doctor warns, and below which it fails. */
export const SPACE_WARN_BYTES = GiB;
export const SPACE_WARN_FRACTION = 0.1;
export const SPACE_FAIL_BYTES = 64 * MiB;
/** A certificate that ends sooner than this is a warning. */
const CERT_WARN_DAYS = 14;

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

async function statOrError(file: string): Promise<Stats | NodeJS.ErrnoException> {
  try {
    return await stat(file);
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
}

async function canAccess(ctx: DoctorContext, file: string, mode: number): Promise<string | undefined> {
  try {
    await ctx.system.access(file, mode);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}

/**
 * The TLS certificate and key, the SMTP password file, the site file when a secret is written in
 * it, and the environment variables that hold delegation secrets: each readable by the running
 * user, and the secret ones by no other user.
 */
export async function secretChecks(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const { config, configFile } = ctx;
  const checks: DoctorCheck[] = [];
  const tls = config.api.enabled ? config.api.tls : undefined;
  if (tls !== undefined) checks.push(await tlsCheck(ctx, tls.cert, tls.key));
  for (const file of secretFilesOf(config, configFile)) {
    if (file.setting === 'api.tls.key') continue; // in the TLS check
    checks.push(await secretFileCheck(ctx, file.path, file.setting === 'email.smtp.passwordFile' ? 'email.smtp.passwordFile' : 'site file secrets'));
  }
  const variables = delegationSecretVariables(config);
  if (variables.length > 0) checks.push(secretEnvCheck(ctx, variables));
  return checks;
}

async function secretFileCheck(ctx: DoctorContext, file: string, name: string): Promise<DoctorCheck> {
  const found = await statOrError(file);
  if (found instanceof Error) return { name, status: 'fail', message: `${file} cannot be read: ${found.code ?? found.message}`, hint: 'the controller reads it at start: make it exist and be readable by the service\'s user' };
  const denied = await canAccess(ctx, file, ACCESS.R);
  if (denied !== undefined) return { name, status: 'fail', message: `${file} is not readable by ${ctx.user} (${denied}; owner uid ${found.uid}, mode ${octal(found.mode)})`, hint: `chown ${serviceUser(ctx)} ${shellQuote(file)} && chmod 600 ${shellQuote(file)}` };
  if ((found.mode & OTHERS) !== 0) {
    return {
      name,
      status: 'warn',
      message: `${file} holds a secret and other users can reach it (mode ${octal(found.mode)})`,
      hint: found.uid === ctx.system.uid ? `chmod 600 ${shellQuote(file)}` : `chown ${serviceUser(ctx)} ${shellQuote(file)} && chmod 600 ${shellQuote(file)}`,
    };
  }
  return { name, status: 'ok', message: `${file}: readable, mode ${octal(found.mode)}` };
}

async function tlsCheck(ctx: DoctorContext, certFile: string, keyFile: string): Promise<DoctorCheck> {
  const name = 'tls';
  const keyFileCheck = await secretFileCheck(ctx, keyFile, name);
  if (keyFileCheck.status === 'fail') return { ...keyFileCheck, message: `api.tls.key: ${keyFileCheck.message}` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await readFile(certFile));
  } catch (error) {
    return { name, status: 'fail', message: `api.tls.cert: ${certFile} is not a readable PEM certificate: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, hint: 'give the certificate chain as PEM, readable by the service\'s user' };
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(await readFile(keyFile)))) {
      return { name, status: 'fail', message: `api.tls.key ${keyFile} is not the key of the certificate ${certFile}`, hint: 'give the key the certificate was issued for' };
    }
  } catch (error) {
    return { name, status: 'fail', message: `api.tls.key: ${keyFile} is not a readable PEM private key: ${(error as Error).message}`, hint: 'give the private key as unencrypted PEM' };
  }
  const ends = new Date(cert.validTo);
  const days = (ends.getTime() - Date.now()) / 86_400_000;
  if (days < 0) return { name, status: 'fail', message: `the certificate ${certFile} expired on ${ends.toISOString()}: browsers and clients refuse it`, hint: 'renew it and restart the controller' };
  if (days < CERT_WARN_DAYS) return { name, status: 'warn', message: `the certificate ${certFile} expires on ${ends.toISOString()} (in ${Math.floor(days)} days)`, hint: 'renew it, then restart the controller: it reads the files at start' };
  if (keyFileCheck.status === 'warn') return { ...keyFileCheck, message: `api.tls.key: ${keyFileCheck.message}` };
  return { name, status: 'ok', message: `certificate for ${cert.subject.replace(/\n/g, ', ')} until ${ends.toISOString().slice(0, 10)}, key matches and is private` };
}

function delegationSecretVariables(config: DoctorContext['config']): string[] {
  const names = new Set<string>();
  const add = (block: unknown) => {
    const env = (block as { secretEnv?: unknown } | undefined)?.secretEnv;
    if (typeof env === 'string') names.add(env);
  };
  add(config.delegation);
  for (const door of config.doors) add(door.delegation);
  for (const scanner of config.scanners) add(scanner.delegation);
  return [...names];
}

function secretEnvCheck(ctx: DoctorContext, variables: string[]): DoctorCheck {
  const missing = variables.filter((name) => (ctx.env[name] ?? '') === '');
  const short = variables.filter((name) => !missing.includes(name) && (ctx.env[name] ?? '').length < 32);
  const name = 'delegation secrets';
  if (missing.length === 0 && short.length === 0) return { name, status: 'ok', message: `${variables.join(', ')} set` };
  const parts = [missing.length > 0 ? `${missing.join(', ')} not set` : '', short.length > 0 ? `${short.join(', ')} shorter than 32 characters` : ''].filter(Boolean);
  return {
    name,
    status: 'fail',
    message: `${parts.join('; ')} in this environment: the controller refuses to start without them`,
    hint: 'set them in /etc/postern/postern.env (the unit\'s EnvironmentFile); the wrapper /usr/local/bin/postern reads that file too, so run the doctor through it',
  };
}

/** The data directory: there (or can be made), a directory, the running user's, 0700, writable. */
export async function dataDirCheck(ctx: DoctorContext): Promise<{ check: DoctorCheck; exists: boolean }> {
  const dir = ctx.config.dataDir;
  const setting = (ctx.env.POSTERN_DATA_DIR ?? '').trim() !== '' ? 'POSTERN_DATA_DIR' : 'dataDir';
  const name = 'data directory';
  const found = await statOrError(dir);
  const fixAll = `install -d -o ${serviceUser(ctx)} -g ${serviceUser(ctx)} -m 0700 ${shellQuote(dir)}`;
  if (found instanceof Error) {
    if (found.code !== 'ENOENT') return { check: { name, status: 'fail', message: `${dir} (${setting}) cannot be reached: ${found.code ?? found.message}`, hint: 'every folder above it must be searchable by the service\'s user' }, exists: false };
    const parent = await nearestExisting(path.dirname(dir));
    const denied = await canAccess(ctx, parent, ACCESS.W | ACCESS.X);
    if (denied !== undefined) {
      return { check: { name, status: 'fail', message: `${dir} (${setting}) does not exist, and ${ctx.user} cannot make it: ${parent} is not writable (${denied})`, hint: `${fixAll} (as root), or StateDirectory= in the unit` }, exists: false };
    }
    return { check: { name, status: 'warn', message: `${dir} (${setting}) does not exist yet: the controller makes it (0700) when it starts`, hint: fixAll }, exists: false };
  }
  if (!found.isDirectory()) return { check: { name, status: 'fail', message: `${dir} (${setting}) is not a directory`, hint: 'point dataDir (or POSTERN_DATA_DIR) at a directory of its own' }, exists: false };
  const problems: string[] = [];
  const hints: string[] = [];
  const owner = expectedOwner(ctx, found);
  if (found.uid !== owner) {
    problems.push(`it is owned by ${ctx.system.userName(found.uid)}, not by ${ctx.user}, who runs the controller`);
    hints.push(`chown -R ${serviceUser(ctx)}: ${shellQuote(dir)}`);
  }
  if ((found.mode & OTHERS) !== 0) {
    problems.push(`its mode is ${octal(found.mode)}: other users can look inside (it holds the store with the site's keys); it must be 0700`);
    hints.push(`chmod 700 ${shellQuote(dir)}`);
  }
  const denied = await canAccess(ctx, dir, ACCESS.R | ACCESS.W | ACCESS.X);
  if (denied !== undefined) problems.push(`${ctx.user} cannot write in it (${denied === 'EROFS' ? 'EROFS: a read-only file system (ReadWritePaths= or StateDirectory= in the unit?)' : denied})`);
  if (problems.length > 0) return { check: { name, status: 'fail', message: `${dir} (${setting}): ${problems.join('; ')}`, hint: hints.join(' && ') || fixAll }, exists: true };
  return { check: { name, status: 'ok', message: `${dir} (${setting}): owned by ${ctx.system.userName(found.uid)}, mode ${octal(found.mode)}, writable` }, exists: true };
}

/** Who the hints name: the running user, or the unit's user when run as root. */
export function serviceUser(ctx: DoctorContext): string {
  return ctx.system.uid === 0 ? 'postern' : ctx.user;
}

/** The uid the data should belong to: the running user's, or (run as root) the data directory's owner. */
function expectedOwner(ctx: DoctorContext, dirStats: Stats): number {
  return ctx.system.uid === 0 ? dirStats.uid : ctx.system.uid;
}

async function nearestExisting(dir: string): Promise<string> {
  for (let current = dir; ; current = path.dirname(current)) {
    const found = await statOrError(current);
    if (!(found instanceof Error) || path.dirname(current) === current) return current;
  }
}

/**
 * Everything in the data directory (the SQLite database, its -wal and -shm, the claim's lock
 * files, the audit journal, the links folder and its QR files): the owner's alone (0600 files,
 * 0700 folders), owned by whoever owns the data directory, writable by its owner.
 */
export async function storeFilesCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const dir = ctx.config.dataDir;
  const name = 'store files';
  let dirStats: Stats;
  let entries: string[];
  try {
    dirStats = await stat(dir);
    entries = await readdir(dir);
  } catch (error) {
    return { name, status: 'fail', message: `cannot list ${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, hint: 'run the doctor as the service\'s user' };
  }
  const owner = expectedOwner(ctx, dirStats);
  const problems: string[] = [];
  const wrongOwner: string[] = [];
  const loose: string[] = [];
  let checked = 0;
  const look = async (file: string, depth: number) => {
    let s: Stats;
    try {
      s = await lstat(file);
    } catch {
      return; // gone meanwhile
    }
    if (s.isSymbolicLink()) return;
    checked++;
    const shown = path.relative(dir, file);
    if (s.uid !== owner) {
      wrongOwner.push(file);
      problems.push(`${shown} is owned by ${ctx.system.userName(s.uid)}, not ${ctx.system.userName(owner)}: the controller cannot ${s.isDirectory() ? 'write in it' : 'write it'}`);
    }
    if ((s.mode & OTHERS) !== 0) {
      loose.push(file);
      problems.push(`${shown} has mode ${octal(s.mode)}: other users can ${s.isDirectory() ? 'look inside' : 'read it'} (it must be ${s.isDirectory() ? '0700' : '0600'})`);
    } else if (s.isFile() && (s.mode & 0o600) !== 0o600) {
      problems.push(`${shown} has mode ${octal(s.mode)}: its owner cannot ${(s.mode & 0o400) === 0 ? 'read' : 'write'} it (it must be 0600)`);
      loose.push(file);
    }
    if (s.isDirectory() && depth === 0) {
      let inner: string[] = [];
      try {
        inner = await readdir(file);
      } catch {
        problems.push(`${shown} cannot be listed`);
      }
      for (const child of inner) await look(path.join(file, child), depth + 1);
    }
  };
  for (const entry of entries.sort()) await look(path.join(dir, entry), 0);

  const database = entries.includes('postern.sqlite') ? path.join(dir, 'postern.sqlite') : undefined;
  if (database !== undefined && !wrongOwner.includes(database) && ctx.env.DATABASE_URL === undefined) {
    const header = await readHeader(database);
    if (header instanceof Error) problems.push(`postern.sqlite cannot be read: ${(header as NodeJS.ErrnoException).code ?? header.message}`);
    else if (header.length > 0 && header !== 'SQLite format 3\0') problems.push('postern.sqlite is not a SQLite database (its first bytes say otherwise)');
  }
  if (problems.length > 0) {
    const hints: string[] = [];
    if (wrongOwner.length > 0) hints.push(`chown -R ${ctx.system.userName(owner)}: ${shellQuote(dir)}`);
    if (loose.length > 0) hints.push(`chmod -R u+rwX,go-rwx ${shellQuote(dir)}`);
    const shown = problems.slice(0, 8);
    if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
    return {
      name,
      status: 'fail',
      message: `in ${dir}:\n${shown.join('\n')}`,
      hint: `${hints.join(' && ') || 'see above'} (a command run as root before the first start makes files the service cannot use: run postern commands as the service's user)`,
    };
  }
  if (database === undefined) return { name, status: 'ok', message: ctx.env.DATABASE_URL !== undefined ? `${count(checked, 'file')} in ${dir} (the store is in PostgreSQL), all private` : `no store in ${dir} yet: the controller makes it (0600) at its first start` };
  const journal = entries.find((e) => e.startsWith('audit-journal.') && e.endsWith('.ndjson'));
  const journalNote = journal !== undefined ? `; ${journal} holds audit events waiting for the store (drained when it takes writes, or at the next start)` : '';
  return { name, status: 'ok', message: `${count(checked, 'file')} in ${dir}, all ${ctx.system.userName(owner)}'s and private${journalNote}` };
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function readHeader(file: string): Promise<string | Error> {
  try {
    const handle = await open(file, 'r');
    try {
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(16), 0, 16, 0);
      return buffer.subarray(0, bytesRead).toString('latin1');
    } finally {
      await handle.close();
    }
  } catch (error) {
    return error as Error;
  }
}

/** Free space (and inodes) on the file system of the data directory. */
export async function diskSpaceCheck(ctx: DoctorContext): Promise<DoctorCheck> {
  const name = 'disk space';
  const where = await nearestExisting(ctx.config.dataDir);
  let space;
  try {
    space = await ctx.system.statfs(where);
  } catch (error) {
    return { name, status: 'warn', message: `cannot tell the free space of ${where}: ${(error as Error).message}` };
  }
  const free = space.bavail * space.bsize;
  const total = space.blocks * space.bsize;
  const fraction = total > 0 ? free / total : 1;
  const shown = `${formatBytes(free)} free of ${formatBytes(total)} (${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%) on the file system of ${where}`;
  const hint = 'free space, or move dataDir to a bigger file system; journald\'s share is bounded by SystemMaxUse= (docs/install.md)';
  if (free < SPACE_FAIL_BYTES) return { name, status: 'fail', message: `${shown}: the store and the audit journal cannot take writes for long, and a grant whose record cannot be written is denied`, hint };
  if (free < SPACE_WARN_BYTES || fraction < SPACE_WARN_FRACTION) return { name, status: 'warn', message: `${shown}: under ${formatBytes(SPACE_WARN_BYTES)} or ${SPACE_WARN_FRACTION * 100}%`, hint };
  if (space.files > 0 && space.ffree < 1000) return { name, status: 'warn', message: `${shown}, but only ${space.ffree} inodes free`, hint };
  return { name, status: 'ok', message: shown };
}

export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(0)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}
