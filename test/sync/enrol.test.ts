/**
 * `postern enrol`: the code traded for the credential at POST /enrol of a hub in this file, the
 * credential written 0600 where the controller looks for it and never printed, the hub: lines
 * printed, and clear errors for a refused code, throttling and a hub that is not there.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { enrolCommand } from '../../controller/cli/enrolCommand.ts';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { hubCredentialFile } from '../../controller/sync/hubAddress.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';
import { runCli } from '../support/runCli.ts';
import { FakeHub } from './fakeHub.ts';

const CREDENTIAL = 'pstc_enrolled_credential_abcdef0123456789';
const CODE = 'ABCD-EFGH-JKLM-NPQR';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function hubWith(enrol: (code: string) => { status: number; body: unknown }): Promise<FakeHub> {
  const hub = await new FakeHub({ credential: CREDENTIAL, enrol }).start();
  cleanups.push(() => hub.stop());
  return hub;
}

async function siteFile(patch: (input: Record<string, unknown>) => void = () => {}): Promise<{ file: string; dir: string }> {
  const dir = await tempDir('postern-enrol-');
  const input = testSiteInput('./data') as unknown as Record<string, unknown>;
  patch(input);
  const file = path.join(dir, 'site.yaml');
  await writeFile(file, stringify(input));
  return { file, dir };
}

async function enrol(values: { hub?: string; code?: string; config: string }) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const io = { env: {}, stdout, stderr, stdin: new PassThrough() };
  try {
    await enrolCommand(values, io);
    return { out, error: undefined };
  } catch (error) {
    return { out, error: error as Error & { code?: string } };
  }
}

describe('postern enrol', () => {
  it('writes the credential 0600 beside the store, prints the hub: lines, and never prints the credential or the code', async () => {
    const codes: string[] = [];
    const hub = await hubWith((code) => {
      codes.push(code);
      return { status: 200, body: { siteId: 'lisbon', controllerId: 'ctl_7', credential: CREDENTIAL } };
    });
    const { file, dir } = await siteFile();
    const { out, error } = await enrol({ hub: hub.url, code: CODE, config: file });
    expect(error).toBeUndefined();
    expect(codes).toEqual([CODE]);
    const credentialFile = path.join(dir, 'data', 'hub-credential.test-site');
    expect((await stat(credentialFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(credentialFile, 'utf8')).trim()).toBe(CREDENTIAL);
    expect(out).toContain(`hub:\n  url: ${hub.url}\n  credentialFile: ${credentialFile}\n`);
    expect(out).toContain('controller ctl_7 of site lisbon');
    expect(out).not.toContain(CREDENTIAL);
    expect(out).not.toContain(CODE);

    // The printed lines, added to the site file, name the file the controller reads at start.
    const config = loadConfig(file);
    const withHub = { ...config, hub: { url: hub.url } };
    expect(hubCredentialFile(withHub)).toBe(credentialFile);
  });

  it('writes where hub.credentialFile says, resolved against the site file, for a site that names its hub already', async () => {
    const hub = await hubWith(() => ({ status: 200, body: { siteId: 'lisbon', controllerId: 'ctl_7', credential: CREDENTIAL } }));
    const { file, dir } = await siteFile((input) => {
      input.hub = { url: hub.url, credentialFile: 'secrets/hub.cred' };
    });
    const { error } = await enrol({ code: CODE, config: file });
    expect(error).toBeUndefined();
    expect((await stat(path.join(dir, 'secrets', 'hub.cred'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, 'secrets'))).mode & 0o777).toBe(0o700);
  });

  it('says the code is refused on 403, throttled on 429, and which hub it cannot reach', async () => {
    const answers = [
      { status: 403, body: { error: { code: 'hub.enrolment.invalid', message: 'no such code' } } },
      { status: 429, body: { error: { code: 'hub.throttled', message: 'slow down' } } },
    ];
    const hub = await hubWith(() => answers.shift()!);
    const { file, dir } = await siteFile();
    const refused = await enrol({ hub: hub.url, code: CODE, config: file });
    expect(refused.error).toMatchObject({ code: 'POSTERN_ERR_FORBIDDEN', message: expect.stringContaining('unknown, used or expired') });
    const throttled = await enrol({ hub: hub.url, code: CODE, config: file });
    expect(throttled.error).toMatchObject({ code: 'POSTERN_ERR_RATE_LIMITED', message: expect.stringContaining('try again') });
    const url = hub.url;
    await hub.stop();
    cleanups.length = 0;
    const away = await enrol({ hub: url, code: CODE, config: file });
    expect(away.error).toMatchObject({ code: 'POSTERN_ERR_REQUEST_FAILED', message: expect.stringContaining(`cannot reach the hub at ${url}`) });
    expect(away.error!.message).toContain('ECONNREFUSED');
    for (const { error } of [refused, throttled, away]) expect(error!.message).not.toContain(CODE);
    // Nothing written when enrolment failed.
    await expect(stat(path.join(dir, 'data', 'hub-credential.test-site'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a missing --code or --hub as usage errors', async () => {
    const { file } = await siteFile();
    expect((await enrol({ hub: 'https://hub.example', config: file })).error?.message).toBe('missing --code');
    expect((await enrol({ code: CODE, config: file })).error?.message).toBe('missing --hub');
    expect((await enrol({ hub: 'https://user:pw@hub.example', code: CODE, config: file })).error?.message).toContain('without a user or password');
  });
});

describe('postern enrol, the command', () => {
  it('runs as a process: exit 0 with the credential written, exit 1 with the refusal on standard error', async () => {
    const answers = [
      { status: 200, body: { siteId: 'lisbon', controllerId: 'ctl_7', credential: CREDENTIAL } },
      { status: 403, body: { error: { code: 'hub.enrolment.invalid', message: 'no such code' } } },
    ];
    const hub = await hubWith(() => answers.shift()!);
    const { file, dir } = await siteFile();
    const ok = await runCli(['enrol', '--hub', hub.url, '--code', CODE, '--config', file]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`  credentialFile: ${path.join(dir, 'data', 'hub-credential.test-site')}`);
    expect(ok.stdout + ok.stderr).not.toContain(CREDENTIAL);
    expect((await stat(path.join(dir, 'data', 'hub-credential.test-site'))).mode & 0o777).toBe(0o600);
    const refused = await runCli(['enrol', '--hub', hub.url, '--code', CODE, '--config', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('the hub refused the enrolment code');
    expect(refused.stdout + refused.stderr).not.toContain(CODE);
  });
});
