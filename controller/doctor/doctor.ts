/**
 * `postern doctor`: checks what an installer gets wrong, before the controller is started or
 * while it runs, and says for each thing what is wrong and what to do about it. It changes
 * nothing: no file is made, no mode changed, no store opened for writing, no device written to.
 *
 * Checks, in order: Node.js, the running user, the site file (loaded and validated exactly as
 * `postern start` does, with POSTERN_DATA_DIR and POSTERN_API_PORT), the files with secrets it
 * names, the data directory (0700, the running user's, writable), the store (its files 0600 and
 * the running user's, or PostgreSQL reachable when DATABASE_URL is set), free space, each device
 * the site file names (hidraw nodes and USB ids present, readable and writable; ffmpeg and video
 * devices for cameras), the API port (free, or held by a running Postern), the built web pages and
 * whether the clock is synchronised (rotating codes and webhook signatures need it).
 *
 * Each check is ok, warn or fail. Exit code (doctorExitCode): 1 when any check fails, else 0:
 * warnings say what to look at, but nothing stops the controller from starting.
 *
 * Run it as the service's user (`runuser -u postern -- postern doctor`, or the wrapper
 * docs/deploy/postern, which does): ownership and device access are checked for the user it runs as.
 */
import { statSync } from 'node:fs';
import { isPosternError } from '../../machines/shared/errors.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import { loadConfig } from '../config/loadConfig.ts';
import { clockCheck } from './clockCheck.ts';
import { deviceChecks } from './deviceChecks.ts';
import { dataDirCheck, diskSpaceCheck, secretChecks, storeFilesCheck } from './fileChecks.ts';
import { apiPortCheck } from './portCheck.ts';
import { storeCheck } from './storeCheck.ts';
import { defaultSystem, type DoctorSystem } from './system.ts';

export type { DoctorSystem, RunResult, SpaceInfo } from './system.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  /** What was checked, short: `site file`, `data directory`, `scanner front-in`. */
  name: string;
  status: CheckStatus;
  /** What was found, in words an installer can act on. */
  message: string;
  /** What to do about it (a command, a setting), for warn and fail. */
  hint?: string;
}

export interface DoctorReport {
  configFile: string;
  /** The user the checks were made for. */
  user: string;
  checks: DoctorCheck[];
  /** The worst status of all checks. */
  status: CheckStatus;
}

export interface DoctorOptions {
  /** The site file, as `postern start --config` would get it (already resolved against $POSTERN_CONFIG). */
  configFile: string;
  /**
   * The environment the controller would run with: POSTERN_DATA_DIR, POSTERN_API_PORT,
   * DATABASE_URL, PATH (ffmpeg) and the delegation secrets' variables. Default process.env.
   */
  env?: NodeJS.ProcessEnv;
  /** Test seams: each part given replaces the real one (system.ts). */
  system?: Partial<DoctorSystem>;
}

/** What every check gets. */
export interface DoctorContext {
  configFile: string;
  config: SiteConfig;
  env: NodeJS.ProcessEnv;
  system: DoctorSystem;
  /** The running user's name. */
  user: string;
}

/** The lowest Node.js major version Postern runs on (package.json engines). */
const MIN_NODE_MAJOR = 20;

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const system: DoctorSystem = { ...defaultSystem(), ...options.system };
  const env = options.env ?? process.env;
  const user = system.userName(system.uid);
  const checks: DoctorCheck[] = [nodeCheck(system), userCheck(system, user)];
  const report = (): DoctorReport => ({ configFile: options.configFile, user, checks, status: worst(checks) });

  let config: SiteConfig;
  try {
    config = loadConfig(options.configFile, env);
    checks.push({ name: 'site file', status: 'ok', message: `${options.configFile}: valid (site ${config.site.id}, ${count(config.doors.length, 'door')}, ${count(config.scanners.length, 'scanner')})` });
  } catch (error) {
    checks.push({
      name: 'site file',
      status: 'fail',
      message: isPosternError(error) ? error.message : `${options.configFile}: ${(error as Error).message}`,
      hint: 'fix the site file (docs/configuration.md); the other checks need a valid one and were not run',
    });
    return report();
  }

  const context: DoctorContext = { configFile: options.configFile, config, env, system, user };
  // A check that throws (a bug, an answer nobody expected) is reported as its own failure; the
  // others still run.
  const run = async (name: string, check: () => Promise<DoctorCheck | DoctorCheck[] | undefined>) => {
    try {
      const found = await check();
      if (found !== undefined) checks.push(...(Array.isArray(found) ? found : [found]));
    } catch (error) {
      checks.push({ name, status: 'fail', message: `the check itself failed: ${(error as Error)?.message ?? String(error)}`, hint: 'run it again with POSTERN_DEBUG=1 and report it' });
    }
  };
  await run('secrets', () => secretChecks(context));
  let dataDirExists = false;
  await run('data directory', async () => {
    const dataDir = await dataDirCheck(context);
    dataDirExists = dataDir.exists;
    return dataDir.check;
  });
  if (dataDirExists) await run('store files', () => storeFilesCheck(context));
  await run('store', () => storeCheck(context));
  await run('disk space', () => diskSpaceCheck(context));
  await run('devices', () => deviceChecks(context));
  await run('api port', () => apiPortCheck(context));
  await run('web pages', async () => webPagesCheck(context));
  await run('clock', () => clockCheck(context));
  return report();
}

/** 1 when a check failed; 0 when all are ok or only warn. */
export function doctorExitCode(report: DoctorReport): 0 | 1 {
  return report.checks.some((c) => c.status === 'fail') ? 1 : 0;
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** The report as text for a terminal: one line per check, its hint under it, a count at the end. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.min(24, Math.max(...report.checks.map((c) => c.name.length)));
  const lines = [`postern doctor: ${report.configFile}, checked as user ${report.user}`];
  for (const check of report.checks) {
    const [first, ...more] = check.message.split('\n');
    lines.push(`  ${LABEL[check.status]}  ${check.name.padEnd(width)}  ${first}`);
    const indent = ' '.repeat(10 + width);
    for (const line of more) lines.push(`${indent}${line.trim()}`);
    if (check.hint !== undefined && check.status !== 'ok') lines.push(`${indent}-> ${check.hint}`);
  }
  const n = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  const verdict = n('fail') > 0 ? 'the controller will not run as it should: fix the failures' : n('warn') > 0 ? 'no failure; look at the warnings' : 'all good';
  lines.push(`${n('ok')} ok, ${count(n('warn'), 'warning')}, ${count(n('fail'), 'failure')}: ${verdict}`);
  return lines.join('\n') + '\n';
}

function nodeCheck(system: DoctorSystem): DoctorCheck {
  const major = Number(system.nodeVersion.split('.')[0]);
  if (major >= MIN_NODE_MAJOR) return { name: 'node', status: 'ok', message: `Node.js ${system.nodeVersion}` };
  return {
    name: 'node',
    status: 'fail',
    message: `Node.js ${system.nodeVersion}: Postern needs ${MIN_NODE_MAJOR} or later`,
    hint: `install Node.js ${MIN_NODE_MAJOR} (Debian 12's own nodejs package is 18: see docs/install.md)`,
  };
}

function userCheck(system: DoctorSystem, user: string): DoctorCheck {
  if (system.uid !== 0) return { name: 'user', status: 'ok', message: `running as ${user} (uid ${system.uid}): ownership and device access are checked for this user` };
  return {
    name: 'user',
    status: 'warn',
    message: 'running as root: root may open every file and device, so access is not checked for the user the controller runs as',
    hint: 'run it as the service\'s user: runuser -u postern -- postern doctor (the wrapper /usr/local/bin/postern does)',
  };
}

/** The built operator pages, when the site serves them. */
function webPagesCheck({ config, system }: DoctorContext): DoctorCheck | undefined {
  if (!config.api.enabled || !config.web.enabled) return undefined;
  const index = `${system.webDistDir}/index.html`;
  if (isFile(index)) return { name: 'web pages', status: 'ok', message: `built pages in ${system.webDistDir}` };
  return {
    name: 'web pages',
    status: 'warn',
    message: `${index} is missing: operators get a page saying the web UI is not built (the API, badge enrolment and kiosks are unaffected)`,
    hint: 'build the package with its dev dependencies (npm ci, which runs npm run build) before npm prune --omit=dev (docs/install.md)',
  };
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function worst(checks: DoctorCheck[]): CheckStatus {
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'ok';
}

export function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;
}
