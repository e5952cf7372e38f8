// The one form of a scan's text that two reads of the same code share. Postern codes are case-
// insensitive base32 behind the `P1.` prefix (docs/credential-format.md) and scanners add spaces
// or line ends, so `p1.abc\r` and `P1.ABC` are one code; other text (a partner's ticket) is only
// trimmed, because its case may matter to the partner.
export function normaliseScanText(text: string): string {
  const trimmed = text.trim();
  return /^p1\./i.test(trimmed) ? trimmed.toUpperCase() : trimmed;
}
