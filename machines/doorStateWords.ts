/**
 * Door states as people read them, the same words in the web UI and on the command line:
 * 'heldOpen' is 'held open'. Every state a door shows ('admitting' is shown as the state it admits
 * from); a state not listed is shown as its name.
 */
import type { DoorStateValue } from './doorMachine.ts';

export const STATE_WORDS: Readonly<Record<Exclude<DoorStateValue, 'admitting'>, string>> = {
  secured: 'secured',
  unlocked: 'unlocked',
  open: 'open',
  heldOpen: 'held open',
  forcedOpen: 'forced open',
  lockdown: 'lockdown',
  passage: 'passage',
  fault: 'I/O fault',
  stopped: 'stopped',
};

export function stateWord(state: string): string {
  return Object.hasOwn(STATE_WORDS, state) ? STATE_WORDS[state as keyof typeof STATE_WORDS] : state;
}
