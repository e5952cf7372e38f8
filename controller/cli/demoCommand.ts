/**
 * `postern demo force-open|hold-open|close DOOR`: the demo's door commands (demo.forceOpen,
 * demo.holdOpen, demo.close), sent to the running controller over its API as `postern scan` sends
 * a read, so that a new user sees the alarms from a second terminal. Prints the door's state after.
 */
import type { CliEnvironment } from './cliContext.ts';
import { callController, type ControllerCallOptions } from './controllerCall.ts';

interface DemoValues extends ControllerCallOptions {
  door: string;
}

interface DoorStatus {
  id: string;
  state: string;
  doorOpen: boolean;
  relayUnlocked: boolean;
  alarm: { kind: string; active: boolean; acknowledged: boolean } | null;
}

export const forceOpen = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.forceOpen', values, io);
export const holdOpen = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.holdOpen', values, io);
export const close = (values: DemoValues, io: CliEnvironment) => demoCommand('demo.close', values, io);

async function demoCommand(method: string, values: DemoValues, io: CliEnvironment): Promise<void> {
  const door = (await callController(values, io, method, { door: values.door }, {
    tokenRole: 'operator',
    // The controller runs no simulated door: it offers no demo method.
    hint: (error) => (error.code === -32601 ? ' (the demo commands need a site with simulated doors, such as `postern start --demo`)' : ''),
  })) as DoorStatus;
  const alarm = door.alarm ? `; alarm ${door.alarm.kind}${door.alarm.active ? '' : ' (door closed again)'}${door.alarm.acknowledged ? ', acknowledged' : ''}` : '';
  io.stdout.write(`door ${door.id}: ${door.state} (door ${door.doorOpen ? 'open' : 'closed'}, relay ${door.relayUnlocked ? 'unlocked' : 'locked'})${alarm}\n`);
}
