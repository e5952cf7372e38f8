// The site: the root actor that spawns one door actor and one scanner actor per configured device
// and is the only place they meet. It routes driver events to the right child, turns scans into a
// `decide` effect (the controller's decision service, which answers later with DECISION) and grants
// into door GRANTs. Pure: `decide` is a named action the controller provides; the children are the
// named actors `door` and `scanner`, which the controller replaces with provided versions.
import { enqueueActions, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { doorMachine, type DoorActorRef, type DoorEvent, type DoorInput } from './doorMachine.ts';
import {
  scannerMachine,
  type ScanEvent,
  type ScannerActorRef,
  type ScannerEvent,
  type ScannerInput,
  type ScanParams,
} from './scannerMachine.ts';

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

export type DecisionEvent = { type: 'DECISION'; door: string; grant: boolean; durationMs?: number };

export type SiteEvent =
  | ScanEvent
  | DecisionEvent
  | { type: 'DOOR'; door: string; event: DoorEvent }
  | { type: 'SCANNER'; scanner: string; event: ScannerEvent }
  | { type: 'SITE.LOCKDOWN'; on: boolean }
  | { type: 'SETTLE' };

export const doorActorId = (door: string): string => `door:${door}`;
export const scannerActorId = (scanner: string): string => `scanner:${scanner}`;

export const siteMachine = setup({
  types: {} as { context: SiteContext; events: SiteEvent; input: SiteInput },
  actors: { door: doorMachine, scanner: scannerMachine },
  actions: {
    // Effect: the controller's decision; it answers asynchronously with a DECISION event.
    decide: (_, _params: ScanParams) => {},
  },
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
        SCAN: {
          actions: {
            type: 'decide',
            params: ({ event }) => ({ scannerId: event.scannerId, door: event.door, text: event.text, ref: event.ref }),
          },
        },
        // A denial needs nothing from the door: the decision service already audited it.
        DECISION: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const door = context.doors[event.door];
            if (door && event.grant) enqueue.sendTo(door, { type: 'GRANT', durationMs: event.durationMs });
          }),
        },
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
        // Scanners stop first so that no read can turn into a grant while the doors settle.
        SETTLE: {
          target: 'settled',
          actions: enqueueActions(({ context, enqueue }) => {
            for (const scanner of Object.values(context.scanners)) enqueue.sendTo(scanner, { type: 'STOP' });
            for (const door of Object.values(context.doors)) enqueue.sendTo(door, { type: 'SETTLE' });
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
