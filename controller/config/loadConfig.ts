import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { configSchema, type SiteConfig } from './configSchema.ts';

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Validates a parsed site file. Throws CONFIG_INVALID with every problem, never just the first. */
export function validateConfig(raw: unknown, source = 'config'): SiteConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((issue) => ({
      path: issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.'),
      message: issue.message,
    }));
    const list = problems.map((p) => `  - ${p.path}: ${p.message}`).join('\n');
    throw new PosternError(ErrorCodes.CONFIG_INVALID, `${source} is not a valid site file:\n${list}`, { details: problems });
  }
  return deepFreeze(result.data);
}

/**
 * Reads a YAML or JSON site file. Relative paths inside it (dataDir, api.tls,
 * email.smtp.passwordFile) are resolved against the file's own folder, so a site file means the
 * same thing from any working directory.
 */
export function loadConfig(file: string): SiteConfig {
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
  const config = validateConfig(raw, file);
  const beside = (relative: string) => path.resolve(path.dirname(file), relative);
  const tls = config.api.tls && { cert: beside(config.api.tls.cert), key: beside(config.api.tls.key) };
  const smtp = config.email?.smtp;
  const email = smtp?.passwordFile && { ...config.email!, smtp: { ...smtp, passwordFile: beside(smtp.passwordFile) } };
  return deepFreeze({ ...config, dataDir: beside(config.dataDir), api: { ...config.api, ...(tls ? { tls } : {}) }, ...(email ? { email } : {}) });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
