/**
 * HID Point of Sale scanners (usage page 0x8C, Bar Code Scanner): the HID Point of Sale Usage
 * Tables 1.02 (USB-IF, 2001), section 3 "Usage Page Bar Code Scanner", define a Scanned Data
 * Report that carries a decoded barcode in one input report rather than as typed keys.
 *
 * The layout implemented here is the common one:
 *
 *   byte 0      report id (any value; hidraw gives it first when the device numbers its reports)
 *   byte 1      length n of the decoded data
 *   bytes 2..   the n data bytes (anything after them is padding and ignored)
 *
 * The data is taken as latin1, so arbitrary bytes reach verify as characters it will deny. A
 * length past the end of the report is clamped to the bytes present. A trailing CR/LF (a suffix
 * some scanners add in POS mode too) is not part of the read.
 */
export function decodePosReport(report: Uint8Array): string {
  if (report.length < 2) return '';
  const length = Math.min(report[1]!, report.length - 2);
  return Buffer.from(report.subarray(2, 2 + length)).toString('latin1').replace(/[\r\n]+$/, '');
}
