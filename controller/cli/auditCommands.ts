import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { verifyChain } from '../audit/auditChain.ts';
import { AUDIT_CSV_HEADER, auditCsvLine } from '../audit/auditCsv.ts';
import { type AuditHead, checkAnchor, formatHeads, formatHeadsJson, parseAnchor, readHeads } from '../audit/auditHead.ts';
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import { HolderNames, type NamedAuditEvent } from '../issuing/holderNames.ts';
import type { AuditEvent } from '../store/storeTypes.ts';
import { intFlag, opening, type StoreOptions } from './args.ts';
import type { CliEnvironment } from './cliContext.ts';
import { withReadContext } from './cliContext.ts';
import { AuditBrokenError, UsageError } from './cliErrors.ts';
import { stateWord } from './format.ts';

/** The options of every audit command: one chain only, or all. */
interface AuditOptions extends StoreOptions {
  controller?: string;
}


export function formatEvent(e: AuditEvent & Partial<Pick<NamedAuditEvent, 'holder' | 'partner'>>): string {
  const parts = [new Date(e.at).toISOString(), `${e.controllerId}#${e.seq}`, e.type];
  if (e.door) parts.push(`door=${e.door}`);
  if (e.scanner) parts.push(`scanner=${e.scanner}`);
  if (e.verdict) parts.push(e.verdict.toUpperCase());
  // A door event's reason is the door's new state: in the words of the web UI ('held open').
  if (e.reason) parts.push(e.type === 'door' ? stateWord(e.reason) : e.reason);
  if (e.subject) parts.push(`subject=${e.issuer ? `${e.issuer}:` : ''}${e.subject}`);
  // Quoted as JSON: a name is any text, and one line must stay one event.
  if (e.partner) parts.push(`partner=${JSON.stringify(e.partner)}`);
  if (e.holder) parts.push(`holder=${JSON.stringify(e.holder)}`);
  if (e.actor) parts.push(`by=${e.actor}`);
  return parts.join(' ');
}

export async function tail(values: AuditOptions & { n?: string; follow?: boolean }, io: CliEnvironment): Promise<void> {
  const count = intFlag(values.n, 'n') ?? 20;
  await withReadContext(values.config, io.env, async (ctx) => {
    const names = new HolderNames(ctx.store);
    const latest = await names.name(await ctx.store.queryAudit({ controllerId: values.controller, limit: count, order: 'desc' }));
    latest.reverse().forEach((e) => io.stdout.write(formatEvent(e) + '\n'));
    if (!values.follow) return;
    // Follow by time: events of every chain, polled; the newest seen per chain is remembered.
    const seen = new Map<string, number>();
    for (const e of latest) seen.set(e.controllerId, Math.max(seen.get(e.controllerId) ?? 0, e.seq));
    let since = latest.at(-1)?.at ?? Date.now();
    let stopped = false;
    const stop = () => (stopped = true);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    while (!stopped) {
      await sleep(500);
      const fresh = await names.name(await ctx.store.queryAudit({ controllerId: values.controller, since, limit: 1000, order: 'asc' }));
      for (const e of fresh) {
        if (e.seq <= (seen.get(e.controllerId) ?? 0)) continue;
        seen.set(e.controllerId, e.seq);
        since = Math.max(since, e.at);
        io.stdout.write(formatEvent(e) + '\n');
      }
    }
  }, opening(values));
}

export async function exportCsv(values: AuditOptions & { csv?: boolean; out?: string }, io: CliEnvironment): Promise<void> {
  if (!values.csv) throw new UsageError('audit export writes CSV: add --csv');
  await withReadContext(values.config, io.env, async (ctx) => {
    // Opened only once the store is: a site that fails to load leaves no empty file behind.
    const out = values.out === undefined ? io.stdout : createWriteStream(values.out);
    try {
      const write = async (line: string) => {
        if (!out.write(line + '\r\n')) await once(out, 'drain');
      };
      await write(AUDIT_CSV_HEADER);
      const controllers = values.controller ? [values.controller] : await ctx.store.auditControllers();
      for (const controller of controllers) {
        for await (const event of ctx.store.iterateAudit(controller)) {
          await write(auditCsvLine(event));
        }
      }
    } finally {
      // The file is complete on disk before the store closes (and before the command returns).
      if (out !== io.stdout) {
        out.end();
        await once(out, 'finish');
      }
    }
  }, opening(values));
}

/**
 * Each chain's newest seq and hash, to keep somewhere else as an anchor for `verify --anchor`
 * (the format is in audit/auditHead.ts and docs).
 */
export async function head(values: AuditOptions & { json?: boolean }, io: CliEnvironment): Promise<void> {
  const heads = await withReadContext(values.config, io.env, (ctx) => readHeads(ctx.store, values.controller), opening(values));
  if (values.controller !== undefined && heads.length === 0) throw new PosternError(ErrorCodes.NOT_FOUND, `no audit chain "${values.controller}"`);
  io.stdout.write(values.json ? formatHeadsJson(heads, Date.now()) : formatHeads(heads));
  if (heads.length === 0 && !values.json) io.stderr.write('postern: no audit events yet\n');
}

export async function verify(values: AuditOptions & { anchor?: string }, io: CliEnvironment): Promise<void> {
  // The anchor is read before the store is opened: a wrong path or a broken file checks nothing.
  const anchors = values.anchor === undefined ? undefined : await readAnchor(values.anchor, values.controller);
  const broken = await withReadContext(values.config, io.env, async (ctx) => {
    const failed = new Set<string>();
    const stored = values.controller ? [values.controller] : await ctx.store.auditControllers();
    // The chains in the store, and those the anchor names that the store has lost.
    const controllers = [...new Set([...stored, ...(anchors ?? []).map((a) => a.controllerId)])].sort();
    for (const controller of controllers) {
      if (stored.includes(controller)) {
        const report = await verifyChain(ctx.store.iterateAudit(controller));
        if (report.ok) {
          io.stdout.write(`${controller}: ${report.checked} events, chain intact\n`);
        } else {
          failed.add(controller);
          io.stdout.write(`${controller}: ${report.checked} events, ${report.problems.length} problem(s)\n`);
          for (const p of report.problems) io.stdout.write(`  event #${p.seq}: ${p.problem}: ${p.detail}\n`);
        }
      }
      if (anchors === undefined) continue;
      const mine = anchors.filter((a) => a.controllerId === controller);
      if (mine.length === 0) io.stdout.write(`${controller}: not in the anchor\n`);
      for (const anchor of mine) {
        const check = await checkAnchor(ctx.store, anchor);
        if (!check.ok) failed.add(controller);
        io.stdout.write(`${controller}: anchor ${check.ok ? 'ok' : `FAILED (${check.status})`}: ${check.detail}\n`);
      }
    }
    return failed.size;
  }, opening(values));
  // Thrown once the store is closed: every chain is reported first, then the exit status says so.
  if (broken > 0) throw new AuditBrokenError(`${broken} audit chain(s) failed verification`);
}

/** The anchor file's heads; with --controller, only that chain's (none is a usage error). */
async function readAnchor(file: string, controller: string | undefined): Promise<AuditHead[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `--anchor: cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const heads = parseAnchor(text, file);
  if (controller === undefined) return heads;
  const mine = heads.filter((h) => h.controllerId === controller);
  if (mine.length === 0) throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `--anchor: ${file} has no line for chain "${controller}"`);
  return mine;
}

