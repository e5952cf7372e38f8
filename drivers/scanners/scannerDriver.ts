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

/** A driver's own measures; every field is optional because drivers measure different things. */
export interface DriverHealth {
  /** Frames taken from the device per second, over the last report period. */
  framesPerSecond?: number;
  /** Mean time to decode one frame in the last period, in milliseconds. */
  decodeMs?: number;
  /** Frames since connecting, decoded or not. */
  frames?: number;
  /** Frames a newer frame replaced before decoding, since connecting. */
  droppedFrames?: number;
  /** Frames that were no image of the expected size, since connecting. */
  badFrames?: number;
  /** The latest problem the driver got over by itself (a bad frame, a dropped partial read). */
  warning?: string | null;
}

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
