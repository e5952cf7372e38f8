/**
 * `postern enrol --hub URL --code CODE`: trades a one-time enrolment code (from `postern hub
 * controller add` or `rotate`) for this controller's hub credential (docs/sync.md, POST /enrol),
 * writes the credential where the controller reads it (hub.credentialFile, default beside the store,
 * mode 0600), and prints the `hub:` lines for the site file rather than editing it (the file is the
 * administrator's: comments, layout). Neither the code nor the credential is ever printed.
 */
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { makePrivateDir, writePrivateFile } from '../secureFiles.ts';
import { hubCredentialFile, hubHttpBase, readHubCa } from '../sync/hubAddress.ts';
import { requireString, type SiteOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { configPath, loadSiteConfig } from './siteFile.ts';
import { withAdminContext } from './cliContext.ts';
import { loadOrCreateSiteKey, replaceSiteKey } from '../issuing/siteKey.ts';

export interface EnrolOptions extends SiteOptions {
  hub?: string;
  code?: string;
  /** Take the site's issuing key even though this controller has issued links with its own (they stop working). */
  adoptSiteKey?: boolean;
}

/** The hub answers at once or not at all: a minute would only hide a wrong address. */
const ENROL_TIMEOUT_MS = 15_000;
/** An answer larger than this is no enrolment answer. */
const MAX_ANSWER_BYTES = 64 * 1024;

interface Enrolled {
  siteId: string;
  controllerId: string;
  credential: string;
  /** The site's issuing key, when this controller is to take it (siteKeyAgreement.ts). */
  adoptKey?: Buffer;
}

interface EnrolBody {
  code: string;
  siteKey: string;
  hasLinks: boolean;
  adopt: boolean;
}

export async function enrolCommand(values: EnrolOptions, io: CliEnvironment): Promise<void> {
  const code = requireString(values.code, 'code').trim();
  const config = loadSiteConfig(values.config, io.env);
  // A site file that names its hub already (a rotated credential) needs no --hub.
  const hub = values.hub ?? config.hub?.url;
  if (hub === undefined) throw new UsageError('missing --hub');
  if (!/^(wss?|https?):\/\/[^\s@/]+(\/\S*)?$/.test(hub)) throw new UsageError(`--hub must be the hub's http://, https://, ws:// or wss:// address without a user or password, not "${hub}"`);
  const file = hubCredentialFile(config);
  // The store is made here when the controller has not started yet: its issuing key is agreed on now.
  const enrolled = await withAdminContext(
    values.config,
    io.env,
    async (ctx) => {
      const siteKey = await loadOrCreateSiteKey(ctx.store);
      const hasLinks = (await ctx.store.listLinks({ includeRevoked: true, limit: 1 })).length > 0;
      const answer = await postEnrol(new URL('enrol', hubHttpBase(hub)), { code, siteKey: siteKey.toString('hex'), hasLinks, adopt: values.adoptSiteKey === true }, readHubCa(config.hub?.caFile));
      if (answer.adoptKey !== undefined) {
        await replaceSiteKey(ctx.store, answer.adoptKey);
        await ctx.audit.append({ type: 'operator', door: null, scanner: null, subject: null, kind: null, issuer: 0, verdict: null, reason: 'site.key.adopt', actor: ctx.actor, data: { siteId: answer.siteId, controllerId: answer.controllerId, linksVoided: hasLinks } });
      }
      return answer;
    },
    { create: true },
  );

  await makePrivateDir(path.dirname(file));
  await writePrivateFile(file, `${enrolled.credential}\n`);
  const lines = [
    `Enrolled as controller ${enrolled.controllerId} of site ${enrolled.siteId} on the hub.`,
    `The credential is in ${file} (mode 0600): keep it as carefully as the data directory.`,
    ...(enrolled.adoptKey !== undefined ? ["This controller now issues access links with the site's issuing key, so its links open every controller's doors of the site."] : []),
    `Add these lines to the site file ${configPath(values.config, io.env)}, then restart the controller:`,
    '',
    'hub:',
    `  url: ${hub}`,
    `  credentialFile: ${file}`,
    ...(config.hub?.caFile !== undefined ? [`  caFile: ${config.hub.caFile}`] : []),
    '',
  ];
  io.stdout.write(lines.join('\n'));
}

/** POST /enrol; the hub's refusals become messages that say what to do. */
function postEnrol(url: URL, offer: EnrolBody, ca: Buffer | undefined): Promise<Enrolled> {
  const body = JSON.stringify(offer);
  const where = url.origin;
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: ENROL_TIMEOUT_MS,
        // One request: a kept-alive socket of an earlier one would only turn "refused" into "hang up".
        agent: false,
        ...(ca !== undefined ? { ca } : {}),
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) response.destroy(new Error('the answer is too large'));
          else chunks.push(chunk);
        });
        response.on('error', (error) => reject(new PosternError(ErrorCodes.REQUEST_FAILED, `the hub at ${where} did not answer whole: ${error.message}`)));
        response.on('end', () => {
          try {
            resolve(enrolAnswer(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), where));
          } catch (error) {
            reject(error as Error);
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(Object.assign(new Error(`no answer within ${ENROL_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => {
      reject(new PosternError(ErrorCodes.REQUEST_FAILED, `cannot reach the hub at ${where}: ${error.message}`));
    });
    request.end(body);
  });
}

function enrolAnswer(status: number, text: string, where: string): Enrolled {
  if (status === 403) throw new PosternError(ErrorCodes.FORBIDDEN, 'the hub refused the enrolment code: it is unknown, used or expired (postern hub controller rotate makes a new one)');
  if (status === 409) throw new PosternError(ErrorCodes.CONFLICT, `the hub refused the enrolment: ${hubMessage(text) ?? 'this controller has links under another issuing key than its site'} (the code is still valid)`);
  if (status === 429) throw new PosternError(ErrorCodes.RATE_LIMITED, 'the hub refuses enrolments from this address for now (too many tries): wait a while and try again');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status !== 200) {
    const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    const said = typeof error?.message === 'string' ? `: ${typeof error.code === 'string' ? `${error.code}: ` : ''}${error.message}` : '';
    throw new PosternError(ErrorCodes.REQUEST_FAILED, `the hub at ${where} answered ${status}${said}`);
  }
  const answer = json as Partial<Enrolled> | undefined;
  if (typeof answer?.siteId !== 'string' || typeof answer.controllerId !== 'string' || typeof answer.credential !== 'string' || !/^\S+$/.test(answer.credential)) {
    throw new PosternError(ErrorCodes.REQUEST_FAILED, `the hub at ${where} answered 200 without a site, a controller and a credential: is it a Postern hub?`);
  }
  const siteKey = (answer as { siteKey?: { action?: unknown; key?: unknown } }).siteKey;
  if (siteKey?.action === 'adopt') {
    if (typeof siteKey.key !== 'string' || !/^[0-9a-f]{64}$/.test(siteKey.key)) throw new PosternError(ErrorCodes.REQUEST_FAILED, `the hub at ${where} told this controller to take a site key that is no key`);
    return { siteId: answer.siteId, controllerId: answer.controllerId, credential: answer.credential, adoptKey: Buffer.from(siteKey.key, 'hex') };
  }
  return { siteId: answer.siteId, controllerId: answer.controllerId, credential: answer.credential };
}

/** The message of a hub's `{error: {message}}` answer, if it is one. */
function hubMessage(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } } | null)?.error?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}
