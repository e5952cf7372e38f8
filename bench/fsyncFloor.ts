/**
 * The durable floor alone (bench/lib/durableFloor.ts): what one fdatasync of 1 KiB, one journal
 * append and one SQLite commit with synchronous = FULL cost on this disk, one at a time, in a temp
 * directory on the file system the benchmarks' stores use (os.tmpdir()). The latency benchmark
 * measures the same before its scenarios; this runs it alone, with more samples.
 */
import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { durableFloorRows, measureDurableFloor } from './lib/durableFloor.ts';
import { tempDir, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, table } from './lib/stats.ts';

const SAMPLES = 3000;

export async function runFsyncFloor(): Promise<void> {
  const env = environment();
  console.log(`\n# fsync: the cost of one durable write on this disk, ${SAMPLES} of each\n${describeEnvironment(env)}\n`);
  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');
  const dir = await tempDir('postern-bench-fsync-');
  const load = watchLoad();
  try {
    const floor = await measureDurableFloor(dir.dir, SAMPLES);
    const machine = load.stop();
    console.log(describeLoad(machine));
    console.log(`directory: ${dir.dir}\n`);
    console.log(table(LATENCY_HEADERS, durableFloorRows(floor).map(([label, s]) => latencyRow(label, s))));
    const file = await writeResults('fsync', { benchmark: 'fsync', measuredAt: new Date().toISOString(), environment: env, load: machine, floor });
    console.log(`results: ${file}`);
  } finally {
    await dir.remove();
  }
}
