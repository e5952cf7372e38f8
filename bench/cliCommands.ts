/**
 * How long a `postern` command takes, as a user waits for it: the built bin
 * (dist/controller/bin/postern.js, `npm run build`) run with plain node in a child process, timed
 * from spawn to exit, on the demo site (its site file, with POSTERN_DATA_DIR a temp directory
 * holding a store in use: links, credentials, tokens, a partner, an audit chain).
 *
 * Target (issue 11): every command answers in under 0.5 s. The commands are run in rounds, each
 * round every command once in the same order, after one round of warm-up (the page cache), so that
 * what else runs on the machine meanwhile touches every command alike.
 *
 * POSTERN_BENCH_CLI_RUNS: rounds (default 20). POSTERN_BENCH_CLI_BIN: another build's bin to time
 * instead of this checkout's. POSTERN_BENCH_CLI_BASELINE: a second bin (an older commit's build)
 * timed in the same rounds, each command run by both one after the other (which first alternates),
 * so that a before/after on a shared machine sees the same load.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { busyNowWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { tempDir, writeResults } from './lib/site.ts';
import { ms, summarize, table } from './lib/stats.ts';

const TARGET_MS = 500;
const BIN = process.env.POSTERN_BENCH_CLI_BIN ?? fileURLToPath(new URL('../dist/controller/bin/postern.js', import.meta.url));
const BASELINE = process.env.POSTERN_BENCH_CLI_BASELINE;
const RUNS = Number(process.env.POSTERN_BENCH_CLI_RUNS ?? 20);

/** The commands timed: help, and those that open the store (every read command of the issue, and doctor). */
const COMMANDS: readonly string[][] = [
  ['--help'],
  ['help', 'link'],
  ['link', 'list'],
  ['audit', 'head'],
  ['audit', 'verify'],
  ['token', 'list'],
  ['credential', 'list'],
  ['partner', 'list'],
  ['doctor'],
];

interface Run {
  code: number | null;
  ms: number;
  stderr: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv, bin = BIN): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    // Read as a script capturing the output would: a command that writes a lot waits for its reader.
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ms: performance.now() - started, stderr }));
  });
}

/** The store of a site in use, made with the CLI itself (the first command makes it: --create). */
async function fillStore(env: NodeJS.ProcessEnv): Promise<void> {
  const steps: string[][] = [
    ['audit', 'head', '--create'],
    ...Array.from({ length: 10 }, (_, i) => ['link', 'create', '--name', `Visitor ${i}`, '--scope', '1']),
    ...Array.from({ length: 3 }, (_, i) => ['credential', 'create', '--name', `Member ${i}`, '--scope', '1']),
    ['token', 'create', '--name', 'integration', '--role', 'operator'],
    ['token', 'create', '--name', 'tablet', '--role', 'scanner', '--scanner', 'lab-kiosk'],
    ['partner', 'add', '--id', '7', '--name', 'Tickets Ltd', '--scopes', '1'],
  ];
  for (const args of steps) {
    const result = await run(args, env);
    if (result.code !== 0) throw new Error(`postern ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  }
}

export async function runCliCommands(): Promise<void> {
  const env = environment();
  console.log(`\n# cli: wall time of each postern command, ${RUNS} runs, target under ${TARGET_MS} ms\n${describeEnvironment(env)}\nbin: ${BIN}${BASELINE === undefined ? '' : `\nbaseline: ${BASELINE}`}\n`);
  const warning = await busyNowWarning();
  if (warning !== undefined) console.log(warning + '\n');
  const dir = await tempDir('postern-bench-cli-');
  // The demo site (no --config, no POSTERN_CONFIG), its store in the temp directory; port 0 so
  // that doctor's port check does not depend on what else listens on 8080.
  const childEnv: NodeJS.ProcessEnv = { ...process.env, POSTERN_DATA_DIR: dir.dir, POSTERN_API_PORT: '0' };
  delete childEnv.POSTERN_CONFIG;
  delete childEnv.DATABASE_URL;
  try {
    await fillStore(childEnv);
    const samples = new Map<string, number[]>(COMMANDS.map((c) => [c.join(' '), []]));
    const baseline = new Map<string, number[]>(COMMANDS.map((c) => [c.join(' '), []]));
    const failures = new Map<string, string>();
    const load = watchLoad();
    for (let round = -1; round < RUNS; round++) {
      for (const args of COMMANDS) {
        const name = args.join(' ');
        const bins = BASELINE === undefined ? [BIN] : round % 2 === 0 ? [BIN, BASELINE] : [BASELINE, BIN];
        for (const bin of bins) {
          const result = await run(args, childEnv, bin);
          // doctor exits 1 when a check fails (a missing device, say): still its full run, so timed.
          if (result.code !== 0 && !(name === 'doctor' && result.code === 1)) failures.set(`${name} (${bin})`, `exit ${result.code}: ${result.stderr.trim()}`);
          if (round >= 0) (bin === BIN ? samples : baseline).get(name)!.push(result.ms);
        }
      }
    }
    const machine = load.stop();
    console.log(describeLoad(machine) + '\n');
    const rows = [...samples].map(([name, times]) => ({ name, ...summarize(times), baseline: BASELINE === undefined ? undefined : summarize(baseline.get(name)!) }));
    const before = (r: (typeof rows)[number]) => (r.baseline === undefined ? [] : [ms(r.baseline.p50, 0), ms(r.baseline.max, 0)]);
    console.log(
      table(
        ['command', 'runs', 'p50 ms', 'p90 ms', 'max ms', `under ${TARGET_MS} ms`, ...(BASELINE === undefined ? [] : ['baseline p50 ms', 'baseline max ms'])],
        rows.map((r) => [`postern ${r.name}`, r.count, ms(r.p50, 0), ms(r.p90, 0), ms(r.max, 0), r.max < TARGET_MS ? 'yes' : r.p50 < TARGET_MS ? 'p50 only' : 'no', ...before(r)]),
      ),
    );
    for (const [name, why] of failures) console.log(`FAILED: postern ${name}: ${why}`);
    // The baseline's failures are reported, but the target is this bin's.
    const met = ![...failures.keys()].some((key) => key.endsWith(`(${BIN})`)) && rows.every((r) => r.max < TARGET_MS);
    console.log(`\nevery command under ${TARGET_MS} ms in every run: ${met ? 'met' : 'NOT met'}`);
    // Another build's numbers are kept apart from this checkout's.
    const file = await writeResults(process.env.POSTERN_BENCH_CLI_BIN === undefined ? 'cli' : 'cli-other-bin', {
      benchmark: 'cli',
      measuredAt: new Date().toISOString(),
      environment: env,
      load: machine,
      bin: BIN,
      baseline: BASELINE,
      runs: RUNS,
      targetMs: TARGET_MS,
      commands: rows,
      failures: Object.fromEntries(failures),
      met,
    });
    console.log(`results: ${file}`);
  } finally {
    await dir.remove();
  }
}
