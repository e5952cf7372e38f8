/**
 * `postern user ...` and `postern token ...`: accounts and API tokens. These commands work on the
 * store directly, with no account of their own (whoever can run them can read the database
 * anyway), so a fresh install makes its first admin with `postern user add admin --role admin` or
 * `postern token create --name ci --role admin`.
 *
 * Passwords never come from an argument (other users see arguments in `ps`, shells keep them in
 * history): they are read from standard input (one line; on a terminal, a prompt without echo) or
 * from --password-file.
 */
import { readFile } from 'node:fs/promises';

import { Accounts, NAME_PATTERN } from '../accounts/accounts.ts';
import { isUserRole, ROLES, type Role, type UserRole } from '../accounts/accountTypes.ts';
import { requireApiScanner, requireSiteDoors } from '../accounts/tokenScanner.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { badgeBaseUrl } from '../badge/enrolment.ts';
import { opening, requireString, type StoreOptions } from './args.ts';
import type { AdminContext, CliEnvironment } from './cliContext.ts';
import { withAdminContext, withReadContext } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { formatMs, writeList } from './format.ts';

const USER_ROLES = ROLES.filter((r) => r !== 'scanner').join(', ');

/** A user command's options: the user's name (an argument) and how a password is given. */
interface UserOptions extends StoreOptions {
  name: string;
  passwordFile?: string;
  /** Declared only to refuse it with a reason instead of "unknown option". */
  password?: string;
}

/** The token travels in the fragment, which the browser never sends; the page moves it to storage. */
export function kioskUrl(baseUrl: string, token: string): string {
  return `${baseUrl}/kiosk#token=${token}`;
}

/** The longest password line read; more is refused rather than buffered. */
const MAX_LINE_BYTES = 64 * 1024;

function withAccounts(values: StoreOptions, io: CliEnvironment, work: (accounts: Accounts, ctx: AdminContext) => Promise<void>): Promise<void> {
  return withAdminContext(values.config, io.env, (ctx) => work(new Accounts({ store: ctx.store, audit: ctx.audit }), ctx), opening(values));
}

function refusePasswordFlag(values: { password?: string }): void {
  if (values.password !== undefined) {
    throw new UsageError(
      '--password is not accepted: other users can read a command line (ps, shell history).\n' +
        'Pipe the password on standard input, or use --password-file FILE.',
    );
  }
}

/** Checked before asking for a password, so that nobody types one for a command that must fail. */
function precheckUser(name: string, roleName?: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `name: must be 1-64 characters: letters, digits and . _ @ -, got ${JSON.stringify(name)}`, {
      details: { field: 'name' },
    });
  }
  if (roleName !== undefined && !isUserRole(roleName)) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `role: a user's role is one of ${USER_ROLES}, got ${JSON.stringify(roleName)}`, {
      details: { field: 'role' },
    });
  }
}

export async function addUser(values: UserOptions & { role?: string }, io: CliEnvironment): Promise<void> {
  refusePasswordFlag(values);
  const { name } = values;
  const roleName = requireString(values.role, 'role') as UserRole;
  precheckUser(name, roleName);
  const password = await readPassword(io, values.passwordFile, `Password for ${name}: `, true);
  await withAccounts(values, io, async (accounts, ctx) => {
    const user = await accounts.createUser({ name, password, role: roleName }, ctx.actor);
    io.stdout.write(`User ${user.name} added, role ${user.role} (id ${user.id})\n`);
  });
}

export async function passwd(values: UserOptions, io: CliEnvironment): Promise<void> {
  refusePasswordFlag(values);
  const { name } = values;
  precheckUser(name);
  const password = await readPassword(io, values.passwordFile, `New password for ${name}: `, true);
  await withAccounts(values, io, async (accounts, ctx) => {
    await accounts.setPassword(name, password, ctx.actor);
    io.stdout.write(`Password of ${name} changed\n`);
  });
}

export async function setRole(values: StoreOptions & { name: string; role: string }, io: CliEnvironment): Promise<void> {
  const { name } = values;
  const newRole = values.role as UserRole;
  await withAccounts(values, io, async (accounts, ctx) => {
    const before = await accounts.getUser(name);
    const user = await accounts.setRole(name, newRole, ctx.actor);
    io.stdout.write(before.role === user.role ? `${name} has role ${user.role} already\n` : `${name}: role ${before.role} -> ${user.role}\n`);
  });
}

export async function disableUser(values: StoreOptions & { name: string }, io: CliEnvironment): Promise<void> {
  const { name } = values;
  await withAccounts(values, io, async (accounts, ctx) => {
    await accounts.disableUser(name, ctx.actor);
    io.stdout.write(`User ${name} disabled: it can no longer sign in\n`);
  });
}

export async function removeUser(values: StoreOptions & { name: string }, io: CliEnvironment): Promise<void> {
  const { name } = values;
  await withAccounts(values, io, async (accounts, ctx) => {
    await accounts.removeUser(name, ctx.actor);
    io.stdout.write(`User ${name} removed\n`);
  });
}

export async function listUsers(values: StoreOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  await withReadContext(values.config, io.env, async (ctx) => {
    const header = ['ID', 'NAME', 'ROLE', 'DISABLED', 'CREATED', 'CREATED BY', 'LAST LOGIN'];
    writeList(io.stdout, values.json, await ctx.store.listUsers(), header, (u) => [u.id, u.name, u.role, u.disabled ? 'yes' : 'no', formatMs(u.createdAt), u.createdBy ?? '', formatMs(u.lastLoginAt)]);
  }, opening(values));
}

export async function createToken(values: StoreOptions & { name?: string; role?: string; scanner?: string; doors?: string }, io: CliEnvironment): Promise<void> {
  const name = requireString(values.name, 'name');
  const tokenRole = requireString(values.role, 'role') as Role;
  await withAccounts(values, io, async (accounts, ctx) => {
    const reader = values.scanner === undefined ? undefined : requireApiScanner(ctx.config, values.scanner);
    const doors = values.doors?.split(',').map((d) => d.trim());
    if (doors !== undefined) requireSiteDoors(ctx.config, doors);
    const { token, record } = await accounts.createToken({ name, role: tokenRole, scanner: values.scanner ?? null, doors: doors ?? null }, ctx.actor);
    // The token alone on standard output, so that TOKEN=$(postern token create ...) works; the rest on standard error.
    io.stderr.write(
      `Token ${record.id} (${record.name}), role ${record.role}${record.scanner === null ? '' : `, scanner ${record.scanner}`}${record.doors === null ? '' : `, doors ${record.doors.join(', ')} only`}:\n`,
    );
    io.stdout.write(`${token}\n`);
    io.stderr.write('This token is shown once and cannot be read back. Store it somewhere safe now.\n');
    if (reader?.driver === 'kiosk') io.stderr.write(`Open the kiosk page on the tablet at the door: ${kioskUrl(badgeBaseUrl(ctx.config), token)}\n`);
  });
}

export async function listTokens(values: StoreOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  await withReadContext(values.config, io.env, async (ctx) => {
    const header = ['ID', 'NAME', 'ROLE', 'SCANNER', 'DOORS', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'];
    writeList(io.stdout, values.json, await ctx.store.listTokens(), header, (t) => [t.id, t.name, t.role, t.scanner ?? '', t.doors?.join(',') ?? 'all', `${t.prefix}...`, formatMs(t.createdAt), formatMs(t.lastUsedAt), formatMs(t.revokedAt)]);
  }, opening(values));
}

export async function revokeToken(values: StoreOptions & { id: string }, io: CliEnvironment): Promise<void> {
  const { id } = values;
  await withAccounts(values, io, async (accounts, ctx) => {
    const record = await accounts.revokeToken(id, ctx.actor);
    io.stdout.write(`Token ${record.id} (${record.name}) revoked\n`);
  });
}

// ---- reading a password ----

type InputStream = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

function noPassword(how: string): PosternError {
  return new PosternError(ErrorCodes.INVALID_ARGUMENT, `password: ${how}`, { details: { field: 'password' } });
}

/**
 * The password: the first line of --password-file, else of standard input; on a terminal, typed
 * twice without echo. Only the line ending is removed: spaces are part of a password.
 */
export async function readPassword(io: CliEnvironment, file: string | undefined, prompt: string, confirm: boolean): Promise<string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `--password-file: cannot read ${file}: ${(error as Error).message}`, {
        cause: error,
        details: { field: 'password-file' },
      });
    }
    const line = text.split('\n')[0]!.replace(/\r$/, '');
    if (line === '') throw noPassword(`the first line of ${file} is empty`);
    return line;
  }
  const stdin = io.stdin as InputStream;
  if (stdin.isTTY === true && typeof stdin.setRawMode === 'function') {
    const password = await promptHidden(stdin, io.stderr, prompt);
    if (password === '') throw noPassword('none typed');
    if (confirm && (await promptHidden(stdin, io.stderr, 'Again: ')) !== password) throw noPassword('the two entries differ');
    return password;
  }
  const line = await readFirstLine(stdin);
  if (line === undefined || line === '') {
    throw noPassword('none on standard input: pipe it in (one line), or use --password-file FILE');
  }
  return line;
}

/** The first line of a stream (without its line ending), or undefined when the stream is empty. */
export function readFirstLine(stream: NodeJS.ReadableStream): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = () => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.pause();
    };
    const finish = (buffer: Buffer | undefined) => {
      cleanup();
      resolve(buffer === undefined ? undefined : buffer.toString('utf8').replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const newline = buffer.indexOf(0x0a);
      if (newline >= 0) {
        chunks.push(buffer.subarray(0, newline));
        finish(Buffer.concat(chunks));
        return;
      }
      chunks.push(buffer);
      length += buffer.length;
      if (length > MAX_LINE_BYTES) {
        cleanup();
        reject(noPassword(`the line on standard input is longer than ${MAX_LINE_BYTES} bytes`));
      }
    };
    const onEnd = () => finish(length === 0 ? undefined : Buffer.concat(chunks));
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.resume();
  });
}

/** Reads one line from a terminal in raw mode, echoing nothing. Ctrl-C cancels. */
export function promptHidden(stdin: InputStream, stderr: NodeJS.WritableStream, prompt: string): Promise<string> {
  stderr.write(prompt);
  stdin.setRawMode?.(true);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = () => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      const chars = [...(typeof chunk === 'string' ? chunk : chunk.toString('utf8'))];
      for (const [i, ch] of chars.entries()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          done();
          // Typed ahead (or pasted): the rest belongs to the next prompt.
          const rest = chars.slice(i + 1).join('').replace(/^\n/, '');
          if (rest !== '') stdin.unshift(Buffer.from(rest, 'utf8'));
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(noPassword('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
