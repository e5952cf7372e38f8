/**
 * postern start sets V8's heap growth itself, unless node's own command line already chose one.
 * What the setting does to memory is measured in the large-store benchmark, not here.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tuneHeapForController } from '../../controller/heapTuning.ts';

const MODULE = fileURLToPath(new URL('../../controller/heapTuning.ts', import.meta.url));

/** Runs tuneHeapForController in a fresh node with these options; prints what it returned. */
function inChild(nodeOptions: string[]): boolean {
  const script = `import(${JSON.stringify(MODULE)}).then((m) => console.log(JSON.stringify(m.tuneHeapForController())))`;
  return JSON.parse(execFileSync(process.execPath, [...nodeOptions, '--import', 'tsx', '-e', script], { encoding: 'utf8' }).trim()) as boolean;
}

describe('tuneHeapForController', () => {
  it('sets the growth in a process started without one', () => {
    expect(inChild([])).toBe(true);
  });

  it('leaves a growth given on node’s command line alone', () => {
    expect(inChild(['--heap-growing-percent=20'])).toBe(false);
    expect(tuneHeapForController(['--heap-growing-percent=20'])).toBe(false);
  });
});
