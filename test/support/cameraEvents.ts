/**
 * Driving a camera scanner in a test: its options with one source, and its events collected until
 * a condition holds.
 */
import type { CameraScanner, CameraScannerOptions } from '../../drivers/scanners/cameraScanner.ts';
import type { ScannerDriverEvent } from '../../drivers/scanners/scannerDriver.ts';
import { FFMPEG } from './qrVideo.ts';

export function cameraOptions(overrides: Partial<CameraScannerOptions>): CameraScannerOptions {
  return { ffmpegPath: FFMPEG, input: { url: '/nonexistent', loop: false, realtime: true }, width: 640, height: 480, fps: 15, downscale: 1, stallTimeoutMs: 5000, debounceMs: 1000, ...overrides };
}

/** Collects a driver's events until `until` says stop (or the timeout passes). */
export async function eventsOf(driver: CameraScanner, until: (events: ScannerDriverEvent[]) => boolean, timeoutMs = 20_000): Promise<ScannerDriverEvent[]> {
  const events: ScannerDriverEvent[] = [];
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    driver.onEvent((event) => {
      events.push(event);
      if (until(events)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  driver.connect();
  await done;
  driver.disconnect();
  return events;
}

export const disconnected = (events: ScannerDriverEvent[]) => events.some((e) => e.type === 'disconnected');
export const reasonOf = (events: ScannerDriverEvent[]) => events.find((e): e is Extract<ScannerDriverEvent, { type: 'disconnected' }> => e.type === 'disconnected')?.reason;
export const readsOf = (events: ScannerDriverEvent[]) => events.filter((e) => e.type === 'read').map((e) => (e as { text: string }).text);
