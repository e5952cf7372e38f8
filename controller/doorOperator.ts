/**
 * What an operator does to doors: unlock for a while, relock, lockdown (per door or site-wide),
 * passage, acknowledge an alarm. Each command is checked, sent to the site actor, persisted where
 * it is a mode (so it survives a restart), and recorded in the audit trail with the account.
 */
import type { DoorEvent } from '../machines/doorMachine.ts';
import type { AuditTrail } from './audit/auditTrail.ts';
import { ErrorCodes, PosternError } from '../machines/shared/errors.ts';
import type { DoorMode, Store } from './store/storeTypes.ts';

export interface DoorOperatorDependencies {
  doorIds: readonly string[];
  sendToDoor(door: string, event: DoorEvent): void;
  /** The door's current mode, as its actor holds it. */
  modeOf(door: string): DoorMode;
  store: Pick<Store, 'setDoorMode'>;
  audit: Pick<AuditTrail, 'append'>;
}

const MAX_UNLOCK_SECONDS = 3600;

export class DoorOperator {
  constructor(private readonly deps: DoorOperatorDependencies) {}

  async unlock(door: string, seconds: number, actor: string): Promise<void> {
    this.requireDoor(door);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_UNLOCK_SECONDS) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `seconds: unlock for more than 0 and at most ${MAX_UNLOCK_SECONDS} seconds`, { details: { field: 'seconds' } });
    }
    if (this.deps.modeOf(door) === 'lockdown') throw new PosternError(ErrorCodes.CONFLICT, `door ${door} is in lockdown: lift the lockdown first`);
    this.deps.sendToDoor(door, { type: 'GRANT', durationMs: seconds * 1000, reason: 'operator' });
    await this.record(actor, 'door.unlock', door, { seconds });
  }

  async lock(door: string, actor: string): Promise<void> {
    this.requireDoor(door);
    this.deps.sendToDoor(door, { type: 'LOCK' });
    await this.record(actor, 'door.lock', door, null);
  }

  /** door null: every door of the site. */
  async lockdown(door: string | null, on: boolean, actor: string): Promise<void> {
    const doors = door === null ? this.deps.doorIds : [this.requireDoor(door)];
    for (const d of doors) {
      this.deps.sendToDoor(d, { type: on ? 'LOCKDOWN.ON' : 'LOCKDOWN.OFF' });
      await this.deps.store.setDoorMode(d, on ? 'lockdown' : 'normal');
    }
    await this.record(actor, on ? 'lockdown.on' : 'lockdown.off', door, door === null ? { siteWide: true } : null);
  }

  async passage(door: string, on: boolean, actor: string): Promise<void> {
    this.requireDoor(door);
    if (on && this.deps.modeOf(door) === 'lockdown') throw new PosternError(ErrorCodes.CONFLICT, `door ${door} is in lockdown: lift the lockdown first`);
    this.deps.sendToDoor(door, { type: on ? 'PASSAGE.ON' : 'PASSAGE.OFF' });
    await this.deps.store.setDoorMode(door, on ? 'passage' : 'normal');
    await this.record(actor, on ? 'passage.on' : 'passage.off', door, null);
  }

  async acknowledge(door: string, actor: string): Promise<void> {
    this.requireDoor(door);
    this.deps.sendToDoor(door, { type: 'ALARM.ACK', by: actor });
    await this.record(actor, 'alarm.acknowledge', door, null);
  }

  private requireDoor(door: string): string {
    if (!this.deps.doorIds.includes(door)) throw new PosternError(ErrorCodes.NOT_FOUND, `no door "${door}"`, { details: { field: 'door' } });
    return door;
  }

  private async record(actor: string, action: string, door: string | null, data: Record<string, unknown> | null): Promise<void> {
    await this.deps.audit.append({ type: 'operator', door, scanner: null, subject: null, kind: null, issuer: null, verdict: null, reason: action, actor, data });
  }
}
