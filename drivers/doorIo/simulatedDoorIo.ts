/**
 * A door with no hardware: the relay is a boolean, and the door sensor and exit button are
 * methods that the demo, the CLI and tests call. With `autoWalkThrough` someone walks through
 * after each unlock (opens after 1 s, closes 2 s later), which makes the demo feel like a door.
 */
import type { DoorIo, DoorIoEvent } from './doorIo.ts';

export interface SimulatedDoorIoOptions {
  autoWalkThrough?: boolean;
}

export class SimulatedDoorIo implements DoorIo {
  private listeners = new Set<(event: DoorIoEvent) => void>();
  private timers = new Set<NodeJS.Timeout>();
  private relayListeners = new Set<(unlocked: boolean) => void>();
  private relay: boolean | undefined;
  private open = false;
  /** Every relay command in order: true = unlocked. */
  readonly relayHistory: boolean[] = [];

  constructor(private readonly options: SimulatedDoorIoOptions = {}) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  setRelay(unlocked: boolean): void {
    const changed = this.relay !== unlocked;
    this.relay = unlocked;
    this.relayHistory.push(unlocked);
    for (const listener of this.relayListeners) listener(unlocked);
    if (changed && unlocked && this.options.autoWalkThrough && !this.open) {
      this.later(1000, () => {
        this.setDoorOpen(true);
        this.later(2000, () => this.setDoorOpen(false));
      });
    }
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

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}
