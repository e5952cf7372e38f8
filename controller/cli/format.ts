import type { DoorStateValue } from '../../machines/doorMachine.ts';
import { NO_END } from '../credentials/credentialCodec.ts';

export function formatUnixSeconds(seconds: number): string {
  return seconds === NO_END ? 'no end' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function formatMs(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

/** Rows as aligned columns, the first row the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** A list command's output: the records as JSON with --json (for scripts), else a table of `header` and one row a record. */
export function writeList<T>(out: NodeJS.WritableStream, json: boolean | undefined, records: T[], header: string[], row: (record: T) => string[]): void {
  out.write(json ? JSON.stringify(records, null, 2) + '\n' : table([header, ...records.map(row)]));
}

/**
 * Door states as the web UI names them (webui/src/format.js, stateWord): 'heldOpen' is 'held open'.
 * Every state a door shows ('admitting' is shown as the state it admits from).
 */
export const STATE_WORDS: Readonly<Record<Exclude<DoorStateValue, 'admitting'>, string>> = {
  secured: 'secured',
  unlocked: 'unlocked',
  open: 'open',
  heldOpen: 'held open',
  forcedOpen: 'forced open',
  lockdown: 'lockdown',
  passage: 'passage',
  fault: 'I/O fault',
  stopped: 'stopped',
};

export function stateWord(state: string): string {
  return Object.hasOwn(STATE_WORDS, state) ? STATE_WORDS[state as keyof typeof STATE_WORDS] : state;
}
