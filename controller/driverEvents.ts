/**
 * What a driver reports, as the event its actor takes: the one place where drivers' events meet
 * the machines (drivers import nothing of the machines but their shared module).
 */
import type { DoorIoEvent } from '../drivers/doorIo/doorIo.ts';
import type { ScannerDriverEvent } from '../drivers/scanners/scannerDriver.ts';
import type { DoorEvent } from '../machines/doorMachine.ts';
import type { ScannerEvent } from '../machines/scannerMachine.ts';

export function doorEvent(event: DoorIoEvent): DoorEvent {
  switch (event.type) {
    case 'sensor':
      return event.open ? { type: 'DOOR.OPENED' } : { type: 'DOOR.CLOSED' };
    case 'rex':
      return { type: 'REX' };
    case 'fault':
      return { type: 'IO.FAULT', reason: event.reason };
    case 'ok':
      return { type: 'IO.OK' };
  }
}

export function scannerEvent(event: ScannerDriverEvent): ScannerEvent {
  switch (event.type) {
    case 'read':
      return { type: 'DRIVER.READ', text: event.text, ref: event.ref };
    case 'connected':
      return { type: 'DRIVER.CONNECTED' };
    case 'disconnected':
      return { type: 'DRIVER.DISCONNECTED', reason: event.reason };
    case 'health':
      return { type: 'DRIVER.HEALTH', health: event.health };
  }
}
