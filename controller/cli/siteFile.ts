/**
 * The site file a command works on. Kept apart from cliContext.ts (the store, the audit chain) so
 * that a command that needs only the site file does not load the store.
 */
import path from 'node:path';
import type { SiteConfig } from '../config/configSchema.ts';
import { DEMO_CONFIG } from '../config/demoConfig.ts';
import { loadConfig } from '../config/loadConfig.ts';

export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return path.resolve(flag ?? env.POSTERN_CONFIG ?? DEMO_CONFIG);
}

/**
 * The validated site file a command works on. POSTERN_DATA_DIR and POSTERN_API_PORT, when set,
 * replace the file's dataDir and api.port: one site file can then serve several installations
 * (and tests) without edits.
 */
export function loadSiteConfig(configFlag: string | undefined, env: NodeJS.ProcessEnv, demo = false): SiteConfig {
  // POSTERN_DATA_DIR and POSTERN_API_PORT are applied and validated by loadConfig, with the site file's schema.
  return loadConfig(demo ? DEMO_CONFIG : configPath(configFlag, env), env);
}
