/**
 * Revoking one subject of a partner, end to end: a partner registered with the real `postern
 * partner add`, its codes made with its secret by the partner guide's own code maker
 * (examples/partner-codes/makeCode.mjs), scanned over the API at a network scanner of a real
 * controller. Each revoked subject (by `postern partner revoke-subject`, and by the API method
 * `partners.revokeSubject`) is then denied `revoked`, while the partner's other codes still open;
 * both revocations are in the audit trail with their actor; bad arguments are refused.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { Controller } from '../../controller/controller.ts';
import { ApiClient, makeTokens } from '../support/apiClient.ts';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

interface CodeMaker {
  makeLink(secret: Buffer, issuer: number, subject: string, scope: number, notBefore: number, notAfter?: number): string;
  makeRotating(secret: Buffer, issuer: number, subject: string, scope: number, unixSeconds?: number): string;
}

const PARTNER = 23;
const MAX_SUBJECT = '18446744073709551615';

let dir: string;
let configFile: string;
let controller: Controller;
let secret: Buffer;
let maker: CodeMaker;
let admin: ApiClient;
let integrator: ApiClient;

const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
const now = () => Math.floor(Date.now() / 1000);
const link = (subject: string) => maker.makeLink(secret, PARTNER, subject, 3, now() - 60, now() + 3600);
/** A read at the front door's network scanner, over the API, as a scanner device sends it. */
const scan = (text: string) => integrator.call('scanner.read', { scanner: 'net-front', text }) as Promise<{ verdict: string; reason?: string }>;

beforeAll(async () => {
  maker = (await import(new URL('../../examples/partner-codes/makeCode.mjs', import.meta.url).href)) as CodeMaker;
  dir = await tempDir('postern-revoke-subject-');
  configFile = path.join(dir, 'site.yaml');
  await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [{ id: 'net-front', door: 'front', driver: 'network', debounceMs: 0 }] }));
  const added = await cli('partner', 'add', '--id', String(PARTNER), '--name', 'Tickets Inc', '--scopes', '3', '--default-scope', '3', '--create');
  expect(added.code).toBe(0);
  secret = Buffer.from(/^shared secret: ([0-9a-f]{64})$/m.exec(added.stdout)![1]!, 'hex');

  const config = loadConfig(configFile);
  const tokens = await makeTokens(config.dataDir, [
    { name: 'admin', role: 'admin' },
    { name: 'integrator', role: 'integrator' },
  ]);
  controller = new Controller({ config, terminal: new PassThrough() });
  await controller.start();
  admin = await ApiClient.connect(controller.apiUrl!, tokens.admin);
  integrator = await ApiClient.connect(controller.apiUrl!, tokens.integrator);
});

afterAll(async () => {
  admin?.close();
  integrator?.close();
  await controller?.stop();
});

describe('postern partner revoke-subject', () => {
  it('denies the revoked subject\'s codes `revoked`, link and rotating, and no other subject\'s', async () => {
    expect(await scan(link('555'))).toMatchObject({ verdict: 'grant' });
    expect(await scan(maker.makeRotating(secret, PARTNER, '777', 0))).toMatchObject({ verdict: 'grant' });

    const revoked = await cli('partner', 'revoke-subject', String(PARTNER), '555', '--reason', 'ticket refunded');
    expect(revoked.stderr).toBe('');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toBe('Subject 555 of partner 23 revoked: its codes are denied from now on\n');
    expect((await cli('partner', 'revoke-subject', String(PARTNER), '777')).code).toBe(0);

    expect(await scan(link('555'))).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(await scan(maker.makeRotating(secret, PARTNER, '777', 0))).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(await scan(link('556'))).toMatchObject({ verdict: 'grant' });
  });

  it('is in the audit trail, with the partner as issuer and the command line\'s user as actor', async () => {
    const tail = await cli('audit', 'tail', '-n', '2', '--controller', 'test-site/admin');
    expect(tail.code).toBe(0);
    const [first, second] = tail.stdout.trimEnd().split('\n');
    // The partner by name beside its number: the line a person reads.
    expect(first).toMatch(/ test-site\/admin#\d+ operator partner\.revokeSubject subject=23:555 partner="Tickets Inc" by=cli:/);
    expect(second).toMatch(/ operator partner\.revokeSubject subject=23:777 partner="Tickets Inc" by=cli:/);
  });

  it('refuses an unknown partner, and a subject that is not a canonical uint64', async () => {
    const unknown = await cli('partner', 'revoke-subject', '99', '555');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('postern: no partner 99\n  (POSTERN_ERR_NOT_FOUND)\n');
    // ('-1' would be read as an option: the API test below has it.)
    for (const subject of ['0555', '18446744073709551616', 'abc']) {
      const bad = await cli('partner', 'revoke-subject', String(PARTNER), subject);
      expect(bad.code, subject).toBe(1);
      expect(bad.stderr, subject).toContain('is not a subject');
      expect(bad.stderr, subject).toContain('(POSTERN_ERR_INVALID_ARGUMENT)');
    }
  });

  it('refuses a second revocation, and a missing subject', async () => {
    const again = await cli('partner', 'revoke-subject', String(PARTNER), '555');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('subject 555 of partner 23 is revoked already');
    const missing = await cli('partner', 'revoke-subject', String(PARTNER));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'subject'");
    expect(missing.stderr).toContain('Usage: postern partner revoke-subject PARTNER SUBJECT');
  });
});

describe('partners.revokeSubject', () => {
  it('denies the revoked subject\'s codes `revoked`, and no other subject\'s', async () => {
    expect(await scan(link('600'))).toMatchObject({ verdict: 'grant' });
    const result = await admin.call('partners.revokeSubject', { partner: PARTNER, subject: '600', reason: 'lost phone' });
    expect(result).toEqual({ partner: PARTNER, subject: '600', revoked: true });
    expect(await scan(link('600'))).toMatchObject({ verdict: 'deny', reason: 'revoked' });
    expect(await scan(link('601'))).toMatchObject({ verdict: 'grant' });
    // The largest subject there is.
    expect(await scan(link(MAX_SUBJECT))).toMatchObject({ verdict: 'grant' });
    expect(await admin.call('partners.revokeSubject', { partner: PARTNER, subject: MAX_SUBJECT })).toMatchObject({ revoked: true });
    expect(await scan(link(MAX_SUBJECT))).toMatchObject({ verdict: 'deny', reason: 'revoked' });
  });

  it('is in the audit trail, with the token as actor', async () => {
    const { events } = await admin.call('audit.query', { controllerId: 'test-site', subject: '600', order: 'desc', limit: 10 });
    const revocation = (events as Array<Record<string, unknown>>).find((e) => e.reason === 'partner.revokeSubject');
    expect(revocation).toMatchObject({ type: 'operator', issuer: PARTNER, subject: '600', actor: 'token:admin', data: { reason: 'lost phone' } });
    // And the denial after it, for the same partner subject.
    expect(events[0]).toMatchObject({ type: 'decision', issuer: PARTNER, subject: '600', verdict: 'deny', reason: 'revoked' });
  });

  it('is for admins only, and refuses an unknown partner, a bad subject and a second revocation', async () => {
    expect((await integrator.request('partners.revokeSubject', { partner: PARTNER, subject: '601' })).error).toMatchObject({ code: -32001, data: { code: 'POSTERN_ERR_FORBIDDEN' } });
    expect((await admin.request('partners.revokeSubject', { partner: 99, subject: '601' })).error).toMatchObject({
      code: -32002,
      message: 'no partner 99',
      data: { code: 'POSTERN_ERR_NOT_FOUND', field: 'partner' },
    });
    for (const subject of ['0601', '-1', '18446744073709551616', 'x', '']) {
      expect((await admin.request('partners.revokeSubject', { partner: PARTNER, subject })).error, subject).toMatchObject({
        code: -32602,
        data: { code: 'POSTERN_ERR_INVALID_ARGUMENT', field: 'subject' },
      });
    }
    expect((await admin.request('partners.revokeSubject', { partner: PARTNER, subject: 601 })).error).toMatchObject({ code: -32602, data: { field: 'subject' } });
    expect((await admin.request('partners.revokeSubject', { partner: 0, subject: '601' })).error).toMatchObject({ code: -32602, data: { field: 'partner' } });
    expect((await admin.request('partners.revokeSubject', { partner: PARTNER, subject: '600' })).error).toMatchObject({ code: -32003, data: { code: 'POSTERN_ERR_CONFLICT' } });
    // Nothing of that was revoked.
    expect(await scan(link('601'))).toMatchObject({ verdict: 'grant' });
  });
});
