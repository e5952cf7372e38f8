/**
 * The command line speaks of people and doors by name: `--doors lab` prints the door's name, not a
 * door-set number; lists show status words and what each opens; `--search` finds a holder by name;
 * `--scope` takes a scope's name; `scope list` names every scope; `audit tail` names the holder.
 * Real child processes on a real SQLite file.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

let configFile: string;
const cli = (...args: string[]) => runCli([...args, '--config', configFile]);

beforeAll(async () => {
  const dir = await tempDir('postern-people-');
  configFile = path.join(dir, 'site.yaml');
  await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
  expect((await cli('audit', 'head', '--create')).code).toBe(0);
});

describe('names on the command line', () => {
  it('prints what a link opens by name, lists status words, searches by name, and names the holder in the audit tail', async () => {
    const lab = await cli('link', 'create', '--name', 'Ada Lovelace', '--doors', 'lab', '--out', path.join(path.dirname(configFile), 'qr'));
    expect(lab.code).toBe(0);
    expect(lab.stdout).toMatch(/^opens Lab$/m);
    expect(lab.stdout).not.toMatch(/scope \d/);
    const staff = await cli('link', 'create', '--name', 'Bob Later', '--scope', 'Staff', '--from', '+2h', '--out', path.join(path.dirname(configFile), 'qr'));
    expect(staff.stdout).toMatch(/^opens staff: Front, Lab$/m);

    const list = await cli('link', 'list');
    expect(list.stdout.split('\n')[0]).toMatch(/ID +NAME +EMAIL +OPENS +FROM +UNTIL +ONLINE +STATUS/);
    expect(list.stdout).toMatch(/Ada Lovelace +Lab +\S+ +\S+ +no +active/);
    expect(list.stdout).toMatch(/Bob Later +staff: Front, Lab +\S+ +\S+ +no +not yet valid/);
    const found = await cli('link', 'list', '--search', 'ADA');
    expect(found.stdout).toContain('Ada Lovelace');
    expect(found.stdout).not.toContain('Bob Later');
    const json = JSON.parse((await cli('link', 'list', '--search', 'bob', '--json')).stdout);
    expect(json).toEqual([expect.objectContaining({ name: 'Bob Later', status: 'not-yet-valid', scopeName: 'staff', doors: ['front', 'lab'] })]);

    const scopes = await cli('scope', 'list');
    expect(scopes.stdout).toMatch(/^7 +staff +Front, Lab +site file$/m);
    expect(scopes.stdout).toMatch(/^1073741824 +Lab +Lab +link --doors$/m);

    const tail = await cli('audit', 'tail', '-n', '5');
    expect(tail.stdout).toMatch(/link\.create subject=\d+ holder="Ada Lovelace"/);
  });

  it('takes a scope by name for a credential, and refuses a name no scope has, listing the names', async () => {
    const made = await cli('credential', 'create', '--name', 'Cy Member', '--scope', 'front only');
    expect(made.code).toBe(0);
    expect(made.stdout).toMatch(/^Rotating credential \d+ for Cy Member, opens front only: Front$/m);
    const listed = await cli('credential', 'list', '--search', 'cy');
    expect(listed.stdout).toMatch(/Cy Member +front only: Front +\S+ +active/);
    const wrong = await cli('credential', 'create', '--name', 'Dee', '--scope', 'nowhere');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--scope "nowhere" is no scope of this site; this site has 7 (staff), 3 (front only)');
  });
});
