/**
 * Reads one input report of a HID POS scanner with the field positions its report descriptor gave
 * (reportDescriptor.ts): the `descriptor` posLayout.
 *
 * How long the data is: with a Byte Count field, that many bytes of the Decoded Data field (at most
 * the field's size). Without one, the report has no other length than its padding, which is zero
 * bytes: the data ends at its first NUL byte. A code holding a NUL cannot be read through such a
 * descriptor; the text codes Postern reads never hold one.
 *
 * A report of another id, or too short to hold the byte count and the continued flag, is not a
 * Scanned Data Report: null, and a code being reassembled goes on. A Decoded Data field cut short
 * by a short report gives the bytes that came.
 */
import { aimIdentifier, type PosReportPart } from './posReports.ts';
import type { BitField, ScannedDataFields } from './reportDescriptor.ts';

export function parseDescriptorReport(fields: ScannedDataFields, report: Uint8Array): PosReportPart | null {
  if (fields.reportId !== undefined && report[0] !== fields.reportId) return null;
  const bits = report.length * 8;
  const fits = (f: BitField | undefined): boolean => f === undefined || f.offset + f.size <= bits;
  if (!fits(fields.byteCount) || !fits(fields.continued)) return null;

  const start = fields.data.offset / 8;
  let data = report.subarray(start, start + fields.data.count);
  if (fields.byteCount !== undefined) {
    data = data.subarray(0, readBits(report, fields.byteCount));
  } else {
    const nul = data.indexOf(0);
    if (nul >= 0) data = data.subarray(0, nul);
  }
  const symbologyBytes = fields.symbology.flatMap((f) => (f !== undefined && fits(f) ? [readBits(report, { offset: f.offset, size: Math.min(f.size, 8) })] : []));
  const continued = fields.continued !== undefined && readBits(report, { offset: fields.continued.offset, size: 1 }) === 1;
  return { data, symbology: aimIdentifier(Uint8Array.from(symbologyBytes)), continued };
}

/** An unsigned field of up to 32 bits, least significant bit first (HID 1.11, 5.8), its higher bits dropped past 32. */
function readBits(report: Uint8Array, field: BitField): number {
  let value = 0;
  const size = Math.min(field.size, 32);
  for (let i = 0; i < size; i++) {
    const bit = field.offset + i;
    if ((report[bit >> 3]! >> (bit & 7)) & 1) value += 2 ** i;
  }
  return value;
}
