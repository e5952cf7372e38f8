/**
 * How `postern` explains itself, in real child processes: `--help`, `help <command>` and
 * `<command> --help` (exit 0, on standard output), an unknown command, subcommand or option and a
 * missing argument (exit 2, the message then the usage, on standard error), and the store that
 * commands other than start make only with --create.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli, type CliResult } from '../support/runCli.ts';
import { tempDir, testSiteInput } from '../support/testSite.ts';

const COMMANDS = ['start', 'link', 'credential', 'partner', 'audit', 'user', 'token', 'scan', 'doctor', 'backup', 'restore'];

/** Commander's usage error: one `postern: ...` line, then the help of the command it concerns; nothing on standard output, no stack. */
function expectUsageError(result: CliResult, message: string, usage: string): void {
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')[0]).toBe(`postern: ${message}`);
  expect(result.stderr).toContain(`Usage: ${usage}`);
  expect(result.stderr).not.toContain('    at ');
}

let dir: string;
let configFile: string;

beforeAll(async () => {
  dir = await tempDir('postern-usage-');
  configFile = path.join(dir, 'site.yaml');
  await writeFile(configFile, stringify({ ...testSiteInput('./data'), scanners: [] }));
});

describe('postern help', () => {
  it('--help lists every command with a line on what it does; no command at all is a usage error', async () => {
    const [help, short, none, version] = await Promise.all([runCli(['--help']), runCli(['-h']), runCli([]), runCli(['--version'])]);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(/^Usage: postern <command> \[options\]\n/);
    for (const command of COMMANDS) expect(help.stdout).toMatch(new RegExp(`\n  ${command} (<command>|\\[options\\]|<)[^\n]* {2}\\w`));
    expect(help.stdout).toContain('postern help <command>');
    expect(short.stdout).toBe(help.stdout);

    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toBe(help.stdout);

    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('help <command>, <command> --help and <group> help <command> print the same help: synopsis, options, --config and --create', async () => {
    const [helpCmd, flag, groupHelp, shortFlag] = await Promise.all([
      runCli(['help', 'link', 'create']),
      runCli(['link', 'create', '--help']),
      runCli(['link', 'help', 'create']),
      runCli(['link', 'create', '--name', 'Ada', '-h']),
    ]);
    for (const r of [helpCmd, flag, groupHelp, shortFlag]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(helpCmd.stdout);
    }
    expect(helpCmd.stdout).toMatch(/^Usage: postern link create --name NAME \[--email ADDRESS\] \(--scope ID\|NAME \| --doors a,b\)\n/);
    expect(helpCmd.stdout).toMatch(/\n {2}--scope <ID\|NAME> +the scope/);
    expect(helpCmd.stdout).toMatch(/\n {2}--config <FILE> +the site file/);
    expect(helpCmd.stdout).toMatch(/\n {2}--create +make a new, empty store/);
    expect(helpCmd.stdout).toContain('TIME is ISO 8601');
  });

  it("a group's help gives each of its commands' synopsis; commands that open no store take no --create", async () => {
    const [audit, group, scan, code] = await Promise.all([runCli(['help', 'audit']), runCli(['audit', '--help']), runCli(['scan', '--help']), runCli(['help', 'credential', 'code'])]);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toBe(group.stdout);
    for (const line of ['tail [-n N] [--follow] [--controller ID]', 'export --csv [--out FILE] [--controller ID]', 'head [--json] [--controller ID]', 'verify [--controller ID] [--anchor FILE]']) {
      expect(audit.stdout).toContain(`\n  ${line}\n`);
    }
    expect(scan.stdout).toMatch(/^Usage: postern scan TEXT --scanner ID/);
    for (const r of [scan, code]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('--config <FILE>');
      expect(r.stdout).not.toContain('--create');
    }
  });
});

describe('postern usage errors', () => {
  it('an unknown command, subcommand or option, a bad choice or a missing argument: exit 2 with the usage', async () => {
    const [unknown, inherited, sub, option, choice, missing, help, noSub] = await Promise.all([
      runCli(['frobnicate']),
      runCli(['toString']),
      runCli(['audit', 'frobnicate']),
      runCli(['link', 'list', '--colour', 'red']),
      runCli(['start', '--log-format', 'xml']),
      runCli(['link', 'revoke']),
      runCli(['help', 'frobnicate']),
      runCli(['partner']),
    ]);
    expectUsageError(unknown, "unknown command 'frobnicate'", 'postern <command> [options]');
    expectUsageError(inherited, "unknown command 'toString'", 'postern <command> [options]');
    expectUsageError(sub, "unknown command 'frobnicate'", 'postern audit <command> [options]');
    expectUsageError(option, "unknown option '--colour'", 'postern link list [--all] [--search TEXT] [--json]');
    expectUsageError(choice, "option '--log-format <format>' argument 'xml' is invalid. Allowed choices are json, pretty.", 'postern start [--config FILE]');
    expectUsageError(missing, "missing required argument 'id'", 'postern link revoke ID [--reason TEXT]');
    expectUsageError(help, "unknown command 'frobnicate'", 'postern <command> [options]');
    expect(noSub.code).toBe(2);
    expect(noSub.stderr).toMatch(/^Usage: postern partner <command> \[options\]\n/);
    expect(noSub.stderr).toContain('\n  add --id N --name NAME --scopes 3,4 [--default-scope 3] [--secret HEX]\n');
  });

  it("a check the command makes itself is reported the same way, with that command's usage", async () => {
    const result = await runCli(['token', 'create', '--role', 'admin', '--config', configFile]);
    expectUsageError(result, 'missing --name', 'postern token create --name NAME --role ROLE');
  });
});

describe('--create', () => {
  it('a command refuses to make a new, empty store unless given --create, which makes one for the commands after it', async () => {
    const dataDir = path.join(dir, 'fresh');
    const env = { POSTERN_DATA_DIR: dataDir };
    const refusals = await Promise.all([['link', 'list'], ['link', 'revoke', '1'], ['user', 'list'], ['audit', 'head']].map((args) => runCli([...args, '--config', configFile], env)));
    for (const refused of refusals) {
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`no store at ${path.join(dataDir, 'postern.sqlite')}`);
      expect(refused.stderr).toContain('--create');
    }
    expect(existsSync(dataDir)).toBe(false);

    const created = await runCli(['link', 'list', '--create', '--config', configFile], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(existsSync(path.join(dataDir, 'postern.sqlite'))).toBe(true);
    expect((await runCli(['audit', 'head', '--config', configFile], env)).code).toBe(0);
  });
});
