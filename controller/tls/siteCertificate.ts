/**
 * A site certificate for the controller's HTTPS (api.tls), made without openssl (a production
 * install may not have it): a small certificate authority of the site, which each tablet trusts
 * once, and a server certificate signed by it for the controller's names and addresses. Renewing
 * the server certificate signs a new one with the same CA, so the tablets need nothing new.
 *
 * Keys are ECDSA P-256 (made by Node's WebCrypto), certificates X.509 v3 as browsers require them
 * of a server: the names in subjectAltName (never only the common name), extendedKeyUsage
 * serverAuth, and at most 825 days of validity (iPadOS refuses longer ones, even from a CA that a
 * user installed).
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate as NodeCertificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import { makePrivateDir, PUBLIC_FILE_MODE, replaceFile, writePrivateFile } from '../secureFiles.ts';
import { FILE_NAMES } from './siteCertificateTerms.ts';

// Node's WebCrypto is the standard one; the cast only bridges Node's and the DOM's type names.
x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** The CA outlives many server certificates: tablets trust it once. */
export const CA_DAYS = 3650;

export type SiteCertificateFiles = Record<keyof typeof FILE_NAMES, string>;

export function filesIn(dir: string): SiteCertificateFiles {
  const resolved = path.resolve(dir);
  return {
    caCert: path.join(resolved, FILE_NAMES.caCert),
    caKey: path.join(resolved, FILE_NAMES.caKey),
    cert: path.join(resolved, FILE_NAMES.cert),
    key: path.join(resolved, FILE_NAMES.key),
  };
}

/** A name the certificate is for: a DNS name or an IP address (v4 or v6). */
export interface HostName {
  type: 'dns' | 'ip';
  value: string;
}

/** A --host that is no host name or IP address. */
export class HostError extends Error {}

/**
 * A host name or an IP address as a tablet would put it in the address bar. Throws HostError
 * saying what is wrong: a URL, a port, a number that is no IPv4 address, a character a host name
 * cannot have.
 */
export function parseHost(text: string): HostName {
  const raw = text.trim();
  if (raw === '') throw new HostError('--host needs a host name or an IP address, not an empty text');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || raw.includes('/')) throw new HostError(`--host "${text}" is a URL: give only its host name or IP address (tablet.example.org, 192.168.1.20)`);
  const bracketed = /^\[(.+)\]$/.exec(raw)?.[1];
  const ip = bracketed ?? raw;
  if (isIP(ip) !== 0) return { type: 'ip', value: ip.toLowerCase() };
  if (bracketed !== undefined || raw.includes(':')) throw new HostError(`--host "${text}" is no IP address or host name (a port does not belong there: the certificate is for every port)`);
  const name = raw.toLowerCase().replace(/\.$/, '');
  if (/^[\d.]+$/.test(name)) throw new HostError(`--host "${text}" is no IPv4 address (four numbers from 0 to 255, such as 192.168.1.20)`);
  const labels = name.split('.');
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  if (name.length > 253 || !labels.every((l) => label.test(l))) {
    throw new HostError(`--host "${text}" is no host name: letters, digits and hyphens, in parts separated by dots (tablet.example.org), or an IP address`);
  }
  return { type: 'dns', value: name };
}

/**
 * The names a tablet may use for this machine: its host name (and name.local, which mDNS answers
 * on most networks), localhost, and each address of its network interfaces except IPv6 link-local
 * ones (they need an interface in the URL, which no tablet uses). Loopback addresses are there so
 * that a browser on the controller itself, and `postern scan`, work over the same certificate.
 */
export function defaultHosts(): HostName[] {
  const hosts: HostName[] = [];
  try {
    const own = parseHost(hostname());
    hosts.push(own);
    if (own.type === 'dns' && !own.value.includes('.') && own.value !== 'localhost') hosts.push({ type: 'dns', value: `${own.value}.local` });
  } catch {
    // A host name that is no DNS name (rare) is left out: the addresses still are in.
  }
  hosts.push({ type: 'dns', value: 'localhost' });
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv6' && /^fe[89ab]/i.test(address.address)) continue;
      hosts.push({ type: 'ip', value: address.address.toLowerCase() });
    }
  }
  return hosts;
}

/** `hosts` without repeats, in their order. */
export function uniqueHosts(hosts: HostName[]): HostName[] {
  const seen = new Set<string>();
  return hosts.filter((h) => {
    const key = `${h.type}:${h.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface Authority {
  cert: x509.X509Certificate;
  key: CryptoKey;
}

export interface CreateOptions {
  dir: string;
  hosts: HostName[];
  /** The server certificate's validity, 1 to MAX_SERVER_DAYS. */
  days: number;
  /** The site's name and id, for the CA's name: a tablet lists it among its trusted CAs. */
  siteName: string;
  siteId: string;
  /** Make a new CA even though there is one (tablets then have to trust the new one). */
  newCa: boolean;
  now?: Date;
}

export interface CreateResult {
  files: SiteCertificateFiles;
  /** Whether the CA was made now (else the folder's CA signed the certificate). */
  caCreated: boolean;
  ca: CertificateInfo;
  cert: CertificateInfo;
}

export interface CertificateInfo {
  subject: string;
  /** As in subjectAltName: "DNS:tablet.example.org", "IP Address:192.168.1.20". */
  hosts: string[];
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, colon-separated hex, as tablets show it. */
  fingerprint256: string;
}

/** What the folder holds already, so the caller can refuse to replace it. */
export async function existingFiles(dir: string): Promise<Partial<Record<keyof SiteCertificateFiles, boolean>>> {
  const files = filesIn(dir);
  const found: Partial<Record<keyof SiteCertificateFiles, boolean>> = {};
  for (const [name, file] of Object.entries(files) as Array<[keyof SiteCertificateFiles, string]>) {
    found[name] = await stat(file).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw error;
      },
    );
  }
  return found;
}

/**
 * Writes the server certificate and its key into `dir`, signed by the folder's CA, or by a new
 * one made and written first when there is none (or `newCa`). The caller decides whether files
 * may be replaced (existingFiles); keys are written 0600 (writePrivateFile), the folder made 0700.
 */
export async function createSiteCertificate(options: CreateOptions): Promise<CreateResult> {
  const files = filesIn(options.dir);
  const now = options.now ?? new Date();
  // A minute back: a clock a little behind on the tablet must not find it "not yet valid".
  const notBefore = new Date(now.getTime() - 60_000);
  await makePrivateDir(options.dir);
  let authority: Authority;
  const caCreated = options.newCa || !(await existingFiles(options.dir)).caCert;
  if (caCreated) {
    authority = await makeAuthority(options, notBefore);
    await writePrivateFile(files.caKey, await privateKeyPem(authority.key));
    await replaceFile(files.caCert, authority.cert.toString('pem') + '\n', PUBLIC_FILE_MODE);
  } else {
    authority = await loadAuthority(files);
  }
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: new x509.Name([{ CN: [options.hosts[0]?.value ?? 'postern'] }, { O: ['Postern'] }]),
    issuer: authority.cert.subjectName,
    notBefore,
    notAfter: new Date(now.getTime() + options.days * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: authority.key,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(options.hosts.map((h) => ({ type: h.type, value: h.value })), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(authority.cert),
    ],
  });
  // The key first: a certificate never stands beside a key that is not its own for long.
  await writePrivateFile(files.key, await privateKeyPem(keys.privateKey));
  await replaceFile(files.cert, cert.toString('pem') + '\n', PUBLIC_FILE_MODE);
  return { files, caCreated, ca: describeCertificate(authority.cert.toString('pem')), cert: describeCertificate(cert.toString('pem')) };
}

async function makeAuthority(options: CreateOptions, notBefore: Date): Promise<Authority> {
  const keys = await generateKeys();
  // The date tells two CAs of one site apart in a tablet's list, after a --new-ca.
  const name = new x509.Name([{ CN: [`Postern CA ${options.siteName} ${notBefore.toISOString().slice(0, 10)}`] }, { O: ['Postern'] }, { OU: [options.siteId] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      // pathLength 0: it signs server certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey };
}

async function loadAuthority(files: SiteCertificateFiles): Promise<Authority> {
  const [certPem, keyPem] = await Promise.all([readFile(files.caCert, 'utf8'), readFile(files.caKey, 'utf8')]).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new SiteCertificateError(`${error.path ?? files.caKey} is missing, so the CA in ${path.dirname(files.caCert)} cannot sign: --new-ca --force makes a new CA (each tablet must then trust the new one)`);
    throw error;
  });
  let matches: boolean;
  try {
    matches = new NodeCertificate(certPem).checkPrivateKey(createPrivateKey(keyPem));
  } catch (error) {
    throw new SiteCertificateError(`${files.caCert} and ${files.caKey} are no CA certificate and key: ${(error as Error).message}`);
  }
  if (!matches) throw new SiteCertificateError(`${files.caKey} is not the key of ${files.caCert}: put the CA's own key back, or make a new CA with --new-ca --force`);
  const cert = new x509.X509Certificate(certPem);
  if (!(await cert.getExtension(x509.BasicConstraintsExtension))?.ca) throw new SiteCertificateError(`${files.caCert} is no CA certificate`);
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  let key: CryptoKey;
  try {
    key = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
  } catch {
    throw new SiteCertificateError(`${files.caKey} is no ECDSA P-256 key, as postern tls makes: make a new CA with --new-ca --force`);
  }
  return { cert, key };
}

/** A CA or certificate file that cannot be used as it is; the message says what to do. */
export class SiteCertificateError extends Error {}

/** The subject, names, validity and fingerprint of a PEM certificate. */
export function describeCertificate(pem: string): CertificateInfo {
  const cert = new NodeCertificate(pem);
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    hosts: cert.subjectAltName ? cert.subjectAltName.split(', ') : [],
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint256: cert.fingerprint256,
  };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
}

/** 16 random bytes, the first bit clear so the number is positive, as RFC 5280 asks. */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}
