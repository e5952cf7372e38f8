/**
 * A USB HID barcode scanner, read through hidraw (node-hid), in one of two modes:
 *
 * - keyboard: the scanner emulates a keyboard and "types" each code followed by a suffix key
 *   (Enter or Tab). Boot keyboard reports are decoded with the layout the scanner is set to
 *   (hid/keyboardReports.ts, hid/keyboardLayouts.ts). A read is the characters typed before the
 *   suffix; if no key comes for interCharTimeoutMs before the suffix, the partial read is dropped
 *   (reported through onDrop), never passed on half-typed.
 * - pos: the scanner is a HID POS Bar Code Scanner and sends each code as a Scanned Data Report,
 *   in the layout its vendor uses (hid/posReports.ts); a code longer than one report comes as
 *   several, joined until the last (hid/posReassembler.ts). If the next report of a code does not
 *   come within interCharTimeoutMs, the part held is dropped (reported through onDrop). With
 *   posLayout `descriptor` the field positions come from the scanner's HID report descriptor, read
 *   from sysfs for the hidraw node opened (hid/reportDescriptor.ts) on every connect, since another
 *   scanner may have been plugged in meanwhile.
 *
 * node-hid is imported when connecting, so a site without HID scanners starts where the native
 * library (libusb / hidraw support) is absent.
 */
import { readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import type { KeyboardLayoutName } from './hid/keyboardLayouts.ts';
import { KeyboardReportDecoder } from './hid/keyboardReports.ts';
import { PosReassembler } from './hid/posReassembler.ts';
import type { PosLayoutName } from './hid/posReports.ts';
import { findScannedDataFields } from './hid/reportDescriptor.ts';
import { MAX_READ_CHARS, ScannerDriverBase } from './scannerDriver.ts';

/** What the driver needs of an open device: node-hid's HID / HIDAsync fit it. */
export interface HidDevice {
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  close(): unknown;
  /** The hidraw node opened, when the opener knows it (openNodeHidDevice does): where posLayout `descriptor` reads the report descriptor. */
  readonly hidrawPath?: string;
}

/** The report descriptor of a hidraw node, as its bytes. */
export type ReportDescriptorReader = (hidrawPath: string) => Promise<Uint8Array> | Uint8Array;

export interface HidScannerOptions {
  vendorId?: number;
  productId?: number;
  serial?: string;
  path?: string;
  mode: 'keyboard' | 'pos';
  layout: KeyboardLayoutName;
  suffix: 'enter' | 'tab';
  /** Keyboard mode: between two keys of a read. POS mode: between two reports of a split code. */
  interCharTimeoutMs: number;
  /** POS mode: where the fields are in the scanner's reports. */
  posLayout: PosLayoutName;
}

export type HidDeviceFactory = (options: HidScannerOptions) => Promise<HidDevice> | HidDevice;

/** Why a read was not passed on; `chars` is how many characters had been typed or received. */
export interface HidDrop {
  reason: string;
  chars: number;
  /** POS mode: the AIM identifier (or vendor symbology id) the reports carried. */
  symbology?: string;
}

export class HidScanner extends ScannerDriverBase {
  private device: HidDevice | null = null;
  /** Bumped on every connect and disconnect: events of a device from before are ignored. */
  private generation = 0;
  private connecting = false;
  private readonly keyboard: KeyboardReportDecoder;
  /** Null until the report descriptor has given the layout (posLayout `descriptor`). */
  private pos: PosReassembler | null;
  private pending = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: HidScannerOptions,
    private readonly openDevice: HidDeviceFactory = openNodeHidDevice,
    private readonly onDrop: (drop: HidDrop) => void = () => {},
    private readonly readDescriptor: ReportDescriptorReader = readSysfsReportDescriptor,
  ) {
    super();
    this.keyboard = new KeyboardReportDecoder(options.layout);
    this.pos = options.posLayout === 'descriptor' ? null : new PosReassembler(options.posLayout);
  }

  private get usesDescriptor(): boolean {
    return this.options.mode === 'pos' && this.options.posLayout === 'descriptor';
  }

  connect(): void {
    if (this.device !== null || this.connecting) return;
    this.connecting = true;
    const generation = ++this.generation;
    void (async () => {
      let device: HidDevice;
      try {
        device = await this.openDevice(this.options);
      } catch (error) {
        if (generation !== this.generation) return;
        this.connecting = false;
        this.emit({ type: 'disconnected', reason: `cannot open HID scanner ${describe(this.options)}: ${message(error)}` });
        return;
      }
      if (generation !== this.generation) {
        // disconnect() came while opening.
        closeQuietly(device);
        return;
      }
      if (this.usesDescriptor) {
        const layout = await this.layoutFromDescriptor(device);
        if (generation !== this.generation) {
          closeQuietly(device);
          return;
        }
        if (typeof layout === 'string') {
          this.connecting = false;
          closeQuietly(device);
          this.emit({ type: 'disconnected', reason: `HID scanner ${describe(this.options)}: ${layout}` });
          return;
        }
        this.pos = layout;
      }
      this.connecting = false;
      this.device = device;
      device.on('data', (data) => {
        if (generation === this.generation) this.take(data);
      });
      device.on('error', (error) => this.lost(generation, message(error)));
      device.on('close', () => this.lost(generation, 'device closed'));
      this.emit({ type: 'connected' });
    })();
  }

  /** The reassembler for the scanner's own layout, or why there is none (an installer's next step included). */
  private async layoutFromDescriptor(device: HidDevice): Promise<PosReassembler | string> {
    const fallback = 'set posLayout to honeywell, newland or plain to match the scanner instead';
    const path = this.options.path ?? device.hidrawPath;
    if (path === undefined) return `cannot tell which hidraw node was opened, so its report descriptor cannot be read: give path (e.g. /dev/hidraw3), or ${fallback}`;
    let bytes: Uint8Array;
    try {
      bytes = await this.readDescriptor(path);
    } catch (error) {
      return `cannot read the report descriptor of ${path}: ${message(error)}; ${fallback}`;
    }
    try {
      return new PosReassembler(findScannedDataFields(bytes));
    } catch (error) {
      // Only ReportDescriptorError is expected; anything else is reported the same way rather than thrown into the event loop.
      return `the report descriptor of ${path} gives no usable HID POS Scanned Data Report: ${message(error)}; ${fallback}`;
    }
  }

  disconnect(): void {
    this.generation++;
    this.connecting = false;
    this.release();
  }

  private lost(generation: number, reason: string): void {
    if (generation !== this.generation) return;
    this.generation++;
    this.release();
    this.emit({ type: 'disconnected', reason: `HID scanner ${describe(this.options)}: ${reason}` });
  }

  private release(): void {
    const device = this.device;
    this.device = null;
    if (device !== null) closeQuietly(device);
    this.clearTimer();
    this.pending = '';
    this.keyboard.reset();
    this.pos?.abandon();
  }

  private take(data: Buffer): void {
    if (this.options.mode === 'pos') {
      this.takePosReport(data);
      return;
    }
    for (const press of this.keyboard.decode(data)) {
      if (press.kind === this.options.suffix) {
        this.clearTimer();
        const text = this.pending;
        this.pending = '';
        if (text.length > 0) this.emitRead(text);
        continue;
      }
      if (press.kind === 'char' && this.pending.length <= MAX_READ_CHARS) this.pending += press.char;
      // Any key press (known or not) keeps the read alive; silence ends it.
      if (this.pending.length > 0) this.armTimer();
    }
  }

  private takePosReport(report: Buffer): void {
    if (this.pos === null) return;
    const outcome = this.pos.take(report);
    if (outcome.kind === 'held') {
      this.armTimer();
    } else if (outcome.kind === 'read') {
      this.clearTimer();
      if (outcome.text.length > 0) this.emitRead(outcome.text);
    }
    // A report of another kind neither ends nor extends a code being reassembled.
  }

  private armTimer(): void {
    if (this.timer !== null) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dropUnfinished();
    }, this.options.interCharTimeoutMs);
    this.timer.unref?.();
  }

  private dropUnfinished(): void {
    const ms = this.options.interCharTimeoutMs;
    if (this.options.mode === 'pos') {
      const code = this.pos?.abandon() ?? null;
      if (code === null) return;
      const drop: HidDrop = { reason: `no last HID POS report within ${ms} ms of the previous one`, chars: code.chars };
      if (code.symbology !== undefined) drop.symbology = code.symbology;
      this.onDrop(drop);
      return;
    }
    const chars = this.pending.length;
    this.pending = '';
    if (chars > 0) this.onDrop({ reason: `no ${this.options.suffix} within ${ms} ms of the last key`, chars });
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function describe(options: HidScannerOptions): string {
  if (options.path !== undefined) return options.path;
  const hex = (n: number | undefined): string => (n ?? 0).toString(16).padStart(4, '0');
  return `${hex(options.vendorId)}:${hex(options.productId)}${options.serial !== undefined ? ` serial ${options.serial}` : ''}`;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closeQuietly(device: HidDevice): void {
  try {
    void Promise.resolve(device.close()).catch(() => {});
  } catch {
    // Closing an unplugged device may throw; it is gone either way.
  }
}

/** HID usage pages: Generic Desktop (keyboard = usage 6) and Bar Code Scanner (POS). */
const GENERIC_DESKTOP = 0x01;
const KEYBOARD_USAGE = 0x06;
const BAR_CODE_SCANNER = 0x8c;

/**
 * Opens the device with node-hid, imported here so that it is loaded only by sites that use it.
 * With vendorId/productId the interface matching the mode is preferred (a scanner may offer
 * keyboard and POS interfaces at once); serial picks one of several identical scanners.
 */
export async function openNodeHidDevice(options: HidScannerOptions): Promise<HidDevice> {
  const hid = await import('node-hid');
  if (options.path !== undefined) return Object.assign(await hid.HIDAsync.open(options.path), { hidrawPath: options.path });
  const { vendorId, productId } = options;
  if (vendorId === undefined || productId === undefined) throw new Error('needs vendorId and productId, or path');
  const candidates = (await hid.devicesAsync(vendorId, productId)).filter(
    (d) => d.path !== undefined && (options.serial === undefined || d.serialNumber === options.serial),
  );
  const wanted = (d: (typeof candidates)[number]): boolean =>
    options.mode === 'pos' ? d.usagePage === BAR_CODE_SCANNER : d.usagePage === GENERIC_DESKTOP && d.usage === KEYBOARD_USAGE;
  const device = candidates.find(wanted) ?? candidates[0];
  if (device === undefined) throw new Error('no such device is plugged in');
  // On Linux (hidraw backend) the path is the /dev/hidrawN node, whose report descriptor sysfs has.
  return Object.assign(await hid.HIDAsync.open(device.path!), { hidrawPath: device.path! });
}

/**
 * Reads the report descriptor the kernel keeps for a hidraw node,
 * /sys/class/hidraw/hidrawN/device/report_descriptor (readable by any user). A udev symlink to the
 * node is followed first. node-hid has no call for the descriptor.
 */
export async function readSysfsReportDescriptor(hidrawPath: string): Promise<Uint8Array> {
  const node = basename(await realpath(hidrawPath));
  if (!/^hidraw\d+$/.test(node)) throw new Error(`${hidrawPath} is not a hidraw node (/dev/hidrawN); node-hid may be using its libusb backend`);
  return readFile(`/sys/class/hidraw/${node}/device/report_descriptor`);
}
