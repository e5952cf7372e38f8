/**
 * posLayout `descriptor`: the fields of a HID POS scanner's Scanned Data Report are found in the
 * scanner's own HID report descriptor (drivers/scanners/hid/reportDescriptor.ts) and reports are
 * read with them (descriptorReports.ts, through PosReassembler and HidScanner).
 *
 * Fixtures, written out byte for byte with one comment per item:
 * - HONEYWELL_HID_POS: the report descriptor of Honeywell's "USB HID POS" interface (terminal id
 *   131), `usb_report_descrA` in Honeywell / Hand Held Products scanner firmware source
 *   (USB vendor id 0x0536), file interfaces_usb2/hid_usb2/pos_usb2/usb2hidpos.cpp, revision 1.17 of
 *   2011-03-31, as published in a public GitHub copy of that firmware tree (the same bytes are
 *   `usb_report_descrBPCMacJap` in hid_usb2/kbdpc_usb2/usb2hidkbd.cpp, the POS interface of its
 *   keyboard+POS mode). Its configuration descriptor gives wDescriptorLength 0x90, checked below.
 * - HONEYWELL_KEYBOARD: `usb_report_descrAKbd` of the same usb2hidkbd.cpp (Size_KbdReportDescriptor
 *   65): a boot keyboard, no Scanned Data Report.
 * - UNNUMBERED: constructed for these tests from the HID POS Usage Tables 1.02 (section 3) and HID
 *   1.11 (section 6.2.2), not taken from a device: no report id, no Byte Count, the symbology
 *   identifiers as a usage range, Decoded Data as 60 plain variable fields, Push/Pop and a long item.
 *
 * No Zebra report descriptor was found published (DS2208, DS4608, LI4278 in their "USB HID POS"
 * host mode were searched for): none of these fixtures is Zebra's, and the `descriptor` layout is
 * not verified against a Zebra scanner.
 */
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hidScannerOptions } from '../../drivers/driverConfig.ts';
import { parseDescriptorReport } from '../../drivers/scanners/hid/descriptorReports.ts';
import { PosReassembler } from '../../drivers/scanners/hid/posReassembler.ts';
import { parsePosReport } from '../../drivers/scanners/hid/posReports.ts';
import { findScannedDataFields, MAX_DESCRIPTOR_BYTES, ReportDescriptorError } from '../../drivers/scanners/hid/reportDescriptor.ts';
import { HidScanner, readSysfsReportDescriptor, type HidDevice, type HidDrop, type HidScannerOptions, type ReportDescriptorReader } from '../../drivers/scanners/hidScanner.ts';
import type { ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { vectors } from '../support/vectors.ts';

const HONEYWELL_HID_POS = Uint8Array.from([
  0x05, 0x8c,       // Usage Page (Bar Code Scanner)
  0x09, 0x02,       // Usage (Bar Code Scanner)
  0xa1, 0x01,       // Collection (Application)
  0x09, 0x12,       //   Usage (Scanned Data Report)
  0xa1, 0x02,       //   Collection (Logical)
  0x85, 0x02,       //     Report ID (2)
  0x15, 0x00,       //     Logical Minimum (0)
  0x26, 0xff, 0x00, //     Logical Maximum (255)
  0x75, 0x08,       //     Report Size (8)
  0x95, 0x01,       //     Report Count (1)
  0x05, 0x01,       //     Usage Page (Generic Desktop)
  0x09, 0x3b,       //     Usage (Byte Count)
  0x81, 0x02,       //     Input (Data,Var,Abs): byte 1
  0x95, 0x03,       //     Report Count (3)
  0x05, 0x8c,       //     Usage Page (Bar Code Scanner)
  0x09, 0xfb,       //     Usage (Symbology Identifier 1)
  0x09, 0xfc,       //     Usage (Symbology Identifier 2)
  0x09, 0xfd,       //     Usage (Symbology Identifier 3)
  0x81, 0x02,       //     Input (Data,Var,Abs): bytes 2-4
  0x95, 0x38,       //     Report Count (56)
  0x09, 0xfe,       //     Usage (Decoded Data)
  0x82, 0x02, 0x01, //     Input (Data,Var,Abs,Buffered Bytes): bytes 5-60
  0x06, 0x66, 0xff, //     Usage Page (Vendor 0xFF66, "HHP")
  0x95, 0x02,       //     Report Count (2)
  0x09, 0x04,       //     Usage (Code ID)
  0x09, 0x00,       //     Usage (Undefined)
  0x81, 0x02,       //     Input (Data,Var,Abs): bytes 61-62
  0x05, 0x8c,       //     Usage Page (Bar Code Scanner)
  0x25, 0x01,       //     Logical Maximum (1)
  0x75, 0x01,       //     Report Size (1)
  0x95, 0x08,       //     Report Count (8)
  0x09, 0xff,       //     Usage (Decoded Data Continued)
  0x81, 0x02,       //     Input (Data,Var,Abs): byte 63, its bit 0 first
  0xc0,             //   End Collection
  0x09, 0x14,       //   Usage (Trigger Report)
  0xa1, 0x02,       //   Collection (Logical)
  0x85, 0x04,       //     Report ID (4)
  0x15, 0x00,       //     Logical Minimum (0)
  0x25, 0x01,       //     Logical Maximum (1)
  0x75, 0x01,       //     Report Size (1)
  0x95, 0x08,       //     Report Count (8)
  0x09, 0x00,       //     Usage (Undefined)
  0x09, 0x5f,       //     Usage (Prevent Read of Barcodes)
  0x09, 0x60,       //     Usage (Initiate Barcode Read)
  0x09, 0x00,       //     Usage (Undefined)
  0x09, 0x00,       //     Usage (Undefined)
  0x09, 0x85,       //     Usage (Sound Error Beep)
  0x09, 0x86,       //     Usage (Sound Good Read Beep)
  0x91, 0x86,       //     Output (Data,Var,Rel,Vol)
  0xc0,             //   End Collection
  0x06, 0x66, 0xff, //   Usage Page (Vendor 0xFF66)
  0x75, 0x08,       //   Report Size (8)
  0x26, 0xff, 0x00, //   Logical Maximum (255)
  0x09, 0x03,       //   Usage (Output Redirection)
  0xa1, 0x02,       //   Collection (Logical)
  0x85, 0xfe,       //     Report ID (254)
  0x95, 0x01,       //     Report Count (1)
  0x09, 0x03,       //     Usage (Output Redirection)
  0xb2, 0x82, 0x01, //     Feature (Data,Var,Abs,Vol,Buffered Bytes)
  0xc0,             //   End Collection
  0x09, 0x01,       //   Usage (Serial Data Stream)
  0xa1, 0x02,       //   Collection (Logical)
  0x85, 0xfd,       //     Report ID (253)
  0x95, 0x01,       //     Report Count (1)
  0x09, 0x21,       //     Usage (Length)
  0x91, 0x02,       //     Output (Data,Var,Abs)
  0x95, 0x3e,       //     Report Count (62)
  0x09, 0x22,       //     Usage (CP1252 Data)
  0x92, 0x82, 0x01, //     Output (Data,Var,Abs,Vol,Buffered Bytes)
  0xc0,             //   End Collection
  0xc0,             // End Collection
]);

const HONEYWELL_KEYBOARD = Uint8Array.from([
  0x05, 0x01,       // Usage Page (Generic Desktop)
  0x09, 0x06,       // Usage (Keyboard)
  0xa1, 0x01,       // Collection (Application)
  0x05, 0x07,       //   Usage Page (Keyboard)
  0x19, 0xe0,       //   Usage Minimum (Left Control)
  0x29, 0xe7,       //   Usage Maximum (Right GUI)
  0x15, 0x00,       //   Logical Minimum (0)
  0x25, 0x01,       //   Logical Maximum (1)
  0x75, 0x01,       //   Report Size (1)
  0x95, 0x08,       //   Report Count (8)
  0x81, 0x02,       //   Input (Data,Var,Abs): modifiers
  0x95, 0x01,       //   Report Count (1)
  0x75, 0x08,       //   Report Size (8)
  0x81, 0x03,       //   Input (Cnst,Var,Abs): reserved byte
  0x95, 0x05,       //   Report Count (5)
  0x75, 0x01,       //   Report Size (1)
  0x05, 0x08,       //   Usage Page (LEDs)
  0x19, 0x01,       //   Usage Minimum (Num Lock)
  0x29, 0x05,       //   Usage Maximum (Kana)
  0x91, 0x02,       //   Output (Data,Var,Abs)
  0x95, 0x01,       //   Report Count (1)
  0x75, 0x03,       //   Report Size (3)
  0x91, 0x03,       //   Output (Cnst,Var,Abs)
  0x95, 0x06,       //   Report Count (6)
  0x75, 0x08,       //   Report Size (8)
  0x15, 0x00,       //   Logical Minimum (0)
  0x26, 0xff, 0x00, //   Logical Maximum (255)
  0x05, 0x07,       //   Usage Page (Keyboard)
  0x19, 0x00,       //   Usage Minimum (0)
  0x2a, 0xff, 0x00, //   Usage Maximum (255)
  0x81, 0x00,       //   Input (Data,Ary,Abs): six key slots
  0xc0,             // End Collection
]);

const UNNUMBERED = Uint8Array.from([
  0x05, 0x8c,       // Usage Page (Bar Code Scanner)
  0x09, 0x02,       // Usage (Bar Code Scanner)
  0xa1, 0x01,       // Collection (Application)
  0x09, 0x12,       //   Usage (Scanned Data Report)
  0xa1, 0x02,       //   Collection (Logical)
  0x15, 0x00,       //     Logical Minimum (0)
  0x26, 0xff, 0x00, //     Logical Maximum (255)
  0x75, 0x08,       //     Report Size (8)
  0x95, 0x03,       //     Report Count (3)
  0x19, 0xfb,       //     Usage Minimum (Symbology Identifier 1)
  0x29, 0xfd,       //     Usage Maximum (Symbology Identifier 3)
  0x81, 0x02,       //     Input (Data,Var,Abs): bytes 0-2
  0xa4,             //     Push
  0x95, 0x3c,       //     Report Count (60)
  0x09, 0xfe,       //     Usage (Decoded Data), repeated over the 60 fields
  0x81, 0x02,       //     Input (Data,Var,Abs): bytes 3-62
  0xb4,             //     Pop: Report Count 3 again
  0xfe, 0x02, 0x10, 0xaa, 0xbb, // a long item (2 data bytes, tag 0x10), skipped
  0x75, 0x01,       //     Report Size (1)
  0x95, 0x01,       //     Report Count (1)
  0x25, 0x01,       //     Logical Maximum (1)
  0x09, 0xff,       //     Usage (Decoded Data Continued)
  0x81, 0x02,       //     Input (Data,Var,Abs): byte 63 bit 0
  0x95, 0x07,       //     Report Count (7)
  0x81, 0x03,       //     Input (Cnst): byte 63 bits 1-7
  0xc0,             //   End Collection
  0xc0,             // End Collection
]);

/** HONEYWELL_HID_POS cut after the End Collection of its Scanned Data Report: the application collection is left open. */
const CUT_AFTER_SCANNED_DATA = HONEYWELL_HID_POS.subarray(0, HONEYWELL_HID_POS.indexOf(0xc0) + 1);

const utf8 = (text: string): number[] => [...Buffer.from(text, 'utf8')];
const zeros = (n: number): number[] => Array<number>(n).fill(0);

/**
 * A Scanned Data Report of HONEYWELL_HID_POS, from its items: id 2, Byte Count, Symbology
 * Identifier 1-3, 56 bytes of Decoded Data, Code ID and an undefined byte, then 8 one-bit fields of
 * Decoded Data Continued (the first is bit 0 of byte 63).
 */
function honeywellReport(data: number[], continued: boolean, aim = ']Q1', count = data.length): Uint8Array {
  if (data.length > 56) throw new Error('56 data bytes at most');
  return Uint8Array.from([0x02, count, ...utf8(aim), ...data, ...zeros(56 - data.length), 0x73, 0x00, continued ? 0x01 : 0x00]);
}

/** A report of UNNUMBERED: no id; Symbology Identifier 1-3, 60 data bytes, the continued bit. */
function unnumberedReport(data: number[], continued: boolean, aim = ']Q1'): Uint8Array {
  return Uint8Array.from([...utf8(aim), ...data, ...zeros(60 - data.length), continued ? 0x01 : 0x00]);
}

const P1 = vectors.vectors[0]!.code;

describe('report descriptor parsing', () => {
  it("finds the Scanned Data Report's fields in Honeywell's HID POS descriptor, where the honeywell layout has them", () => {
    expect(HONEYWELL_HID_POS).toHaveLength(0x90);
    expect(findScannedDataFields(HONEYWELL_HID_POS)).toEqual({
      reportId: 2,
      byteCount: { offset: 8, size: 8 }, // byte 1
      symbology: [
        { offset: 16, size: 8 }, // byte 2
        { offset: 24, size: 8 },
        { offset: 32, size: 8 },
      ],
      data: { offset: 40, count: 56 }, // bytes 5-60
      continued: { offset: 504, size: 1 }, // byte 63, bit 0
    });
  });

  it('finds fields given as a usage range, plain variable fields and after Push/Pop and a long item, in a descriptor without report ids', () => {
    expect(findScannedDataFields(UNNUMBERED)).toEqual({
      reportId: undefined,
      byteCount: undefined,
      symbology: [
        { offset: 0, size: 8 },
        { offset: 8, size: 8 },
        { offset: 16, size: 8 },
      ],
      data: { offset: 24, count: 60 },
      continued: { offset: 504, size: 1 },
    });
  });

  it('says clearly that a descriptor without a Scanned Data Report has none', () => {
    expect(HONEYWELL_KEYBOARD).toHaveLength(65);
    expect(() => findScannedDataFields(HONEYWELL_KEYBOARD)).toThrow(ReportDescriptorError);
    expect(() => findScannedDataFields(HONEYWELL_KEYBOARD)).toThrow(/no Scanned Data Report.*0x8C.*0xFE/);
    expect(() => findScannedDataFields(new Uint8Array(0))).toThrow(/no Scanned Data Report/);
  });

  it('refuses malformed and oversized descriptors with a ReportDescriptorError saying what is wrong', () => {
    const cases: Array<[number[] | Uint8Array, RegExp]> = [
      [CUT_AFTER_SCANNED_DATA, /1 collection\(s\) not closed/],
      [[...HONEYWELL_HID_POS.subarray(0, 16)], /item 0x26 at byte 14 runs past the end/], // cut inside Logical Maximum (255)
      [[0xb4], /Pop without Push/],
      [[0xc0], /End Collection without Collection/],
      [[0x85, 0x00], /Report ID 0/],
      [[0x76, 0xff, 0x01], /Report Size 511/],
      [[0x96, 0x01, 0x40], /Report Count 16385/],
      [[0xfe, 0x09, 0x00], /long item runs past/],
      [[0x0c], /reserved item type/],
      [[0xd0], /unknown main item/],
      [new Uint8Array(MAX_DESCRIPTOR_BYTES + 1), /4097 bytes/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => findScannedDataFields(Uint8Array.from(bytes)), String(message)).toThrow(ReportDescriptorError);
      expect(() => findScannedDataFields(Uint8Array.from(bytes))).toThrow(message);
    }
  });

  it('refuses Decoded Data that is not whole bytes', () => {
    // Report Size (4), Report Count (2), Usage Page (Bar Code Scanner), Usage (Decoded Data), Input, End Collection.
    const nibbles = [0xa1, 0x01, 0x75, 0x04, 0x95, 0x02, 0x05, 0x8c, 0x09, 0xfe, 0x81, 0x02, 0xc0];
    expect(() => findScannedDataFields(Uint8Array.from(nibbles))).toThrow(/not in whole bytes/);
  });
});

describe('reading reports with the layout a descriptor gives', () => {
  const honeywell = findScannedDataFields(HONEYWELL_HID_POS);
  const unnumbered = findScannedDataFields(UNNUMBERED);

  it('reads a single report with its AIM identifier, as the honeywell layout reads the same bytes', () => {
    const report = honeywellReport(utf8('DOOR-7'), false);
    expect(report).toHaveLength(64);
    expect(parseDescriptorReport(honeywell, report)).toEqual({ data: Uint8Array.from(utf8('DOOR-7')), symbology: ']Q1', continued: false });
    expect(parseDescriptorReport(honeywell, report)).toEqual(parsePosReport('honeywell', report));
    expect(new PosReassembler(honeywell).take(report)).toEqual({ kind: 'read', text: 'DOOR-7', symbology: ']Q1' });
  });

  it('joins a P1 code split over two reports by the Decoded Data Continued bit', () => {
    expect(P1).toHaveLength(67);
    const bytes = utf8(P1);
    const reassembler = new PosReassembler(honeywell);
    expect(reassembler.take(honeywellReport(bytes.slice(0, 56), true))).toEqual({ kind: 'held' });
    expect(reassembler.take(honeywellReport(bytes.slice(56), false))).toEqual({ kind: 'read', text: P1, symbology: ']Q1' });

    const other = new PosReassembler(unnumbered);
    expect(other.take(unnumberedReport(bytes.slice(0, 60), true))).toEqual({ kind: 'held' });
    expect(other.take(unnumberedReport(bytes.slice(60), false))).toEqual({ kind: 'read', text: P1, symbology: ']Q1' });
  });

  it('takes the length from Byte Count where there is one (NULs included), and else ends the data at the first NUL', () => {
    const withNul = [0x61, 0x00, 0x62];
    expect(parseDescriptorReport(honeywell, honeywellReport(withNul, false))!.data).toEqual(Uint8Array.from(withNul));
    // Byte Count shorter than what is in the field: only that many bytes.
    expect(parseDescriptorReport(honeywell, honeywellReport(utf8('DOOR-7'), false, ']Q1', 4))!.data).toEqual(Uint8Array.from(utf8('DOOR')));
    // Byte Count past the 56-byte field: the field only.
    expect(parseDescriptorReport(honeywell, honeywellReport(utf8('x'.repeat(56)), false, ']Q1', 200))!.data).toHaveLength(56);
    // No Byte Count: the zero padding ends the data, and so does a NUL in it.
    expect(parseDescriptorReport(unnumbered, unnumberedReport(utf8('DOOR-7'), false))!.data).toEqual(Uint8Array.from(utf8('DOOR-7')));
    expect(parseDescriptorReport(unnumbered, unnumberedReport(withNul, false))!.data).toEqual(Uint8Array.from([0x61]));
    expect(parseDescriptorReport(unnumbered, unnumberedReport(utf8('z'.repeat(60)), false))!.data).toHaveLength(60);
  });

  it('ignores reports of another id and reports too short for the continued flag, also between the parts of a code', () => {
    const bytes = utf8(P1);
    const reassembler = new PosReassembler(honeywell);
    expect(reassembler.take(honeywellReport(bytes.slice(0, 56), true))).toEqual({ kind: 'held' });
    // Report 4 is the descriptor's Trigger Report (an output); 0xFE and 0xFD its vendor reports.
    for (const stray of [[0x04, 0x40], [0xfe, 0x01], [0xfd, 0x03, 0x16, 0x4d, 0x0d, ...zeros(59)], [0x02, 0x05, 0x5d, 0x51]]) {
      expect(reassembler.take(Uint8Array.from(stray))).toEqual({ kind: 'ignored' });
    }
    expect(reassembler.take(honeywellReport(bytes.slice(56), false))).toEqual({ kind: 'read', text: P1, symbology: ']Q1' });
  });

  it('gives no symbology when the identifier bytes are not an AIM identifier', () => {
    expect(parseDescriptorReport(honeywell, honeywellReport(utf8('x'), false, '\0\0\0'))!.symbology).toBeUndefined();
  });
});

class FakeDevice extends EventEmitter implements HidDevice {
  closed = false;
  constructor(readonly hidrawPath?: string) {
    super();
  }
  close(): void {
    this.closed = true;
  }
  send(...reports: Uint8Array[]): void {
    for (const r of reports) this.emit('data', Buffer.from(r));
  }
}

const base: HidScannerOptions = { mode: 'pos', layout: 'us', suffix: 'enter', interCharTimeoutMs: 50, posLayout: 'descriptor' };

async function scanner(options: Partial<HidScannerOptions>, device: FakeDevice, reader: ReportDescriptorReader) {
  const events: ScannerDriverEvent[] = [];
  const drops: HidDrop[] = [];
  const read = vi.fn(reader);
  const hid = new HidScanner({ ...base, ...options }, () => device, (d) => drops.push(d), read);
  hid.onEvent((e) => events.push(e));
  hid.connect();
  await vi.waitFor(() => expect(events).toHaveLength(1));
  const reads = () => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text);
  return { hid, events, drops, reads, read };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HidScanner with posLayout descriptor', () => {
  it("reads codes with the layout of the descriptor of the node given as path", async () => {
    const device = new FakeDevice();
    const { events, reads, read, drops } = await scanner({ path: '/dev/hidraw3' }, device, () => HONEYWELL_HID_POS);
    expect(events).toEqual([{ type: 'connected' }]);
    expect(read).toHaveBeenCalledWith('/dev/hidraw3');
    const bytes = utf8(P1);
    device.send(honeywellReport(utf8('DOOR-7'), false), honeywellReport(bytes.slice(0, 56), true), Uint8Array.from([0x04, 0x40]), honeywellReport(bytes.slice(56), false));
    expect(reads()).toEqual(['DOOR-7', P1]);
    expect(drops).toEqual([]);
  });

  it('reads the descriptor of the node node-hid opened for vendorId/productId, on every connect', async () => {
    const device = new FakeDevice('/dev/hidraw7');
    const { hid, read, reads } = await scanner({ vendorId: 0x0536, productId: 0x0207 }, device, async () => UNNUMBERED);
    expect(read).toHaveBeenCalledWith('/dev/hidraw7');
    device.send(unnumberedReport(utf8('DOOR-7'), false));
    expect(reads()).toEqual(['DOOR-7']);
    device.emit('close');
    hid.connect();
    await vi.waitFor(() => expect(read).toHaveBeenCalledTimes(2));
  });

  it('drops a code whose last report does not come in time, with its AIM identifier', async () => {
    const device = new FakeDevice();
    const { drops, reads } = await scanner({ path: '/dev/hidraw3' }, device, () => HONEYWELL_HID_POS);
    vi.useFakeTimers();
    device.send(honeywellReport(utf8(P1).slice(0, 56), true));
    vi.advanceTimersByTime(50);
    expect(drops).toEqual([{ reason: expect.stringContaining('50 ms'), chars: 56, symbology: ']Q1' }]);
    expect(reads()).toEqual([]);
  });

  it('reports disconnected, closing the device, when the descriptor cannot be read, saying what to set instead', async () => {
    const device = new FakeDevice();
    const { events } = await scanner({ path: '/dev/hidraw3' }, device, () => {
      throw new Error("EACCES: permission denied, open '/sys/class/hidraw/hidraw3/device/report_descriptor'");
    });
    expect(events).toEqual([{ type: 'disconnected', reason: expect.stringMatching(/cannot read the report descriptor of \/dev\/hidraw3: EACCES.*set posLayout to honeywell, newland or plain/) }]);
    expect(device.closed).toBe(true);
  });

  it('reports disconnected when the descriptor has no Scanned Data Report, or is malformed', async () => {
    for (const bytes of [HONEYWELL_KEYBOARD, CUT_AFTER_SCANNED_DATA]) {
      const device = new FakeDevice();
      const { events } = await scanner({ path: '/dev/hidraw3' }, device, async () => bytes);
      expect(events).toEqual([{ type: 'disconnected', reason: expect.stringMatching(/report descriptor of \/dev\/hidraw3 gives no usable HID POS Scanned Data Report: .*set posLayout/) }]);
      expect(device.closed).toBe(true);
    }
  });

  it('reports disconnected when it cannot tell which hidraw node was opened', async () => {
    const device = new FakeDevice();
    const { events, read } = await scanner({ vendorId: 0x0536, productId: 0x0207 }, device, () => HONEYWELL_HID_POS);
    expect(events).toEqual([{ type: 'disconnected', reason: expect.stringContaining('give path') }]);
    expect(read).not.toHaveBeenCalled();
  });

  it('does not read a descriptor in keyboard mode', async () => {
    const device = new FakeDevice();
    const { events, read } = await scanner({ path: '/dev/hidraw3', mode: 'keyboard' }, device, () => HONEYWELL_HID_POS);
    expect(events).toEqual([{ type: 'connected' }]);
    expect(read).not.toHaveBeenCalled();
  });

  it('closes the device and stays quiet when disconnected while the descriptor is read', async () => {
    const device = new FakeDevice();
    let answer: (bytes: Uint8Array) => void = () => {};
    const events: ScannerDriverEvent[] = [];
    const hid = new HidScanner({ ...base, path: '/dev/hidraw3' }, () => device, undefined, () => new Promise<Uint8Array>((resolve) => (answer = resolve)));
    hid.onEvent((e) => events.push(e));
    hid.connect();
    await new Promise((resolve) => setImmediate(resolve));
    hid.disconnect();
    answer(HONEYWELL_HID_POS);
    await vi.waitFor(() => expect(device.closed).toBe(true));
    expect(events).toEqual([]);
  });
});

describe('reading the descriptor from sysfs', () => {
  it('refuses a path that is not a hidraw node, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'postern-hid-'));
    try {
      await writeFile(join(dir, 'scanner'), '');
      await expect(readSysfsReportDescriptor(join(dir, 'scanner'))).rejects.toThrow(/is not a hidraw node/);
      await expect(readSysfsReportDescriptor(join(dir, 'missing'))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('configuration', () => {
  it("accepts posLayout 'descriptor' and keeps 'plain' as the default", () => {
    expect(hidScannerOptions.parse({ path: '/dev/hidraw3', mode: 'pos', posLayout: 'descriptor' })).toMatchObject({ posLayout: 'descriptor' });
    expect(hidScannerOptions.parse({ path: '/dev/hidraw3', mode: 'pos' })).toMatchObject({ posLayout: 'plain' });
    expect(hidScannerOptions.safeParse({ path: '/dev/hidraw3', mode: 'pos', posLayout: 'zebra' }).success).toBe(false);
  });
});
