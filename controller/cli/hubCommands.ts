/**
 * `postern hub ...`: runs a hub and manages what it serves (docs/sync.md). Every command works on
 * the hub's PostgreSQL database (--database-url, default $DATABASE_URL) and migrates it first; the
 * admin commands need no hub running, and every running hub hears of what they change.
 */
import { HubAdmin, type ControllerStatus } from '../hub/hubAdmin.ts';
import { requireDatabaseUrl } from '../hub/hubDatabase.ts';
import { Hub } from '../hub/hubServer.ts';
import { createCliLogger, type LogFormat } from '../logger.ts';
import { intFlag } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { UsageError } from './cliErrors.ts';
import { formatMs, table } from './format.ts';
import { listenForStop } from './stopSignal.ts';

interface HubOptions {
  databaseUrl?: string;
}

function databaseUrl(values: HubOptions, io: CliEnvironment): string {
  try {
    return requireDatabaseUrl(values.databaseUrl ?? io.env.DATABASE_URL);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function withAdmin<T>(values: HubOptions, io: CliEnvironment, work: (admin: HubAdmin) => Promise<T>): Promise<T> {
  const admin = await HubAdmin.open(databaseUrl(values, io));
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

/** Runs a hub until SIGINT or SIGTERM. */
export async function hubServe(
  values: HubOptions & { port?: string; host?: string; tlsCert?: string; tlsKey?: string; logFormat?: LogFormat },
  io: CliEnvironment,
  signals: NodeJS.EventEmitter = process,
): Promise<void> {
  const url = databaseUrl(values, io);
  const port = intFlag(values.port, 'port') ?? 8450;
  if (port > 65535) throw new UsageError(`--port is 0 to 65535, not ${port}`);
  if ((values.tlsCert === undefined) !== (values.tlsKey === undefined)) throw new UsageError('give --tls-cert and --tls-key together');
  const tls = values.tlsCert !== undefined && values.tlsKey !== undefined ? { cert: values.tlsCert, key: values.tlsKey } : undefined;
  const stop = listenForStop(signals, (line) => io.stdout.write(line + '\n'), 'hub');
  const logger = await createCliLogger('info', values.logFormat, io.stderr);
  const hub = new Hub({ databaseUrl: url, port, host: values.host ?? '0.0.0.0', tls, logger });
  await hub.start();
  stop.started();
  const address = hub.address();
  const scheme = tls === undefined ? 'http' : 'https';
  io.stdout.write(`Postern hub on ${scheme}://${address.host}:${address.port}: POST /enrol, GET /sync and GET /api (WebSockets). Press Ctrl+C to stop.\n`);
  const signal = await stop.asked;
  io.stdout.write(`${signal}: stopping\n`);
  await hub.stop();
  io.stdout.write('stopped\n');
}

export async function hubSiteAdd(values: HubOptions & { id: string; name?: string }, io: CliEnvironment): Promise<void> {
  await withAdmin(values, io, async (admin) => {
    await admin.addSite(values.id, values.name ?? values.id);
    io.stdout.write(`Site ${values.id} added. Next: postern hub controller add ${values.id} --name NAME\n`);
  });
}

function writeCode(io: CliEnvironment, issued: { controllerId: string; siteId: string; code: string; expiresAt: number }, what: string): void {
  io.stdout.write(
    `${what} ${issued.controllerId} of site ${issued.siteId}\n` +
      `enrolment code: ${issued.code}\n` +
      `It works once, until ${formatMs(issued.expiresAt)}. On the site: postern enrol --hub https://HUB:PORT --code ${issued.code}\n`,
  );
}

export async function hubControllerAdd(values: HubOptions & { site: string; name?: string }, io: CliEnvironment): Promise<void> {
  await withAdmin(values, io, async (admin) => writeCode(io, await admin.addController(values.site, values.name ?? 'controller'), 'Controller'));
}

export async function hubControllerRotate(values: HubOptions & { id: string }, io: CliEnvironment): Promise<void> {
  await withAdmin(values, io, async (admin) => {
    writeCode(io, await admin.rotateController(values.id), 'New enrolment code for controller');
    io.stdout.write('Its current credential keeps working until this code is used; earlier unused codes no longer work.\n');
  });
}

export async function hubControllerRevoke(values: HubOptions & { id: string }, io: CliEnvironment): Promise<void> {
  await withAdmin(values, io, async (admin) => {
    const revoked = await admin.revokeController(values.id);
    io.stdout.write(revoked ? `Controller ${values.id} revoked: its link is closed and it is refused from now on\n` : `Controller ${values.id} was revoked already\n`);
  });
}

export async function hubRevoke(values: HubOptions & { site: string; subject: string; issuer?: string; reason?: string }, io: CliEnvironment): Promise<void> {
  const issuer = intFlag(values.issuer, 'issuer') ?? 0;
  await withAdmin(values, io, async (admin) => {
    const result = await admin.revokeSubject(values.site, issuer, values.subject, values.reason ?? null);
    io.stdout.write(
      result.created
        ? `Subject ${values.subject} of issuer ${issuer} revoked at site ${values.site} (change ${result.cursor}): sent to its connected controllers now\n`
        : `Subject ${values.subject} of issuer ${issuer} was revoked at site ${values.site} already\n`,
    );
  });
}

function state(c: ControllerStatus): string {
  if (c.revokedAt !== null) return `revoked ${formatMs(c.revokedAt)}`;
  if (c.problem !== null) return `FLAGGED: ${c.problem} at seq ${c.problemSeq} (${formatMs(c.flaggedAt)})`;
  if (c.enrolledAt === null) return 'not enrolled';
  return 'ok';
}

export async function hubStatus(values: HubOptions & { site?: string; json?: boolean }, io: CliEnvironment): Promise<void> {
  await withAdmin(values, io, async (admin) => {
    const sites = await admin.status(values.site);
    if (values.json) {
      io.stdout.write(JSON.stringify(sites, null, 2) + '\n');
      return;
    }
    if (sites.length === 0) io.stdout.write('No sites at this hub yet: postern hub site add ID\n');
    for (const site of sites) {
      io.stdout.write(`Site ${site.id} (${site.name}): ${site.revocations} revocation(s), change cursor ${site.cursor}\n`);
      const rows = site.controllers.map((c) => [c.controllerId, c.name, c.chain ?? '', formatMs(c.lastSeenAt), String(c.auditSeq), state(c)]);
      io.stdout.write(table([['CONTROLLER', 'NAME', 'CHAIN', 'LAST SEEN', 'AUDIT SEQ', 'STATE'], ...rows]));
    }
  });
}
