/**
 * The audit trail as CSV, one format for `postern audit export --csv` and the API's HTTP export:
 * every field of the chain (prevHash and hash included, so a copy can be verified), one event a
 * line, CRLF line ends as RFC 4180 has them.
 */
import type { AuditEvent } from '../store/storeTypes.ts';

export const AUDIT_CSV_COLUMNS = ['controllerId', 'seq', 'at', 'type', 'door', 'scanner', 'subject', 'kind', 'issuer', 'verdict', 'reason', 'actor', 'data', 'prevHash', 'hash'] as const;

export const AUDIT_CSV_HEADER = AUDIT_CSV_COLUMNS.join(',');

/** One event as a CSV line, without its line end. */
export function auditCsvLine(event: AuditEvent): string {
  return AUDIT_CSV_COLUMNS.map((c) => csvCell(c === 'data' ? (event.data === null ? '' : JSON.stringify(event.data)) : event[c])).join(',');
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // Cells a spreadsheet would run as a formula are quoted with a leading apostrophe.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
