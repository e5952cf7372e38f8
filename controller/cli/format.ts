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

/** Door states in the words of the web UI (machines/doorStateWords.ts). */
export { STATE_WORDS, stateWord } from '../../machines/doorStateWords.ts';
