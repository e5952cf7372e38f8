/**
 * Where a HID POS scanner puts the fields of its Scanned Data Report, read from the scanner's own
 * HID report descriptor (Device Class Definition for HID 1.11, section 6.2.2).
 *
 * The HID Point of Sale Usage Tables 1.02 name the fields (usage page 0x8C: Symbology Identifier
 * 1-3 at 0xFB-0xFD, Decoded Data at 0xFE, Decoded Data Continued at 0xFF; a Byte Count, Generic
 * Desktop 0x3B, often says how many data bytes a report carries) but leave their order and size to
 * the device, which states them in its report descriptor. Windows' in-box HID POS scanner driver
 * finds the fields this way, so scanners built for it follow their descriptor.
 *
 * Only what locating those fields needs is parsed: short items (long items are skipped), the global
 * items Usage Page, Report Size, Report Count, Report ID, Push and Pop, the local items Usage and
 * Usage Minimum/Maximum, and the main items. Input items advance the bit offset of their report;
 * Output and Feature items are in reports of their own kinds and move nothing here.
 *
 * Work is bounded whatever the bytes: the descriptor is capped at 4 KiB (the kernel's
 * HID_MAX_DESCRIPTOR_SIZE), each item is visited once, usage ranges are never expanded, and Report
 * Size / Report Count / report length are held to the limits Linux's hid-core enforces, so a
 * descriptor the kernel takes is never refused here for its sizes. Anything malformed throws a
 * ReportDescriptorError, never another error.
 */

/** Thrown for a descriptor that is malformed or has no Scanned Data Report. */
export class ReportDescriptorError extends Error {
  override readonly name = 'ReportDescriptorError';
}

export const MAX_DESCRIPTOR_BYTES = 4096;
/** hid-core: report_size > 256 and report_count > HID_MAX_USAGES (12288) are refused. */
const MAX_REPORT_SIZE = 256;
const MAX_REPORT_COUNT = 12288;
/** hid-core: a report longer than HID_MAX_BUFFER_SIZE - 1 bytes is refused. */
const MAX_REPORT_BITS = (16384 - 1) * 8;
const MAX_STACK = 16;
const MAX_COLLECTION_DEPTH = 64;

const usage = (page: number, id: number): number => page * 0x10000 + id;
const BYTE_COUNT = usage(0x01, 0x3b);
const SYMBOLOGY_IDS = [usage(0x8c, 0xfb), usage(0x8c, 0xfc), usage(0x8c, 0xfd)] as const;
const DECODED_DATA = usage(0x8c, 0xfe);
const DECODED_DATA_CONTINUED = usage(0x8c, 0xff);
const WANTED = [BYTE_COUNT, ...SYMBOLOGY_IDS, DECODED_DATA, DECODED_DATA_CONTINUED];

/** A field of an input report: bits from the start of the report as hidraw reads it (its report id byte included). */
export interface BitField {
  offset: number;
  /** Bits of one field. */
  size: number;
}

/** Where the barcode fields are in the scanner's Scanned Data Report. */
export interface ScannedDataFields {
  /** The report's id (its first byte), or undefined for a device whose reports carry no id. */
  reportId: number | undefined;
  /** Decoded Data: `count` fields of 8 bits from `offset`. */
  data: { offset: number; count: number };
  byteCount: BitField | undefined;
  /** Symbology Identifier 1, 2 and 3, where present. */
  symbology: Array<BitField | undefined>;
  continued: BitField | undefined;
}

interface GlobalState {
  usagePage: number;
  reportSize: number;
  reportCount: number;
  reportId: number;
}

/** The local usages of the next main item: single usages and ranges, in order, never expanded. */
type UsageEntry = { min: number; max: number };

interface ReportFields {
  byteCount?: BitField;
  symbology: Array<BitField | undefined>;
  data?: { offset: number; count: number; size: number };
  continued?: BitField;
}

export function findScannedDataFields(descriptor: Uint8Array): ScannedDataFields {
  if (descriptor.length > MAX_DESCRIPTOR_BYTES) {
    throw new ReportDescriptorError(`report descriptor of ${descriptor.length} bytes, more than the ${MAX_DESCRIPTOR_BYTES} a HID device may have`);
  }
  let state: GlobalState = { usagePage: 0, reportSize: 0, reportCount: 0, reportId: 0 };
  const stack: GlobalState[] = [];
  let usages: UsageEntry[] = [];
  let usageMin: number | undefined;
  let usageMax: number | undefined;
  let depth = 0;
  let usesReportIds = false;
  /** Input bits so far per report id (0: no id), the id byte not counted. */
  const inputBits = new Map<number, number>();
  const reports = new Map<number, ReportFields>();

  const clearLocals = (): void => {
    usages = [];
    usageMin = undefined;
    usageMax = undefined;
  };
  /** A 4-byte Usage carries its own page; a shorter one takes the current Usage Page. */
  const fullUsage = (value: number, bytes: number): number => (bytes === 4 ? value : usage(state.usagePage, value));

  let at = 0;
  while (at < descriptor.length) {
    const prefix = descriptor[at]!;
    if (prefix === 0xfe) {
      // Long item: bDataSize, bLongItemTag, then the data. None is defined; skipped.
      if (at + 2 >= descriptor.length) throw new ReportDescriptorError(`truncated long item at byte ${at}`);
      at += 3 + descriptor[at + 1]!;
      if (at > descriptor.length) throw new ReportDescriptorError('long item runs past the end of the descriptor');
      continue;
    }
    const bytes = [0, 1, 2, 4][prefix & 0x03]!;
    if (at + 1 + bytes > descriptor.length) throw new ReportDescriptorError(`item 0x${hex(prefix)} at byte ${at} runs past the end of the descriptor`);
    let value = 0;
    for (let i = bytes; i >= 1; i--) value = value * 256 + descriptor[at + i]!;
    const type = (prefix >> 2) & 0x03;
    const tag = prefix >> 4;
    const itemAt = at;
    at += 1 + bytes;

    if (type === 1) {
      // Global items.
      if (tag === 0x0) state.usagePage = value & 0xffff;
      else if (tag === 0x7) {
        if (value > MAX_REPORT_SIZE) throw new ReportDescriptorError(`Report Size ${value} at byte ${itemAt} is more than ${MAX_REPORT_SIZE} bits`);
        state.reportSize = value;
      } else if (tag === 0x9) {
        if (value > MAX_REPORT_COUNT) throw new ReportDescriptorError(`Report Count ${value} at byte ${itemAt} is more than ${MAX_REPORT_COUNT}`);
        state.reportCount = value;
      } else if (tag === 0x8) {
        if (value === 0 || value > 0xff) throw new ReportDescriptorError(`Report ID ${value} at byte ${itemAt}: ids are 1 to 255`);
        state.reportId = value;
        usesReportIds = true;
      } else if (tag === 0xa) {
        if (stack.length >= MAX_STACK) throw new ReportDescriptorError(`more than ${MAX_STACK} Push items at byte ${itemAt}`);
        stack.push({ ...state });
      } else if (tag === 0xb) {
        const popped = stack.pop();
        if (popped === undefined) throw new ReportDescriptorError(`Pop without Push at byte ${itemAt}`);
        state = popped;
      }
      // Logical/Physical extents, units: not needed to place the fields.
    } else if (type === 2) {
      // Local items.
      if (tag === 0x0) {
        const u = fullUsage(value, bytes);
        usages.push({ min: u, max: u });
      } else if (tag === 0x1) usageMin = fullUsage(value, bytes);
      else if (tag === 0x2) usageMax = fullUsage(value, bytes);
      if (usageMin !== undefined && usageMax !== undefined) {
        if (usageMax >= usageMin) usages.push({ min: usageMin, max: usageMax });
        usageMin = undefined;
        usageMax = undefined;
      }
    } else if (type === 0) {
      // Main items.
      if (tag === 0x8) {
        const fieldsBits = state.reportSize * state.reportCount;
        const offset = inputBits.get(state.reportId) ?? 0;
        if (offset + fieldsBits > MAX_REPORT_BITS) throw new ReportDescriptorError(`input report ${state.reportId} is longer than ${MAX_REPORT_BITS / 8} bytes`);
        const constant = (value & 0x01) !== 0;
        const variable = (value & 0x02) !== 0;
        // Array items report indexes of usages, not values; none of the barcode fields is one.
        if (!constant && variable && state.reportCount > 0 && state.reportSize > 0) {
          place(fieldsOf(reports, state.reportId), usages, offset, state.reportSize, state.reportCount);
        }
        inputBits.set(state.reportId, offset + fieldsBits);
      } else if (tag === 0xa) {
        if (++depth > MAX_COLLECTION_DEPTH) throw new ReportDescriptorError(`collections nested more than ${MAX_COLLECTION_DEPTH} deep`);
      } else if (tag === 0xc) {
        if (--depth < 0) throw new ReportDescriptorError(`End Collection without Collection at byte ${itemAt}`);
      } else if (tag !== 0x9 && tag !== 0xb) {
        throw new ReportDescriptorError(`unknown main item 0x${hex(prefix)} at byte ${itemAt}`);
      }
      clearLocals();
    } else {
      throw new ReportDescriptorError(`reserved item type 0x${hex(prefix)} at byte ${itemAt}`);
    }
  }
  if (depth !== 0) throw new ReportDescriptorError(`${depth} collection(s) not closed at the end of the descriptor`);

  for (const [reportId, fields] of reports) {
    if (fields.data === undefined) continue;
    if (usesReportIds && reportId === 0) throw new ReportDescriptorError('Decoded Data is in an input report without an id, in a descriptor whose reports have ids');
    if (fields.data.size !== 8 || fields.data.offset % 8 !== 0) {
      throw new ReportDescriptorError(`Decoded Data of report ${reportId} is not in whole bytes (${fields.data.size}-bit fields at bit ${fields.data.offset})`);
    }
    const idBits = usesReportIds ? 8 : 0;
    const shift = (f: BitField | undefined): BitField | undefined => (f === undefined ? undefined : { offset: f.offset + idBits, size: f.size });
    return {
      reportId: usesReportIds ? reportId : undefined,
      data: { offset: fields.data.offset + idBits, count: fields.data.count },
      byteCount: shift(fields.byteCount),
      symbology: fields.symbology.map(shift),
      continued: shift(fields.continued),
    };
  }
  throw new ReportDescriptorError('no Scanned Data Report: no input item carries Decoded Data (usage page 0x8C, usage 0xFE)');
}

function fieldsOf(reports: Map<number, ReportFields>, reportId: number): ReportFields {
  let fields = reports.get(reportId);
  if (fields === undefined) {
    fields = { symbology: [undefined, undefined, undefined] };
    reports.set(reportId, fields);
  }
  return fields;
}

/**
 * Notes where the wanted usages fall among the `count` fields of a variable Input item. Field i
 * takes the i-th usage; when there are fewer usages than fields the last one goes on to the rest
 * (HID 1.11, 6.2.2.8), which is how a Decoded Data buffer of 56 bytes is usually declared.
 */
function place(report: ReportFields, usages: UsageEntry[], offset: number, size: number, count: number): void {
  const total = usages.reduce((n, e) => n + (e.max - e.min + 1), 0);
  if (total === 0) return;
  let index = 0;
  for (const entry of usages) {
    for (const wanted of WANTED) {
      if (wanted < entry.min || wanted > entry.max) continue;
      const i = index + (wanted - entry.min);
      if (i >= count) continue;
      // The last usage covers the fields left over.
      const fields = i === total - 1 ? count - i : 1;
      note(report, wanted, offset + i * size, size, fields);
    }
    index += entry.max - entry.min + 1;
    if (index >= count) break;
  }
}

/** The first Input field of each usage counts; later ones are left alone. */
function note(report: ReportFields, wanted: number, offset: number, size: number, fields: number): void {
  if (wanted === DECODED_DATA) report.data ??= { offset, count: fields, size };
  else if (wanted === BYTE_COUNT) report.byteCount ??= { offset, size };
  else if (wanted === DECODED_DATA_CONTINUED) report.continued ??= { offset, size };
  else {
    // A single Symbology Identifier usage over several fields: the next fields are the next identifiers.
    const n = SYMBOLOGY_IDS.indexOf(wanted as (typeof SYMBOLOGY_IDS)[number]);
    for (let k = 0; k < fields && n + k < SYMBOLOGY_IDS.length; k++) report.symbology[n + k] ??= { offset: offset + k * size, size };
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
