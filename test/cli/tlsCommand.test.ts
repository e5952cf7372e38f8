/**
 * `postern tls create` and `show` as real processes: the certificate they write is served by
 * Node's HTTPS server and by `postern start`, and a client that trusts only the site's CA accepts
 * it for its names and refuses it for any other (real TLS handshakes); keys are 0600; nothing is
 * replaced without --force, and a renewal keeps the CA; a bad --host is refused with exit 2.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { caCertificateRoute } from '../../controller/tls/caCertificateRoute.ts';
import { parseHost } from '../../controller/tls/siteCertificate.ts';
import { runCli, spawnCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

let dir: string;
let siteFile: string;
const cli = (...args: string[]) => runCli([...args, '--config', siteFile]);

beforeAll(async () => {
  dir = await tempDir('postern-tls-cli-');
  siteFile = path.join(dir, 'site.yaml');
  await writeFile(siteFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
});

/** A TLS handshake with a client that trusts `ca` only, asking for `servername`. */
function handshake(port: number, ca: string, servername: string): Promise<{ ok: true; peer: PeerCertificate } | { ok: false; code: string; message: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername });
    socket.once('secureConnect', () => {
      resolve({ ok: true, peer: socket.getPeerCertificate() });
      socket.end();
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ ok: false, code: error.code ?? '', message: error.message }));
  });
}

async function serve(certFile: string, keyFile: string): Promise<Server> {
  const server = createServer({ cert: await readFile(certFile), key: await readFile(keyFile) }, (_req, res) => res.end('hello over tls'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

describe('postern tls create', () => {
  it('writes a CA and a certificate that a client trusting only the CA accepts for its names, and refuses for another', async () => {
    const out = path.join(dir, 'first');
    const result = await cli('tls', 'create', '--host', 'tablet.test', '--host', '10.9.8.7,door.example.org', '--dir', out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const files = { ca: path.join(out, 'ca.crt'), caKey: path.join(out, 'ca-key.pem'), cert: path.join(out, 'cert.pem'), key: path.join(out, 'key.pem') };
    // Keys are private; certificates are public (they are copied onto tablets).
    expect(await modeOf(files.caKey)).toBe(0o600);
    expect(await modeOf(files.key)).toBe(0o600);
    expect(await modeOf(files.ca)).toBe(0o644);
    expect(await modeOf(out)).toBe(0o700);

    const caPem = await readFile(files.ca, 'utf8');
    const ca = new X509Certificate(caPem);
    const cert = new X509Certificate(await readFile(files.cert, 'utf8'));
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    // The given names, and this machine's own by default.
    expect(cert.subjectAltName).toContain('DNS:tablet.test');
    expect(cert.subjectAltName).toContain('DNS:door.example.org');
    expect(cert.subjectAltName).toContain('IP Address:10.9.8.7');
    expect(cert.subjectAltName).toContain(`DNS:${hostname().toLowerCase()}`);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth: browsers require it
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(395);
    expect(days).toBeLessThanOrEqual(398);

    // What it prints: every file, the CA's fingerprint, the api.tls lines, the tablet steps.
    for (const file of Object.values(files)) expect(result.stdout).toContain(file);
    expect(result.stdout).toContain(ca.fingerprint256);
    expect(result.stdout).toContain(cert.fingerprint256);
    expect(result.stdout).toContain(`    cert: ${files.cert}\n`);
    expect(result.stdout).toContain(`    key: ${files.key}\n`);
    expect(result.stdout).toContain('host: 0.0.0.0');
    expect(result.stdout).toMatch(/Android: Settings > Security/);
    expect(result.stdout).toMatch(/iPadOS: .*Certificate Trust Settings/s);
    expect(result.stdout).toContain('https://tablet.test:0/kiosk#token=');

    const server = await serve(files.cert, files.key);
    try {
      const { port } = server.address() as AddressInfo;
      for (const name of ['tablet.test', 'door.example.org', 'localhost']) {
        const accepted = await handshake(port, caPem, name);
        expect(accepted, name).toMatchObject({ ok: true });
      }
      const wrongName = await handshake(port, caPem, 'other.test');
      expect(wrongName).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      // Without the CA the certificate is no one's: the system's CAs do not know it.
      const untrusted = await new Promise<NodeJS.ErrnoException>((resolve) => connect({ host: '127.0.0.1', port, servername: 'tablet.test' }).once('error', resolve));
      expect(untrusted.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      server.close();
    }
  });

  it('replaces nothing without --force; --force renews the certificate with the same CA; --new-ca makes a new one', async () => {
    const out = path.join(dir, 'renew');
    expect((await cli('tls', 'create', '--host', 'tablet.test', '--dir', out)).code).toBe(0);
    const read = async () => ({ ca: await readFile(path.join(out, 'ca.crt'), 'utf8'), caKey: await readFile(path.join(out, 'ca-key.pem'), 'utf8'), cert: await readFile(path.join(out, 'cert.pem'), 'utf8'), key: await readFile(path.join(out, 'key.pem'), 'utf8') });
    const first = await read();

    const again = await cli('tls', 'create', '--host', 'tablet.test', '--dir', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${path.join(out, 'cert.pem')} and ${path.join(out, 'key.pem')} exist: --force replaces the certificate`);
    expect(again.stderr).toContain('POSTERN_ERR_CONFLICT');
    expect(await read()).toEqual(first);
    const newCa = await cli('tls', 'create', '--new-ca', '--dir', out);
    expect(newCa.code).toBe(1);
    expect(newCa.stderr).toContain('--new-ca --force replaces the CA');
    expect(await read()).toEqual(first);

    const renewed = await cli('tls', 'create', '--host', 'tablet.test', '--host', 'lobby.test', '--dir', out, '--force', '--days', '30');
    expect(renewed.stderr).toBe('');
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).toContain('kept: the tablets that trust it need nothing new');
    const second = await read();
    expect(second.ca).toBe(first.ca);
    expect(second.caKey).toBe(first.caKey);
    expect(second.cert).not.toBe(first.cert);
    expect(second.key).not.toBe(first.key);
    const cert = new X509Certificate(second.cert);
    expect(cert.checkIssued(new X509Certificate(first.ca))).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:lobby.test');
    expect((Date.parse(cert.validTo) - Date.now()) / 86_400_000).toBeLessThanOrEqual(30);
    expect(await modeOf(path.join(out, 'key.pem'))).toBe(0o600);

    // A tablet that trusts the first CA accepts the renewed certificate.
    const server = await serve(path.join(out, 'cert.pem'), path.join(out, 'key.pem'));
    try {
      expect(await handshake((server.address() as AddressInfo).port, first.ca, 'lobby.test')).toMatchObject({ ok: true });
    } finally {
      server.close();
    }

    const replaced = await cli('tls', 'create', '--new-ca', '--force', '--host', 'tablet.test', '--dir', out);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain('new: install it on each tablet, once');
    const third = await read();
    expect(third.ca).not.toBe(first.ca);
    expect(third.caKey).not.toBe(first.caKey);
    expect(new X509Certificate(third.cert).checkIssued(new X509Certificate(third.ca))).toBe(true);
    expect(await modeOf(path.join(out, 'ca-key.pem'))).toBe(0o600);
  });

  it('refuses a CA whose key is not its own, and never replaces a CA key unasked', async () => {
    const a = path.join(dir, 'mixed-a');
    const b = path.join(dir, 'mixed-b');
    expect((await cli('tls', 'create', '--host', 'a.test', '--no-defaults', '--dir', a)).code).toBe(0);
    expect((await cli('tls', 'create', '--host', 'b.test', '--no-defaults', '--dir', b)).code).toBe(0);
    await writeFile(path.join(a, 'ca-key.pem'), await readFile(path.join(b, 'ca-key.pem')));
    const result = await cli('tls', 'create', '--host', 'a.test', '--no-defaults', '--dir', a, '--force');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path.join(a, 'ca-key.pem')} is not the key of ${path.join(a, 'ca.crt')}`);
    // A CA key whose certificate is gone is not replaced by a new CA's without --force.
    await rm(path.join(b, 'ca.crt'));
    const keyBefore = await readFile(path.join(b, 'ca-key.pem'), 'utf8');
    const orphan = await cli('tls', 'create', '--host', 'b.test', '--no-defaults', '--dir', b, '--force');
    expect(orphan.code).toBe(1);
    expect(orphan.stderr).toContain(`${path.join(b, 'ca-key.pem')} exists without ${path.join(b, 'ca.crt')}: put the CA certificate back`);
    const newCaUnforced = await cli('tls', 'create', '--host', 'b.test', '--no-defaults', '--dir', b, '--new-ca');
    expect(newCaUnforced.code).toBe(1);
    expect(newCaUnforced.stderr).toContain(`${path.join(b, 'ca-key.pem')} exists: --new-ca --force replaces the CA`);
    expect(await readFile(path.join(b, 'ca-key.pem'), 'utf8')).toBe(keyBefore);
  });

  it('refuses a --host that is no host name or IP address, and a bad --days, with exit 2 and what is wrong', async () => {
    // Each refusal in its words (parseHost), then a few as the command line says them.
    const refused: Array<[string, RegExp]> = [
      ['https://tablet.test/kiosk', /is a URL: give only its host name or IP address/],
      ['tablet.test:8443', /a port does not belong there/],
      ['300.1.2.3', /is no IPv4 address/],
      ['10.1.2', /is no IPv4 address/],
      ['door_1.example.org', /is no host name: letters, digits and hyphens/],
      ['-door.example.org', /is no host name/],
      ['door..example.org', /is no host name/],
      [`${'a'.repeat(64)}.example.org`, /is no host name/],
      [' ', /--host needs a host name or an IP address/],
    ];
    for (const [host, message] of refused) expect(() => parseHost(host), host).toThrow(message);
    expect(parseHost('Door-1.Example.org.')).toEqual({ type: 'dns', value: 'door-1.example.org' });
    expect(parseHost('[FD00::20]')).toEqual({ type: 'ip', value: 'fd00::20' });
    expect(parseHost('192.168.1.20')).toEqual({ type: 'ip', value: '192.168.1.20' });

    const out = path.join(dir, 'bad');
    const cases: Array<[string[], RegExp]> = [
      [['--host', 'https://tablet.test/kiosk'], /^postern: --host "https:\/\/tablet\.test\/kiosk" is a URL: give only its host name or IP address/],
      [['--host', 'tablet.test', '--host', '300.1.2.3'], /^postern: --host "300\.1\.2\.3" is no IPv4 address/],
      [['--days', '1000'], /^postern: --days must be 1 to 825/],
      [['--no-defaults'], /^postern: --no-defaults needs at least one --host/],
    ];
    for (const [args, message] of cases) {
      const result = await cli('tls', 'create', ...args, '--dir', out);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(message);
      expect(result.stderr).toContain('Usage: postern tls create');
    }
    // Nothing was written.
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    // IPv6, bracketed or not, is an address.
    const v6 = await cli('tls', 'create', '--host', '[fd00::20]', '--host', 'fd00::21', '--no-defaults', '--dir', out);
    expect(v6.code).toBe(0);
    const cert = new X509Certificate(await readFile(path.join(out, 'cert.pem')));
    expect(cert.subjectAltName).toBe('IP Address:FD00:0:0:0:0:0:0:20, IP Address:FD00:0:0:0:0:0:0:21');
  });

  it('postern start serves HTTPS with the files in the site file as printed; tls show describes them', async () => {
    const site = path.join(dir, 'start');
    const file = path.join(site, 'site.yaml');
    await mkdir(site);
    await writeFile(file, stringify({ ...testSiteInput('./data'), scanners: [] }));
    const created = await runCli(['tls', 'create', '--host', 'tablet.test', '--config', file]);
    expect(created.code).toBe(0);
    // The lines printed for the site file, put into it as an administrator would.
    const printed = /in its api: section, then restart postern:\n\n([\s\S]+?)\n\n/.exec(created.stdout)![1]!;
    const api = (parse(printed.replace(/^ {4}/gm, '')) as { api: { host: string; tls: { cert: string; key: string } } }).api;
    expect(api.tls).toEqual({ cert: path.join(site, 'data', 'tls', 'cert.pem'), key: path.join(site, 'data', 'tls', 'key.pem') });
    expect(api.host).toBe('0.0.0.0');
    const input = parse(await readFile(file, 'utf8'));
    // Loopback only in a test: nothing here is for the network.
    input.api = { ...input.api, tls: api.tls };
    await writeFile(file, stringify(input));

    const shown = await runCli(['tls', 'show', '--config', file]);
    expect(shown.code).toBe(0);
    const caPem = await readFile(path.join(site, 'data', 'tls', 'ca.crt'), 'utf8');
    expect(shown.stdout).toContain(new X509Certificate(caPem).fingerprint256);
    expect(shown.stdout).toMatch(/for +tablet\.test, /);
    expect(shown.stdout).toContain("The site file's api.tls names these files.");

    const child = spawnCli(['start', '--config', file]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 30_000;
      let match: RegExpExecArray | null = null;
      while (!(match = /API: wss:\/\/[^:]+:(\d+)\/api/.exec(out))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`postern start did not serve HTTPS:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const port = Number(match[1]);
      const accepted = await handshake(port, caPem, 'tablet.test');
      expect(accepted).toMatchObject({ ok: true });
      expect(await handshake(port, caPem, 'other.test')).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      // The kiosk page, over HTTPS, to a client that trusts the site's CA.
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/kiosk', ca: caPem, servername: 'tablet.test', headers: { host: `tablet.test:${port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      // An HTTP answer over the handshake (the page itself is webui/dist's, built or not).
      expect(status).toBeGreaterThanOrEqual(200);
      expect(status).toBeLessThan(500);
      // The CA for a tablet to install, from the controller itself: the certificate only.
      const ca = await new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/ca.crt', ca: caPem, servername: 'tablet.test', headers: { host: `tablet.test:${port}` } }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(ca).toEqual({ status: 200, type: 'application/x-x509-ca-cert', body: caPem });
      expect(ca.body).not.toContain('PRIVATE KEY');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'close');
    }
  }, 60_000);
});

describe('GET /ca.crt', () => {
  async function answer(folder: string, method = 'GET'): Promise<{ status: number; body: string }> {
    const route = caCertificateRoute(path.join(folder, 'cert.pem'));
    let status = 0;
    let body = '';
    const res = { writeHead: (code: number) => (status = code), end: (text?: string) => (body = text ?? '') };
    await route.handle({ method } as never, res as never);
    return { status, body };
  }

  it('serves nothing but a CA certificate: no file, a certificate that is no CA, or another method are refused', async () => {
    const folder = path.join(dir, 'route');
    await mkdir(folder, { recursive: true });
    expect(await answer(folder)).toMatchObject({ status: 404, body: expect.stringContaining('postern tls create') });
    const made = await runCli(['tls', 'create', '--dir', folder, '--no-defaults', '--host', 'a.test', '--config', siteFile]);
    expect(made.code).toBe(0);
    const caPem = await readFile(path.join(folder, 'ca.crt'), 'utf8');
    expect(await answer(folder)).toEqual({ status: 200, body: caPem });
    expect(await answer(folder, 'POST')).toMatchObject({ status: 405 });
    // The server certificate in place of the CA's is not served.
    await writeFile(path.join(folder, 'ca.crt'), await readFile(path.join(folder, 'cert.pem')));
    expect((await answer(folder)).status).toBe(404);
  });
});

describe('postern tls show', () => {
  it('says when there is no certificate', async () => {
    const result = await cli('tls', 'show', '--dir', path.join(dir, 'none'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no site certificate in ${path.join(dir, 'none')}: \`postern tls create\` makes one`);
  });
});
