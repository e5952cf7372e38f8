/**
 * The reference implementations of docs/partners.md (examples/partner-codes/), each run as a partner
 * would run it, against every vector of credential-vectors.json: keys and codes, byte for byte.
 * Python and Go suites are skipped, saying so, where python3 or go is missing, unless
 * POSTERN_TEST_REQUIRE_ALL=1: then they fail.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { vectors } from '../support/vectors.ts';

const run = promisify(execFile);
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
const EXAMPLES = fileURLToPath(new URL('../../examples/partner-codes/', import.meta.url));

/** The first of the candidates that runs, or undefined. */
function findTool(candidates: string[], versionArgs: string[]): string | undefined {
  return candidates.find((tool) => (tool.includes('/') ? existsSync(tool) : true) && spawnSync(tool, versionArgs, { stdio: 'ignore', timeout: 20_000 }).status === 0);
}

const python = findTool(['python3'], ['--version']);
const go = findTool(['go', '/usr/bin/go', '/usr/lib/go/bin/go'], ['version']);

function suiteName(name: string, tool: string, found: string | undefined): string {
  if (found) return name;
  return requireAll ? `${name} (${tool} not found and POSTERN_TEST_REQUIRE_ALL=1: failing)` : `${name} (skipped: ${tool} not found)`;
}

/** Every vector as command-line arguments, with the code it must print. */
const secretOf = (v: (typeof vectors.vectors)[number]) => (v.issuer !== 0 ? vectors.partner_17_secret : v.kind === 'rotating' ? vectors.credential_9001_secret : vectors.site_key);
const codeCases = vectors.vectors.map((v) => ({
  name: v.name,
  args:
    v.kind === 'rotating'
      ? ['rotating', String(v.issuer), secretOf(v), String(v.subject), String(v.scope), String(v.generated_at)]
      : [v.kind, String(v.issuer), secretOf(v), String(v.subject), String(v.scope), String(v.not_before), v.not_after === 0xffffffff ? 'never' : String(v.not_after)],
  expected: v.code,
}));
const keyCases = vectors.vectors
  .filter((v) => v.derived_secret !== undefined)
  .map((v) => ({ name: `${v.name}: derived key`, args: ['rotating-key', secretOf(v), String(v.subject)], expected: v.derived_secret! }));
// The same "no end" link, its end given as a number rather than `never`.
const noEnd = vectors.vectors.find((v) => v.not_after === 0xffffffff)!;
const numericNoEnd = { name: `${noEnd.name}, end as a number`, args: [noEnd.kind, '0', vectors.site_key, String(noEnd.subject), String(noEnd.scope), String(noEnd.not_before), '4294967295'], expected: noEnd.code };
const allCases = [...codeCases, ...keyCases, numericNoEnd];

/** Runs each case in turn (2 cores: no fan-out) and compares stdout, trimmed of its line break. */
async function checkAll(command: string, prefix: string[]): Promise<void> {
  expect(codeCases).toHaveLength(vectors.vectors.length);
  for (const c of allCases) {
    const { stdout } = await run(command, [...prefix, ...c.args], { cwd: EXAMPLES, timeout: 60_000 });
    expect(stdout.trim(), c.name).toBe(c.expected);
  }
}

async function rejectsBadUsage(command: string, prefix: string[]): Promise<void> {
  const failed = await run(command, [...prefix, 'link', '17'], { cwd: EXAMPLES, timeout: 60_000 }).then(
    () => undefined,
    (error: { code?: number; stderr?: string }) => error,
  );
  expect(failed?.code).not.toBe(0);
  expect(failed?.stderr).toMatch(/usage/i);
}

describe('makeCode.mjs (Node.js)', () => {
  it('reproduces every vector, run as a program', async () => {
    await checkAll(process.execPath, ['makeCode.mjs']);
    await rejectsBadUsage(process.execPath, ['makeCode.mjs']);
  });

  it('reproduces every vector through its exported functions', async () => {
    // Imported by URL: the example is plain JavaScript, with no types to check against.
    const m = await import(new URL('../../examples/partner-codes/makeCode.mjs', import.meta.url).href);
    const key = (hex: string) => Buffer.from(hex, 'hex');
    for (const v of vectors.vectors) {
      const made =
        v.kind === 'rotating'
          ? m.makeRotating(key(secretOf(v)), v.issuer, v.subject, v.scope, v.generated_at)
          : m.makeLink(key(secretOf(v)), v.issuer, v.subject, v.scope, v.not_before, v.not_after, v.kind === 'online-link');
      expect(made, v.name).toBe(v.code);
      if (v.derived_secret) expect(m.rotatingKey(key(secretOf(v)), v.subject).toString('hex')).toBe(v.derived_secret);
    }
    // A rotating code made now has the step of now.
    const now = Math.floor(Date.now() / 1000);
    const made: string = m.makeRotating(key(vectors.partner_17_secret), 17, 777, 0);
    expect([m.makeRotating(key(vectors.partner_17_secret), 17, 777, 0, now), m.makeRotating(key(vectors.partner_17_secret), 17, 777, 0, now + 1)]).toContain(made);
  });
});

describe.skipIf(!python && !requireAll)(suiteName('make_code.py (Python)', 'python3', python), () => {
  it('reproduces every vector, run with python3', async () => {
    if (!python) throw new Error('POSTERN_TEST_REQUIRE_ALL=1 but python3 is not installed');
    await checkAll(python, ['make_code.py']);
    await rejectsBadUsage(python, ['make_code.py']);
  });
});

describe.skipIf(!go && !requireAll)(suiteName('make_code.go (Go)', 'go', go), () => {
  it('reproduces every vector, run with go run', async () => {
    if (!go) throw new Error('POSTERN_TEST_REQUIRE_ALL=1 but go is not installed (looked for go on PATH, /usr/bin/go, /usr/lib/go/bin/go)');
    await checkAll(go, ['run', 'make_code.go']);
    await rejectsBadUsage(go, ['run', 'make_code.go']);
  });
});
