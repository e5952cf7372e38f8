/**
 * Properties of the HID scanner input (drivers/scanners/hid/keyboardReports.ts, posReports.ts,
 * posReassembler.ts, keyboardLayouts.ts, and the HidScanner that puts them together): arbitrary
 * reports never throw and never make a read longer than MAX_READ_CHARS; text typed as boot keyboard
 * reports on a layout reads back as that text; HID POS reports round trip, and any text split over
 * the reports of a vendor layout at any byte reassembles exactly; any report descriptor bytes either
 * give a layout or a ReportDescriptorError (reportDescriptor.ts), never another throw.
 */
import { EventEmitter } from 'node:events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCredential, encodeCredential, type CredentialFields } from '../../controller/credentials/credentialCodec.ts';
import { HidScanner, type HidDevice, type HidScannerOptions } from '../../drivers/scanners/hidScanner.ts';
import { KEYBOARD_LAYOUTS, type KeyboardLayoutName } from '../../drivers/scanners/hid/keyboardLayouts.ts';
import { KeyboardReportDecoder, type KeyPress } from '../../drivers/scanners/hid/keyboardReports.ts';
import { parseDescriptorReport } from '../../drivers/scanners/hid/descriptorReports.ts';
import { PosReassembler } from '../../drivers/scanners/hid/posReassembler.ts';
import { parsePosReport, POS_LAYOUTS, type PosLayoutName } from '../../drivers/scanners/hid/posReports.ts';
import { findScannedDataFields, MAX_DESCRIPTOR_BYTES, ReportDescriptorError } from '../../drivers/scanners/hid/reportDescriptor.ts';
import { MAX_READ_CHARS, type ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { params } from './propertyRuns.ts';

const LAYOUTS: KeyboardLayoutName[] = ['us', 'uk', 'de', 'fr'];
const ENTER = 0x28;
const KEYPAD_ENTER = 0x58;
const TAB = 0x2b;
const L_SHIFT = 0x02;
const R_SHIFT = 0x20;
const ALT_GR = 0x40;
const UP = [0, 0, 0, 0, 0, 0, 0, 0];
const ERROR_ROLLOVER = [0, 0, 1, 1, 1, 1, 1, 1];
const down = (modifiers: number, ...keys: number[]): number[] => [modifiers, 0, ...keys, ...Array(6 - keys.length).fill(0)];

/** Every way a layout types a character: [usage, modifiers] per key and level that gives it. */
function strokesOf(layout: KeyboardLayoutName): Map<string, Array<[number, number[]]>> {
  const strokes = new Map<string, Array<[number, number[]]>>();
  for (const [usage, levels] of KEYBOARD_LAYOUTS[layout]) {
    levels.forEach((char, level) => {
      if (!char) return;
      const modifiers = level === 0 ? [0] : level === 1 ? [L_SHIFT, R_SHIFT, L_SHIFT | R_SHIFT] : [ALT_GR];
      strokes.set(char, [...(strokes.get(char) ?? []), [usage, modifiers]]);
    });
  }
  return strokes;
}
const STROKES = Object.fromEntries(LAYOUTS.map((l) => [l, strokesOf(l)])) as Record<KeyboardLayoutName, Map<string, Array<[number, number[]]>>>;

class FakeDevice extends EventEmitter implements HidDevice {
  close(): void {}
}

/**
 * The report descriptor of Honeywell's USB HID POS interface (firmware usb2hidpos.cpp,
 * `usb_report_descrA`; written out item by item, with its source, in
 * test/drivers/hidPosDescriptor.test.ts). Its Scanned Data Report is the honeywell layout.
 */
const HONEYWELL_HID_POS = Uint8Array.from(
  Buffer.from(
    '058c0902a1010912a1028502150026ff00750895010501093b81029503058c09fb09fc09fd8102953809fe8202010666' +
    'ff9502090409008102058c25017501950809ff8102c00914a102850415002501750195080900095f0960090009000985' +
    '09869186c00666ff750826ff000903a10285fe95010903b28201c00901a10285fd950109219102953e0922928201c0c0',
    'hex',
  ),
);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A HidScanner on a fake device, connected; `send` feeds reports, `reads` is what it passed on. */
async function scannerOn(options: Partial<HidScannerOptions>) {
  const device = new FakeDevice();
  const events: ScannerDriverEvent[] = [];
  const drops: number[] = [];
  const scanner = new HidScanner(
    { path: '/dev/hidraw-test', mode: 'keyboard', layout: 'us', suffix: 'enter', interCharTimeoutMs: 10_000, posLayout: 'plain', ...options },
    () => device,
    (drop) => drops.push(drop.chars),
    () => HONEYWELL_HID_POS,
  );
  scanner.onEvent((e) => events.push(e));
  scanner.connect();
  await tick();
  expect(events).toEqual([{ type: 'connected' }]);
  return {
    send: (reports: Iterable<number[] | Uint8Array>) => {
      for (const r of reports) device.emit('data', Buffer.from(r));
    },
    reads: () => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text),
    drops,
    stop: () => scanner.disconnect(),
  };
}

/** Boot keyboard reports, HID 1.11 appendix B.1, as the spec of the decoder says it reads them. */
function expectedPresses(layout: KeyboardLayoutName, reports: Uint8Array[]): KeyPress[][] {
  let held = new Set<number>();
  return reports.map((report) => {
    const bytes = report.length === 9 ? report.subarray(1) : report;
    if (bytes.length < 3) return [];
    const slots = [...bytes.subarray(2, 8)];
    if (slots.length > 0 && slots.every((k) => k === 1)) return [];
    const modifiers = bytes[0]!;
    const now = new Set(slots.filter((k) => k !== 0));
    const presses = [...now].filter((k) => !held.has(k)).map((usage): KeyPress => {
      if (usage === ENTER || usage === KEYPAD_ENTER) return { kind: 'enter' };
      if (usage === TAB) return { kind: 'tab' };
      if (modifiers & 0x15) return { kind: 'none' };
      const levels = KEYBOARD_LAYOUTS[layout].get(usage);
      const char = levels?.[modifiers & ALT_GR ? 2 : modifiers & (L_SHIFT | R_SHIFT) ? 1 : 0];
      return char ? { kind: 'char', char } : { kind: 'none' };
    });
    held = now;
    return presses;
  });
}

/** Reports as scanners and hostile devices send them: boot reports, with a report id, short, long, and floods. */
const reportArb = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.array(fc.oneof(fc.constantFrom(0, 1, ENTER, TAB, KEYPAD_ENTER, 0x04, 0x2c, 0x37), fc.integer({ min: 0, max: 255 })), { minLength: 6, maxLength: 6 })).map(([m, keys]) => Uint8Array.from([m, 0, ...keys])) },
  { weight: 2, arbitrary: fc.constant(Uint8Array.from(UP)) },
  fc.constant(Uint8Array.from(ERROR_ROLLOVER)),
  fc.uint8Array({ minLength: 9, maxLength: 9 }),
  fc.uint8Array({ minLength: 0, maxLength: 16 }),
);

/** A flood: one key typed again and again, past MAX_READ_CHARS, then maybe its suffix. */
const floodArb = fc.record({ usage: fc.integer({ min: 0x04, max: 0x27 }), modifiers: fc.constantFrom(0, L_SHIFT), count: fc.integer({ min: MAX_READ_CHARS - 2, max: MAX_READ_CHARS + 300 }), end: fc.constantFrom(null, ENTER, TAB) });

function* expand(items: Array<Uint8Array | { usage: number; modifiers: number; count: number; end: number | null }>): Generator<Uint8Array> {
  for (const item of items) {
    if (item instanceof Uint8Array) {
      yield item;
      continue;
    }
    const key = Uint8Array.from(down(item.modifiers, item.usage));
    const up = Uint8Array.from(UP);
    for (let i = 0; i < item.count; i++) {
      yield key;
      yield up;
    }
    if (item.end !== null) yield Uint8Array.from(down(0, item.end));
  }
}

/** The reads a keyboard-mode scanner passes on for these presses: the characters before each suffix, cut at MAX_READ_CHARS. */
function expectedReads(presses: KeyPress[], suffix: 'enter' | 'tab'): string[] {
  const reads: string[] = [];
  let pending = '';
  for (const p of presses) {
    if (p.kind === suffix) {
      if (pending.length > 0) reads.push(pending.slice(0, MAX_READ_CHARS));
      pending = '';
    } else if (p.kind === 'char' && pending.length < MAX_READ_CHARS) pending += p.char;
  }
  return reads;
}

/** Typing `text` on a layout, as a scanner may: any key and Shift that gives each character, rollover, repeats, noise. */
function typingArb(layout: KeyboardLayoutName, text: string, suffix: 'enter' | 'tab'): fc.Arbitrary<number[][]> {
  const choices = [...text].map((c) => {
    const ways = STROKES[layout].get(c)!;
    return fc.tuple(fc.nat(ways.length - 1), fc.nat(3), fc.constantFrom('release', 'release', 'rollover', 'repeat', 'error-rollover', 'report-id'));
  });
  return fc.tuple(fc.tuple(...choices, fc.constant(null)), fc.constantFrom(...(suffix === 'enter' ? [ENTER, KEYPAD_ENTER] : [TAB]))).map(([picked, end]) => {
    const reports: number[][] = [];
    let previous: [number, number] | null = null;
    [...text].forEach((c, i) => {
      const [way, side, framing] = picked[i] as [number, number, string];
      const [usage, modifierChoices] = STROKES[layout].get(c)![way]!;
      const modifiers = modifierChoices[side % modifierChoices.length]!;
      // Rollover: the next key goes down before the previous one is up (only with the same modifiers).
      if (framing === 'rollover' && previous !== null && previous[1] === modifiers && previous[0] !== usage) {
        reports.push(down(modifiers, previous[0], usage), down(modifiers, usage));
      } else {
        if (previous !== null) reports.push(UP);
        const report = down(modifiers, usage);
        reports.push(framing === 'report-id' ? [0x01, ...report] : report);
        if (framing === 'repeat') reports.push(report);
        if (framing === 'error-rollover') reports.push(ERROR_ROLLOVER, report);
      }
      previous = [usage, modifiers];
    });
    reports.push(UP, down(0, end), UP);
    return reports;
  });
}

const layoutText = (layout: KeyboardLayoutName) => fc.string({ unit: fc.constantFrom(...STROKES[layout].keys()), minLength: 1, maxLength: 80 });

describe('HID keyboard report properties', () => {
  it('decodes any report sequence without throwing, into the presses the boot protocol gives', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LAYOUTS), fc.array(reportArb, { maxLength: 30 }), (layout, reports) => {
        const decoder = new KeyboardReportDecoder(layout);
        const got = reports.map((r) => decoder.decode(r));
        expect(got).toEqual(expectedPresses(layout, reports));
        for (const presses of got) expect(presses.length).toBeLessThanOrEqual(6);
      }),
      params(1000),
    );
  });

  it('never passes on a read longer than MAX_READ_CHARS, whatever the device sends, and passes on what was typed', async () => {
    const items = fc.array(fc.oneof({ weight: 30, arbitrary: reportArb }, floodArb), { maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LAYOUTS), fc.constantFrom<'enter' | 'tab'>('enter', 'tab'), items, async (layout, suffix, list) => {
        const scanner = await scannerOn({ layout, suffix });
        const decoder = new KeyboardReportDecoder(layout);
        const presses: KeyPress[] = [];
        for (const report of expand(list)) {
          scanner.send([report]);
          presses.push(...decoder.decode(report));
        }
        const reads = scanner.reads();
        scanner.stop();
        for (const read of reads) expect(read.length).toBeGreaterThan(0);
        expect(Math.max(0, ...reads.map((r) => r.length))).toBeLessThanOrEqual(MAX_READ_CHARS);
        expect(reads).toEqual(expectedReads(presses, suffix));
      }),
      params(200),
    );
  });

  for (const layout of LAYOUTS) {
    it(`reads back any text typed on a ${layout} layout, whatever keys, Shift side, rollover and report framing the scanner uses`, async () => {
      const typed = fc.tuple(layoutText(layout), fc.constantFrom<'enter' | 'tab'>('enter', 'tab')).chain(([text, suffix]) => typingArb(layout, text, suffix).map((reports) => ({ text, suffix, reports })));
      await fc.assert(
        fc.asyncProperty(typed, async ({ text, suffix, reports }) => {
          const scanner = await scannerOn({ layout, suffix });
          scanner.send(reports);
          scanner.send(reports);
          const reads = scanner.reads();
          scanner.stop();
          expect(reads).toEqual([text, text]);
        }),
        params(300),
      );
    });
  }

  it('reads a Postern code typed on any layout as the same code', async () => {
    const fields: fc.Arbitrary<CredentialFields> = fc.record({
      kind: fc.constantFrom('link', 'rotating', 'online-link'),
      issuer: fc.integer({ min: 0, max: 0xffff }),
      subject: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      a: fc.integer({ min: 0, max: 0xffffffff }),
      b: fc.integer({ min: 0, max: 0xffffffff }),
      scope: fc.integer({ min: 0, max: 0xffffffff }),
    });
    const typed = fc
      .tuple(fields, fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.constantFrom(...LAYOUTS), fc.boolean())
      .chain(([f, key, layout, lower]) => {
        const code = encodeCredential(f, key);
        const text = lower ? code.toLowerCase() : code;
        return typingArb(layout, text, 'enter').map((reports) => ({ code, layout, reports }));
      });
    await fc.assert(
      fc.asyncProperty(typed, async ({ code, layout, reports }) => {
        const scanner = await scannerOn({ layout });
        scanner.send(reports);
        const reads = scanner.reads();
        scanner.stop();
        expect(reads).toHaveLength(1);
        expect(decodeCredential(reads[0]!)).toEqual(decodeCredential(code));
      }),
      params(300),
    );
  });
});

/**
 * Where the characters of a code are on each layout, written out from the USB HID Usage Tables
 * (Keyboard page 0x07) and the national layouts, not from keyboardLayouts.ts: [usage, shifted].
 */
function realStroke(c: string, layout: KeyboardLayoutName): [number, boolean] {
  const lower = c.toLowerCase();
  if (/[a-z]/.test(lower)) {
    let usage = 0x04 + lower.charCodeAt(0) - 0x61;
    if (layout === 'de') usage = ({ y: 0x1d, z: 0x1c } as Record<string, number>)[lower] ?? usage;
    if (layout === 'fr') usage = ({ a: 0x14, q: 0x04, z: 0x1a, w: 0x1d, m: 0x33 } as Record<string, number>)[lower] ?? usage;
    return [usage, c !== lower];
  }
  if (/[0-9]/.test(c)) return [c === '0' ? 0x27 : 0x1e + Number(c) - 1, layout === 'fr'];
  if (c === '.') return layout === 'fr' ? [0x36, true] : [0x37, false];
  throw new Error(`no stroke for ${c}`);
}

describe('HID keyboard layouts against the real keyboards', () => {
  it('reads a code typed with the keys a real scanner of each country presses', async () => {
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...LAYOUTS), fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 70 }), fc.boolean(), async (layout, text, rightShift) => {
        const scanner = await scannerOn({ layout });
        const reports = [...text].flatMap((c) => {
          const [usage, shifted] = realStroke(c, layout);
          return [down(shifted ? (rightShift ? R_SHIFT : L_SHIFT) : 0, usage), UP];
        });
        scanner.send([...reports, down(0, ENTER), UP]);
        const reads = scanner.reads();
        scanner.stop();
        expect(reads).toEqual([text]);
      }),
      params(300),
    );
  });
});

/** What the scanner passes on for a code's bytes: UTF-8, without a trailing CR/LF, cut at MAX_READ_CHARS. */
const expectedText = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8').replace(/[\r\n]+$/, '').slice(0, MAX_READ_CHARS);

describe('HID POS report properties', () => {
  it('round trips data of any bytes through a plain Scanned Data Report (report id, length, data, padding)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 255 }), fc.uint8Array({ maxLength: 64 }), (id, data, padding) => {
        const report = Uint8Array.from([id, data.length, ...data, ...padding]);
        expect(parsePosReport('plain', report)).toEqual({ data, symbology: undefined, continued: false });
        expect(new PosReassembler('plain').take(report)).toEqual({ kind: 'read', text: expectedText(data), symbology: undefined });
      }),
      params(1000),
    );
  });

  it('never throws on any report, clamps a length past its end, and a plain POS scanner passes on every non-empty read, bounded', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), async (reports) => {
        const scanner = await scannerOn({ mode: 'pos' });
        scanner.send(reports);
        const reads = scanner.reads();
        scanner.stop();
        const expected = reports
          .map((r) => (r.length < 2 ? '' : expectedText(r.subarray(2, 2 + Math.min(r[1]!, r.length - 2)))))
          .filter((t) => t.length > 0);
        expect(reads).toEqual(expected);
        for (const read of reads) expect(read.length).toBeLessThanOrEqual(MAX_READ_CHARS);
      }),
      params(400),
    );
  });
});

/**
 * The vendor layouts written out again from their documents (see posReports.ts for the sources),
 * apart from the decoder: one 64-byte report for a part of a code.
 */
function vendorReport(layout: 'honeywell' | 'newland', part: Uint8Array, continued: boolean, aim: string): Uint8Array {
  const report = new Uint8Array(64);
  report[0] = 0x02;
  report[1] = part.length;
  if (layout === 'honeywell') {
    report.set(Buffer.from(aim, 'latin1'), 2);
    report.set(part, 5);
    report[61] = 0x73; // Honeywell code id 's'
  } else {
    report.set(part, 2);
  }
  report[63] = continued ? 0x01 : 0x00;
  return report;
}

/** Reports that are not Scanned Data Reports of the vendor layouts: other ids, or too short. */
const strayArb = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }).filter((id) => id !== 0x02), fc.uint8Array({ minLength: 63, maxLength: 63 })).map(([id, rest]) => Uint8Array.from([id, ...rest])),
  fc.uint8Array({ maxLength: 63 }),
);

/** A text's UTF-8 bytes cut at arbitrary points (through characters too) into parts of at most 56 bytes. */
function splitBytes(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let at = 0;
  let i = 0;
  do {
    const size = i < sizes.length ? sizes[i]! : 56;
    parts.push(bytes.subarray(at, at + size));
    at += size;
    i++;
  } while (at < bytes.length);
  return parts;
}

describe('HID POS vendor layout properties', () => {
  // `descriptor` reads the reports of Honeywell's HID POS report descriptor, which are honeywell reports.
  for (const layout of ['honeywell', 'newland', 'descriptor'] as const) {
    it(`reassembles any text split at any bytes over ${layout} reports, with stray reports in between, exactly`, async () => {
      const case_ = fc.record({
        text: fc.string({ unit: 'binary', maxLength: 200 }),
        sizes: fc.array(fc.integer({ min: 0, max: 56 }), { maxLength: 30 }),
        strays: fc.array(fc.tuple(fc.nat(40), strayArb), { maxLength: 5 }),
        aim: fc.constantFrom(']Q1', ']Q0', ']d2', ']C0'),
      });
      await fc.assert(
        fc.asyncProperty(case_, async ({ text, sizes, strays, aim }) => {
          const bytes = Buffer.from(text, 'utf8');
          const parts = splitBytes(bytes, sizes);
          const vendor = layout === 'descriptor' ? 'honeywell' : layout;
          const reports: Uint8Array[] = parts.map((part, i) => vendorReport(vendor, part, i < parts.length - 1, aim));
          for (const [at, stray] of strays) reports.splice(Math.min(at, reports.length - 1), 0, stray);

          const reassembler = new PosReassembler(layout === 'descriptor' ? findScannedDataFields(HONEYWELL_HID_POS) : layout);
          const outcomes = reports.map((r) => reassembler.take(r));
          const read = outcomes.filter((o) => o.kind === 'read');
          expect(read).toEqual([{ kind: 'read', text: expectedText(bytes), symbology: vendor === 'honeywell' ? aim : undefined }]);
          // The text itself comes back, whatever characters the cuts went through.
          if (!/[\r\n]$/.test(text)) expect(read[0]).toMatchObject({ text });
          expect(outcomes.at(-1)!.kind).toBe('read');
          expect(reassembler.pending).toBe(false);

          const scanner = await scannerOn({ mode: 'pos', posLayout: layout });
          scanner.send(reports);
          const reads = scanner.reads();
          scanner.stop();
          expect(reads).toEqual(expectedText(bytes).length > 0 ? [expectedText(bytes)] : []);
          expect(scanner.drops).toEqual([]);
        }),
        params(500),
      );
    });
  }

  it('never throws on any reports in any layout, and never passes on a read longer than MAX_READ_CHARS', async () => {
    const reportArb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.tuple(fc.integer({ min: 0, max: 56 }), fc.uint8Array({ minLength: 61, maxLength: 61 }), fc.boolean()).map(([length, rest, more]) => Uint8Array.from([0x02, length, ...rest.subarray(0, 60), more ? 0x01 : 0x00])),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<PosLayoutName>(...POS_LAYOUTS), fc.array(reportArb, { maxLength: 40 }), fc.nat(400), async (posLayout, reports, floodCount) => {
        const scanner = await scannerOn({ mode: 'pos', posLayout });
        const flood = new Uint8Array(64).fill(0x41);
        flood[0] = 0x02;
        flood[1] = 56;
        flood[63] = 0x01;
        scanner.send(reports);
        scanner.send(Array<Uint8Array>(floodCount).fill(flood));
        scanner.send(reports);
        const reads = scanner.reads();
        scanner.stop();
        for (const read of reads) {
          expect(read.length).toBeGreaterThan(0);
          expect(read.length).toBeLessThanOrEqual(MAX_READ_CHARS);
        }
      }),
      params(200),
    );
  });
});

/** Short items as a descriptor is made of: any prefix, with the data its size code says (often the barcode usages). */
const itemArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 255 }).filter((p) => p !== 0xfe), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([prefix, data]) => [prefix, ...data.subarray(0, [0, 1, 2, 4][prefix & 3]!)]) },
  { weight: 3, arbitrary: fc.constantFrom([0x05, 0x8c], [0x05, 0x01], [0x09, 0xfe], [0x09, 0xff], [0x09, 0xfb], [0x09, 0x3b], [0x19, 0xfb], [0x29, 0xff], [0x75, 0x08], [0x75, 0x01], [0x95, 0x38], [0x85, 0x02], [0x81, 0x02], [0x82, 0x02, 0x01], [0x81, 0x03], [0xa1, 0x01], [0xc0], [0xa4], [0xb4]) },
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 8 })).map(([size, data]) => [0xfe, size, 0x10, ...data]),
);

/** Descriptors as a broken or hostile device may give them: random bytes, random items, and Honeywell's cut, mutated or grown. */
const descriptorArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ minLength: MAX_DESCRIPTOR_BYTES - 2, maxLength: MAX_DESCRIPTOR_BYTES + 2 }),
  fc.array(itemArb, { maxLength: 120 }).map((items) => Uint8Array.from(items.flat())),
  fc.tuple(fc.nat(HONEYWELL_HID_POS.length), fc.array(fc.tuple(fc.nat(HONEYWELL_HID_POS.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.array(itemArb, { maxLength: 10 })).map(([cut, flips, extra]) => {
    const bytes = Uint8Array.from([...HONEYWELL_HID_POS.subarray(0, cut), ...extra.flat(), ...HONEYWELL_HID_POS.subarray(cut)]);
    for (const [at, value] of flips) bytes[at % bytes.length] = value;
    return bytes;
  }),
);

describe('HID report descriptor properties', () => {
  it("reads any report with the layout of Honeywell's HID POS descriptor exactly as the honeywell layout reads it", () => {
    const fields = findScannedDataFields(HONEYWELL_HID_POS);
    const reportArb = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 63, maxLength: 70 })).map(([length, rest]) => Uint8Array.from([0x02, length, ...rest])),
      fc.tuple(fc.constantFrom(']Q1', ']d2', '\0\0\0'), fc.uint8Array({ maxLength: 56 }), fc.boolean()).map(([aim, data, more]) => vendorReport('honeywell', data, more, aim)),
    );
    fc.assert(
      fc.property(reportArb, (report) => {
        expect(parseDescriptorReport(fields, report)).toEqual(parsePosReport('honeywell', report));
      }),
      params(1000),
    );
  });

  it('gives a layout or a ReportDescriptorError for any bytes, and any report read with that layout never throws and stays within its data field', () => {
    fc.assert(
      fc.property(descriptorArb, fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 8 }), (descriptor, reports) => {
        let fields;
        try {
          fields = findScannedDataFields(descriptor);
        } catch (error) {
          expect(error).toBeInstanceOf(ReportDescriptorError);
          expect((error as Error).message.length).toBeGreaterThan(0);
          return;
        }
        expect(descriptor.length).toBeLessThanOrEqual(MAX_DESCRIPTOR_BYTES);
        expect(fields.data.offset % 8).toBe(0);
        const reassembler = new PosReassembler(fields);
        for (const report of reports) {
          const withId = fields.reportId === undefined ? report : Uint8Array.from([fields.reportId, ...report]);
          const part = parseDescriptorReport(fields, withId);
          if (part !== null) expect(part.data.length).toBeLessThanOrEqual(fields.data.count);
          const outcome = reassembler.take(withId);
          if (outcome.kind === 'read') expect(outcome.text.length).toBeLessThanOrEqual(MAX_READ_CHARS);
        }
      }),
      params(2000),
    );
  });
});
