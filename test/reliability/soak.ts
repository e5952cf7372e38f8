/**
 * The long reliability run: `npm run soak` (defaults: 1,000 kills, 10,000 racing pairs and
 * 100,000 fuzz cases, on SQLite and on PostgreSQL). Prints progress on standard error and, at the
 * end, a Markdown summary on standard output to paste into docs/reliability.md. Exit 1 when
 * anything failed.
 *
 *     npm run soak                                   # everything, long
 *     npm run soak -- --kills 50 --pairs 1000 --fuzz 10000
 *     npm run soak -- --only kill --stores sqlite --seed 12345
 *     npm run soak -- --json results.json
 *     npm run soak -- --only fault --fault-kills 200  # kill -9 while the store fails (not in the default set)
 *
 * The controller runs as an installed one does, from the built package: the soak runs `npm run
 * build` first (`--skip-build` uses dist/ as it is, e.g. for two soaks at once; `--from-source`
 * runs the sources through tsx instead, three times slower to restart).
 *
 * Each option also reads an environment variable: POSTERN_SOAK_KILLS, POSTERN_SOAK_PAIRS,
 * POSTERN_SOAK_FUZZ, POSTERN_SOAK_FAULT_KILLS, POSTERN_SOAK_STORES, POSTERN_SOAK_ONLY,
 * POSTERN_SOAK_SEED. PostgreSQL is the
 * server of POSTERN_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); when it is
 * not reachable its runs are skipped, saying so, unless POSTERN_TEST_REQUIRE_ALL=1.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { adminUrl, postgresAvailable, postgresServer, requireAll } from '../support/postgres.ts';
import { ROOT } from './harness/controllerProcess.ts';
import { runFuzz, type FuzzResult } from './harness/fuzz.ts';
import { runKillLoop, type KillLoopResult } from './harness/killLoop.ts';
import { runRacing, type RacingResult } from './harness/racing.ts';
import { failureList, fuzzTable, killLoopTable, racingTable } from './harness/report.ts';
import { disposeAllSites, type StoreKind } from './harness/site.ts';
import { busyCores, cpuSnapshot, gitCommit, machineDescription, seconds } from './harness/stats.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    kills: { type: 'string', default: process.env.POSTERN_SOAK_KILLS ?? '1000' },
    'fault-kills': { type: 'string', default: process.env.POSTERN_SOAK_FAULT_KILLS ?? '200' },
    pairs: { type: 'string', default: process.env.POSTERN_SOAK_PAIRS ?? '10000' },
    fuzz: { type: 'string', default: process.env.POSTERN_SOAK_FUZZ ?? '100000' },
    stores: { type: 'string', default: process.env.POSTERN_SOAK_STORES ?? 'sqlite,postgres' },
    only: { type: 'string', default: process.env.POSTERN_SOAK_ONLY ?? 'kill,race,fuzz' },
    seed: { type: 'string', default: process.env.POSTERN_SOAK_SEED },
    json: { type: 'string' },
    'skip-build': { type: 'boolean', default: false },
    'from-source': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log('npm run soak -- [--kills N] [--pairs N] [--fuzz N] [--fault-kills N] [--stores sqlite,postgres] [--only kill,race,fuzz,fault] [--seed N] [--json FILE] [--skip-build | --from-source]');
  process.exit(0);
}

function count(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name}: "${text}" is not a count`);
    process.exit(2);
  }
  return value;
}

const kills = count('kills', values.kills);
const faultKills = count('fault-kills', values['fault-kills']);
const pairs = count('pairs', values.pairs);
const fuzzCases = count('fuzz', values.fuzz);
const only = new Set(values.only.split(',').map((s) => s.trim()));
const seed = values.seed === undefined ? undefined : count('seed', values.seed);
let stores = values.stores.split(',').map((s) => s.trim()) as StoreKind[];
for (const s of stores) {
  if (s !== 'sqlite' && s !== 'postgres') {
    console.error(`--stores: unknown store "${s}" (sqlite, postgres)`);
    process.exit(2);
  }
}

// Ctrl-C: the controllers are killed as this process leaves (controllerProcess.ts); drop the
// throwaway databases and directories first.
process.once('SIGINT', () => {
  console.error('SIGINT: removing the soak\'s databases and directories');
  void disposeAllSites().finally(() => process.exit(130));
});

const progress = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);
const notes: string[] = [];
if (!values['from-source']) {
  if (!values['skip-build']) {
    progress('building (npm run build) so that the controller runs as installed');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  process.env.POSTERN_RELIABILITY_BUILT = '1';
}
const runsAs = values['from-source'] ? 'from the sources (tsx)' : 'from the built package (dist/)';
let postgresVersion = 'not used';
if (stores.includes('postgres')) {
  if (await postgresAvailable()) {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    await client.connect();
    postgresVersion = `PostgreSQL ${(await client.query('show server_version')).rows[0].server_version} at ${postgresServer}`;
    await client.end();
  } else if (requireAll) {
    console.error(`PostgreSQL is not reachable at ${postgresServer}, and POSTERN_TEST_REQUIRE_ALL=1: failing`);
    process.exit(1);
  } else {
    const note = `PostgreSQL skipped: not reachable at ${postgresServer} (set POSTERN_TEST_PG_URL or start it)`;
    progress(note);
    notes.push(note);
    stores = stores.filter((s) => s !== 'postgres');
    postgresVersion = 'not reachable';
  }
}

const started = performance.now();
const cpuBefore = cpuSnapshot();
const killResults: KillLoopResult[] = [];
const faultResults: KillLoopResult[] = [];
const racingResults: RacingResult[] = [];
const fuzzResults: FuzzResult[] = [];

for (const store of stores) {
  if (only.has('kill') && kills > 0) {
    progress(`kill -9 loop on ${store}: ${kills} kills`);
    const r = await runKillLoop({ store, kills, seed, progress });
    progress(`kill -9 loop on ${store}: ${r.failures.total} failures, ${seconds(r.durationMs)}`);
    killResults.push(r);
  }
  if (only.has('fault') && faultKills > 0) {
    progress(`kill -9 while the store fails, on ${store}: ${faultKills} kills`);
    const r = await runKillLoop({ store, kills: faultKills, storeFaults: true, seed, progress });
    progress(`kill -9 while the store fails, on ${store}: ${r.failures.total} failures, ${seconds(r.durationMs)}`);
    faultResults.push(r);
  }
  if (only.has('race') && pairs > 0) {
    progress(`racing on ${store}: ${pairs} pairs`);
    const r = await runRacing({ store, pairs, seed, progress });
    progress(`racing on ${store}: ${r.failures.total} failures, ${seconds(r.durationMs)}`);
    racingResults.push(r);
  }
  if (only.has('fuzz') && fuzzCases > 0) {
    progress(`fuzz on ${store}: ${fuzzCases} cases`);
    const r = await runFuzz({ store, cases: fuzzCases, seed, progress });
    progress(`fuzz on ${store}: ${r.failures.total} failures, ${seconds(r.durationMs)}`);
    fuzzResults.push(r);
  }
}

const total = performance.now() - started;
const busy = busyCores(cpuBefore, cpuSnapshot());
const failed = [...killResults, ...faultResults, ...racingResults, ...fuzzResults].reduce((sum, r) => sum + r.failures.total, 0);
const counts = [only.has('kill') && `--kills ${kills}`, only.has('race') && `--pairs ${pairs}`, only.has('fuzz') && `--fuzz ${fuzzCases}`, only.has('fault') && `--fault-kills ${faultKills}`].filter(Boolean).join(' ');
const command = `npm run soak -- ${counts} --stores ${stores.join(',')} --only ${[...only].join(',')}${seed === undefined ? '' : ` --seed ${seed}`}`;

const out: string[] = [
  `## Soak of ${new Date().toISOString().slice(0, 10)}: ${failed === 0 ? 'no failure' : `${failed} FAILURE(S)`}`,
  '',
  `- Machine: ${machineDescription()}; ${postgresVersion}`,
  `- Commit ${gitCommit(ROOT)}; \`${command}\`; the controller ran ${runsAs}`,
  `- Took ${seconds(total)}; the whole machine was busy ${busy.toFixed(2)} cores on average (controller, harness and database together)`,
  ...notes.map((n) => `- ${n}`),
  '',
];
if (killResults.length > 0) {
  out.push('### kill -9 under scan load', '', 'Three network scanners, one at each of three doors (two fail-secure, one fail-safe), read as fast as they are answered (four reads in flight each): fresh single-use codes (a partner\'s rotating codes, online-only links with maxUses 1), replays, bad MACs, text that is no code, codes out of scope. The controller (`postern start`) is killed with SIGKILL at a random moment (100 to 1200 ms into the load, or one time in ten while it starts) and started again. After each start: every door must be `secured`, every answered decision must be the event at its `auditSeq`, no single-use code may be granted twice in the whole chain, and the last grants answered before the kill must now be denied.', '', killLoopTable(killResults), '');
}
if (faultResults.length > 0) {
  out.push('### kill -9 while the store fails', '', 'The same loop, but in three cycles of four the store fails first (PostgreSQL: the controller\'s connections cut or stalled through a proxy; SQLite: another process holds the write lock), and the kill comes 0 to 3.5 s later, before or after the controller stops waiting for the store and turns to its local journal. A grant\'s event must be durable, in the store or the journal, before the relay moves (docs/reliability.md): every grant the controller answered must be in the chain after the restart. Denials answered while the store was down and lost are counted, not failed.', '', killLoopTable(faultResults), '');
}
if (racingResults.length > 0) {
  out.push('### Racing single-use codes', '', 'Each code is read at the same moment (two requests sent in the same tick) by two network scanners at two doors, on two connections with their own tokens; four pairs in flight. Codes: a partner\'s rotating codes, site badges\' rotating codes (once per 15 s step), online-only links with maxUses 1.', '', racingTable(racingResults), '');
}
if (fuzzResults.length > 0) {
  out.push('### Fuzz through `scanner.read`', '', 'Two network scanners, eight reads in flight each: random ASCII and Unicode (controls, lone surrogates, emoji, white space of every kind), long and over-long text, random base32 with and without the prefix, wrong prefixes, mutations of valid codes (a character replaced, inserted, deleted or swapped, truncated, extended, case changed, padded with white space, doubled, inside a URL, one bit flipped), codes with random fields signed with the right or a wrong key, valid codes, and parameters that are no string. Every answer is checked against an oracle written from the spec; a probe scanner reads a fresh valid code every half second.', '', fuzzTable(fuzzResults), '');
}
const problems = [failureList('kill -9', killResults), failureList('kill -9 while the store fails', faultResults), failureList('racing', racingResults), failureList('fuzz', fuzzResults)].filter((s) => s !== '');
out.push('### Failures and warnings', '', problems.length > 0 ? problems.join('\n') : 'None: no failure, and the controller logged no warning.', '');
const seeds = [...killResults.map((r) => `kill ${r.store} ${r.seed}`), ...faultResults.map((r) => `fault ${r.store} ${r.seed}`), ...racingResults.map((r) => `race ${r.store} ${r.seed}`), ...fuzzResults.map((r) => `fuzz ${r.store} ${r.seed}`)];
out.push(`Seeds (\`--seed\` replays the choices, not the random subjects and keys): ${seeds.join(', ')}.`);
console.log(out.join('\n'));

if (values.json) {
  const replacer = (_key: string, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value);
  await writeFile(values.json, JSON.stringify({ command, machine: machineDescription(), postgres: postgresVersion, totalMs: total, kill: killResults, fault: faultResults, racing: racingResults, fuzz: fuzzResults }, replacer, 2));
}
process.exit(failed === 0 ? 0 : 1);
