/**
 * `postern hub audit tail|export|verify`: every site's audit trail as the hub holds it, read and
 * checked on the hub's database (--database-url, default $DATABASE_URL). The lines, the CSV and the
 * exit status are those of `postern audit tail|export|verify`, with the site and the hub's
 * controller id added.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

import { AUDIT_CSV_HEADER, auditCsvLine } from '../audit/auditCsv.ts';
import { auditEvents, auditTail, chainHeads, type HubAuditScope, type HubChainHead, verifyHubChain } from '../hub/hubAuditReader.ts';
import { intFlag } from './args.ts';
import { formatEvent } from './auditCommands.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withHubDatabase } from './hubDatabaseOption.ts';
import { AuditBrokenError, UsageError } from './cliErrors.ts';
import { formatMs } from './format.ts';

interface HubAuditOptions {
  databaseUrl?: string;
  site?: string;
  controller?: string;
}


function scopeOf(values: HubAuditOptions): HubAuditScope {
  return { siteId: values.site, controllerId: values.controller };
}

/** The newest events the hub holds, oldest first, each line `SITE CONTROLLER` and the line of `postern audit tail`. */
export async function hubAuditTail(values: HubAuditOptions & { n?: string }, io: CliEnvironment): Promise<void> {
  const count = intFlag(values.n, 'n') ?? 20;
  if (count < 1) throw new UsageError(`-n is at least 1, not ${count}`);
  await withHubDatabase(values, io, async (db) => {
    const scope = scopeOf(values);
    await chainHeads(db, scope); // an unknown site or controller is an error, not an empty tail
    const events = await auditTail(db, scope, count);
    for (const e of events) io.stdout.write(`${e.siteId} ${e.hubControllerId} ${formatEvent(e)}\n`);
    if (events.length === 0) io.stderr.write('postern: no audit events at the hub yet\n');
  });
}

/** CSV: the columns of `postern audit export --csv` after siteId and hubControllerId (both plain ids: no quoting needed). */
export const HUB_AUDIT_CSV_HEADER = `siteId,hubControllerId,${AUDIT_CSV_HEADER}`;

/** Every event of the site's controllers in (controller, seq) order, as CSV (default) or JSON lines, written as read. */
export async function hubAuditExport(values: HubAuditOptions & { csv?: boolean; jsonl?: boolean; out?: string }, io: CliEnvironment): Promise<void> {
  if (values.csv && values.jsonl) throw new UsageError('give --csv or --jsonl, not both');
  const jsonl = values.jsonl === true;
  await withHubDatabase(values, io, async (db) => {
    const scope = scopeOf(values);
    await chainHeads(db, scope);
    // Opened once the site is known: an unknown one leaves no empty file behind.
    const out = values.out === undefined ? io.stdout : createWriteStream(values.out);
    try {
      const write = async (line: string) => {
        if (!out.write(line)) await once(out, 'drain');
      };
      if (!jsonl) await write(HUB_AUDIT_CSV_HEADER + '\r\n');
      for await (const e of auditEvents(db, scope)) {
        if (jsonl) {
          const { siteId, hubControllerId, ...event } = e;
          await write(JSON.stringify({ ...event, siteId, hubControllerId }) + '\n');
        } else {
          await write(`${e.siteId},${e.hubControllerId},${auditCsvLine(e)}\r\n`);
        }
      }
    } finally {
      if (out !== io.stdout) {
        out.end();
        await once(out, 'finish');
      }
    }
  });
}

function flag(head: HubChainHead): string {
  return `FLAGGED: ${head.problem} at seq ${head.problemSeq ?? '?'} (${formatMs(head.flaggedAt)})`;
}

/**
 * Every chain the hub holds (of a site, of one controller), recomputed against the head the hub
 * keeps: `ok <seq>` or its problems, and the flag an upload or a hello left. Exit 3 (as `postern
 * audit verify`) when any chain is broken or any controller flagged.
 */
export async function hubAuditVerify(values: HubAuditOptions, io: CliEnvironment): Promise<void> {
  const failed = await withHubDatabase(values, io, async (db) => {
    const heads = await chainHeads(db, scopeOf(values));
    if (heads.length === 0) io.stderr.write('postern: no controllers at the hub yet\n');
    let bad = 0;
    for (const head of heads) {
      const { report, lastSeq } = await verifyHubChain(db, head);
      const name = `${head.siteId} ${head.controllerId} (chain ${head.chain ?? 'none yet'})`;
      if (report.ok && head.problem === null) {
        io.stdout.write(`${name}: ok ${lastSeq}\n`);
        continue;
      }
      bad++;
      if (report.ok) io.stdout.write(`${name}: chain intact to seq ${lastSeq}, ${flag(head)}\n`);
      else {
        io.stdout.write(`${name}: ${report.checked} events, ${report.problems.length} problem(s)${head.problem === null ? '' : `, ${flag(head)}`}\n`);
        for (const p of report.problems) io.stdout.write(`  event #${p.seq}: ${p.problem}: ${p.detail}\n`);
      }
    }
    return bad;
  });
  if (failed > 0) throw new AuditBrokenError(`${failed} controller(s) failed verification or are flagged`);
}
