import { NO_END } from '../credentials/credentialCodec.ts';
import { FIRST_DOOR_SET_SCOPE, type SiteConfig } from '../config/configSchema.ts';
import type { CredentialView, LinkView } from '../issuing/holderViews.ts';

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

/**
 * What a link or credential opens, by name: a scope of the site file as "everyone: Front door, Lab",
 * a door set (a link made with --doors) as its doors' names, "Lab".
 */
export function opensText(view: LinkView | CredentialView, doors: SiteConfig['doors']): string {
  if (view.scopeName === null) return `scope ${view.scope} (not a scope of this site)`;
  if (view.scope >= FIRST_DOOR_SET_SCOPE) return view.scopeName;
  return `${view.scopeName}: ${doors.filter((d) => view.doors.includes(d.id)).map((d) => d.name).join(', ')}`;
}

/** A status as a word, as the web UI says it: "not yet valid", "used up". */
export function statusText(view: LinkView | CredentialView): string {
  return view.status.replace(/-/g, ' ');
}
