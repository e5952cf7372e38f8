/**
 * A door with no hardware: the relay is a boolean, and the door sensor and exit button are
 * methods that the demo, the CLI and tests call. With `autoWalkThrough` someone walks through
 * after each unlock (opens after 1 s, closes 2 s later), which makes the demo feel like a door.
 * The demo's own commands (demo.forceOpen, demo.holdOpen, demo.close) open a door and keep it open
 * until told to close it, so that a new user can see the alarms.
 */
import type { DoorIo, DoorIoEvent } from './doorIo.ts';

export interface SimulatedDoorIoOptions {
  autoWalkThrough?: boolean;
}

export class SimulatedDoorIo implements DoorIo {
  private listeners = new Set<(event: DoorIoEvent) => void>();
  private relayListeners = new Set<(unlocked: boolean) => void>();
  private relay: boolean | undefined;
  private open = false;
  /** The walker's pending steps, apart from other timers: a demo command cancels them. */
  private walking = new Set<NodeJS.Timeout>();
  /** Held open by a demo command: the walker neither opens nor closes the door meanwhile. */
  private held = false;
  /** Every relay command in order: true = unlocked. */
  readonly relayHistory: boolean[] = [];

  constructor(private readonly options: SimulatedDoorIoOptions = {}) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopWalking();
  }

  setRelay(unlocked: boolean): void {
    const changed = this.relay !== unlocked;
    this.relay = unlocked;
    this.relayHistory.push(unlocked);
    for (const listener of this.relayListeners) listener(unlocked);
    if (changed && unlocked && this.options.autoWalkThrough && !this.open && !this.held) {
      this.walk(1000, () => {
        // The walker reaches the door a second after the unlock. If it relocked meanwhile (a short
        // unlock window, a lock command, a lockdown), they stay outside: pulling a locked door open
        // would be a forced opening, a false alarm the demo never meant.
        if (this.relay !== true || this.held) return;
        this.setDoorOpen(true);
        this.walk(2000, () => this.setDoorOpen(false));
      });
    }
  }

  /**
   * Opens the door and keeps it open, whatever the relay: with the relay locked the door sees a
   * forced opening, in an unlock window a person who does not let go of it. Until closeDoor().
   */
  holdDoorOpen(): void {
    this.stopWalking();
    this.held = true;
    this.setDoorOpen(true);
  }

  /** Closes the door, held or not, and sends any walker on their way. */
  closeDoor(): void {
    this.stopWalking();
    this.held = false;
    this.setDoorOpen(false);
  }

  /** Whether a demo command holds the door open. */
  get heldOpen(): boolean {
    return this.held;
  }

  /** Every relay command as it arrives: how tests and benchmarks see the end of the hot path. */
  onRelay(listener: (unlocked: boolean) => void): () => void {
    this.relayListeners.add(listener);
    return () => this.relayListeners.delete(listener);
  }

  get relayUnlocked(): boolean | undefined {
    return this.relay;
  }

  get doorOpen(): boolean {
    return this.open;
  }

  onEvent(listener: (event: DoorIoEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setDoorOpen(open: boolean): void {
    if (this.open === open) return;
    this.open = open;
    this.emit({ type: 'sensor', open });
  }

  pressExit(): void {
    this.emit({ type: 'rex' });
  }

  fail(reason: string): void {
    this.emit({ type: 'fault', reason });
  }

  recover(): void {
    this.emit({ type: 'ok' });
  }

  private emit(event: DoorIoEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private walk(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.walking.delete(timer);
      fn();
    }, ms);
    this.walking.add(timer);
  }

  private stopWalking(): void {
    for (const timer of this.walking) clearTimeout(timer);
    this.walking.clear();
  }
}
