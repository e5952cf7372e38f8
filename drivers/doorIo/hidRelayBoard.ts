/**
 * The common USB HID relay boards ("USBRelay1/2/4/8", vendor 0x16c0, product 0x05df), driven
 * through HID feature reports with node-hid. One door uses one channel of a board; several doors
 * may share a board (each opens it by serial or path).
 *
 * The protocol, as those boards speak it (every report is 9 bytes; byte 0 is the report id, 0):
 *
 *   relay N on (energised)   sendFeatureReport [0x00, 0xFF, N, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
 *   relay N off              sendFeatureReport [0x00, 0xFD, N, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
 *   all relays on            sendFeatureReport [0x00, 0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
 *   all relays off           sendFeatureReport [0x00, 0xFC, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
 *   read state               getFeatureReport(0x01, 9) returns
 *                              bytes 0..4  the board serial, 5 ASCII characters (NUL padded)
 *                              bytes 5..6  unused
 *                              byte  7     relay states, bit N-1 set = relay N energised
 *                              byte  8     unused
 *
 * N is the channel, 1..8. The "all" commands are documented for completeness; a door never uses
 * them, since other channels of the board may belong to other doors.
 *
 * Polarity (`energizeToUnlock`): a fail-secure electric strike is energised to unlock (the
 * default, true); a maglock or a fail-safe strike holds while energised, so it is energised to
 * lock (false). The relay must be wired accordingly (normally-open contact in both cases).
 *
 * setRelay is synchronous, as the DoorIo interface requires: node-hid's sendFeatureReport and
 * getFeatureReport on the synchronous HID class block for the few milliseconds of a USB control
 * transfer. Every write is verified by reading the state back; a failed write or a mismatch is a
 * `fault`, and the next verified write after a fault is `ok`.
 *
 * These boards have no inputs: this driver never emits `sensor` or `rex`, so door-position and
 * request-to-exit are unsupported on it. A board with inputs would emit them through onEvent.
 *
 * node-hid is imported only in start(), so a site without such a board runs where libusb (and
 * node-hid's native module) is absent.
 */
import { ErrorCodes, PosternError } from '../../machines/shared/errors.ts';
import type { DoorIo, DoorIoEvent } from './doorIo.ts';

export const HID_RELAY_VENDOR_ID = 0x16c0;
export const HID_RELAY_PRODUCT_ID = 0x05df;
export const HID_RELAY_REPORT_LENGTH = 9;
export const HID_RELAY_STATE_REPORT_ID = 0x01;

const CMD_ON = 0xff;
const CMD_OFF = 0xfd;
export const CMD_ALL_ON = 0xfe;
export const CMD_ALL_OFF = 0xfc;

/** What the driver needs of a node-hid HID device (the real one, or a fake in tests). */
export interface HidRelayDevice {
  sendFeatureReport(data: number[] | Buffer): number;
  getFeatureReport(reportId: number, length: number): number[] | Buffer;
  close(): void;
  on(event: 'error', listener: (error: unknown) => void): unknown;
}

/** Which board: its serial (the 5-character id it reports), or its hidraw path. */
export interface HidRelaySelector {
  serial?: string;
  path?: string;
}

export type HidRelayOpener = (selector: HidRelaySelector) => HidRelayDevice | Promise<HidRelayDevice>;

export interface HidRelayBoardOptions extends HidRelaySelector {
  /** The relay of this door, 1..8. */
  channel: number;
  /** true (default): energised = unlocked (fail-secure strike). false: energised = locked (maglock). */
  energizeToUnlock?: boolean;
  /** Opens the board; the default imports node-hid and finds the board by serial or path. */
  open?: HidRelayOpener;
  /** After an unplug, how often to try to open the board again (ms; 0 = never). Default 2000. */
  reconnectMs?: number;
  /**
   * How often to read the board's state between commands (ms; 0 = never). Default 1000. A door
   * may stay locked for hours: without this, an unplugged board or a relay that dropped out would
   * only show at the next scan.
   */
  checkMs?: number;
}

/** The report that turns relay `channel` on (energised) or off. */
export function relayReport(channel: number, energised: boolean): number[] {
  const report = new Array<number>(HID_RELAY_REPORT_LENGTH).fill(0);
  report[1] = energised ? CMD_ON : CMD_OFF;
  report[2] = channel;
  return report;
}

/** Decodes the state report: the board serial and the relay bitmask. */
export function parseStateReport(report: ArrayLike<number>): { serial: string; relays: number } {
  if (report.length < 8) throw new Error(`state report too short (${report.length} bytes)`);
  let serial = '';
  for (let i = 0; i < 5; i++) {
    const byte = report[i]!;
    if (byte === 0) break;
    serial += String.fromCharCode(byte);
  }
  return { serial, relays: report[7]! };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The default opener: node-hid, imported here and only here. */
async function openWithNodeHid(selector: HidRelaySelector): Promise<HidRelayDevice> {
  let hid: typeof import('node-hid');
  try {
    hid = await import('node-hid');
  } catch (error) {
    throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay board: node-hid could not be loaded (is libusb-1.0 installed?): ${message(error)}`, { cause: error });
  }
  if (selector.path !== undefined) {
    try {
      return new hid.HID(selector.path);
    } catch (error) {
      throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay board: cannot open ${selector.path}: ${message(error)} (check the udev rule)`, { cause: error });
    }
  }
  let found: Awaited<ReturnType<typeof hid.devicesAsync>>;
  try {
    found = await hid.devicesAsync(HID_RELAY_VENDOR_ID, HID_RELAY_PRODUCT_ID);
  } catch (error) {
    // node-hid loads its native part on first use: a second attempt without libusb fails here, not at the import.
    throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay board: cannot list HID devices (is libusb-1.0 installed?): ${message(error)}`, { cause: error });
  }
  const refused: string[] = [];
  for (const info of found) {
    if (info.path === undefined) continue;
    let device: InstanceType<typeof hid.HID>;
    try {
      device = new hid.HID(info.path);
    } catch (error) {
      refused.push(`${info.path}: ${message(error)}`);
      continue;
    }
    try {
      if (parseStateReport(device.getFeatureReport(HID_RELAY_STATE_REPORT_ID, HID_RELAY_REPORT_LENGTH)).serial === selector.serial) return device;
    } catch (error) {
      refused.push(`${info.path}: ${message(error)}`);
    }
    device.close();
  }
  const detail = refused.length > 0 ? `; could not read ${refused.join(', ')} (check the udev rule)` : '';
  throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay board: no board with serial "${selector.serial}" among ${found.length} USBRelay board(s)${detail}`);
}

export class HidRelayBoard implements DoorIo {
  private readonly listeners = new Set<(event: DoorIoEvent) => void>();
  private readonly channel: number;
  private readonly energizeToUnlock: boolean;
  private readonly opener: HidRelayOpener;
  private readonly reconnectMs: number;
  private device: HidRelayDevice | null = null;
  private fault: string | null = null;
  private unlocked: boolean | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: HidRelayBoardOptions) {
    if (!Number.isInteger(options.channel) || options.channel < 1 || options.channel > 8) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `HID relay board: channel must be 1..8, not ${options.channel}`);
    }
    if (options.serial === undefined && options.path === undefined) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, 'HID relay board: give serial or path');
    }
    this.channel = options.channel;
    this.energizeToUnlock = options.energizeToUnlock ?? true;
    this.opener = options.open ?? openWithNodeHid;
    this.reconnectMs = options.reconnectMs ?? 2000;
    this.checkMs = options.checkMs ?? 1000;
  }

  private readonly checkMs: number;

  private get label(): string {
    return this.options.serial !== undefined ? `board ${this.options.serial}` : `board at ${this.options.path}`;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.attach(await this.openChecked());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.detach();
  }

  /**
   * Reads the board between commands. A read that fails is an unplug (node-hid reports no error
   * event for a device nobody writes to); a channel that no longer holds the last command (the
   * board lost power and came back released) gets the command again, verified as any write.
   */
  private check(device: HidRelayDevice): void {
    let relays: number;
    try {
      relays = parseStateReport(device.getFeatureReport(HID_RELAY_STATE_REPORT_ID, HID_RELAY_REPORT_LENGTH)).relays;
    } catch (error) {
      this.lose(device, error);
      return;
    }
    if (this.unlocked === undefined) return;
    const energised = this.unlocked === this.energizeToUnlock;
    if (((relays & (1 << (this.channel - 1))) !== 0) !== energised) this.write(device, this.unlocked);
  }

  /** The board is gone: release it, say so, and try to open it again. */
  private lose(device: HidRelayDevice, error: unknown): void {
    if (this.device !== device) return;
    this.detach();
    this.report(`HID relay ${this.label} unplugged or failed: ${message(error)}`);
    this.scheduleReconnect();
  }

  setRelay(unlocked: boolean): void {
    this.unlocked = unlocked;
    if (!this.device) {
      this.report(`HID relay ${this.label} is not connected`);
      return;
    }
    this.write(this.device, unlocked);
  }

  onEvent(listener: (event: DoorIoEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends the channel's report and reads it back; reports fault or recovery. */
  private write(device: HidRelayDevice, unlocked: boolean): boolean {
    const energised = unlocked === this.energizeToUnlock;
    try {
      device.sendFeatureReport(relayReport(this.channel, energised));
    } catch (error) {
      this.report(`HID relay ${this.label}: write to channel ${this.channel} failed: ${message(error)}`);
      return false;
    }
    let relays: number;
    try {
      relays = parseStateReport(device.getFeatureReport(HID_RELAY_STATE_REPORT_ID, HID_RELAY_REPORT_LENGTH)).relays;
    } catch (error) {
      this.report(`HID relay ${this.label}: reading channel ${this.channel} back failed: ${message(error)}`);
      return false;
    }
    const actual = (relays & (1 << (this.channel - 1))) !== 0;
    if (actual !== energised) {
      this.report(`HID relay ${this.label}: channel ${this.channel} reads ${actual ? 'energised' : 'released'} after commanding ${energised ? 'energised' : 'released'}`);
      return false;
    }
    if (this.fault !== null) {
      this.fault = null;
      this.emit({ type: 'ok' });
    }
    return true;
  }

  private async openChecked(): Promise<HidRelayDevice> {
    const device = await this.opener({ serial: this.options.serial, path: this.options.path });
    if (this.options.serial !== undefined) {
      let serial: string;
      try {
        serial = parseStateReport(device.getFeatureReport(HID_RELAY_STATE_REPORT_ID, HID_RELAY_REPORT_LENGTH)).serial;
      } catch (error) {
        device.close();
        throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay ${this.label}: cannot read its state: ${message(error)}`, { cause: error });
      }
      if (serial !== this.options.serial) {
        device.close();
        throw new PosternError(ErrorCodes.DRIVER_FAILED, `HID relay ${this.label}: the board opened reports serial "${serial}"`);
      }
    }
    return device;
  }

  private attach(device: HidRelayDevice): void {
    this.device = device;
    device.on('error', (error) => this.lose(device, error));
    if (this.checkMs > 0) {
      this.checkTimer = setInterval(() => this.check(device), this.checkMs);
      this.checkTimer.unref();
    }
  }

  private detach(): void {
    const device = this.device;
    this.device = null;
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    try {
      device?.close();
    } catch {
      // Already gone (unplugged): nothing to release.
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectMs <= 0 || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, this.reconnectMs);
  }

  private async reconnect(): Promise<void> {
    let device: HidRelayDevice;
    try {
      device = await this.openChecked();
    } catch {
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      device.close();
      return;
    }
    this.attach(device);
    // Re-apply the last command: the board powers up with every relay released.
    if (this.unlocked !== undefined) this.write(device, this.unlocked);
    else if (this.fault !== null) {
      this.fault = null;
      this.emit({ type: 'ok' });
    }
  }

  /** A fault, reported once per distinct reason. */
  private report(reason: string): void {
    if (this.fault === reason) return;
    this.fault = reason;
    this.emit({ type: 'fault', reason });
  }

  /** Delivered on a microtask: in order, and never re-entering the caller of setRelay. */
  private emit(event: DoorIoEvent): void {
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(event);
    });
  }
}
