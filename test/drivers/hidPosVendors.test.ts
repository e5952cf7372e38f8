/**
 * HID POS scanners as vendors send them: the byte sequences below are written out field by field
 * from the vendors' published interface descriptions (each test names its source), and replayed
 * through HidScanner on a fake device.
 *
 * Sources:
 * - Honeywell layout: Access-IS LSR116 Product Manual, appendix A.1 "Receive data" (and the same
 *   table in the ATR110 and LSR118 Product Manuals, appendix B.1 "HID reports - barcode only"),
 *   readers built on a Honeywell engine; the same layout comes from a Honeywell Voyager 1602g
 *   (github.com/HenkVanAsselt/python_hon_usbhid, README).
 * - Newland layout: Unitech MS842N User Manual, "Acquire Scanned Data" (HID-POS); the same table is
 *   in the QUIO QU-R-302 manual and the Newland FM430 user guide.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PosReassembler } from '../../drivers/scanners/hid/posReassembler.ts';
import type { PosLayoutName } from '../../drivers/scanners/hid/posReports.ts';
import { HidScanner, type HidDevice, type HidDrop, type HidScannerOptions } from '../../drivers/scanners/hidScanner.ts';
import { MAX_READ_CHARS, type ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { vectors } from '../support/vectors.ts';

/** A 64-byte report as the documents print it: numbers as bytes, strings as their UTF-8 bytes. */
function report(...fields: Array<number | string | number[]>): number[] {
  const bytes = fields.flatMap((f) => (typeof f === 'number' ? [f] : typeof f === 'string' ? [...Buffer.from(f, 'utf8')] : f));
  if (bytes.length !== 64) throw new Error(`a report is 64 bytes, this one is ${bytes.length}`);
  return bytes;
}
const zeros = (n: number): number[] => Array<number>(n).fill(0);
const utf8 = (text: string): number[] => [...Buffer.from(text, 'utf8')];

class FakeDevice extends EventEmitter implements HidDevice {
  close(): void {}
  send(...reports: number[][]): void {
    for (const r of reports) this.emit('data', Buffer.from(r));
  }
}

async function scanner(posLayout: PosLayoutName, options: Partial<HidScannerOptions> = {}) {
  const device = new FakeDevice();
  const drops: HidDrop[] = [];
  const events: ScannerDriverEvent[] = [];
  const hid = new HidScanner(
    { path: '/dev/hidraw-test', mode: 'pos', layout: 'us', suffix: 'enter', interCharTimeoutMs: 50, posLayout, ...options },
    () => device,
    (drop) => drops.push(drop),
  );
  hid.onEvent((e) => events.push(e));
  hid.connect();
  await vi.waitFor(() => expect(events.at(-1)).toEqual({ type: 'connected' }));
  const reads = () => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text);
  return { hid, device, drops, reads };
}

/** A real Postern code: 67 characters, more than the 56 data bytes of one report. */
const P1 = vectors.vectors[0]!.code;

afterEach(() => {
  vi.useRealTimers();
});

describe('Honeywell HID POS layout (AIM identifier, then the data; continuation in byte 63)', () => {
  it('reads the example scan of the Access-IS LSR116 manual, appendix A.1.1: 60 bytes in two reports', async () => {
    // Source: Access-IS LSR116 Product Manual, A.1.1 "Example HID input reports, as sent by the
    // device" (ATR110/LSR118 manuals, B.1.1). The manual prints the first report's 56 data bytes as
    // text, where the two spaces closing the 20-character name field of the boarding pass show as
    // one; its length byte 0x38 counts both. The second report carries the last 4 bytes.
    const first = report(0x02, 0x38, 0x5d, 0x51, 0x30, 'M1GATHERGOOD/MICHAEL  YABCDEF LHRDURAK 3542 052Y003D23  ', 0x73, 0x00, 0x01);
    const last = report(0x02, 0x04, 0x5d, 0x51, 0x30, 0x20, ...utf8('100'), zeros(52), 0x73, 0x00, 0x00);
    const { device, reads, drops } = await scanner('honeywell');
    device.send(first, last);
    expect(reads()).toEqual(['M1GATHERGOOD/MICHAEL  YABCDEF LHRDURAK 3542 052Y003D23   100']);
    expect(drops).toEqual([]);

    const reassembler = new PosReassembler('honeywell');
    expect(reassembler.take(Uint8Array.from(first))).toEqual({ kind: 'held' });
    expect(reassembler.take(Uint8Array.from(last))).toMatchObject({ kind: 'read', symbology: ']Q0' });
  });

  it('reads a short QR code from one report and strips its AIM identifier ]Q1', async () => {
    // Source: the LSR116 manual's table A.1: byte 1 length, bytes 2-4 the AIM identifier, data from
    // byte 5, byte 61 the Honeywell code id ('s' = QR), byte 63 bit 0 clear: nothing follows.
    const { device, reads } = await scanner('honeywell');
    device.send(report(0x02, 6, ']Q1', 'DOOR-7', zeros(50), 's', 0x00, 0x00));
    expect(reads()).toEqual(['DOOR-7']);
    const reassembler = new PosReassembler('honeywell');
    expect(reassembler.take(Uint8Array.from(report(0x02, 6, ']Q1', 'DOOR-7', zeros(50), 's', 0x00, 0x00)))).toEqual({ kind: 'read', text: 'DOOR-7', symbology: ']Q1' });
  });

  it('reads a P1 code sent as 56 + 11 bytes, the first report flagged "data continued"', async () => {
    // Source: LSR116 manual, table A.1 (up to 56 data bytes per report; byte 63 bit 0 = continued).
    expect(P1).toHaveLength(67);
    const { device, reads } = await scanner('honeywell');
    device.send(
      report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01),
      report(0x02, 11, ']Q1', P1.slice(56), zeros(45), 's', 0x00, 0x00),
    );
    expect(reads()).toEqual([P1]);
  });

  it('joins three reports and decodes the bytes once, so characters split between reports stay whole', async () => {
    // Source: LSR116 manual, table A.1. A QR code's text is UTF-8: 'ü' (C3 BC) has its first byte
    // as the 56th of the first report, '€' (E2 82 AC) starts two bytes before the end of the second.
    const text = `${'a'.repeat(55)}ü${'b'.repeat(53)}€${'c'.repeat(10)}`;
    const bytes = utf8(text);
    expect(bytes).toHaveLength(123);
    expect(bytes.slice(55, 57)).toEqual([0xc3, 0xbc]);
    expect(bytes.slice(110, 113)).toEqual([0xe2, 0x82, 0xac]);
    const { device, reads } = await scanner('honeywell');
    device.send(
      report(0x02, 56, ']Q1', bytes.slice(0, 56), 's', 0x00, 0x01),
      report(0x02, 56, ']Q1', bytes.slice(56, 112), 's', 0x00, 0x01),
      report(0x02, 11, ']Q1', bytes.slice(112), zeros(45), 's', 0x00, 0x00),
    );
    expect(reads()).toEqual([text]);
  });

  it('ignores reports of other ids and short reports between the parts of a code', async () => {
    // Source: LSR116 manual, table A.1 (scanned data is report id 2). Report 0xFD is the id
    // Honeywell scanners use for commands (python_hon_usbhid README); an 8-byte keyboard report and
    // a truncated report are what a composite device or a glitch may put in between. They neither
    // end the code nor extend the wait for its next part (20 + 20 ms, under the 50 ms timeout).
    const { device, reads, drops } = await scanner('honeywell');
    vi.useFakeTimers();
    device.send(report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01));
    vi.advanceTimersByTime(20);
    device.send([0x01, 0x00, 0x04, 0, 0, 0, 0, 0], report(0xfd, 3, 0x16, 0x07, 0x0d, zeros(59)), [0x02, 0x05, 0x5d]);
    vi.advanceTimersByTime(20);
    device.send(report(0x02, 11, ']Q1', P1.slice(56), zeros(45), 's', 0x00, 0x00));
    expect(reads()).toEqual([P1]);
    expect(drops).toEqual([]);
  });

  it('drops a code whose last report does not come within interCharTimeoutMs, saying how much and which symbology, and reads the next one whole', async () => {
    // Source: LSR116 manual, table A.1: the first report of a code split in two, and no second.
    const { device, reads, drops } = await scanner('honeywell');
    vi.useFakeTimers();
    device.send(report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01));
    vi.advanceTimersByTime(49);
    expect(drops).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(drops).toEqual([{ reason: expect.stringContaining('50 ms'), chars: 56, symbology: ']Q1' }]);
    expect(reads()).toEqual([]);
    device.send(
      report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01),
      report(0x02, 11, ']Q1', P1.slice(56), zeros(45), 's', 0x00, 0x00),
    );
    expect(reads()).toEqual([P1]);
    expect(drops).toHaveLength(1);
  });

  it('keeps a slow code alive: the timeout is between reports, not for the whole code', async () => {
    // Source: LSR116 manual, table A.1, three reports of one code, 40 ms apart.
    const bytes = utf8(`${P1}.${P1}`);
    const { device, reads, drops } = await scanner('honeywell');
    vi.useFakeTimers();
    device.send(report(0x02, 56, ']Q1', bytes.slice(0, 56), 's', 0x00, 0x01));
    vi.advanceTimersByTime(40);
    device.send(report(0x02, 56, ']Q1', bytes.slice(56, 112), 's', 0x00, 0x01));
    vi.advanceTimersByTime(40);
    device.send(report(0x02, 23, ']Q1', bytes.slice(112), zeros(33), 's', 0x00, 0x00));
    expect(drops).toEqual([]);
    expect(reads()).toEqual([`${P1}.${P1}`]);
  });

  it(`bounds a code sent as endless continued reports at MAX_READ_CHARS (${MAX_READ_CHARS}) and reads the next code`, async () => {
    // Source: LSR116 manual, table A.1: a device that keeps byte 63 bit 0 set for 2,000 reports.
    const { device, reads, drops } = await scanner('honeywell');
    const flood = report(0x02, 56, ']Q1', 'X'.repeat(56), 's', 0x00, 0x01);
    for (let i = 0; i < 2000; i++) device.send(flood);
    device.send(report(0x02, 1, ']Q1', 'Y', zeros(55), 's', 0x00, 0x00));
    device.send(report(0x02, 6, ']Q1', 'DOOR-7', zeros(50), 's', 0x00, 0x00));
    const got = reads();
    expect(got).toHaveLength(2);
    expect(got[0]).toBe('X'.repeat(MAX_READ_CHARS));
    expect(got[1]).toBe('DOOR-7');
    expect(drops).toEqual([]);
  });

  it('forgets a code cut off by an unplug, and reads whole codes from the device opened next', async () => {
    // Source: LSR116 manual, table A.1.
    const { hid, device, reads, drops } = await scanner('honeywell');
    device.send(report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01));
    device.emit('close');
    device.send(report(0x02, 11, ']Q1', P1.slice(56), zeros(45), 's', 0x00, 0x00));
    expect(reads()).toEqual([]);
    hid.connect();
    await new Promise((resolve) => setImmediate(resolve));
    device.send(
      report(0x02, 56, ']Q1', P1.slice(0, 56), 's', 0x00, 0x01),
      report(0x02, 11, ']Q1', P1.slice(56), zeros(45), 's', 0x00, 0x00),
    );
    expect(reads()).toEqual([P1]);
    expect(drops).toEqual([]);
  });
});

describe('Newland HID POS layout (data first; symbology id in byte 62, continuation in byte 63)', () => {
  it('reads a P1 code sent as 56 + 11 bytes with no symbology id (byte 62 = 0x00)', async () => {
    // Source: Unitech MS842N User Manual, "Acquire Scanned Data": byte 1 barcode length, bytes 2-57
    // decoded data (1-56), 58-61 reserved, 62 symbology id number or N/C 0x00, 63 bit 0 decode data
    // continued.
    const { device, reads } = await scanner('newland');
    device.send(
      report(0x02, 56, P1.slice(0, 56), zeros(4), 0x00, 0x01),
      report(0x02, 11, P1.slice(56), zeros(45), zeros(4), 0x00, 0x00),
    );
    expect(reads()).toEqual([P1]);
  });

  it('reads a short code from one report, and a UTF-8 character split between two reports', async () => {
    // Source: Unitech MS842N User Manual, "Acquire Scanned Data".
    const text = `${'z'.repeat(55)}€ 3`;
    const bytes = utf8(text);
    const { device, reads } = await scanner('newland');
    device.send(
      report(0x02, 6, 'DOOR-7', zeros(50), zeros(4), 0x00, 0x00),
      report(0x02, 56, bytes.slice(0, 56), zeros(4), 0x00, 0x01),
      report(0x02, 4, bytes.slice(56), zeros(52), zeros(4), 0x00, 0x00),
    );
    expect(reads()).toEqual(['DOOR-7', text]);
  });

  it('keeps the symbology id byte as the symbology of a dropped code', async () => {
    // Source: Unitech MS842N User Manual, "Acquire Scanned Data" (byte 62: symbology id number).
    const { device, drops } = await scanner('newland');
    vi.useFakeTimers();
    device.send(report(0x02, 56, P1.slice(0, 56), zeros(4), 0x33, 0x01));
    vi.advanceTimersByTime(50);
    expect(drops).toEqual([{ reason: expect.stringContaining('50 ms'), chars: 56, symbology: 'newland 0x33' }]);
  });
});

describe('the layout is the setting that tells the reports apart', () => {
  it('reads the same Honeywell reports differently under another layout, so the layout must match the scanner', async () => {
    // Source: LSR116 manual, table A.1 (Honeywell) against the Unitech MS842N table (Newland).
    const honeywell = report(0x02, 6, ']Q1', 'DOOR-7', zeros(50), 's', 0x00, 0x00);
    const asNewland = await scanner('newland');
    asNewland.device.send(honeywell);
    expect(asNewland.reads()).toEqual([']Q1DOO']);
    const asPlain = await scanner('plain');
    asPlain.device.send(honeywell);
    expect(asPlain.reads()).toEqual([']Q1DOO']);
  });
});
