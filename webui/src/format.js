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

/** A link's or credential's status (docs/api.md) in words. */
const STATUS_WORDS = { active: 'active', 'not-yet-valid': 'not yet valid', expired: 'expired', revoked: 'revoked', 'used-up': 'used up' };

export function statusWord(status) {
  return STATUS_WORDS[status] ?? status;
}

/**
 * A link's status: the controller's when it says it, else worked out from the link's fields the
 * same way, in the same order (a controller older than the status field).
 */
export function linkStatus(link, nowMs = Date.now()) {
  if (link.status) return link.status;
  if (link.revokedAt) return 'revoked';
  if (link.maxUses && link.uses >= link.maxUses) return 'used-up';
  const now = nowMs / 1000;
  if (link.notBefore > now) return 'not-yet-valid';
  if (link.notAfter < 4294967295 && link.notAfter < now) return 'expired';
  return 'active';
}

/** Door states in the same words as the command line (machines/doorStateWords.ts). */
export { stateWord };

/**
 * A code a partner's webhook decided: the holder it named (or the name the controller kept for
 * it), the partner when known, and the webhook's reason or failure detail.
 */
function delegatedWho(e) {
  const delegation = e.data?.delegation;
  if (!delegation) return null;
  const name = delegation.subjectName ?? e.holder;
  const why = delegation.reason ?? delegation.detail;
  return `${e.partner ? `${e.partner} webhook` : 'partner webhook'}${name ? `: ${name}` : ''}${why ? ` (${why})` : ''}`;
}

/**
 * The code of a decision: its holder's name first when known, then the number, which stays the
 * key to look it up. A partner's code is named after the partner: the site knows no holder of it.
 */
function codeWho(e) {
  const kind = e.kind ?? 'code';
  if (e.issuer) return e.partner ? `${e.partner}, subject ${e.subject} (partner ${e.issuer})` : `${kind} ${e.subject} (partner ${e.issuer})`;
  return e.holder ? `${e.holder} (${kind} ${e.subject})` : `${kind} ${e.subject}`;
}

/** What an operator's action on a link, credential or partner's subject was about, and whose. */
function actedOn(e) {
  if (!e.subject) return '';
  if (e.issuer) return ` ${e.partner ? `${e.partner}, ` : ''}subject ${e.subject} (partner ${e.issuer})`;
  return e.holder ? ` ${e.holder} (${e.subject})` : ` ${e.subject}`;
}

/** One line for an audit event: what happened (without where and when). */
export function describeEvent(e) {
  switch (e.type) {
    case 'decision': {
      const who = e.subject ? codeWho(e) : delegatedWho(e);
      if (e.verdict === 'grant') return `granted: ${who ?? 'code'}`;
      return `denied: ${e.reason ?? 'no reason'}${who ? `, ${who}` : ''}`;
    }
    case 'door':
      return `${e.data?.from ? `${stateWord(e.data.from)} → ` : ''}${stateWord(e.reason)}`;
    case 'operator': {
      const seconds = e.data?.seconds !== undefined ? ` ${e.data.seconds} s` : '';
      return `${e.reason}${actedOn(e)}${seconds}${e.actor ? ` by ${e.actor}` : ''}`;
    }
    case 'system':
      return `controller ${e.reason}`;
    default:
      return `${e.type} ${e.reason ?? ''}`;
  }
}

/** The feed's Holder field as audit.query's terms: digits are an id, other text part of a name. */
export function holderTerms(text) {
  const v = text.trim();
  if (v === '') return { subject: '', holder: '' };
  return /^\d{1,20}$/.test(v) ? { subject: v, holder: '' } : { subject: '', holder: v.slice(0, 200) };
}

// holder and partner are the names audit.query gives beside the chain's own fields: a spreadsheet
// reader looks for people, not link numbers (the chain's fields stay, to look a name up or verify).
const CSV_COLUMNS = ['controllerId', 'seq', 'at', 'time', 'type', 'door', 'scanner', 'subject', 'holder', 'partner', 'kind', 'issuer', 'verdict', 'reason', 'actor', 'data', 'hash'];

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
