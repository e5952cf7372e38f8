/**
 * The demo's door commands: a simulated door forced open, or held open by someone who came in on
 * a grant, so that a new user sees the alarms the README shows without any hardware. Offered only
 * where the site has simulated doors (the controller passes `demo` then); a door on real hardware
 * cannot be moved from software, and is refused.
 */
import { z } from 'zod';
import type { AuditTrail } from '../../audit/auditTrail.ts';
import type { SimulatedDoorIo } from '../../../drivers/doorIo/simulatedDoorIo.ts';
import { ErrorCodes, PosternError } from '../../../machines/shared/errors.ts';
import type { ApiServices } from '../apiServices.ts';
import { method, type MethodTable } from '../methodTypes.ts';
import { notFound } from './common.ts';

/** What the controller gives the demo methods: its simulated doors, and the trail to record in. */
export interface DemoDoors {
  /** The door's simulated I/O; undefined for a door on real hardware. */
  doorIo(door: string): SimulatedDoorIo | undefined;
  audit: Pick<AuditTrail, 'append'>;
}

const door = z.strictObject({ door: z.string().min(1).max(64) });

export function demoMethods(api: ApiServices): MethodTable {
  const demo = api.demo;
  if (demo === undefined) return {};
  const status = (id: string) => api.monitor.door(id) ?? notFound('door', id);
  const simulated = (id: string): SimulatedDoorIo => {
    status(id);
    const io = demo.doorIo(id);
    if (io === undefined) throw new PosternError(ErrorCodes.CONFLICT, `door ${id} is not simulated: the demo commands move simulated doors only`);
    return io;
  };
  // Recorded like the other operator commands, before the door moves, so the trail reads the
  // command and then the alarm it caused.
  const record = (id: string, reason: string, actor: string) => demo.audit.append({ type: 'operator', door: id, reason, actor });

  return {
    'demo.forceOpen': method({
      role: 'operator',
      params: door,
      handler: async ({ door: id }, { actor }) => {
        const io = simulated(id);
        const before = status(id);
        if (before.doorOpen) throw new PosternError(ErrorCodes.CONFLICT, `door ${id} is already open: close it first (demo.close)`);
        // An unlocked door opened is a normal opening, not a forced one.
        if (before.relayUnlocked) throw new PosternError(ErrorCodes.CONFLICT, `door ${id} is unlocked: lock it first (doors.lock), or wait for it to relock`);
        await record(id, 'demo.force-open', actor);
        io.holdDoorOpen();
        return status(id);
      },
    }),
    'demo.holdOpen': method({
      role: 'operator',
      params: door,
      handler: async ({ door: id }, { actor }) => {
        const io = simulated(id);
        const before = status(id);
        // Checked before anything is recorded: the grant this needs would be refused.
        if (!before.doorOpen && before.mode !== 'normal') throw new PosternError(ErrorCodes.CONFLICT, `door ${id} is in ${before.mode}: no grant opens it now`);
        if (before.fault !== null) throw new PosternError(ErrorCodes.CONFLICT, `door ${id} has an I/O fault: no grant opens it now`);
        await record(id, 'demo.hold-open', actor);
        // Someone comes in on a grant (an operator unlock, recorded as such), then keeps the door
        // open: the door stays `open` until its held-open time passes, then raises the alarm.
        if (!before.doorOpen && !before.relayUnlocked) {
          const seconds = api.config.doors.find((d) => d.id === id)?.unlockSeconds ?? 5;
          await api.doors.unlock(id, seconds, actor);
        }
        io.holdDoorOpen();
        return status(id);
      },
    }),
    'demo.close': method({
      role: 'operator',
      params: door,
      handler: async ({ door: id }, { actor }) => {
        const io = simulated(id);
        // A closed door is answered as it is, and nothing is recorded.
        if (!io.doorOpen) return status(id);
        await record(id, 'demo.close', actor);
        io.closeDoor();
        return status(id);
      },
    }),
  };
}
