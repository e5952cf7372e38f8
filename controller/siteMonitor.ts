/**
 * Watches the door and scanner actors and turns their snapshots into what people see: status
 * records (for the API and the UI), door events in the audit trail, and change notifications.
 */
import type { DoorActorRef, DoorSnapshot } from '../machines/doorMachine.ts';
import { scannerLinkState, type ScannerActorRef, type ScannerSnapshot } from '../machines/scannerMachine.ts';
import type { DriverHealth } from '../machines/shared/driverHealth.ts';
import type { AuditTrail } from './audit/auditTrail.ts';
import type { SiteConfig } from './config/configSchema.ts';
import type { Logger } from './logger.ts';

export interface DoorStatus {
  id: string;
  name: string;
  state: string;
  mode: 'normal' | 'lockdown' | 'passage';
  doorOpen: boolean;
  relayUnlocked: boolean;
  alarm: DoorSnapshot['context']['alarm'];
  fault: string | null;
  failMode: 'secure' | 'safe';
  /** unix ms of the last change of state */
  since: number;
}

export interface ScannerStatus {
  id: string;
  door: string;
  driver: string;
  /** connecting, ready, disconnected or stopped */
  state: string;
  lastError: string | null;
  reads: number;
  dropped: number;
  since: number;
  /** The driver's own measures (cameras), null for drivers that report none. */
  health: DriverHealth | null;
}

export interface DoorChange {
  door: string;
  from: string;
  to: string;
  status: DoorStatus;
}

export interface SiteMonitorDependencies {
  config: SiteConfig;
  doors: Record<string, DoorActorRef>;
  scanners: Record<string, ScannerActorRef>;
  audit: Pick<AuditTrail, 'append'>;
  logger: Logger;
  clock: () => number;
}

export class SiteMonitor {
  private readonly doorStatus = new Map<string, DoorStatus>();
  private readonly scannerStatus = new Map<string, ScannerStatus>();
  private readonly unsubscribes: Array<() => void> = [];
  private readonly doorChangeListeners = new Set<(change: DoorChange) => void>();
  private readonly doorListeners = new Set<(status: DoorStatus) => void>();
  private readonly scannerListeners = new Set<(status: ScannerStatus) => void>();

  constructor(private readonly deps: SiteMonitorDependencies) {}

  start(): void {
    const { config, clock } = this.deps;
    const log = this.deps.logger.child({ component: 'door' });
    for (const door of config.doors) {
      const ref = this.deps.doors[door.id];
      if (ref === undefined) continue;
      this.doorStatus.set(door.id, toDoorStatus(door.name, ref.getSnapshot(), clock()));
      const subscription = ref.subscribe((snapshot) => {
        const previous = this.doorStatus.get(door.id)!;
        const state = shownState(snapshot);
        const status = toDoorStatus(door.name, snapshot, state === previous.state ? previous.since : clock());
        if (sameDoorStatus(previous, status)) return;
        this.doorStatus.set(door.id, status);
        if (state !== previous.state) {
          log.info({ door: door.id, from: previous.state, to: state }, 'door state');
          // Told after the door moved and waited on by nobody: it shares the next event's commit.
          void this.deps.audit.append({ type: 'door', door: door.id, reason: state, data: { from: previous.state } }, { deferred: true });
          for (const listener of this.doorChangeListeners) listener({ door: door.id, from: previous.state, to: state, status });
        }
        for (const listener of this.doorListeners) listener(status);
      });
      this.unsubscribes.push(() => subscription.unsubscribe());
    }
    for (const scanner of config.scanners) {
      const ref = this.deps.scanners[scanner.id];
      if (ref === undefined) continue;
      this.scannerStatus.set(scanner.id, toScannerStatus(scanner.driver, ref.getSnapshot(), clock()));
      const subscription = ref.subscribe((snapshot) => {
        const previous = this.scannerStatus.get(scanner.id)!;
        const status = toScannerStatus(scanner.driver, snapshot, clock());
        // Reads are counted in the record but are no change worth telling anyone about; a health
        // report is (about once a second per camera), so that the UI shows frame rates live.
        if (status.state === previous.state && status.lastError === previous.lastError && status.health === previous.health) {
          this.scannerStatus.set(scanner.id, { ...status, since: previous.since });
          return;
        }
        this.scannerStatus.set(scanner.id, status);
        for (const listener of this.scannerListeners) listener(status);
      });
      this.unsubscribes.push(() => subscription.unsubscribe());
    }
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }

  doors(): DoorStatus[] {
    return [...this.doorStatus.values()];
  }

  door(id: string): DoorStatus | undefined {
    return this.doorStatus.get(id);
  }

  scanners(): ScannerStatus[] {
    return [...this.scannerStatus.values()];
  }

  scanner(id: string): ScannerStatus | undefined {
    return this.scannerStatus.get(id);
  }

  /** A door's state changed (secured -> unlocked ...). */
  onDoorChange(listener: (change: DoorChange) => void): () => void {
    return subscribe(this.doorChangeListeners, listener);
  }

  /** Anything shown of a door changed: its state, mode, sensor, relay or alarm. */
  onDoorStatus(listener: (status: DoorStatus) => void): () => void {
    return subscribe(this.doorListeners, listener);
  }

  onScannerStatus(listener: (status: ScannerStatus) => void): () => void {
    return subscribe(this.scannerListeners, listener);
  }
}

function subscribe<T>(set: Set<T>, listener: T): () => void {
  set.add(listener);
  return () => set.delete(listener);
}

/**
 * The state people see. `admitting` (a grant's record being made durable, a millisecond or two)
 * shows as the state the door was in: nothing has moved yet, and a flicker in every view and an
 * audit event per grant would tell nobody anything.
 */
function shownState(snapshot: DoorSnapshot): string {
  return snapshot.value === 'admitting' ? (snapshot.context.admission?.from ?? 'secured') : String(snapshot.value);
}

function toDoorStatus(name: string, snapshot: DoorSnapshot, since: number): DoorStatus {
  const c = snapshot.context;
  return { id: c.id, name, state: shownState(snapshot), mode: c.mode, doorOpen: c.doorOpen, relayUnlocked: c.relayUnlocked, alarm: c.alarm, fault: c.fault, failMode: c.failMode, since };
}

function sameDoorStatus(a: DoorStatus, b: DoorStatus): boolean {
  return a.state === b.state && a.mode === b.mode && a.doorOpen === b.doorOpen && a.relayUnlocked === b.relayUnlocked && a.fault === b.fault && JSON.stringify(a.alarm) === JSON.stringify(b.alarm);
}

function toScannerStatus(driver: string, snapshot: ScannerSnapshot, since: number): ScannerStatus {
  const c = snapshot.context;
  const state = scannerLinkState(snapshot);
  return { id: c.id, door: c.door, driver, state, lastError: c.lastError, reads: c.reads, dropped: c.dropped, since, health: c.health };
}
