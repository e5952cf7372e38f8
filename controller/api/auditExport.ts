/**
 * GET /audit/export: the audit trail over HTTP, for systems that fetch a file rather than hold a
 * socket (a SIEM, a nightly job): CSV (the format of `postern audit export --csv`) or JSON lines
 * (one audit event per line, with the holder's and partner's names, as the API answers them).
 * A token in the Authorization header, role viewer or above.
 *
 * The answer streams page by page and waits for the client to read (backpressure), so an export
 * of millions of events costs a page of memory; its pages wait their turn in the API's read
 * budget like any other read; at most MAX_EXPORTS run at once, site-wide.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { once } from 'node:events';
import { roleAtLeast, type Principal } from '../accounts/accountTypes.ts';
import { AUDIT_CSV_HEADER, auditCsvLine } from '../audit/auditCsv.ts';
import type { HolderNames } from '../issuing/holderNames.ts';
import type { AuditQuery, Store } from '../store/storeTypes.ts';
import type { Logger } from '../../machines/shared/logger.ts';
import { headerBearerToken, type HttpRoute } from './apiServer.ts';
import type { ReadBudget } from './readBudget.ts';

export const AUDIT_EXPORT_PATH = '/audit/export';
const PAGE = 1000;
const MAX_EXPORTS = 2;

export interface AuditExportDependencies {
  controllerId: string;
  store: Pick<Store, 'queryAudit'>;
  names: HolderNames;
  /** The API's site-wide read budget: an export is paced like any other read. */
  readBudget: ReadBudget;
  authenticate(token: string): Promise<Principal | undefined>;
  logger: Logger;
}

export function auditExportRoute(deps: AuditExportDependencies): HttpRoute {
  let running = 0;
  return {
    path: AUDIT_EXPORT_PATH,
    async handle(req, res) {
      const reply = (status: number, text: string): void => void res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${text}\n`);
      if (req.method !== 'GET') return reply(405, 'method not allowed: GET');
      // The token in the header only: a URL ends up in logs and browser history.
      const token = headerBearerToken(req);
      if (token === undefined) return reply(401, 'unauthorized: send Authorization: Bearer <token>');
      const principal = await deps.authenticate(token).catch(() => null);
      if (principal === null) return reply(503, 'store unavailable: cannot check the token');
      if (principal === undefined) return reply(401, 'unauthorized: unknown or revoked token');
      if (principal.role === 'scanner' || !roleAtLeast(principal.role, 'viewer')) return reply(403, 'forbidden: needs the viewer role');
      const parsed = parseQuery(req, deps.controllerId);
      if (typeof parsed === 'string') return reply(400, parsed);
      if (running >= MAX_EXPORTS) return reply(429, `too many exports at once (at most ${MAX_EXPORTS}): try again when one has ended`);
      running++;
      try {
        await stream(res, parsed, deps);
      } finally {
        running--;
      }
    },
  };
}

interface ExportQuery {
  format: 'csv' | 'jsonl';
  query: AuditQuery & { controllerId: string };
}

function parseQuery(req: IncomingMessage, controllerId: string): ExportQuery | string {
  const params = new URL(req.url ?? '/', 'http://x').searchParams;
  const known = new Set(['format', 'controllerId', 'since', 'until', 'door', 'verdict', 'afterSeq']);
  for (const key of params.keys()) if (!known.has(key)) return `unknown parameter "${key}": use ${[...known].join(', ')}`;
  const format = params.get('format') ?? 'jsonl';
  if (format !== 'csv' && format !== 'jsonl') return 'format: csv or jsonl';
  const query: ExportQuery['query'] = { controllerId: params.get('controllerId') ?? controllerId, order: 'asc' };
  for (const key of ['since', 'until', 'afterSeq'] as const) {
    const value = params.get(key);
    if (value === null) continue;
    if (!/^\d{1,15}$/.test(value)) return `${key}: a whole number`;
    query[key] = Number(value);
  }
  const door = params.get('door');
  if (door !== null) query.door = door.slice(0, 64);
  const verdict = params.get('verdict');
  if (verdict !== null) {
    if (verdict !== 'grant' && verdict !== 'deny') return 'verdict: grant or deny';
    query.verdict = verdict;
  }
  return { format, query };
}

async function stream(res: ServerResponse, { format, query }: ExportQuery, deps: AuditExportDependencies): Promise<void> {
  const name = `postern-audit-${query.controllerId.replace(/[^A-Za-z0-9_-]/g, '_')}.${format === 'csv' ? 'csv' : 'jsonl'}`;
  res.writeHead(200, {
    'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'content-disposition': `attachment; filename="${name}"`,
    'cache-control': 'no-store',
  });
  const write = async (text: string): Promise<boolean> => {
    if (res.destroyed) return false;
    if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    return !res.destroyed;
  };
  if (format === 'csv' && !(await write(AUDIT_CSV_HEADER + '\r\n'))) return;
  let afterSeq = query.afterSeq ?? 0;
  for (;;) {
    let page;
    try {
      await deps.readBudget.take(PAGE);
      page = await deps.store.queryAudit({ ...query, afterSeq, limit: PAGE });
    } catch (error) {
      // Headers are sent: an export cut short ends without its last line; the client sees a short file.
      deps.logger.warn({ err: error }, 'audit export ended early: the store failed');
      res.destroy();
      return;
    }
    if (page.length === 0) break;
    const lines = format === 'csv' ? page.map((e) => auditCsvLine(e) + '\r\n') : (await deps.names.name(page)).map((e) => JSON.stringify(e) + '\n');
    if (!(await write(lines.join('')))) return;
    afterSeq = page.at(-1)!.seq;
    if (page.length < PAGE) break;
  }
  res.end();
}
