/** Runs the real `postern` command in a child process, as a user would. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../controller/bin/postern.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}): ChildProcessWithoutNullStreams {
  // Port 0: a controller started by a test never collides with another, or with `npm start`.
  const childEnv: Record<string, string | undefined> = { ...process.env, POSTERN_API_PORT: '0', ...env };
  // A CLI test chooses its store itself: an inherited DATABASE_URL would point every run at one.
  if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
  return spawn(process.execPath, ['--import', 'tsx', BIN, ...args], { cwd: ROOT, env: childEnv });
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
