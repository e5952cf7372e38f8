/**
 * Where the decoded data sits in one input report of a HID Point of Sale scanner (usage page 0x8C,
 * Bar Code Scanner). The HID Point of Sale Usage Tables 1.02 (USB-IF, 2001), section 3, name the
 * fields of the Scanned Data Report (usage 0x12): Symbology Identifier 1-3 (0xFB-0xFD), Decoded
 * Data (0xFE) and Decoded Data Continued (0xFF), a flag set on every report of a code but its last.
 * The usage tables leave the order of the fields to the device, and vendors order them differently,
 * so the layout is a per-scanner setting:
 *
 * plain: byte 0 report id (any), byte 1 length n, bytes 2..n+1 the data. One report per code.
 *
 * honeywell: 64 bytes, AIM identifier before the data. Documented in the Access-IS product manuals
 *   (LSR116 Product Manual, appendix A.1 "Receive data"; ATR110 and LSR118 Product Manuals,
 *   appendix B.1 "HID reports - barcode only"), with an example scan split over two reports whose
 *   byte 61 is Honeywell's code id for QR; the same layout comes from a Honeywell Voyager 1602g
 *   (reports captured in github.com/HenkVanAsselt/python_hon_usbhid, README) and is what
 *   WebHidBarcodeScanner (github.com/NielsLeenheer/WebHidBarcodeScanner, src/main.js) reads from
 *   Honeywell's vendor id 0x0c2e:
 *     byte 0       report id 0x02
 *     byte 1       length n of this report's data (at most 56)
 *     bytes 2..4   AIM symbology identifier: ']', code character, modifier (']Q1': QR code)
 *     bytes 5..60  the data, zero padded after n bytes
 *     byte 61      Honeywell's own code id ('s': QR code); not used here
 *     byte 62      reserved
 *     byte 63      bit 0: more data follows in the next report
 *
 * newland: 64 bytes, data first. Documented in the Unitech MS842N User Manual ("Acquire Scanned
 *   Data", HID-POS), the QUIO QU-R-302 manual (same section) and the Newland FM430 user guide
 *   (whose table is quoted in node-hid drivers for the FM430 on GitHub):
 *     byte 0       report id 0x02
 *     byte 1       length n of this report's data (at most 56)
 *     bytes 2..57  the data, zero padded after n bytes
 *     bytes 58..61 reserved
 *     byte 62      Newland symbology id number, or 0x00 when that is not sent
 *     byte 63      bit 0: decoded data continued in the next report
 *
 * descriptor: no fixed offsets; the field positions come from the scanner's own HID report
 *   descriptor (reportDescriptor.ts finds them, descriptorReports.ts reads a report with them).
 *
 * There is no `auto`: the bytes cannot tell the layouts apart. A Honeywell report's byte 2 is ']',
 * but so may be the first data byte of a plain or a Newland report, and a plain report may be 64
 * bytes with report id 2 too.
 *
 * A report the layout does not expect (another report id, or too short to hold the continuation
 * flag) is not a Scanned Data Report: it is ignored, and a code being reassembled goes on.
 */
export const FIXED_POS_LAYOUTS = ['plain', 'honeywell', 'newland'] as const;
export const POS_LAYOUTS = [...FIXED_POS_LAYOUTS, 'descriptor'] as const;

export type FixedPosLayoutName = (typeof FIXED_POS_LAYOUTS)[number];
export type PosLayoutName = (typeof POS_LAYOUTS)[number];

/** One report's share of a code. */
export interface PosReportPart {
  data: Uint8Array;
  /** The AIM identifier (']Q1') or the vendor's symbology id, when the report carries one. */
  symbology: string | undefined;
  /** More of the same code follows in the next report. */
  continued: boolean;
}

const SCANNED_DATA_REPORT_ID = 0x02;
const VENDOR_REPORT_BYTES = 64;
const VENDOR_DATA_BYTES = 56;
const CONTINUED_BYTE = 63;
const AIM_FLAG = 0x5d; // ']'

/** The report's part of a code, or null when the report is not a Scanned Data Report of this layout. */
export function parsePosReport(layout: FixedPosLayoutName, report: Uint8Array): PosReportPart | null {
  if (layout === 'plain') {
    if (report.length < 2) return null;
    const length = Math.min(report[1]!, report.length - 2);
    return { data: report.subarray(2, 2 + length), symbology: undefined, continued: false };
  }
  if (report.length < VENDOR_REPORT_BYTES || report[0] !== SCANNED_DATA_REPORT_ID) return null;
  const length = Math.min(report[1]!, VENDOR_DATA_BYTES);
  const continued = (report[CONTINUED_BYTE]! & 0x01) !== 0;
  if (layout === 'honeywell') {
    return { data: report.subarray(5, 5 + length), symbology: aimIdentifier(report.subarray(2, 5)), continued };
  }
  const id = report[62]!;
  return { data: report.subarray(2, 2 + length), symbology: id === 0 ? undefined : `newland 0x${id.toString(16).padStart(2, '0')}`, continued };
}

/** ']' and two printable ASCII characters (ISO/IEC 15424), or undefined for anything else. */
export function aimIdentifier(bytes: Uint8Array): string | undefined {
  const printable = (b: number): boolean => b > 0x20 && b < 0x7f;
  if (bytes[0] !== AIM_FLAG || !printable(bytes[1]!) || !printable(bytes[2]!)) return undefined;
  return String.fromCharCode(...bytes);
}
