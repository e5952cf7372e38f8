/**
 * Commands run at the same moment, each a process of its own, as scripts and several
 * administrators do: every one succeeds and is recorded on the shared `<site>/admin` chain, which
 * stays intact. (Before, the processes took the same seq and all but one exited 1 with their
 * audit events lost.)
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

describe('concurrent commands', () => {
  it('records every one of six link creations started together, in one intact chain', async () => {
    const dir = await tempDir('postern-cli-concurrent-');
    const configFile = path.join(dir, 'site.yaml');
    await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
    const cli = (...args: string[]) => runCli([...args, '--config', configFile]);
    expect((await cli('audit', 'head', '--create')).code).toBe(0);

    const names = ['Ada', 'Grace', 'Linus', 'Barbara', 'Edsger', 'Donald'];
    const results = await Promise.all(names.map((name) => cli('link', 'create', '--name', name, '--scope', '7', '--out', path.join(dir, 'qr'))));
    expect(results.map((r) => [r.code, r.stderr])).toEqual(names.map(() => [0, '']));

    const verify = await cli('audit', 'verify');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/test-site\/admin: \d+ events, chain intact/);
    const tail = await cli('audit', 'tail', '-n', '20');
    expect(tail.stdout.match(/operator link\.create/g)).toHaveLength(names.length);
    const list = await cli('link', 'list');
    for (const name of names) expect(list.stdout).toContain(name);
  }, 60_000);
});
