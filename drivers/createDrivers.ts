/**
 * Makes the driver for each door and scanner of the site file. Hardware drivers are imported
 * lazily, so a site without such a device starts where its native library is absent.
 */
import type { Readable } from 'node:stream';
import type { DoorIoConfig, ScannerDriverConfig } from './driverConfig.ts';
import type { Logger } from '../machines/shared/logger.ts';
import type { DoorIo } from './doorIo/doorIo.ts';
import { SimulatedDoorIo } from './doorIo/simulatedDoorIo.ts';
import type { ScannerDriver } from './scanners/scannerDriver.ts';
import { NetworkScanner } from './scanners/networkScanner.ts';
import { SimulatedScanner } from './scanners/simulatedScanner.ts';
import { TerminalScanner } from './scanners/terminalScanner.ts';
import type { DecoderPool } from './scanners/camera/decoderPool.ts';

/** What the drivers read of a door entry of the site file (controller/config/configSchema.ts). */
export interface DoorEntry {
  io: DoorIoConfig;
}

/** What the drivers read of a scanner entry of the site file: its driver with options, and these fields. */
export type ScannerEntry = ScannerDriverConfig & { id: string; debounceMs: number };

export async function createDoorIo(door: DoorEntry): Promise<DoorIo> {
  switch (door.io.driver) {
    case 'simulated':
      return new SimulatedDoorIo({ autoWalkThrough: door.io.autoWalkThrough });
    case 'hid-relay': {
      const { HidRelayBoard } = await import('./doorIo/hidRelayBoard.ts');
      const { serial, path, channel, energizeToUnlock } = door.io;
      return new HidRelayBoard({ serial, path, channel, energizeToUnlock });
    }
  }
}

export interface ScannerDriverContext {
  /** Where a terminal scanner reads. */
  terminal: Readable;
  logger?: Logger;
  /** The decoder pool cameras and kiosks share, started on first use. */
  decoderPool(): Promise<DecoderPool>;
}

export async function createScannerDriver(scanner: ScannerEntry, { terminal, logger: log, decoderPool }: ScannerDriverContext): Promise<ScannerDriver> {
  switch (scanner.driver) {
    case 'terminal':
      return new TerminalScanner(terminal);
    case 'simulated':
      return new SimulatedScanner();
    case 'network':
      return new NetworkScanner();
    case 'hid': {
      const { HidScanner } = await import('./scanners/hidScanner.ts');
      return new HidScanner(scanner.options, undefined, (drop) => log?.warn({ scanner: scanner.id, ...drop }, 'HID scanner read dropped'));
    }
    case 'camera': {
      const { CameraScanner } = await import('./scanners/cameraScanner.ts');
      const { device, url, loop, realtime, ...frames } = scanner.options;
      const input = device !== undefined ? { device } : { url: url!, loop, realtime };
      return new CameraScanner({ ...frames, input, debounceMs: scanner.debounceMs }, await decoderPool());
    }
    case 'kiosk': {
      const { KioskScanner } = await import('./scanners/kioskScanner.ts');
      return new KioskScanner(await decoderPool(), scanner.debounceMs);
    }
  }
}
