import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { configSchema, type SiteConfig } from './configSchema.ts';

export interface ConfigProblem {
  path: string;
  message: string;
  /** The environment variable the value came from, when it replaced the site file's. */
  env?: string;
}

/**
 * The environment variables that replace a setting of the site file, so that one site file can
 * serve several installations (and tests) without edits. An empty variable counts as unset.
 */
export const ENV_OVERRIDES = {
  POSTERN_DATA_DIR: 'dataDir',
  POSTERN_API_PORT: 'api.port',
} as const;

export type ConfigEnvironment = Partial<Record<keyof typeof ENV_OVERRIDES, string | undefined>>;

/**
 * Validates a parsed site file. Throws CONFIG_INVALID with every problem, never just the first.
 * `fromEnv` names the settings that an environment variable set (path -> variable), so that a
 * problem with one of them names the variable and its value rather than the site file.
 */
export function validateConfig(raw: unknown, source = 'config', fromEnv: Record<string, { name: string; value: string }> = {}): SiteConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((issue) => {
      const where = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
      const env = fromEnv[where];
      return env ? { path: where, message: issue.message, env: env.name } : { path: where, message: issue.message };
    });
    throw new PosternError(ErrorCodes.CONFIG_INVALID, describeProblems(problems, source, fromEnv), { details: problems });
  }
  return deepFreeze(result.data);
}

function describeProblems(problems: ConfigProblem[], source: string, fromEnv: Record<string, { name: string; value: string }>): string {
  const fromEnvOnly = problems.every((p) => p.env !== undefined);
  const line = (p: ConfigProblem) => {
    const env = fromEnv[p.path];
    return env ? `${env.name}=${JSON.stringify(env.value)} is not a valid ${p.path}: ${hint(p)}` : `${p.path}: ${p.message}`;
  };
  // A mistyped environment variable is one line that names it: the site file is not at fault.
  if (fromEnvOnly) return problems.map(line).join('; ');
  return `${source} is not a valid site file:\n${problems.map((p) => `  - ${line(p)}`).join('\n')}`;
}

/** The schema's message, or a plainer one for a value that came as text from the environment. */
function hint(problem: ConfigProblem): string {
  if (problem.path === 'api.port') return 'it must be a whole number from 0 to 65535 (0 picks a free port)';
  return problem.message;
}

/**
 * Reads a YAML or JSON site file. Relative paths inside it are resolved against the file's own
 * folder, so a site file means the same thing from any working directory: dataDir,
 * api.tls.cert and api.tls.key, email.smtp.passwordFile, and a camera scanner's options.device,
 * options.url when it is a file (no scheme such as rtsp://) and options.ffmpegPath when it holds a
 * '/' (a bare name is looked up on PATH). HID paths name devices (/dev/hidraw3), not files, and are
 * taken as given. See resolveSitePaths.
 *
 * `env`, when given, replaces settings as ENV_OVERRIDES says (POSTERN_DATA_DIR, resolved against
 * the working directory; POSTERN_API_PORT) before validation, so that their values are checked by
 * the same schema as the file's: an out-of-range port is CONFIG_INVALID naming the variable.
 */
export function loadConfig(file: string, env: ConfigEnvironment = {}): SiteConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_UNREADABLE, `cannot read site file ${file}: ${(cause as Error).message}`, { cause });
  }
  let raw: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    raw = parseYaml(text, { prettyErrors: true });
  } catch (cause) {
    throw new PosternError(ErrorCodes.CONFIG_INVALID, `${file} is not valid YAML or JSON: ${(cause as Error).message}`, { cause });
  }
  const { raw: overridden, fromEnv } = applyEnvOverrides(raw, env);
  const config = validateConfig(overridden, file, fromEnv);
  return deepFreeze(resolveSitePaths(config, path.dirname(file)));
}

/** A URL with a scheme (rtsp://, http://, file:) rather than a file path. */
const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * The site's path keys resolved against `folder` (the site file's): dataDir, api.tls.cert and
 * key, email.smtp.passwordFile, mqtt.passwordFile and tokenFile, hub.credentialFile and caFile, and camera scanners' device, url (a file, not a URL) and ffmpegPath
 * (with a '/' in it). Absolute paths, URLs and bare command names are left as they are.
 */
export function resolveSitePaths(config: SiteConfig, folder: string): SiteConfig {
  const beside = (relative: string) => path.resolve(folder, relative);
  const tls = config.api.tls && { cert: beside(config.api.tls.cert), key: beside(config.api.tls.key) };
  const smtp = config.email?.smtp;
  const email = smtp?.passwordFile && { ...config.email!, smtp: { ...smtp, passwordFile: beside(smtp.passwordFile) } };
  const mqtt = config.mqtt && {
    ...config.mqtt,
    ...(config.mqtt.passwordFile !== undefined ? { passwordFile: beside(config.mqtt.passwordFile) } : {}),
    ...(config.mqtt.tokenFile !== undefined ? { tokenFile: beside(config.mqtt.tokenFile) } : {}),
  };
  const hub = config.hub && {
    ...config.hub,
    ...(config.hub.credentialFile !== undefined ? { credentialFile: beside(config.hub.credentialFile) } : {}),
    ...(config.hub.caFile !== undefined ? { caFile: beside(config.hub.caFile) } : {}),
  };
  const scanners = config.scanners.map((scanner) => {
    if (scanner.driver !== 'camera') return scanner;
    const { device, url, ffmpegPath } = scanner.options;
    const options = {
      ...scanner.options,
      ...(device !== undefined ? { device: beside(device) } : {}),
      ...(url !== undefined && !HAS_SCHEME.test(url) ? { url: beside(url) } : {}),
      ffmpegPath: ffmpegPath.includes('/') ? beside(ffmpegPath) : ffmpegPath,
    };
    return { ...scanner, options };
  });
  return { ...config, dataDir: beside(config.dataDir), api: { ...config.api, ...(tls ? { tls } : {}) }, ...(email ? { email } : {}), ...(mqtt ? { mqtt } : {}), ...(hub ? { hub } : {}), scanners };
}

/**
 * The parsed site file with the environment's settings in place, and which settings they are.
 * A port is passed on as a number when it is written as one, else as the text itself, for the
 * schema to refuse; a site file that is not an object is left for the schema to refuse.
 */
export function applyEnvOverrides(raw: unknown, env: ConfigEnvironment): { raw: unknown; fromEnv: Record<string, { name: string; value: string }> } {
  const fromEnv: Record<string, { name: string; value: string }> = {};
  if (!isPlainObject(raw)) return { raw, fromEnv };
  let result: Record<string, unknown> = raw;
  const dataDir = env.POSTERN_DATA_DIR;
  if (dataDir !== undefined && dataDir.trim() !== '') {
    result = { ...result, dataDir: path.resolve(dataDir) };
    fromEnv.dataDir = { name: 'POSTERN_DATA_DIR', value: dataDir };
  }
  const port = env.POSTERN_API_PORT?.trim();
  if (port && (result.api === undefined || isPlainObject(result.api))) {
    const value = /^[+-]?\d+(\.\d+)?$/.test(port) ? Number(port) : port;
    result = { ...result, api: { ...(result.api ?? {}), port: value } };
    fromEnv['api.port'] = { name: 'POSTERN_API_PORT', value: port };
  }
  return { raw: result, fromEnv };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
