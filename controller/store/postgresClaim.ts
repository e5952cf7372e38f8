/**
 * One controller per site on a PostgreSQL store: a session-level advisory lock, keyed by the site
 * id, taken with pg_try_advisory_lock (never waits) on a client of its own, held for as long as the
 * controller runs.
 *
 * - The server drops the lock when the session ends: a holder killed with kill -9 closes its socket
 *   and its lock goes at once. A holder whose machine lost power leaves a half-open connection: the
 *   claim's session asks the server for TCP keepalives (10 s idle, then 3 probes 5 s apart), so
 *   such a lock goes within about 25 s instead of the server's default of hours.
 * - Another session (another process, or another Store object of this process) gets false, and the
 *   refusal names the holder from pg_locks and pg_stat_activity: the claim's application_name
 *   carries its pid and host.
 * - When the claim's own connection is lost, the lock is gone with it: the store reports it
 *   (Store.onProblem, kind 'claim-lost') and claims again every few seconds until it has the lock
 *   back, or reports that another controller took it.
 * - Fencing: a controller that took the lock ends the server sessions of the controller process
 *   that held it before (its pool's sessions are named after that process, and the settings row
 *   `controller.holder.<site>` says which process it was). Without this, a write of a killed
 *   controller still in flight (stalled in the network, delivered by the dead process's kernel
 *   after the new controller started) could commit afterwards and take a seq the new controller
 *   also uses: the kill -9 soak with PostgreSQL connections stalled found that (an answered
 *   decision missing from the chain). A session ended by the server takes nothing more.
 */
import { createHash } from 'node:crypto';

import pg from 'pg';

import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { StoreClaim, StoreLogger } from './storeBackend.ts';
import type { StoreOperation } from './storeErrors.ts';
import { poolApplicationName, processTag } from './postgresSessionNames.ts';
import type { StoreProblems } from './storeProblems.ts';

const RECLAIM_EVERY_MS = 5000;
const KEEPALIVE_OPTIONS = '-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';

export interface PostgresClaimOptions {
  databaseUrl: string;
  /** host:port/database, for messages. */
  location: string;
  siteId: string;
  connectTimeoutMs: number;
  logger: StoreLogger | undefined;
  problems: StoreProblems;
  translate(error: unknown, op: StoreOperation): PosternError;
}

/** The advisory lock key of a site: the first 8 bytes of a sha256, as PostgreSQL's signed bigint. */
export function advisoryKey(siteId: string): { key: string; classid: number; objid: number } {
  const digest = createHash('sha256').update(`postern.controller:${siteId}`).digest();
  return { key: digest.readBigInt64BE(0).toString(), classid: digest.readUInt32BE(0), objid: digest.readUInt32BE(4) };
}

const APPLICATION = 'postern controller';

function holderSetting(siteId: string): string {
  return `controller.holder.${siteId}`;
}

async function connect(options: PostgresClaimOptions): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.databaseUrl,
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    application_name: `${APPLICATION} ${processTag()}`.slice(0, 63),
    options: KEEPALIVE_OPTIONS,
  });
  // Until the claim listens itself: an error of a client being set up must not end the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw options.translate(error, { what: 'claimController', write: false });
  }
  return client;
}

interface HolderRow {
  pid: number | null;
  application_name: string | null;
  client_addr: string | null;
  backend_start: Date | null;
}

async function describeHolder(client: pg.Client, siteId: string): Promise<{ text: string; holder?: HolderRow }> {
  const { classid, objid } = advisoryKey(siteId);
  try {
    const { rows } = await client.query<HolderRow>(
      `SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr, a.backend_start
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [String(classid), String(objid)],
    );
    const holder = rows[0];
    if (holder === undefined) return { text: 'its holder has just left; try again' };
    const named = holder.application_name?.startsWith(`${APPLICATION} `) ? holder.application_name.slice(APPLICATION.length + 1) : undefined;
    const [pid, host] = named?.split('@') ?? [];
    const who = pid !== undefined && host !== undefined ? `process ${pid} on ${host}` : `server process ${holder.pid ?? '?'}`;
    const from = holder.client_addr ? `, connected from ${holder.client_addr}` : '';
    const since = holder.backend_start ? ` since ${holder.backend_start.toISOString()}` : '';
    return { text: `held by ${who}${from}${since}`, holder };
  } catch {
    return { text: 'held by another session' };
  }
}

/** Takes the lock on a new client, or ends the client and throws STORE_IN_USE. */
async function lock(options: PostgresClaimOptions): Promise<pg.Client> {
  const client = await connect(options);
  const { key } = advisoryKey(options.siteId);
  let ok: boolean;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
    ok = rows[0]?.ok === true;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw options.translate(error, { what: 'claimController', write: false });
  }
  if (ok) {
    try {
      await fenceEarlierHolder(client, options);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw options.translate(error, { what: 'claimController', write: true });
    }
    return client;
  }
  const { text, holder } = await describeHolder(client, options.siteId);
  await client.end().catch(() => undefined);
  throw new PosternError(
    ErrorCodes.STORE_IN_USE,
    `another controller for site ${options.siteId} already runs on this store (PostgreSQL ${options.location}): its claim is ${text}`,
    { details: { dialect: 'postgres', location: options.location, siteId: options.siteId, holder } },
  );
}

/**
 * With the lock held: ends every session of the process that held this site's claim before (if
 * it was another process), then records this process as the holder.
 */
async function fenceEarlierHolder(client: pg.Client, options: PostgresClaimOptions): Promise<void> {
  const key = holderSetting(options.siteId);
  const me = processTag();
  const { rows } = await client.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]);
  const before = rows[0]?.value;
  if (before !== undefined && before !== me) {
    // Two steps: in one statement the server may call pg_terminate_backend before the other conditions.
    const { rows: sessions } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1',
      [poolApplicationName(before)],
    );
    let ended = 0;
    for (const { pid } of sessions) {
      const { rows: done } = await client.query<{ ok: boolean }>('SELECT pg_terminate_backend($1::int) AS ok', [pid]);
      if (done[0]?.ok === true) ended += 1;
    }
    if (ended > 0) {
      options.logger?.warn(
        { location: options.location, siteId: options.siteId, earlierHolder: before, sessions: ended },
        `ended ${ended} PostgreSQL session(s) of the controller that held site ${options.siteId} before (${before}), so that none of its writes still in flight can land after this start`,
      );
    }
  }
  await client.query('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, me]);
}

export async function claimPostgres(options: PostgresClaimOptions): Promise<StoreClaim> {
  let client: pg.Client | undefined = await lock(options);
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let reportedTaken = false;

  const reclaim = () => {
    timer = setTimeout(() => {
      if (released) return;
      lock(options).then(
        (fresh) => {
          if (released) {
            void fresh.end().catch(() => undefined);
            return;
          }
          hold(fresh);
          reportedTaken = false;
          options.logger?.info?.({ location: options.location, siteId: options.siteId }, `controller claim for site ${options.siteId} on ${options.location} is held again`);
        },
        (error: PosternError) => {
          if (error.code === ErrorCodes.STORE_IN_USE && !reportedTaken) {
            reportedTaken = true;
            options.problems.report('claim-lost', error);
          }
          reclaim();
        },
      );
    }, RECLAIM_EVERY_MS);
    timer.unref();
  };

  const hold = (held: pg.Client) => {
    client = held;
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost || released) return;
      lost = true;
      client = undefined;
      void held.end().catch(() => undefined);
      options.problems.report(
        'claim-lost',
        new PosternError(
          ErrorCodes.STORE_UNAVAILABLE,
          `the connection holding the controller claim for site ${options.siteId} on PostgreSQL ${options.location} was lost` +
            `${error ? ` (${error.message})` : ''}; until it is claimed again another controller could start on this store`,
          { cause: error, details: { dialect: 'postgres', location: options.location, siteId: options.siteId } },
        ),
      );
      reclaim();
    };
    held.on('error', onLost);
    held.on('end', () => onLost());
  };
  hold(client);

  return {
    siteId: options.siteId,
    async release() {
      if (released) return;
      released = true;
      clearTimeout(timer);
      const held = client;
      client = undefined;
      if (held === undefined) return;
      // Ending the session releases the lock; unlocking first makes it free before the socket closes.
      await held.query('SELECT pg_advisory_unlock($1::bigint)', [advisoryKey(options.siteId).key]).catch(() => undefined);
      await held.end().catch(() => undefined);
    },
  };
}
