/**
 * The door I/O driver interface: one relay output, one door-position input and one
 * request-to-exit input per door. A driver knows nothing of credentials or door states; it turns
 * wires into events and commands into wires. See docs/drivers.md for adding a board.
 */
export type DoorIoEvent =
  | { type: 'sensor'; open: boolean }
  | { type: 'rex' }
  | { type: 'fault'; reason: string }
  | { type: 'ok' };

export interface DoorIo {
  /** Opens the hardware. Rejects with a DRIVER_FAILED PosternError when it cannot. */
  start(): Promise<void>;
  /** Releases the hardware; the relay keeps the last commanded state. */
  stop(): Promise<void>;
  /** Drives the lock relay. Synchronous: it sits at the end of the scan-to-unlock path. */
  setRelay(unlocked: boolean): void;
  /** The events the door's wires produce, delivered in order. */
  onEvent(listener: (event: DoorIoEvent) => void): () => void;
}
