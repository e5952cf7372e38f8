/** The soak's results as Markdown, to paste into docs/reliability.md. */
import type { FuzzResult } from './fuzz.ts';
import type { KillLoopResult } from './killLoop.ts';
import type { RacingResult } from './racing.ts';
import { percentile, seconds, summarize } from './stats.ts';

const storeName = (s: string) => (s === 'sqlite' ? 'SQLite' : 'PostgreSQL');
const n = (v: number) => v.toLocaleString('en-US');
const ms = (v: number | undefined) => (v === undefined ? '-' : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`);

export function killLoopTable(results: KillLoopResult[]): string {
  const rows = results.map((r) =>
    [
      storeName(r.store),
      `${n(r.kills)} (${n(r.killsUnderLoad)} under load${r.killsInFault.total > 0 ? ` (${r.killsInFault.total} of them while the store failed: ${r.killsInFault})` : ''}, ${n(r.killsDuringStart)} while starting)`,
      `${n(r.starts)}; p50 ${ms(percentile(r.startMs, 50))}, max ${ms(r.startMs.length ? Math.max(...r.startMs) : undefined)}`,
      `${n(r.reads.sent)} / ${n(r.reads.answered)} / ${n(r.reads.lostInKill)}`,
      `${n(r.grantsAnswered)} / ${n(r.grantsVerified)}${r.grantsLost > 0 ? ` (**${n(r.grantsLost)} lost**)` : ''}`,
      `${n(r.deniesAnswered)} / ${n(r.deniesVerified)}${r.deniesLost > 0 ? ` (${n(r.deniesLost)} answered while the store failed, lost)` : ''}`,
      `${n(r.rescans.checked)}: ${r.rescans.reasons}`,
      `${n(r.doorChecks)}`,
      `${n(r.auditEvents)} (${n(r.startedEvents)} starts)`,
      r.verify.split('\n')[0] ?? '',
      `${n(r.failures.total)}`,
      seconds(r.durationMs),
    ].join(' | '),
  );
  return [
    '| store | kills | starts (spawn to API up) | reads sent / answered / lost in the kill | grants answered / found once at their seq | denials answered / found | grants re-scanned after the restart | door checks, all secured | audit events read | `postern audit verify` | failures | duration |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

export function racingTable(results: RacingResult[]): string {
  const rows = results.map((r) =>
    [
      storeName(r.store),
      `${n(r.pairs)} (${r.byKind})`,
      n(r.oneGrant),
      `**${n(r.doubleGrants)}**`,
      r.noGrant.total === 0 ? '0' : `${n(r.noGrant.total)}: ${r.noGrant}`,
      `${r.loserReasons}`,
      `${n(r.wonByFirstSent)} (${((r.wonByFirstSent / Math.max(1, r.oneGrant)) * 100).toFixed(0)} %)`,
      summarize(r.pairMs),
      `${n(r.decisionsVerified)} of ${n(r.pairs * 2)}`,
      r.verify.split('\n')[0] ?? '',
      n(r.failures.total),
      `${seconds(r.durationMs)} (race ${seconds(r.raceMs)})`,
    ].join(' | '),
  );
  return [
    '| store | pairs (by kind of code) | exactly one grant | granted twice | granted on neither | the loser was denied | won by the read sent first | both answers in | decisions found in the audit | `postern audit verify` | failures | duration |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

export function fuzzTable(results: FuzzResult[]): string {
  const rows = results.map((r) =>
    [
      storeName(r.store),
      n(r.cases),
      `${r.answers}`,
      `${n(r.grants)} (${n(r.validCases)} cases were valid codes)`,
      n(r.ambiguous),
      `${n(r.decisionsVerified)}`,
      summarize(r.readMs),
      `${n(r.probe.granted)}/${n(r.probe.sent)} granted, ${summarize(r.probe.ms)}; /healthz ${summarize(r.probe.healthMs)}`,
      `${n(Math.round(r.casesPerSecond))}/s`,
      r.verify.split('\n')[0] ?? '',
      n(r.failures.total),
      seconds(r.durationMs),
    ].join(' | '),
  );
  const generators = results.map((r) => `- ${storeName(r.store)} (seed ${r.seed}): ${r.byGenerator}`).join('\n');
  return [
    '| store | cases | answers | grants | cases the spec leaves open | decisions found in the audit | read latency | probe (a fresh valid code every 0.5 s) | rate | `postern audit verify` | failures | duration |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r} |`),
    '',
    'Cases by generator:',
    '',
    generators,
  ].join('\n');
}

export function failureList(title: string, results: Array<{ store: string; seed: number; failures: { total: number; list: string[] }; warnings: { total: number; toString(): string } }>): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.warnings.total > 0) lines.push(`- ${title}, ${storeName(r.store)}: controller warnings: ${r.warnings}`);
    if (r.failures.total === 0) continue;
    lines.push(`- ${title}, ${storeName(r.store)} (seed ${r.seed}): ${r.failures.total} failure(s); the first:`);
    for (const f of r.failures.list.slice(0, 10)) lines.push(`  - ${f.split('\n')[0]!.slice(0, 400)}`);
  }
  return lines.join('\n');
}
