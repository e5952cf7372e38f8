// One scanner: keeps its driver connected (with exponential backoff) and turns raw reads into
// scans, dropping a repeat of the same text inside a debounce window (a phone held in front of a
// camera is read many times a second). Pure: the driver is reached through the named actions
// `connect` / `disconnect`, and scans leave through `forwardScan`, whose default sends them to the
// parent (the site), so a controller that provides only `connect`/`disconnect` keeps scans flowing.
import { assign, enqueueActions, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { DriverHealth } from './shared/driverHealth.ts';

export interface ScannerBackoff {
  initialMs: number;
  maxMs: number;
}

export interface ScannerInput {
  id: string;
  /** The door this scanner admits to. */
  door: string;
  debounceMs: number;
  backoff?: ScannerBackoff;
}

export interface ScannerContext {
  id: string;
  door: string;
  debounceMs: number;
  backoff: ScannerBackoff;
  /** Reconnection attempts since the last successful connection. */
  attempt: number;
  /** Every read the driver reported, forwarded or not. */
  reads: number;
  /** Reads not forwarded: repeats inside the debounce window, or reads while not ready. */
  dropped: number;
  lastError: string | null;
  /** The text forwarded last, while its debounce window is open; null otherwise. */
  lastText: string | null;
  /** What the driver last said of itself (cameras: frame rate, decode time, dropped frames). */
  health: DriverHealth | null;
}

export type ScannerEvent =
  | { type: 'DRIVER.CONNECTED' }
  | { type: 'DRIVER.DISCONNECTED'; reason: string }
  /** `ref` is the driver's own handle on the read, carried through to the decision untouched. */
  | { type: 'DRIVER.READ'; text: string; ref?: number }
  | { type: 'DRIVER.HEALTH'; health: DriverHealth }
  | { type: 'STOP' };

export interface ScanParams {
  scannerId: string;
  door: string;
  text: string;
  ref?: number;
}

/** A read that was not forwarded, and why: drivers that answer their device need to know. */
export interface DropParams {
  scannerId: string;
  ref: number | undefined;
  reason: 'debounced' | 'not-ready';
}

/** What a scanner sends its parent for each forwarded read. */
export type ScanEvent = { type: 'SCAN' } & ScanParams;

export const DEFAULT_BACKOFF: ScannerBackoff = { initialMs: 500, maxMs: 30_000 };

/** min(initialMs * 2^(attempt-1), maxMs): the first retry waits initialMs. */
export function backoffDelay(backoff: ScannerBackoff, attempt: number): number {
  return Math.min(backoff.initialMs * 2 ** Math.max(0, attempt - 1), backoff.maxMs);
}

// The default `forwardScan` reaches the site. Guarded so that a scanner running alone (no parent)
// drops the scan instead of failing; tests and tools that want the scans provide their own.
// Declared outside setup() so its params type can be given explicitly.
const sendScanToParent = enqueueActions<ScannerContext, ScannerEvent, ScanParams, ScannerEvent, never, never, never>(
  ({ self, enqueue }, params) => {
    if (self._parent) enqueue.sendParent({ type: 'SCAN', ...params } satisfies ScanEvent);
  },
);

function dropParams(context: ScannerContext, event: ScannerEvent, reason: DropParams['reason']): DropParams {
  return { scannerId: context.id, ref: event.type === 'DRIVER.READ' ? event.ref : undefined, reason };
}

export const scannerMachine = setup({
  types: {} as { context: ScannerContext; events: ScannerEvent; input: ScannerInput },
  actions: {
    // Effects: no-ops until the controller provides the driver.
    connect: () => {},
    disconnect: () => {},
    forwardScan: sendScanToParent,
    dropRead: (_, _params: DropParams) => {},
    countRead: assign({ reads: ({ context }) => context.reads + 1 }),
    countDrop: assign({ dropped: ({ context }) => context.dropped + 1 }),
    rememberText: assign({ lastText: ({ event }) => (event.type === 'DRIVER.READ' ? event.text : null) }),
    forgetText: assign({ lastText: null }),
  },
  guards: {
    repeatsLastText: ({ context, event }) => event.type === 'DRIVER.READ' && event.text === context.lastText,
  },
  delays: {
    debounce: ({ context }) => context.debounceMs,
    backoff: ({ context }) => backoffDelay(context.backoff, context.attempt),
  },
}).createMachine({
  id: 'scanner',
  context: ({ input }) => ({
    id: input.id,
    door: input.door,
    debounceMs: input.debounceMs,
    backoff: input.backoff ?? DEFAULT_BACKOFF,
    attempt: 0,
    reads: 0,
    dropped: 0,
    lastError: null,
    lastText: null,
    health: null,
  }),
  initial: 'connecting',
  on: {
    // A read while not ready comes from a driver we do not hold as connected (stale buffer,
    // half-open device): drop it, but count it so that a misbehaving driver shows.
    'DRIVER.READ': { actions: ['countRead', 'countDrop', { type: 'dropRead', params: ({ context, event }) => dropParams(context, event, 'not-ready') }] },
    'DRIVER.HEALTH': { actions: assign({ health: ({ event }) => event.health }) },
    STOP: { target: '.stopped' },
  },
  states: {
    connecting: {
      entry: 'connect',
      on: {
        'DRIVER.CONNECTED': { target: 'ready' },
        'DRIVER.DISCONNECTED': { target: 'disconnected', actions: assign({ lastError: ({ event }) => event.reason }) },
      },
    },
    ready: {
      entry: assign({ attempt: 0 }),
      initial: 'idle',
      on: {
        'DRIVER.DISCONNECTED': { target: 'disconnected', actions: assign({ lastError: ({ event }) => event.reason }) },
      },
      states: {
        idle: {
          on: {
            'DRIVER.READ': {
              target: 'debouncing',
              actions: [
                'countRead',
                { type: 'forwardScan', params: ({ context, event }) => ({ scannerId: context.id, door: context.door, text: event.text, ref: event.ref }) },
                'rememberText',
              ],
            },
          },
        },
        // The window runs from the last forwarded scan: dropped repeats do not extend it, so a
        // code held in front of the scanner is forwarded again once per window.
        debouncing: {
          exit: 'forgetText',
          after: { debounce: 'idle' },
          on: {
            'DRIVER.READ': [
              { guard: 'repeatsLastText', actions: ['countRead', 'countDrop', { type: 'dropRead', params: ({ context, event }) => dropParams(context, event, 'debounced') }] },
              {
                target: 'debouncing',
                reenter: true,
                actions: [
                  'countRead',
                  { type: 'forwardScan', params: ({ context, event }) => ({ scannerId: context.id, door: context.door, text: event.text, ref: event.ref }) },
                  'rememberText',
                ],
              },
            ],
          },
        },
      },
    },
    disconnected: {
      entry: assign({ attempt: ({ context }) => context.attempt + 1 }),
      after: { backoff: 'connecting' },
      on: {
        // A driver that recovers on its own need not wait for the retry.
        'DRIVER.CONNECTED': { target: 'ready' },
      },
    },
    stopped: {
      type: 'final',
      entry: 'disconnect',
    },
  },
});

export type ScannerActorRef = ActorRefFrom<typeof scannerMachine>;
export type ScannerSnapshot = SnapshotFrom<typeof scannerMachine>;
