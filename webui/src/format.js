/** Formatting helpers: durations, times, audit events, CSV. */
import { stateWord } from '../../machines/doorStateWords.ts';

export function ago(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d`;
}

const pad = (n) => String(n).padStart(2, '0');

export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** unix seconds of a link's window; 4294967295 means no end */
export function linkTime(seconds) {
  return seconds >= 4294967295 ? 'no end' : dateTime(seconds * 1000);
}

/** Door states in the same words as the command line (machines/doorStateWords.ts). */
export { stateWord };

/** A code a partner's webhook decided: the holder it named, and its reason or failure detail. */
function delegatedWho(delegation) {
  if (!delegation) return null;
  const why = delegation.reason ?? delegation.detail;
  return `partner webhook${delegation.subjectName ? `: ${delegation.subjectName}` : ''}${why ? ` (${why})` : ''}`;
}

/** One line for an audit event: what happened (without where and when). */
export function describeEvent(e) {
  switch (e.type) {
    case 'decision': {
      const who = e.subject ? `${e.kind ?? 'code'} ${e.subject}${e.issuer ? ` (partner ${e.issuer})` : ''}` : delegatedWho(e.data?.delegation);
      if (e.verdict === 'grant') return `granted: ${who ?? 'code'}`;
      return `denied: ${e.reason ?? 'no reason'}${who ? `, ${who}` : ''}`;
    }
    case 'door':
      return `${e.data?.from ? `${stateWord(e.data.from)} → ` : ''}${stateWord(e.reason)}`;
    case 'operator': {
      const seconds = e.data?.seconds !== undefined ? ` ${e.data.seconds} s` : '';
      return `${e.reason}${seconds}${e.actor ? ` by ${e.actor}` : ''}`;
    }
    case 'system':
      return `controller ${e.reason}`;
    default:
      return `${e.type} ${e.reason ?? ''}`;
  }
}

const CSV_COLUMNS = ['controllerId', 'seq', 'at', 'time', 'type', 'door', 'scanner', 'subject', 'kind', 'issuer', 'verdict', 'reason', 'actor', 'data', 'hash'];

function csvCell(value) {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  // Spreadsheets run cells that start like a formula: keep them text.
  if (/^[=+\-@\t\r]/.test(text) && typeof value !== 'number') text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader() {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvRow(e) {
  return CSV_COLUMNS.map((c) => csvCell(c === 'time' ? new Date(e.at).toISOString() : e[c])).join(',') + '\r\n';
}

/** Saves a Blob as a file through a temporary link. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function errorText(error) {
  if (!error) return '';
  const field = error.data?.field ? ` (${error.data.field})` : '';
  return `${error.message ?? String(error)}${field && !String(error.message).startsWith(error.data.field) ? field : ''}`;
}
