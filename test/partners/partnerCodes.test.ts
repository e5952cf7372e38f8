/**
 * Partner codes as a partner makes them: with an implementation of the spec written in this file
 * (node:crypto's HMAC and a base32 encoder of its own, nothing of the controller's codec), for a
 * partner registered with the real `postern partner add`, scanned at a real controller.
 */
import { createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../controller/config/loadConfig.ts';
import { Controller } from '../../controller/controller.ts';
import { runCli } from '../support/runCli.ts';
import { scanAt, tempDir, testSiteInput } from '../support/testSite.ts';
import { vectors } from '../support/vectors.ts';

// ---- The spec, written out independently -------------------------------------------------------

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 by way of a bit string: slow and obvious, unlike the controller's. */
function base32(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += BASE32[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

function be(value: bigint | number, bytes: number): number[] {
  const out: number[] = [];
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++) {
    out.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

const KIND = { link: 1, rotating: 2, 'online-link': 3 } as const;

function code(key: Uint8Array, kind: keyof typeof KIND, issuer: number, subject: bigint | number, a: number, b: number, scope: number): string {
  const signed = Buffer.from([1, KIND[kind], ...be(issuer, 2), ...be(subject, 8), ...be(a, 4), ...be(b, 4), ...be(scope, 4)]);
  const mac = createHmac('sha256', key).update(signed).digest().subarray(0, 16);
  return 'P1.' + base32(Buffer.concat([signed, mac]));
}

function partnerRotatingKey(secret: Uint8Array, subject: bigint | number): Buffer {
  return createHmac('sha256', secret).update(Buffer.from('postern/rotating/v1', 'ascii')).update(Buffer.from(be(subject, 8))).digest();
}

function rotating(partnerSecret: Uint8Array, issuer: number, subject: bigint | number, scope: number, unixSeconds: number): string {
  return code(partnerRotatingKey(partnerSecret, subject), 'rotating', issuer, subject, Math.floor(unixSeconds / 15), 0, scope);
}

// ---- Tests --------------------------------------------------------------------------------------

describe('an independent implementation of the spec', () => {
  it('reproduces every vector of credential-vectors.json byte for byte', () => {
    const keyOf = (issuer: number, kind: string) =>
      Buffer.from(issuer === 17 ? vectors.partner_17_secret : kind === 'rotating' ? vectors.credential_9001_secret : vectors.site_key, 'hex');
    for (const v of vectors.vectors) {
      const made =
        v.kind === 'rotating'
          ? v.issuer === 0
            ? code(keyOf(0, 'rotating'), 'rotating', 0, v.subject, v.step!, 0, v.scope)
            : rotating(keyOf(v.issuer, 'rotating'), v.issuer, v.subject, v.scope, v.generated_at!)
          : code(keyOf(v.issuer, v.kind), v.kind, v.issuer, v.subject, v.not_before!, v.not_after!, v.scope);
      expect(made, v.name).toBe(v.code);
      if (v.derived_secret) expect(partnerRotatingKey(keyOf(v.issuer, 'rotating'), v.subject).toString('hex')).toBe(v.derived_secret);
    }
  });
});

describe('partner codes at a real controller', () => {
  let dir: string;
  let configFile: string;
  let controller: Controller;
  let secret: Buffer;
  const SECOND_SECRET = Buffer.from('7e'.repeat(8) + '1d'.repeat(8) + 'c4'.repeat(8) + '09'.repeat(8), 'hex');
  const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

  const scan = (scanner: string, text: string) => scanAt(controller, scanner, text);

  beforeAll(async () => {
    dir = await tempDir('postern-partners-');
    configFile = path.join(dir, 'site.yaml');
    await writeFile(
      configFile,
      stringify({
        ...testSiteInput('./data'),
        scanners: [
          { id: 'front-in', door: 'front', driver: 'simulated', debounceMs: 0 },
          { id: 'front-2', door: 'front', driver: 'simulated', debounceMs: 0 },
          { id: 'lab-in', door: 'lab', driver: 'simulated', debounceMs: 0 },
        ],
      }),
    );
    // As docs/partners.md says: the site's admin adds the partner; the secret is shown once.
    const added = await cli('partner', 'add', '--id', '23', '--name', 'Tickets Inc', '--scopes', '3', '--default-scope', '3', '--create');
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const hex = /^shared secret: ([0-9a-f]{64})$/m.exec(added.stdout)?.[1];
    expect(hex).toBeDefined();
    secret = Buffer.from(hex!, 'hex');

    controller = new Controller({ config: loadConfig(configFile), terminal: new PassThrough() });
    await controller.start();
  });

  afterAll(async () => {
    await controller?.stop();
  });

  const now = () => Math.floor(Date.now() / 1000);

  it('opens the doors of the partner\'s scope with a static link, and no other door', async () => {
    const link = code(secret, 'link', 23, 555n, now() - 60, now() + 3600, 3);
    expect(await scan('front-in', link)).toMatchObject({ verdict: 'grant', kind: 'link', issuer: 23, subject: '555' });
    expect(await scan('lab-in', link)).toMatchObject({ verdict: 'deny', reason: 'out-of-scope' });
    // Scope 0: the partner's default scope (3).
    expect(await scan('front-in', code(secret, 'link', 23, 556n, now() - 60, 0xffffffff, 0))).toMatchObject({ verdict: 'grant', subject: '556' });
    // Scope 7 holds the front door, but this partner was not allowed it.
    expect(await scan('front-in', code(secret, 'link', 23, 557n, now() - 60, now() + 3600, 7))).toMatchObject({ verdict: 'deny', reason: 'out-of-scope' });
  });

  it('opens with a rotating code once, for its step and the ones beside it', async () => {
    const current = rotating(secret, 23, 777n, 0, now());
    expect(await scan('front-in', current)).toMatchObject({ verdict: 'grant', kind: 'rotating', issuer: 23, subject: '777' });
    // Once per site: the same code at the door's other scanner.
    expect(await scan('front-2', current)).toMatchObject({ verdict: 'deny', reason: 'replayed' });
    expect(await scan('front-in', rotating(secret, 23, 778n, 0, now() - 15))).toMatchObject({ verdict: 'grant' });
    expect(await scan('front-in', rotating(secret, 23, 779n, 0, now() - 60))).toMatchObject({ verdict: 'deny', reason: 'expired' });
    expect(await scan('lab-in', rotating(secret, 23, 780n, 0, now()))).toMatchObject({ verdict: 'deny', reason: 'out-of-scope' });
  });

  it('never grants a partner\'s online-only code without a live confirmation: offline on a standalone site', async () => {
    // Valid MAC, window and scope: only the live confirmation is missing, and the local hub cannot give it.
    const online = code(secret, 'online-link', 23, 600n, now() - 60, now() + 3600, 3);
    expect(await scan('front-in', online)).toMatchObject({ verdict: 'deny', reason: 'offline', kind: 'online-link', issuer: 23 });
    // The same code as a plain link (kind 1) opens: the denial is the confirmation's, not the code's.
    expect(await scan('front-in', code(secret, 'link', 23, 600n, now() - 60, now() + 3600, 3))).toMatchObject({ verdict: 'grant' });
  });

  it('denies codes made with another secret, another partner id, or outside their window', async () => {
    expect(await scan('front-in', code(SECOND_SECRET, 'link', 23, 1n, now() - 60, now() + 60, 3))).toMatchObject({ reason: 'bad-mac' });
    expect(await scan('front-in', code(secret, 'link', 99, 1n, now() - 60, now() + 60, 3))).toMatchObject({ reason: 'unknown-issuer' });
    expect(await scan('front-in', code(secret, 'link', 23, 2n, now() - 7200, now() - 3600, 3))).toMatchObject({ reason: 'expired' });
    expect(await scan('front-in', code(secret, 'link', 23, 3n, now() + 3600, now() + 7200, 3))).toMatchObject({ reason: 'not-yet-valid' });
  });

  it('rotates a secret by a second partner id: both work side by side, then the old one is removed', async () => {
    const added = await cli('partner', 'add', '--id', '24', '--name', 'Tickets Inc (2027 key)', '--scopes', '3', '--default-scope', '3', '--secret', SECOND_SECRET.toString('hex'));
    expect(added.code).toBe(0);
    expect(added.stdout).not.toContain(SECOND_SECRET.toString('hex'));
    const oldKey = code(secret, 'link', 23, 900n, now() - 60, now() + 3600, 3);
    const newKey = code(SECOND_SECRET, 'link', 24, 901n, now() - 60, now() + 3600, 3);
    await expect.poll(async () => (await scan('front-in', newKey)).verdict, { timeout: 5000, interval: 250 }).toBe('grant');
    expect((await scan('front-in', oldKey)).verdict).toBe('grant');
    expect((await cli('partner', 'remove', '23')).code).toBe(0);
    await expect.poll(async () => (await scan('front-in', oldKey)).reason, { timeout: 5000, interval: 250 }).toBe('unknown-issuer');
    expect((await scan('front-in', newKey)).verdict).toBe('grant');
  });
});
