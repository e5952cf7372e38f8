// The site: the root actor that spawns one door actor and one scanner actor per configured device
// and is the only place they meet. Scanners reach their door by its system id; the site only routes
// driver events to the right child and carries site-wide commands. Pure: the children are the named
// actors `door` and `scanner`, which the controller replaces with provided versions.
import { enqueueActions, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { doorActorId, doorMachine, type DoorActorRef, type DoorEvent, type DoorInput } from './doorMachine.ts';
import { scannerMachine, type ScannerActorRef, type ScannerEvent, type ScannerInput } from './scannerMachine.ts';

export { doorActorId };

export interface SiteInput {
  doors: DoorInput[];
  scanners: ScannerInput[];
}

export interface SiteContext {
  /** Door actors by door id (child and system id `door:<id>`). */
  doors: Record<string, DoorActorRef>;
  /** Scanner actors by scanner id (child and system id `scanner:<id>`). */
  scanners: Record<string, ScannerActorRef>;
}

export type SiteEvent =
  | { type: 'DOOR'; door: string; event: DoorEvent }
  | { type: 'SCANNER'; scanner: string; event: ScannerEvent }
  | { type: 'SITE.LOCKDOWN'; on: boolean }
  | { type: 'SETTLE' };

export const scannerActorId = (scanner: string): string => `scanner:${scanner}`;

export const siteMachine = setup({
  types: {} as { context: SiteContext; events: SiteEvent; input: SiteInput },
  actors: { door: doorMachine, scanner: scannerMachine },
}).createMachine({
  id: 'site',
  // Doors are spawned before scanners, so they start (and command their relays to a safe position)
  // before any scanner is asked to connect.
  context: ({ input, spawn }) => ({
    doors: Object.fromEntries(
      input.doors.map((door) => [
        door.id,
        spawn('door', { id: doorActorId(door.id), systemId: doorActorId(door.id), input: door }),
      ]),
    ),
    scanners: Object.fromEntries(
      input.scanners.map((scanner) => [
        scanner.id,
        spawn('scanner', { id: scannerActorId(scanner.id), systemId: scannerActorId(scanner.id), input: scanner }),
      ]),
    ),
  }),
  initial: 'running',
  states: {
    running: {
      on: {
        // Events for devices the site does not know are dropped: config and drivers may disagree
        // briefly during a reload, and one stray event must not stop the site.
        DOOR: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const door = context.doors[event.door];
            if (door) enqueue.sendTo(door, event.event);
          }),
        },
        SCANNER: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const scanner = context.scanners[event.scanner];
            if (scanner) enqueue.sendTo(scanner, event.event);
          }),
        },
        'SITE.LOCKDOWN': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            for (const door of Object.values(context.doors)) {
              enqueue.sendTo(door, { type: event.on ? 'LOCKDOWN.ON' : 'LOCKDOWN.OFF' });
            }
          }),
        },
        // Doors settle first: a door still admitting a grant refuses it (\`stopped\`) and answers its
        // scanner, which records that refusal; then the scanners stop, concluding whatever they
        // still hold as \`stopped\`. No read can become a grant after this: a stopped door takes none.
        SETTLE: {
          target: 'settled',
          actions: enqueueActions(({ context, enqueue }) => {
            for (const door of Object.values(context.doors)) enqueue.sendTo(door, { type: 'SETTLE' });
            for (const scanner of Object.values(context.scanners)) enqueue.sendTo(scanner, { type: 'STOP' });
          }),
        },
      },
    },
    // Every child has reached its final state; the site ignores everything until it is stopped.
    settled: {},
  },
});

export type SiteActorRef = ActorRefFrom<typeof siteMachine>;
export type SiteSnapshot = SnapshotFrom<typeof siteMachine>;
