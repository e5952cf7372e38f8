/**
 * Where the hub is and what the controller proves itself with: the site file's `hub` section
 * turned into the WebSocket URL of /sync, the HTTP base of /enrol, the credential file's path, and
 * the credential read from it. One reading of the section, for the controller and for `postern enrol`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { SiteConfig } from '../config/configSchema.ts';

/**
 * The /sync WebSocket URL: http(s) becomes ws(s) with the path /sync; a ws(s) URL is taken as
 * given when it names a path, else /sync is added (a hub behind a proxy may live under a prefix).
 */
export function hubSyncUrl(url: string): string {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:' || parsed.protocol === 'wss:';
  const given = parsed.protocol.startsWith('ws') && parsed.pathname !== '/' && parsed.pathname !== '';
  parsed.protocol = secure ? 'wss:' : 'ws:';
  if (!given) parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/sync`;
  return parsed.toString();
}

/** The HTTP base the hub's other paths (/enrol) hang off: ws(s) becomes http(s), a trailing /sync is dropped. */
export function hubHttpBase(url: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  parsed.pathname = parsed.pathname.replace(/\/sync\/?$/, '').replace(/\/+$/, '') + '/';
  parsed.search = '';
  parsed.hash = '';
  return parsed;
}

/** The URL for logs and the API: no user, password, query or fragment (the schema refuses a user, but a query could carry a token). */
export function shownHubUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  return parsed.toString();
}

/** hub.credentialFile, or where `postern enrol` writes it by default: beside the store, one per site id. */
export function hubCredentialFile(config: Pick<SiteConfig, 'dataDir' | 'site' | 'hub'>): string {
  return config.hub?.credentialFile ?? path.join(path.resolve(config.dataDir), `hub-credential.${config.site.id}`);
}

/**
 * The credential, read at start. A missing, unreadable or empty file is a configuration error that
 * names the file and the setting (and says how to make it), never the file's content.
 */
export function readHubCredential(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist (postern enrol writes it)' : `cannot read it (${code ?? (cause as Error).message})`;
    throw new PosternError(ErrorCodes.CONFIG_UNREADABLE, `hub.credentialFile ${file}: ${why}`);
  }
  const credential = text.trim();
  if (credential === '' || /\s/.test(credential)) {
    throw new PosternError(ErrorCodes.CONFIG_INVALID, `hub.credentialFile ${file} does not hold one credential on one line (postern enrol writes it)`);
  }
  return credential;
}

/** The private CA's certificates, when hub.caFile names them; read at start like the credential. */
export function readHubCa(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_UNREADABLE, `hub.caFile ${file}: cannot read it (${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message})`);
  }
}
