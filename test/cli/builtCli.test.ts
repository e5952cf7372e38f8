/**
 * The package's bin as users get it (package.json: dist/controller/bin/postern.js, made by
 * `npm run build`) with plain node: it answers as the sources do, and every command's module,
 * imported only when that command runs, is found in dist/ (the build rewrites those imports).
 * Each command is run far enough to have loaded its module, on a small store.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BUILT_BIN, runCli, type CliResult } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const built = (args: string[], env: Record<string, string> = {}, stdin?: string) => runCli(args, env, stdin, { built: true });

let dir: string;
let site: string;

beforeAll(async () => {
  // Not rebuilt here (tsc and vite take minutes): a stale build shows as answers that differ from the sources'.
  if (!existsSync(BUILT_BIN)) throw new Error(`${BUILT_BIN} is missing: run npm run build (npm ci runs it)`);
  dir = await tempDir('postern-built-');
  site = path.join(dir, 'site.yaml');
  await writeFile(site, stringify({ ...testSiteInput('./data'), scanners: [{ id: 'net-1', door: 'lab', driver: 'network' }] }));
});

describe('the built postern', () => {
  it('answers --help, help <command> and usage errors as the sources do', async () => {
    const cases = [['--help'], ['help', 'link', 'create'], ['audit', 'verify', '--help'], ['toString'], ['link', 'list', '--colour', 'red']];
    const [fromDist, fromSource] = await Promise.all([Promise.all(cases.map((args) => built(args))), Promise.all(cases.map((args) => runCli(args)))]);
    expect(fromDist.map((r) => r.code)).toEqual([0, 0, 0, 2, 2]);
    expect(fromDist).toEqual(fromSource);
  });

  it("runs every command's code", async () => {
    const env = { POSTERN_DATA_DIR: path.join(dir, 'data') };
    const cli = (...args: string[]) => built([...args, '--config', site], env);
    const expectOk = (r: CliResult, out: RegExp) => {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(out);
    };
    expectOk(await cli('audit', 'head', '--json', '--create'), /"chains": \[\]/);
    const link = await cli('link', 'create', '--name', 'Ada', '--scope', '7');
    expectOk(link, /^Link \d+ for Ada/);
    const linkId = /^Link (\d+)/.exec(link.stdout)![1]!;
    const credential = await cli('credential', 'create', '--name', 'Grace', '--scope', '7');
    expectOk(credential, /^Rotating credential \d+ for Grace/m);
    const secret = /^secret: ([0-9a-f]{64})$/m.exec(credential.stdout)![1]!;

    const [revoked, partner, user, token, code, verify] = await Promise.all([
      cli('link', 'revoke', linkId),
      cli('partner', 'list'),
      cli('user', 'list'),
      cli('token', 'list'),
      cli('credential', 'code', '1', '--secret', secret),
      cli('audit', 'verify'),
    ]);
    expectOk(revoked, new RegExp(`^Link ${linkId} revoked\n$`));
    expectOk(partner, /^ID\s+NAME\s+SCOPES/);
    expectOk(user, /^ID\s+NAME\s+ROLE/);
    expectOk(token, /^ID\s+NAME\s+ROLE/);
    expectOk(code, /^P1\.[A-Z2-7]{64}$/m);
    expectOk(verify, /test-site\/admin: \d+ events, chain intact/);

    const [scan, doctor, backup, start] = await Promise.all([
      cli('scan', 'HELLO', '--scanner', 'net-1', '--url', 'ws://127.0.0.1:9/api', '--token', 'pst_x'),
      cli('doctor'),
      cli('backup', '--out', path.join(dir, 'backup.sqlite')),
      built(['start', '--config', path.join(dir, 'missing.yaml')]),
    ]);
    expect(scan.code).toBe(1);
    expect(scan.stderr).toContain('cannot reach the controller at ws://127.0.0.1:9/api');
    expect(doctor.stdout).toMatch(/^postern doctor: /);
    expectOk(backup, /^Backup of .* written to /);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain('missing.yaml');
    const restored = await built(['restore', path.join(dir, 'backup.sqlite'), '--config', site], { POSTERN_DATA_DIR: path.join(dir, 'restored') });
    expectOk(restored, /^Restored .* into /);
  });
});
