import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { configSchema } from '../../controller/config/configSchema.ts';
import { createScannerDriver } from '../../drivers/createDrivers.ts';
import { HidScanner, type HidDevice, type HidDrop, type HidScannerOptions } from '../../drivers/scanners/hidScanner.ts';
import { MAX_READ_CHARS, type ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { vectors } from '../support/vectors.ts';

/**
 * Key strokes written out by hand from the USB HID Usage Tables (Keyboard page 0x07) and the
 * national layouts, independently of the driver's tables: [usage, modifiers] per character.
 */
const L_SHIFT = 0x02;
const R_SHIFT = 0x20;
const ALT_GR = 0x40;
type Stroke = [usage: number, modifiers: number];

function usLetter(c: string): number {
  return 0x04 + c.toLowerCase().charCodeAt(0) - 0x61;
}
/** us/uk/de: 1..9 are 0x1E..0x26, 0 is 0x27. */
function digitUsage(c: string): number {
  return c === '0' ? 0x27 : 0x1e + Number(c) - 1;
}

function stroke(c: string, layout: 'us' | 'uk' | 'de' | 'fr'): Stroke {
  const upper = c >= 'A' && c <= 'Z';
  if (/[a-zA-Z]/.test(c)) {
    const shift = upper ? (c.charCodeAt(0) % 2 ? L_SHIFT : R_SHIFT) : 0;
    const l = c.toLowerCase();
    let usage = usLetter(l);
    if (layout === 'de' && l === 'y') usage = 0x1d;
    if (layout === 'de' && l === 'z') usage = 0x1c;
    if (layout === 'fr') {
      usage = { a: 0x14, q: 0x04, z: 0x1a, w: 0x1d, m: 0x33 }[l] ?? usage;
    }
    return [usage, shift];
  }
  if (/[0-9]/.test(c)) return [digitUsage(c), layout === 'fr' ? L_SHIFT : 0];
  const table: Record<string, Record<string, Stroke>> = {
    us: { '.': [0x37, 0], '-': [0x2d, 0], '!': [0x1e, L_SHIFT], '@': [0x1f, L_SHIFT], _: [0x2d, R_SHIFT], ':': [0x33, L_SHIFT], '?': [0x38, L_SHIFT], '"': [0x34, L_SHIFT] },
    uk: { '.': [0x37, 0], '-': [0x2d, 0], '!': [0x1e, L_SHIFT], '@': [0x34, L_SHIFT], _: [0x2d, L_SHIFT], ':': [0x33, L_SHIFT], '?': [0x38, L_SHIFT], '"': [0x1f, L_SHIFT] },
    de: { '.': [0x37, 0], '-': [0x38, 0], '!': [0x1e, L_SHIFT], '@': [0x14, ALT_GR], _: [0x38, L_SHIFT], ':': [0x37, L_SHIFT], '?': [0x2d, L_SHIFT], '"': [0x1f, L_SHIFT] },
    fr: { '.': [0x36, L_SHIFT], '-': [0x23, 0], '!': [0x38, 0], '@': [0x27, ALT_GR], _: [0x25, 0], ':': [0x37, 0], '?': [0x10, L_SHIFT], '"': [0x20, 0] },
  };
  const s = table[layout]![c];
  if (s === undefined) throw new Error(`test table has no ${c} on ${layout}`);
  return s;
}

const ENTER = 0x28;
const TAB = 0x2b;
const UP = [0, 0, 0, 0, 0, 0, 0, 0];
const down = (modifiers: number, ...keys: number[]): number[] => [modifiers, 0, ...keys, ...Array(6 - keys.length).fill(0)];

/** Key-down and key-up reports for the text on a layout, then the suffix key (unless null). */
function typed(text: string, layout: 'us' | 'uk' | 'de' | 'fr', suffix: number | null = ENTER): number[][] {
  const reports: number[][] = [];
  for (const c of text) {
    const [usage, modifiers] = stroke(c, layout);
    reports.push(down(modifiers, usage), UP);
  }
  if (suffix !== null) reports.push(down(0, suffix), UP);
  return reports;
}

class FakeDevice extends EventEmitter implements HidDevice {
  closed = false;
  close(): void {
    this.closed = true;
  }
  send(...reports: number[][]): void {
    for (const r of reports) this.emit('data', Buffer.from(r));
  }
}

const base: HidScannerOptions = { vendorId: 0x0c2e, productId: 0x0b61, mode: 'keyboard', layout: 'us', suffix: 'enter', interCharTimeoutMs: 50, posLayout: 'plain' };

async function start(options: Partial<HidScannerOptions> = {}) {
  const devices: FakeDevice[] = [];
  const drops: HidDrop[] = [];
  const events: ScannerDriverEvent[] = [];
  const factory = vi.fn(async () => {
    const d = new FakeDevice();
    devices.push(d);
    return d;
  });
  const scanner = new HidScanner({ ...base, ...options }, factory, (d) => drops.push(d));
  scanner.onEvent((e) => events.push(e));
  scanner.connect();
  await vi.waitFor(() => expect(events.at(-1)).toEqual({ type: 'connected' }));
  const reads = () => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text);
  return { scanner, device: devices[0]!, devices, drops, events, reads, factory };
}

const P1 = vectors.vectors[0]!.code;

afterEach(() => {
  vi.useRealTimers();
});

describe('USB HID scanner, keyboard mode', () => {
  it('reads a P1 code typed on a us layout and ended with Enter', async () => {
    expect(P1).toMatch(/^P1\./);
    const { device, reads, scanner } = await start();
    device.send(...typed(P1, 'us'));
    expect(reads()).toEqual([P1]);
    scanner.disconnect();
    expect(device.closed).toBe(true);
  });

  it('reads the same code from the different reports of de and fr scanners', async () => {
    for (const layout of ['de', 'fr', 'uk'] as const) {
      const reports = typed(P1, layout);
      const { device, reads } = await start({ layout });
      device.send(...reports);
      expect(reads()).toEqual([P1]);
    }
    expect(typed(P1, 'fr')).not.toEqual(typed(P1, 'us'));
    expect(typed('ZY', 'de')).not.toEqual(typed('ZY', 'us'));
    const { device, reads } = await start({ layout: 'de' });
    device.send(...typed('zyZY', 'de'));
    const fr = await start({ layout: 'fr' });
    fr.device.send(...typed('aqzwmAQZWM.1234567890', 'fr'));
    expect(reads()).toEqual(['zyZY']);
    expect(fr.reads()).toEqual(['aqzwmAQZWM.1234567890']);
  });

  it('decodes shifted and AltGr characters per layout', async () => {
    const text = 'Ab!@_:?"-.';
    for (const layout of ['us', 'uk', 'de', 'fr'] as const) {
      const { device, reads } = await start({ layout });
      device.send(...typed(text, layout));
      expect(reads(), layout).toEqual([text]);
    }
  });

  it('ends reads with Tab when so configured, and Enter is then no character', async () => {
    const { device, reads } = await start({ suffix: 'tab' });
    device.send(...typed('AB', 'us', ENTER), ...typed('CD', 'us', TAB));
    expect(reads()).toEqual(['ABCD']);
  });

  it('drops a read cut off before its suffix after the inter-character timeout, and reads the next one whole', async () => {
    const { device, reads, drops } = await start();
    vi.useFakeTimers();
    device.send(...typed(P1.slice(0, 20), 'us', null));
    vi.advanceTimersByTime(40);
    expect(drops).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(drops).toEqual([{ reason: expect.stringContaining('50 ms'), chars: 20 }]);
    device.send(...typed(P1, 'us'));
    expect(reads()).toEqual([P1]);
    // A suffix alone long after: nothing half-typed comes out.
    device.send(...typed('', 'us'));
    expect(reads()).toEqual([P1]);
  });

  it('keeps a slow but steady read alive: the timeout is between characters, not for the whole read', async () => {
    const { device, reads, drops } = await start();
    vi.useFakeTimers();
    for (const r of typed('SLOW1', 'us')) {
      device.send(r);
      vi.advanceTimersByTime(20);
    }
    expect(drops).toEqual([]);
    expect(reads()).toEqual(['SLOW1']);
  });

  it('counts a key held over several reports as one press, and a new usage in the array as a new press', async () => {
    const { device, reads } = await start();
    const [a, b, c] = [usLetter('a'), usLetter('b'), usLetter('c')];
    device.send(
      down(L_SHIFT, a), down(L_SHIFT, a), down(L_SHIFT, a), // A held: one A
      down(L_SHIFT, a, b), // B pressed while A still down (rollover): one B
      down(0, b), // A released, B still held: nothing
      down(0, b, c), down(0, c, b), // c pressed; the order in the array changes nothing
      UP,
      down(0, c), UP, down(0, c), UP, // a doubled letter is released between its presses
      [0, 0, 1, 1, 1, 1, 1, 1], // ErrorRollOver: skipped
      down(0, ENTER), down(0, ENTER), UP,
    );
    expect(reads()).toEqual(['ABccc']);
  });

  it('types nothing for garbage usages and malformed reports, and does not crash', async () => {
    const { device, reads, events } = await start();
    device.send(
      down(0, 0x02), down(0, 0x03), UP, down(0, 0xe0, 0xe7, 0xa5, 0xff), UP,
      ...typed('O', 'us', null),
      [], [0x02], [0, 0], down(0x01, usLetter('x')), UP, down(0x04, usLetter('x')), UP, // Ctrl+x, Alt+x
      [0x01, ...down(L_SHIFT, usLetter('k'))], UP, // 9 bytes: report id first
      ...typed('K', 'us'),
    );
    expect(reads()).toEqual(['OKK']);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
  });

  it('cuts a 100 KiB flood at MAX_READ_CHARS and reads the next code', async () => {
    const { device, reads } = await start();
    const x = down(L_SHIFT, usLetter('x'));
    for (let i = 0; i < 100 * 1024; i++) device.send(x, UP);
    device.send(down(0, ENTER), UP, ...typed('NEXT', 'us'));
    const got = reads();
    expect(got).toHaveLength(2);
    expect(got[0]).toBe('X'.repeat(MAX_READ_CHARS));
    expect(got[1]).toBe('NEXT');
  });
});

describe('USB HID scanner, HID POS mode', () => {
  /** Report id 2, length, data, zero padding to 64 bytes. */
  const posReport = (data: string, length = Buffer.byteLength(data)): number[] => {
    const bytes = [0x02, length, ...Buffer.from(data, 'utf8')];
    return [...bytes, ...Array(Math.max(0, 64 - bytes.length)).fill(0)];
  };

  it('reads the whole code from one Scanned Data Report', async () => {
    const { device, reads } = await start({ mode: 'pos' });
    device.send(posReport(P1), posReport('ABC\r\n'), posReport('', 0), posReport('TOOLONG', 200), [0x02]);
    expect(reads()).toEqual([P1, 'ABC', 'TOOLONG' + '\0'.repeat(55)]);
  });

  it('decodes the data as UTF-8, and bytes that are not UTF-8 as U+FFFD', async () => {
    const { device, reads } = await start({ mode: 'pos' });
    device.send([0x02, 3, 0xff, 0x00, 0xc3], posReport('Tür 3'));
    expect(reads()).toEqual(['\ufffd\u0000\ufffd', 'Tür 3']);
  });
});

describe('USB HID scanner health', () => {
  it('reports an unplug (error or close) as disconnected, drops the partial read and reconnects on connect()', async () => {
    const { scanner, device, devices, events, reads, factory } = await start();
    device.send(...typed('HALF', 'us', null));
    device.emit('error', new Error('could not read from HID device'));
    expect(events.at(-1)).toEqual({ type: 'disconnected', reason: expect.stringContaining('could not read from HID device') });
    expect(device.closed).toBe(true);
    device.send(...typed('LATE', 'us')); // a stale device is not listened to
    scanner.connect();
    await vi.waitFor(() => expect(events.at(-1)).toEqual({ type: 'connected' }));
    expect(factory).toHaveBeenCalledTimes(2);
    devices[1]!.send(...typed('AGAIN', 'us'));
    expect(reads()).toEqual(['AGAIN']);
    devices[1]!.emit('close');
    expect(events.at(-1)).toEqual({ type: 'disconnected', reason: expect.stringContaining('device closed') });
  });

  it('reports a device that cannot be opened as disconnected with the error message', async () => {
    const events: ScannerDriverEvent[] = [];
    const scanner = new HidScanner(base, () => Promise.reject(new Error('cannot open device with path /dev/hidraw0')));
    scanner.onEvent((e) => events.push(e));
    scanner.connect();
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toEqual({ type: 'disconnected', reason: expect.stringContaining('cannot open device with path /dev/hidraw0') });
    expect((events[0] as { reason: string }).reason).toContain('0c2e:0b61');
  });

  it('closes a device that finishes opening after disconnect()', async () => {
    const device = new FakeDevice();
    let open!: (d: FakeDevice) => void;
    const scanner = new HidScanner(base, () => new Promise<FakeDevice>((resolve) => (open = resolve)));
    const events: ScannerDriverEvent[] = [];
    scanner.onEvent((e) => events.push(e));
    scanner.connect();
    scanner.disconnect();
    open(device);
    await new Promise((resolve) => setImmediate(resolve));
    expect(device.closed).toBe(true);
    expect(events).toEqual([]);
  });
});

describe('HID scanner config', () => {
  const site = (options: object) => ({ site: { id: 's', name: 'S' }, doors: [{ id: 'd', name: 'D' }], scanners: [{ id: 'h', door: 'd', driver: 'hid', options }] });

  it('fills in defaults and needs vendorId+productId or path', () => {
    const ok = configSchema.parse(site({ vendorId: 0x0c2e, productId: 0x0b61 }));
    expect(ok.scanners[0]).toMatchObject({ driver: 'hid', options: { mode: 'keyboard', layout: 'us', suffix: 'enter', interCharTimeoutMs: 50, posLayout: 'plain' } });
    expect(configSchema.parse(site({ path: '/dev/hidraw0', mode: 'pos', posLayout: 'honeywell' })).scanners[0]).toMatchObject({ options: { posLayout: 'honeywell' } });
    expect(configSchema.safeParse(site({ path: '/dev/hidraw0', mode: 'pos', posLayout: 'zebra' })).success).toBe(false);
    expect(configSchema.safeParse(site({ path: '/dev/hidraw0', mode: 'pos' })).success).toBe(true);
    const bad = configSchema.safeParse(site({ vendorId: 0x0c2e }));
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('give vendorId and productId, or path');
    expect(configSchema.safeParse(site({ path: '/dev/hidraw0', layout: 'jp' })).success).toBe(false);
  });

  it('is created by createScannerDriver without opening the device', async () => {
    const config = configSchema.parse(site({ path: '/dev/hidraw-none' }));
    const driver = await createScannerDriver(config.scanners[0]!, { terminal: new PassThrough(), decoderPool: () => Promise.reject(new Error('no decoder pool for a HID scanner')) });
    expect(driver).toBeInstanceOf(HidScanner);
  });
});
