/**
 * Runs the real `postern` command in a child process, as a user would: from the sources (through
 * tsx, as `npm run postern` does), or with `built` the package's bin in dist/ (`npm run build`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';

import { main } from '../../controller/cli/main.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../controller/bin/postern.ts', import.meta.url));
/** The package's bin (package.json), as `npm run build` makes it. */
export const BUILT_BIN = fileURLToPath(new URL('../../dist/controller/bin/postern.js', import.meta.url));

export interface CliOptions {
  /** Run dist/controller/bin/postern.js with plain node instead of the sources through tsx. */
  built?: boolean;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}, options: CliOptions = {}): ChildProcessWithoutNullStreams {
  // Port 0: a controller started by a test never collides with another, or with `npm start`.
  const childEnv: Record<string, string | undefined> = { ...process.env, POSTERN_API_PORT: '0', ...env };
  // A CLI test chooses its store itself: an inherited DATABASE_URL would point every run at one.
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
  return spawn(process.execPath, options.built ? [BUILT_BIN, ...args] : ['--import', 'tsx', BIN, ...args], { cwd: ROOT, env: childEnv });
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}, stdin?: string, options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** Runs `postern` in this process (controller/cli/main.ts), its output captured: for commands a test runs many times. */
export async function runMain(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await main(args, { env, stdout, stderr, stdin: new PassThrough() });
  return { code, stdout: out, stderr: err };
}
