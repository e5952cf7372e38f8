/**
 * `postern tls create` and `postern tls show`: the site certificate that lets tablets on the
 * network use the kiosk page (browsers give a page the camera only over HTTPS, or on localhost).
 * The files go into the data directory's tls folder (or --dir); the command prints the api.tls
 * lines rather than editing the site file, which is the administrator's (comments, layout).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { SiteConfig } from '../config/configSchema.ts';
import {
  createSiteCertificate,
  defaultHosts,
  describeCertificate,
  existingFiles,
  filesIn,
  HostError,
  parseHost,
  SiteCertificateError,
  uniqueHosts,
  type CertificateInfo,
  type HostName,
  type SiteCertificateFiles,
} from '../tls/siteCertificate.ts';
import { DEFAULT_SERVER_DAYS, MAX_SERVER_DAYS } from '../tls/siteCertificateTerms.ts';
import { intFlag, type SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { configPath, loadSiteConfig } from './siteFile.ts';

export interface TlsCreateOptions extends SiteOptions {
  host?: string[];
  days?: string;
  dir?: string;
  force?: boolean;
  newCa?: boolean;
  /** --no-defaults: only the --host names, not this machine's own. */
  defaults?: boolean;
}

/** Where the site's certificate lives unless --dir says otherwise. */
export function tlsDir(config: SiteConfig, dir: string | undefined): string {
  return path.resolve(dir ?? path.join(config.dataDir, 'tls'));
}

export async function createTls(values: TlsCreateOptions, io: CliEnvironment): Promise<void> {
  const given: HostName[] = [];
  try {
    for (const value of values.host ?? []) for (const part of value.split(',')) given.push(parseHost(part));
  } catch (error) {
    if (error instanceof HostError) throw new UsageError(error.message);
    throw error;
  }
  const days = intFlag(values.days, 'days') ?? DEFAULT_SERVER_DAYS;
  if (days < 1 || days > MAX_SERVER_DAYS) throw new UsageError(`--days must be 1 to ${MAX_SERVER_DAYS} (browsers refuse a server certificate valid for longer), not ${days}`);
  if (values.defaults === false && given.length === 0) throw new UsageError('--no-defaults needs at least one --host');
  const hosts = uniqueHosts([...given, ...(values.defaults === false ? [] : defaultHosts())]);

  const config = loadSiteConfig(values.config, io.env);
  const dir = tlsDir(config, values.dir);
  const files = filesIn(dir);
  const found = await existingFiles(dir);
  // A new CA only when there is none, or with --new-ca: a CA key is never replaced unasked.
  if (!values.newCa && found.caKey && !found.caCert) {
    throw new PosternError(ErrorCodes.CONFLICT, `${files.caKey} exists without ${files.caCert}: put the CA certificate back to keep the CA, or --new-ca --force makes a new one (every tablet must then trust it)`);
  }
  if (values.newCa && !values.force && (found.caCert || found.caKey)) {
    throw new PosternError(ErrorCodes.CONFLICT, `${found.caCert ? files.caCert : files.caKey} exists: --new-ca --force replaces the CA (every tablet must then trust the new one), or leave out --new-ca to keep it`);
  }
  if (!values.force && (found.cert || found.key)) {
    const there = [found.cert ? files.cert : '', found.key ? files.key : ''].filter(Boolean);
    throw new PosternError(ErrorCodes.CONFLICT, `${there.join(' and ')} exist${there.length === 1 ? 's' : ''}: --force replaces the certificate (the CA is kept, so tablets that trust it need nothing new)`);
  }
  let result;
  try {
    result = await createSiteCertificate({ dir, hosts, days, siteName: config.site.name, siteId: config.site.id, newCa: values.newCa === true });
  } catch (error) {
    if (error instanceof SiteCertificateError) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, error.message);
    throw error;
  }
  const siteFile = configPath(values.config, io.env);
  const out = io.stdout;
  out.write(`Wrote a site certificate for ${config.site.name} into ${dir}:\n`);
  out.write(fileLines(result.files, result.caCreated));
  out.write(`\nThe certificate is valid until ${day(result.cert.notAfter)} for ${hostList(result.cert)}.\n`);
  out.write(`CA SHA-256 fingerprint (compare it on each tablet when installing the CA):\n  ${result.ca.fingerprint256}\n`);
  out.write(`Certificate SHA-256 fingerprint:\n  ${result.cert.fingerprint256}\n\n`);
  out.write(siteFileAdvice(config, siteFile, result.files));
  out.write(`\n${tabletSteps(config, result.files, result.ca, kioskHost(hosts))}`);
  out.write(`\nRenew it before ${day(result.cert.notAfter)} with \`postern tls create --force\` (and the same --host options): the CA is kept, so the tablets need nothing new.\n`);
}

export interface TlsShowOptions extends SiteOptions {
  dir?: string;
}

export async function showTls(values: TlsShowOptions, io: CliEnvironment): Promise<void> {
  const config = loadSiteConfig(values.config, io.env);
  const dir = tlsDir(config, values.dir);
  const files = filesIn(dir);
  const read = (file: string) =>
    readFile(file, 'utf8').then(describeCertificate, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
  const [ca, cert] = await Promise.all([read(files.caCert), read(files.cert)]);
  if (!ca && !cert) throw new PosternError(ErrorCodes.NOT_FOUND, `no site certificate in ${dir}: \`postern tls create\` makes one`);
  const out = io.stdout;
  const now = Date.now();
  const describe = (title: string, file: string, info: CertificateInfo | undefined) => {
    if (!info) return out.write(`${title}: none (${file} is missing)\n`);
    const left = Math.floor((info.notAfter.getTime() - now) / 86_400_000);
    const state = left < 0 ? 'EXPIRED' : left < 30 ? `expires in ${left} days: renew it with \`postern tls create --force\`` : `${left} days left`;
    out.write(`${title}: ${file}\n  subject      ${info.subject}\n  valid        ${day(info.notBefore)} to ${day(info.notAfter)} (${state})\n  SHA-256      ${info.fingerprint256}\n`);
    if (info.hosts.length > 0) out.write(`  for          ${hostList(info)}\n`);
  };
  describe('CA', files.caCert, ca);
  describe('Certificate', files.cert, cert);
  const tls = config.api.tls;
  const named = tls && path.resolve(tls.cert) === files.cert && path.resolve(tls.key) === files.key;
  out.write(named ? 'The site file\'s api.tls names these files.\n' : `The site file's api.tls ${tls ? `names other files (${tls.cert})` : 'is not set'}: \`postern tls create --help\` says what to put there.\n`);
}

function fileLines(files: SiteCertificateFiles, caCreated: boolean): string {
  const rows: Array<[string, string]> = [
    [files.caCert, `the CA certificate (public; ${caCreated ? 'new: install it on each tablet, once' : 'kept: the tablets that trust it need nothing new'})`],
    [files.caKey, "the CA's key (secret, mode 0600: it signs the next certificate; never copy it to a tablet)"],
    [files.cert, 'the certificate (public)'],
    [files.key, 'its key (secret, mode 0600)'],
  ];
  const width = Math.max(...rows.map(([file]) => file.length));
  return rows.map(([file, what]) => `  ${file.padEnd(width)}  ${what}`).join('\n') + '\n';
}

function siteFileAdvice(config: SiteConfig, siteFile: string, files: SiteCertificateFiles): string {
  const tls = config.api.tls;
  const loopback = /^(127\.|::1$|localhost$)/.test(config.api.host);
  if (tls && path.resolve(path.dirname(siteFile), tls.cert) === files.cert && path.resolve(path.dirname(siteFile), tls.key) === files.key && !loopback) {
    return `The site file (${siteFile}) names these files already: restart postern to serve the new certificate.\n`;
  }
  const lines = ['api:'];
  // The default host answers this machine only: tablets on the network could not reach it.
  if (loopback) lines.push(`  host: 0.0.0.0        # every address of this machine, not ${config.api.host} only`);
  lines.push('  tls:', `    cert: ${files.cert}`, `    key: ${files.key}`);
  return `Put these lines in the site file (${siteFile}), in its api: section, then restart postern:\n\n${lines.map((l) => `    ${l}`).join('\n')}\n\nThe server then speaks only HTTPS and WSS, on the same port (${config.api.port}).\n`;
}

function tabletSteps(config: SiteConfig, files: SiteCertificateFiles, ca: CertificateInfo, host: string): string {
  const port = config.api.port === 443 ? '' : `:${config.api.port}`;
  return [
    `On each tablet, once: copy ${files.caCert} to it (USB, email, AirDrop, a file share) and install it as a CA,`,
    `checking that the fingerprint it shows is ${ca.fingerprint256.slice(0, 23)}...:`,
    '  Android: Settings > Security (& privacy) > More security settings > Encryption & credentials >',
    '    Install a certificate > CA certificate, then pick ca.crt.',
    '  iPadOS: open ca.crt (from Files, Mail or AirDrop) and allow the download, then Settings >',
    '    Profile Downloaded > Install; then Settings > General > About > Certificate Trust Settings:',
    '    turn on full trust for it.',
    `Then open the kiosk link that \`postern token create --role scanner\` prints, over HTTPS: https://${host}${port}/kiosk#token=...`,
    '',
  ].join('\n');
}

/** The name a tablet is likeliest to use: the first given, else the machine's first non-loopback one. */
function kioskHost(hosts: HostName[]): string {
  const outside = hosts.find((h) => !/^(localhost$|127\.|::1$)/.test(h.value)) ?? hosts[0];
  if (!outside) return 'HOST';
  return outside.type === 'ip' && outside.value.includes(':') ? `[${outside.value}]` : outside.value;
}

function hostList(info: CertificateInfo): string {
  return info.hosts.map((h) => h.replace(/^DNS:/, '').replace(/^IP Address:/, '')).join(', ');
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
