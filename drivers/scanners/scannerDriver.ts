import type { DriverHealth } from '../../machines/shared/driverHealth.ts';

/**
 * The scanner driver interface. A driver turns raw input into reads and reports its link; the
 * scanner actor decides when to (re)connect and what to do with reads.
 */
export type ScannerDriverEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string }
  /** `ref`: the driver's own handle on the read, given back with its outcome (see settle). */
  | { type: 'read'; text: string; ref?: number }
  /** Sent by drivers with more to tell than their link, every second or so while connected. */
  | { type: 'health'; health: DriverHealth };


/** Longest read passed on. Longer input is cut here, so no layer above ever holds more. */
export const MAX_READ_CHARS = 4096;

export interface ScannerDriver {
  /** Starts connecting; the outcome arrives as a `connected` or `disconnected` event. */
  connect(): void;
  /** Stops reading and releases the device. Safe to call at any time, also twice. */
  disconnect(): void;
  onEvent(listener: (event: ScannerDriverEvent) => void): () => void;
  /** The outcome of a read the driver gave a ref: for drivers that answer their device. */
  settle?(ref: number, outcome: ReadOutcome): void;
}

/** What became of one read: its decision, or why it was not decided. */
export type ReadOutcome =
  | { decided: true; verdict: 'grant' | 'deny'; reason: string | null; door: string; auditSeq: number }
  | { decided: false; reason: 'debounced' | 'not-ready' | 'timeout' | 'stopped' };

/** Shared plumbing for drivers: listeners and in-order delivery. */
export abstract class ScannerDriverBase implements ScannerDriver {
  private readonly listeners = new Set<(event: ScannerDriverEvent) => void>();

  abstract connect(): void;
  abstract disconnect(): void;

  onEvent(listener: (event: ScannerDriverEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected emit(event: ScannerDriverEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  protected emitRead(text: string, ref?: number): void {
    this.emit({ type: 'read', text: text.length > MAX_READ_CHARS ? text.slice(0, MAX_READ_CHARS) : text, ref });
  }
}
