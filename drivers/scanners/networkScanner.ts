/**
 * A scanner on the network: a device that connects to the controller's API with its own token and
 * sends each read with `scanner.read`, getting the verdict back. The driver is connected while at
 * least one of the device's sockets is open.
 */
import { ScannerDriverBase, type ReadOutcome } from './scannerDriver.ts';

/** A read that gets no outcome in this time is answered `timeout` (the decision still stands). */
const READ_TIMEOUT_MS = 10_000;

export class NetworkScanner extends ScannerDriverBase {
  private sockets = 0;
  private wanted = false;
  private nextRef = 1;
  private readonly pending = new Map<number, { resolve: (outcome: ReadOutcome) => void; timer: NodeJS.Timeout }>();

  connect(): void {
    this.wanted = true;
    if (this.sockets > 0) queueMicrotask(() => this.emit({ type: 'connected' }));
    // Otherwise the scanner stays `connecting` until its device connects.
  }

  disconnect(): void {
    this.wanted = false;
    for (const ref of [...this.pending.keys()]) this.settle(ref, { decided: false, reason: 'stopped' });
  }

  /** A socket of this scanner's device opened; returns the function to call when it closes. */
  attach(): () => void {
    this.sockets++;
    if (this.sockets === 1 && this.wanted) this.emit({ type: 'connected' });
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      this.sockets--;
      if (this.sockets === 0 && this.wanted) this.emit({ type: 'disconnected', reason: 'the device closed its connection' });
    };
  }

  read(text: string): Promise<ReadOutcome> {
    const ref = this.nextRef++;
    const outcome = new Promise<ReadOutcome>((resolve) => {
      const timer = setTimeout(() => this.settle(ref, { decided: false, reason: 'timeout' }), READ_TIMEOUT_MS);
      this.pending.set(ref, { resolve, timer });
    });
    this.emitRead(text, ref);
    return outcome;
  }

  settle(ref: number, outcome: ReadOutcome): void {
    const waiting = this.pending.get(ref);
    if (waiting === undefined) return;
    this.pending.delete(ref);
    clearTimeout(waiting.timer);
    waiting.resolve(outcome);
  }
}
