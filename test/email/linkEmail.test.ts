/**
 * Access links by email, end to end: a real SMTP server (smtp-server) takes what the `postern`
 * command line and the API send; mailparser reads it back and zxing-wasm decodes the attached QR
 * code, which must be exactly the link's code. Failures (a rejected recipient, a refused login, a
 * closed port, no SMTP at all) say why, exit 1 and leave the link as it was.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { simpleParser as parseMail, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { validateConfig } from '../../controller/config/loadConfig.ts';
import { formatUtc } from '../../controller/email/linkEmail.ts';
import { LinkMailer } from '../../controller/email/linkMailer.ts';
import { ApiClient } from '../support/apiClient.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { decodeQrPng } from '../support/qrDecode.ts';
import { runCli } from '../support/runCli.ts';
import { closedPort, startSmtp, type TestSmtp } from '../support/smtpServer.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const LOGIN = { user: 'postern', password: 'correct horse battery staple' };
const FROM = 'doors@test.example';

let dir: string;
let smtp: TestSmtp;
const configs: Record<'good' | 'badLogin' | 'closed' | 'noSmtp' | 'noEmail', string> = { good: '', badLogin: '', closed: '', noSmtp: '', noEmail: '' };
const cli = (config: keyof typeof configs, ...args: string[]) => runCli([...args, '--config', configs[config]]);

function smtpSection(port: number, passwordFile: string) {
  return { host: '127.0.0.1', port, secure: false, requireTLS: false, user: LOGIN.user, passwordFile };
}

beforeAll(async () => {
  dir = await tempDir('postern-email-');
  smtp = await startSmtp({ login: LOGIN, rejectRecipient: /@nowhere\.example$/ });
  // The password lives in a file beside the site file, named relatively: the site file holds no secret.
  await writeFile(path.join(dir, 'smtp-password'), `${LOGIN.password}\n`);
  await writeFile(path.join(dir, 'wrong-password'), 'not the password\n');
  const site = (email: SiteConfigInput['email']) => stringify({ ...testSiteInput('./data'), scanners: [], ...(email ? { email } : {}) });
  const files = {
    good: site({ from: `Test site <${FROM}>`, smtp: smtpSection(smtp.port, 'smtp-password') }),
    badLogin: site({ from: FROM, smtp: smtpSection(smtp.port, 'wrong-password') }),
    closed: site({ from: FROM, smtp: smtpSection(await closedPort(), 'smtp-password') }),
    noSmtp: site({ from: FROM }),
    noEmail: site(undefined),
  };
  for (const [name, text] of Object.entries(files)) {
    configs[name as keyof typeof configs] = path.join(dir, `${name}.yaml`);
    await writeFile(configs[name as keyof typeof configs], text);
  }
  // All five site files share one data directory. A real site's first `postern start` makes its
  // store; other commands refuse to without --create, so the first one here passes it.
  const made = await cli('good', 'audit', 'head', '--create');
  expect(made.code, made.stderr).toBe(0);
});
afterAll(async () => {
  await smtp?.close();
});

/** mailparser, keeping `cid:` links in the HTML as a mail client sees them. */
const simpleParser = (raw: Buffer) => parseMail(raw, { keepCidLinks: true });

interface Expected {
  id: string;
  code: string;
  to: string;
  doors: string[];
  notBefore: number;
  notAfter: number;
}

async function listed(id: string): Promise<Record<string, any> | undefined> {
  const list = await cli('good', 'link', 'list', '--json');
  return (JSON.parse(list.stdout) as Array<Record<string, any>>).find((l) => l.id === id);
}

/** Everything the visitor needs is in the message, and the attached QR code is the link's code. */
async function expectLinkEmail(mail: ParsedMail, expected: Expected): Promise<void> {
  expect(mail.from?.value[0]).toMatchObject({ address: FROM });
  expect((Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address).toBe(expected.to);
  expect(mail.subject).toBe('Your access to Test site');
  const html = mail.html as string;
  for (const part of [mail.text!, html]) {
    expect(part).toContain('Test site');
    for (const door of expected.doors) expect(part).toContain(door);
    expect(part).toContain(formatUtc(expected.notBefore));
    expect(part).toContain(formatUtc(expected.notAfter));
    expect(part).toContain(`access-${expected.id}.png`);
    // The code itself is never text: only an image.
    expect(part).not.toContain(expected.code.slice(3));
  }
  const inline = mail.attachments.find((a) => a.related);
  expect(inline?.contentType).toBe('image/png');
  expect(html).toContain(`src="cid:${inline!.cid}"`);
  const attached = mail.attachments.find((a) => a.filename === `access-${expected.id}.png`);
  expect(attached).toMatchObject({ contentType: 'image/png', contentDisposition: 'attachment' });
  expect(await decodeQrPng(attached!.content)).toEqual([expected.code]);
  expect(await decodeQrPng(inline!.content)).toEqual([expected.code]);
}

async function createLink(...extra: string[]): Promise<{ id: string; code: string; stdout: string; stderr: string; exit: number | null; config: keyof typeof configs }> {
  const config = (extra[0] === '@' ? extra[1] : 'good') as keyof typeof configs;
  const args = extra[0] === '@' ? extra.slice(2) : extra;
  const result = await cli(config, 'link', 'create', '--out', path.join(dir, 'qr'), ...args);
  const id = /^Link (\d+) for /m.exec(result.stdout)?.[1];
  const code = /^(P1\.[A-Z2-7]{64})$/m.exec(result.stdout)?.[1];
  return { id: id!, code: code!, stdout: result.stdout, stderr: result.stderr, exit: result.code, config };
}

describe('postern link email, over a real SMTP server', () => {
  it('sends a link right after creating it (--send): site, doors, window, inline QR and the attachment', async () => {
    const before = smtp.received.length;
    const link = await createLink('--name', 'Ada Visitor', '--email', 'ada@example.org', '--scope', '7', '--until', '+8h', '--send');
    expect(link.stderr).toBe('');
    expect(link.exit).toBe(0);
    expect(link.stdout).toMatch(/^Email sent to ada@example\.org \(<.+>\)$/m);
    expect(smtp.received).toHaveLength(before + 1);
    const received = smtp.received.at(-1)!;
    expect(received).toMatchObject({ from: FROM, to: ['ada@example.org'] });
    const record = (await listed(link.id))!;
    await expectLinkEmail(await simpleParser(received.raw), { id: link.id, code: link.code, to: 'ada@example.org', doors: ['Front', 'Lab'], notBefore: record.notBefore, notAfter: record.notAfter });

    // Sent again, to another address; the Message-ID printed is the one the server got.
    const again = await cli('good', 'link', 'email', link.id, '--to', 'host@example.org');
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const messageId = /sent to host@example\.org \((<.+>)\)/.exec(again.stdout)?.[1];
    const mail = await simpleParser(smtp.received.at(-1)!.raw);
    expect(mail.messageId).toBe(messageId);
    await expectLinkEmail(mail, { id: link.id, code: link.code, to: 'host@example.org', doors: ['Front', 'Lab'], notBefore: record.notBefore, notAfter: record.notAfter });
    expect(again.stdout).not.toContain(link.code.slice(3));

    // Both sends are in the audit trail, with the recipient.
    const csv = (await cli('good', 'audit', 'export', '--csv')).stdout;
    const emailed = csv.split('\n').filter((l) => l.includes('link.email') && l.includes(link.id));
    expect(emailed).toHaveLength(2);
    expect(emailed.join('\n')).toContain('ada@example.org');
    expect(emailed.join('\n')).toContain('host@example.org');
    expect(csv).not.toContain(link.code.slice(3));
  }, 90_000);

  it('names the doors of a door set, and "no end" for a link with no end', async () => {
    const link = await createLink('--name', 'Lab tech', '--email', 'tech@example.org', '--doors', 'lab,store', '--until', 'never');
    expect(link.exit).toBe(0);
    const sent = await cli('good', 'link', 'email', link.id);
    expect(sent.code).toBe(0);
    const mail = await simpleParser(smtp.received.at(-1)!.raw);
    const record = (await listed(link.id))!;
    await expectLinkEmail(mail, { id: link.id, code: link.code, to: 'tech@example.org', doors: ['Lab', 'Store'], notBefore: record.notBefore, notAfter: 0xffffffff });
    expect(mail.text).toContain('Valid until: no end');
    expect(mail.text).not.toContain('Front');
  }, 90_000);

  it('writes an .eml file (--eml) that reads back as the same message, with no SMTP at all', async () => {
    const link = await createLink('--name', 'Eve Offline', '--email', 'eve@example.org', '--scope', '3');
    const before = smtp.received.length;
    for (const config of ['good', 'noSmtp'] as const) {
      const file = path.join(dir, `eve-${config}.eml`);
      const result = await cli(config, 'link', 'email', link.id, '--eml', file);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`written to ${file}`);
      expect((await stat(file)).mode & 0o077).toBe(0); // it holds the visitor's key
      const record = (await listed(link.id))!;
      const raw = await readFile(file);
      expect(raw.toString()).not.toContain(link.code.slice(3));
      await expectLinkEmail(await simpleParser(raw), { id: link.id, code: link.code, to: 'eve@example.org', doors: ['Front'], notBefore: record.notBefore, notAfter: record.notAfter });
    }
    expect(smtp.received).toHaveLength(before); // nothing was sent
  }, 90_000);

  it('says clearly that SMTP is not configured, and points to --eml', async () => {
    const link = await createLink('--name', 'No SMTP', '--email', 'x@example.org', '--scope', '3');
    for (const config of ['noSmtp', 'noEmail'] as const) {
      const result = await cli(config, 'link', 'email', link.id);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(config === 'noSmtp' ? /SMTP is not configured/ : /email is not configured/);
      expect(result.stderr).toContain('--eml FILE');
      expect(result.stderr).toContain('POSTERN_ERR_EMAIL_FAILED');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    // --send on such a site refuses before it makes a link.
    const refused = await createLink('@', 'noSmtp', '--name', 'Never made', '--email', 'y@example.org', '--scope', '3', '--send');
    expect(refused.exit).toBe(1);
    expect(refused.stderr).toContain('SMTP is not configured');
    const list = await cli('good', 'link', 'list', '--json');
    expect(list.stdout).not.toContain('Never made');
    // A link without an address needs --to; --send needs --email.
    const nameless = await createLink('--name', 'Nobody', '--scope', '3');
    const noAddress = await cli('good', 'link', 'email', nameless.id);
    expect(noAddress.code).toBe(1);
    expect(noAddress.stderr).toContain('has no email address');
    expect((await cli('good', 'link', 'create', '--name', 'Z', '--scope', '3', '--send')).stderr).toContain('--send needs --email');
  }, 90_000);

  const failures: Array<[string, keyof typeof configs, string[], RegExp]> = [
    ['a rejected recipient', 'good', ['--to', 'ghost@nowhere.example'], /rejected the recipient ghost@nowhere\.example \(550 .*No such user/],
    ['a refused login', 'badLogin', [], /refused the login of user "postern" \(535 /],
    ['a closed port', 'closed', [], /refused the connection/],
  ];
  it.each(failures)('fails clearly on %s, exits 1 and keeps the link', async (_case, config, extra, message) => {
    const link = await createLink('--name', 'Grace Fail', '--email', 'grace@example.org', '--scope', '7');
    const before = smtp.received.length;
    const result = await cli(config, 'link', 'email', link.id, ...extra);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/^postern: email to \S+ not sent: /);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('POSTERN_ERR_EMAIL_FAILED');
    expect(result.stderr).not.toContain(link.code.slice(3));
    expect(smtp.received).toHaveLength(before);
    expect(await listed(link.id)).toMatchObject({ name: 'Grace Fail', revokedAt: null });
  }, 60_000);

  it('keeps a link whose --send failed, says so and exits 1', async () => {
    const made = await createLink('--name', 'Sent Nowhere', '--email', 'sent@nowhere.example', '--scope', '7', '--send');
    expect(made.exit).toBe(1);
    expect(made.stdout).toMatch(/^Link \d+ for Sent Nowhere/m);
    expect(made.stderr).toContain(`link ${made.id} was created, but its email was not sent`);
    expect(made.stderr).toContain('rejected the recipient sent@nowhere.example');
    expect(made.stderr).toContain(`postern link email ${made.id}`);
    expect(await listed(made.id)).toMatchObject({ name: 'Sent Nowhere', revokedAt: null });
  }, 60_000);

  it('refuses to email a revoked link', async () => {
    const link = await createLink('--name', 'Revoked', '--email', 'r@example.org', '--scope', '3');
    expect((await cli('good', 'link', 'revoke', link.id)).code).toBe(0);
    const result = await cli('good', 'link', 'email', link.id);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is revoked');
  }, 90_000);
});

describe('links.send and links.eml over the API', () => {
  let api: ApiSite;
  let integrator: ApiClient;
  let viewer: ApiClient;
  beforeAll(async () => {
    const passwordFile = path.join(dir, 'smtp-password');
    api = await startApiSite((input) => {
      input.email = { from: FROM, smtp: smtpSection(smtp.port, passwordFile) };
    });
    integrator = await ApiClient.connect(api.url, api.tokens.integrator);
    viewer = await ApiClient.connect(api.url, api.tokens.viewer);
  });
  afterAll(async () => {
    integrator?.close();
    viewer?.close();
    await api?.stop();
  });

  it('sends a link: the answer names the Message-ID the server got; the QR is the link code', async () => {
    const { link, code } = await integrator.call('links.create', { name: 'Api Visitor', email: 'api@example.org', scope: 7 });
    const sent = await integrator.call('links.send', { id: link.id });
    expect(sent).toEqual({ messageId: expect.stringMatching(/^<.+>$/), to: 'api@example.org' });
    const mail = await simpleParser(smtp.received.at(-1)!.raw);
    expect(mail.messageId).toBe(sent.messageId);
    await expectLinkEmail(mail, { id: link.id, code, to: 'api@example.org', doors: ['Front', 'Lab'], notBefore: link.notBefore, notAfter: link.notAfter });

    const other = await integrator.call('links.send', { id: link.id, to: 'desk@example.org' });
    expect(other.to).toBe('desk@example.org');
    expect(smtp.received.at(-1)!.to).toEqual(['desk@example.org']);

    const audit = await viewer.call('audit.query', { order: 'desc', limit: 5 });
    expect(audit.events.find((e: { reason: string }) => e.reason === 'link.email')).toMatchObject({ subject: link.id, actor: 'token:integrator', data: { to: 'desk@example.org' } });
  });

  it('answers an .eml file as base64, the same message', async () => {
    const { link, code } = await integrator.call('links.create', { name: 'Api Eml', email: 'eml@example.org', doors: ['store'], notAfter: null });
    const before = smtp.received.length;
    const { eml, to } = await integrator.call('links.eml', { id: link.id });
    expect(to).toBe('eml@example.org');
    expect(smtp.received).toHaveLength(before);
    await expectLinkEmail(await simpleParser(Buffer.from(eml, 'base64')), { id: link.id, code, to: 'eml@example.org', doors: ['Store'], notBefore: link.notBefore, notAfter: 0xffffffff });
  });

  it('keeps both methods to integrators, and fails a rejected send with EMAIL_FAILED, the link intact', async () => {
    const { link } = await integrator.call('links.create', { name: 'Api Fail', email: 'x@nowhere.example', scope: 3 });
    expect((await viewer.request('links.send', { id: link.id })).error).toMatchObject({ code: -32001 });
    expect((await viewer.request('links.eml', { id: link.id })).error).toMatchObject({ code: -32001 });
    const failed = await integrator.request('links.send', { id: link.id });
    expect(failed.error).toMatchObject({ code: -32005, message: expect.stringMatching(/rejected the recipient x@nowhere\.example/), data: { code: 'POSTERN_ERR_EMAIL_FAILED' } });
    expect(await integrator.call('links.get', { id: link.id })).toMatchObject({ name: 'Api Fail', revokedAt: null });
    expect((await integrator.request('links.send', { id: '123' })).error).toMatchObject({ code: -32002 });
    expect((await integrator.request('links.send', { id: link.id, to: 'not an address' })).error).toMatchObject({ code: -32602, data: { field: 'to' } });
  });
});

describe('the email section of the site file', () => {
  it('takes defaults, and refuses a bad sender or a password twice or without a user', () => {
    const config = validateConfig({ ...testSiteInput('./data'), email: { from: 'doors@example.org', smtp: { host: 'smtp.example.org' } } });
    expect(config.email?.smtp).toEqual({ host: 'smtp.example.org', port: 587, secure: false, requireTLS: true });
    const invalid = () =>
      validateConfig({ ...testSiteInput('./data'), email: { from: 'not an address', smtp: { host: 'h', password: 'p', passwordFile: 'f' } } });
    expect(invalid).toThrow(/email\.from: must be an email address/);
    expect(invalid).toThrow(/email\.smtp\.passwordFile: give password or passwordFile, not both/);
    expect(invalid).toThrow(/email\.smtp\.user: a password needs a user/);
  });

  it('reads the password file at start, and names it when it cannot', () => {
    const make = () => new LinkMailer({ from: FROM, smtp: { host: '127.0.0.1', port: 587, secure: false, requireTLS: true, user: 'u', passwordFile: path.join(dir, 'missing') } });
    expect(make).toThrow(/email\.smtp\.passwordFile: cannot read .*missing/);
  });
});
