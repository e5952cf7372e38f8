/**
 * Joins the reports of a HID POS scanner into whole codes (the layouts are in posReports.ts and,
 * for `descriptor`, descriptorReports.ts).
 *
 * A code longer than one report's data field comes as several reports, every one but the last
 * with its "continued" flag set: their bytes are joined until the last and decoded once, as UTF-8
 * (a QR code's text is UTF-8), so a character whose bytes straddle two reports comes out whole.
 * Invalid bytes become U+FFFD, which no credential contains. A trailing CR/LF (a suffix some
 * scanners add in POS mode too) is not part of the read.
 *
 * The bytes held are bounded: past MAX_READ_CHARS * 4 bytes (enough for MAX_READ_CHARS characters
 * of any kind) further data is not kept, and the read is cut at MAX_READ_CHARS characters, as the
 * keyboard mode cuts a flood. Timing is the caller's: a code whose last report never comes is
 * given up with `abandon()`, never passed on half.
 */
import { MAX_READ_CHARS } from '../scannerDriver.ts';
import { parseDescriptorReport } from './descriptorReports.ts';
import { parsePosReport, type FixedPosLayoutName, type PosReportPart } from './posReports.ts';
import type { ScannedDataFields } from './reportDescriptor.ts';

/** A vendor layout by name, or the field positions a scanner's report descriptor gave. */
export type PosLayout = FixedPosLayoutName | ScannedDataFields;

export type PosOutcome =
  /** Not a Scanned Data Report of the layout: nothing changed. */
  | { kind: 'ignored' }
  /** A part of a code that continues in a later report. */
  | { kind: 'held' }
  /** The last (or only) report of a code: its text, possibly empty. */
  | { kind: 'read'; text: string; symbology: string | undefined };

/** What a code given up had come to. */
export interface AbandonedCode {
  chars: number;
  symbology: string | undefined;
}

const MAX_HELD_BYTES = MAX_READ_CHARS * 4;

export class PosReassembler {
  private parts: Uint8Array[] = [];
  private heldBytes = 0;
  private symbology: string | undefined;
  private partial = false;

  constructor(private readonly layout: PosLayout) {}

  /** True while a code has begun and its last report has not come. */
  get pending(): boolean {
    return this.partial;
  }

  take(report: Uint8Array): PosOutcome {
    const part: PosReportPart | null = typeof this.layout === 'string' ? parsePosReport(this.layout, report) : parseDescriptorReport(this.layout, report);
    if (part === null) return { kind: 'ignored' };
    if (!this.partial) this.symbology = part.symbology;
    this.keep(part.data);
    if (part.continued) {
      this.partial = true;
      return { kind: 'held' };
    }
    const text = this.decode().replace(/[\r\n]+$/, '');
    const symbology = this.symbology;
    this.clear();
    return { kind: 'read', text: text.length > MAX_READ_CHARS ? text.slice(0, MAX_READ_CHARS) : text, symbology };
  }

  /** Gives up the code being reassembled, if any. */
  abandon(): AbandonedCode | null {
    if (!this.partial) return null;
    const abandoned = { chars: this.decode().length, symbology: this.symbology };
    this.clear();
    return abandoned;
  }

  private keep(data: Uint8Array): void {
    const room = MAX_HELD_BYTES - this.heldBytes;
    if (room <= 0 || data.length === 0) return;
    // Copied: node-hid may reuse the buffer a report came in.
    const kept = Uint8Array.from(data.subarray(0, room));
    this.parts.push(kept);
    this.heldBytes += kept.length;
  }

  private decode(): string {
    return Buffer.concat(this.parts, this.heldBytes).toString('utf8');
  }

  private clear(): void {
    this.parts = [];
    this.heldBytes = 0;
    this.symbology = undefined;
    this.partial = false;
  }
}
