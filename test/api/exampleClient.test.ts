/** examples/doorClient.mjs, the integrator's first example, run as a user would against a real controller. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/doorClient.mjs', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node examples/doorClient.mjs ARGS` with exactly the POSTERN_* variables given. */
function runExample(args: string[], env: Record<string, string>): Promise<Run> {
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  for (const name of ['POSTERN_URL', 'POSTERN_TOKEN']) if (!(name in env)) delete childEnv[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EXAMPLE, ...args], { cwd: ROOT, env: childEnv });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let site: ApiSite;
let apiUrl: string;
beforeAll(async () => {
  site = await startApiSite();
  apiUrl = `${site.url.replace(/^http/, 'ws')}/api`;
});
afterAll(() => site.stop());

describe('examples/doorClient.mjs', () => {
  it('unlocks the door, prints its changes and exits 0 once it is secured again', async () => {
    const run = await runExample(['front'], { POSTERN_URL: apiUrl, POSTERN_TOKEN: site.tokens.operator });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('connected to Test site (postern ');
    const lines = run.stdout.split('\n');
    const unlocked = lines.indexOf('door front: unlocked');
    expect(unlocked).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf('door front: secured', unlocked)).toBeGreaterThan(unlocked);
    // Nothing of another door: the subscription is filtered to this one.
    expect(run.stdout).not.toMatch(/^door (lab|store):/m);
  });

  it('exits non-zero with a clear message when POSTERN_TOKEN is missing', async () => {
    const run = await runExample(['front'], { POSTERN_URL: apiUrl });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('POSTERN_TOKEN is not set');
    expect(run.stderr).toContain('token create --name me --role operator');
    expect(run.stdout).toBe('');
  });

  it('exits 1 with the JSON-RPC error when the token may not unlock', async () => {
    const run = await runExample(['front'], { POSTERN_URL: apiUrl, POSTERN_TOKEN: site.tokens.viewer });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('doors.unlock failed: forbidden: doors.unlock needs the operator role (-32001, POSTERN_ERR_FORBIDDEN)');
  });

  it('exits 1 when the token is refused at the upgrade', async () => {
    const run = await runExample(['front'], { POSTERN_URL: apiUrl, POSTERN_TOKEN: 'pst_not-a-real-token' });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('HTTP 401');
  });
});
