/** A scanner with no device: reads come from `read()`, called by the CLI's scan path and tests. */
import { ScannerDriverBase } from './scannerDriver.ts';

export class SimulatedScanner extends ScannerDriverBase {
  private connected = false;

  connect(): void {
    this.connected = true;
    // Asynchronous like a real device, so the actor sees `connecting` before `ready`.
    queueMicrotask(() => {
      if (this.connected) this.emit({ type: 'connected' });
    });
  }

  disconnect(): void {
    this.connected = false;
  }

  read(text: string): void {
    if (this.connected) this.emitRead(text);
  }

  /** Simulates an unplugged device. */
  unplug(reason = 'unplugged'): void {
    this.connected = false;
    this.emit({ type: 'disconnected', reason });
  }
}
