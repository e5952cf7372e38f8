/**
 * What an operator does to doors: unlock for a while, relock, lockdown (per door or site-wide),
 * passage, acknowledge an alarm. Each command is checked, recorded in the audit trail with the
 * account, and sent to the door actor, in the order the decision path keeps:
 * - an unlock is a grant: the door actor writes its record durably before its relay moves, and
 *   answers whether it opened (a door in lockdown or in fault refuses, and the refusal is recorded);
 * - commands that open (passage on, lockdown off) are durable before they are sent, and refused
 *   with STORE_UNAVAILABLE when the audit trail cannot make them so;
 * - commands that secure (lock, lockdown on) are recorded first too, but act even when the record
 *   cannot be made durable: a full disk must not keep a door open;
 * - modes are persisted in the store, so that they survive a restart.
 * How often a door may be commanded is limited where the commands come in from outside (the API's
 * method table, which the web UI and MQTT share: api/doorCommandThrottle.ts), not here: the
 * controller's own callers (the demo's hold-open, benchmarks) are not the flood it guards against.
 */
import type { DoorActorRef, DoorAnswer, DoorEvent } from '../machines/doorMachine.ts';
import { ErrorCodes, PosternError } from '../machines/shared/errors.ts';
import type { AuditEntry, AuditTrail } from './audit/auditTrail.ts';
import type { DecisionRecord } from './decision/decide.ts';
import type { DoorMode, Store } from './store/storeTypes.ts';

export interface DoorOperatorDependencies {
  doorIds: readonly string[];
  sendToDoor(door: string, event: DoorEvent): void;
  /** The door's actor, for the answer to an unlock. */
  doorActor(door: string): DoorActorRef | undefined;
  /** The door's current mode, as its actor holds it. */
  modeOf(door: string): DoorMode;
  store: Pick<Store, 'setDoorMode'>;
  audit: Pick<AuditTrail, 'append' | 'record'>;
}

const MAX_UNLOCK_SECONDS = 3600;
/** An unlock the door has not answered in this time is reported as failed (its record says what happened). */
const ANSWER_TIMEOUT_MS = 10_000;

export class DoorOperator {
  /** Operator grants count down from -1, so their answers never share an id with a scanner's. */
  private nextRequestId = -1;

  constructor(private readonly deps: DoorOperatorDependencies) {}

  async unlock(door: string, seconds: number, actor: string): Promise<void> {
    this.requireDoor(door);
    if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_UNLOCK_SECONDS) {
      throw new PosternError(ErrorCodes.INVALID_ARGUMENT, `seconds: unlock for more than 0 and at most ${MAX_UNLOCK_SECONDS} seconds`, { details: { field: 'seconds' } });
    }
    if (this.deps.modeOf(door) === 'lockdown') throw new PosternError(ErrorCodes.CONFLICT, `door ${door} is in lockdown: lift the lockdown first`);
    const entry: AuditEntry = { type: 'operator', door, reason: 'door.unlock', actor, data: { seconds } };
    const record: DecisionRecord = { entry, startedAt: performance.now(), kind: 'operator', issuer: null, subject: null };
    const answer = await this.grant(door, { type: 'GRANT', durationMs: seconds * 1000, reason: 'operator', record });
    if (answer.opened) return;
    await this.deps.audit.append({ ...entry, verdict: 'deny', data: { seconds, refused: answer.reason, ...(answer.grantSeq !== null ? { voids: answer.grantSeq } : {}) } });
    const code = answer.reason === 'store-unavailable' ? ErrorCodes.STORE_UNAVAILABLE : ErrorCodes.CONFLICT;
    throw new PosternError(code, `door ${door} did not unlock: ${answer.reason ?? 'no answer'}`, { details: { refused: answer.reason } });
  }

  async lock(door: string, actor: string): Promise<void> {
    this.requireDoor(door);
    await this.securing({ type: 'operator', door, reason: 'door.lock', actor });
    this.deps.sendToDoor(door, { type: 'LOCK' });
  }

  /** door null: every door of the site. */
  async lockdown(door: string | null, on: boolean, actor: string): Promise<void> {
    const doors = door === null ? this.deps.doorIds : [this.requireDoor(door)];
    const entry: AuditEntry = { type: 'operator', door, reason: on ? 'lockdown.on' : 'lockdown.off', actor, data: door === null ? { siteWide: true } : null };
    if (on) await this.securing(entry);
    else await this.opening(entry);
    for (const d of doors) {
      this.deps.sendToDoor(d, { type: on ? 'LOCKDOWN.ON' : 'LOCKDOWN.OFF' });
      await this.deps.store.setDoorMode(d, on ? 'lockdown' : 'normal');
    }
  }

  async passage(door: string, on: boolean, actor: string): Promise<void> {
    this.requireDoor(door);
    if (on && this.deps.modeOf(door) === 'lockdown') throw new PosternError(ErrorCodes.CONFLICT, `door ${door} is in lockdown: lift the lockdown first`);
    const entry: AuditEntry = { type: 'operator', door, reason: on ? 'passage.on' : 'passage.off', actor };
    if (on) await this.opening(entry);
    else await this.securing(entry);
    this.deps.sendToDoor(door, { type: on ? 'PASSAGE.ON' : 'PASSAGE.OFF' });
    await this.deps.store.setDoorMode(door, on ? 'passage' : 'normal');
  }

  async acknowledge(door: string, actor: string): Promise<void> {
    this.requireDoor(door);
    this.deps.sendToDoor(door, { type: 'ALARM.ACK', by: actor });
    await this.deps.audit.append({ type: 'operator', door, reason: 'alarm.acknowledge', actor });
  }

  private requireDoor(door: string): string {
    if (!this.deps.doorIds.includes(door)) throw new PosternError(ErrorCodes.NOT_FOUND, `no door "${door}"`, { details: { field: 'door' } });
    return door;
  }

  /** Sends a grant and waits for the door's answer (emitted by the door actor for every grant). */
  private grant(door: string, event: Extract<DoorEvent, { type: 'GRANT' }>): Promise<DoorAnswer> {
    const actor = this.deps.doorActor(door);
    if (actor === undefined) return Promise.reject(new PosternError(ErrorCodes.CONFLICT, 'the controller is not running'));
    const requestId = this.nextRequestId--;
    return new Promise<DoorAnswer>((resolve, reject) => {
      const subscription = actor.on('answer', ({ answer }) => {
        if (answer.requestId !== requestId) return;
        clearTimeout(timer);
        subscription.unsubscribe();
        resolve(answer);
      });
      const timer = setTimeout(() => {
        subscription.unsubscribe();
        reject(new PosternError(ErrorCodes.CONFLICT, `door ${door} did not answer the unlock`));
      }, ANSWER_TIMEOUT_MS);
      this.deps.sendToDoor(door, { ...event, requestId });
    });
  }

  /** A command that opens: acted on only once its record is durable. */
  private async opening(entry: AuditEntry): Promise<void> {
    await this.deps.audit.record(entry).durable;
  }

  /** A command that secures: recorded first, acted on whatever the record's fate. */
  private async securing(entry: AuditEntry): Promise<void> {
    await this.deps.audit.record(entry).durable.catch(() => undefined);
  }
}
