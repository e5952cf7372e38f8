/**
 * The package installs for production and runs with no build step: `npm pack` of the working tree
 * (its prepack builds dist/ and webui/dist/), `npm install --omit=dev` of the tarball into a folder
 * holding only the package.json docs/install.md gives (which install scripts may run), then the
 * installed `postern` starts a site with a kiosk scanner, makes a scanner token and a link with its
 * own CLI, and decodes the link's QR code sent as a PNG frame over the API.
 *
 * The pack runs in a copy of the working tree (with the project's node_modules linked in for the
 * build tools), so the pages and dist/ that other tests serve are never rebuilt under them. The
 * install compiles the SQLite module from source where no prebuilt one can be downloaded, which
 * takes minutes on a small machine: every step is bounded, and npm runs at a lower priority so the
 * suites beside it keep their timing. Skipped, saying so, when the npm registry cannot be reached,
 * unless POSTERN_TEST_REQUIRE_ALL=1: then it fails.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';
const MINUTE = 60_000;

/**
 * The environment of every child: the caller's, without what `npm test` exported about this
 * project (npm_package_*, its lifecycle, its local prefix) and without the caller's Postern
 * settings (a site file, a port, a database), so the installed package decides from its site alone.
 * The machine's npm settings stay: how to reach the registry, and where the headers of the Node.js
 * that runs are (nodedir), for the SQLite module compiled against them.
 */
function childEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|cache|proxy|https_proxy|noproxy|strict_ssl|cafile|nodedir)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !keep.test(key)) continue;
    if (/^POSTERN_/.test(key) || key === 'DATABASE_URL') continue;
    env[key] = value;
  }
  return env;
}

function registryReachable(): boolean {
  return spawnSync('npm', ['ping'], { stdio: 'ignore', timeout: 30_000, env: childEnv() }).status === 0;
}

const reachable = registryReachable();
const title = reachable
  ? 'a production install of the packed package'
  : requireAll
    ? 'a production install of the packed package (npm registry unreachable and POSTERN_TEST_REQUIRE_ALL=1: failing)'
    : 'a production install of the packed package: skipped: the npm registry cannot be reached';

/** npm at a lower CPU priority, bounded in time; what it printed, warnings included. */
async function npm(args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout, stderr } = await run('nice', ['-n', '10', 'npm', ...args], { cwd, timeout, env: childEnv(), maxBuffer: 64 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(0, 20_000));
  }
}

/** The working tree as the developer has it: tracked files and new ones git does not ignore. */
async function copyWorkingTree(to: string): Promise<void> {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  for (const file of stdout.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(ROOT, file))) continue; // deleted, not yet staged
    await cp(path.join(ROOT, file), path.join(to, file), { recursive: true, verbatimSymlinks: true });
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'), 'dir');
}

/**
 * The package.json docs/install.md has the installer write before the install: it says which
 * dependencies may run an install script, without which npm 12 builds no SQLite module.
 */
async function documentedPackageJson(): Promise<string> {
  const guide = await readFile(path.join(ROOT, 'docs', 'install.md'), 'utf8');
  const block = /^ {4}cat > package\.json <<'EOF'\n([\s\S]*?)^ {4}EOF$/m.exec(guide);
  if (!block) throw new Error("docs/install.md has no `cat > package.json <<'EOF'` block");
  const text = block[1]!.replace(/^ {4}/gm, '');
  JSON.parse(text);
  return text;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForReady(port: number, controller: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (controller.exitCode !== null) throw new Error(`postern start exited ${controller.exitCode}:\n${output()}`);
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`/readyz did not answer 200 within 60 s:\n${output()}`);
}

/** One JSON-RPC call over the API's WebSocket, authenticated as the kiosk page does it. */
async function callApi(port: number, token: string, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/api`, ['postern.v1', `bearer.${token}`]);
  try {
    await once(socket, 'open');
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
    const [data] = (await Promise.race([once(socket, 'message'), new Promise((_, reject) => setTimeout(() => reject(new Error(`${method}: no answer in 60 s`)), 60_000))])) as [Buffer];
    const answer = JSON.parse(data.toString()) as { result?: Record<string, unknown>; error?: unknown };
    if (answer.error !== undefined) throw new Error(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result!;
  } finally {
    socket.close();
  }
}

describe.skipIf(!reachable && !requireAll)(title, () => {
  let work: string;
  let app: string;
  let tarball: string;
  let controller: ChildProcess | undefined;
  let output = '';
  let installOutput = '';

  beforeAll(async () => {
    if (!reachable) throw new Error('POSTERN_TEST_REQUIRE_ALL=1 but the npm registry cannot be reached (npm ping failed)');
    work = await mkdtemp(path.join(tmpdir(), 'postern-install-'));
    const source = path.join(work, 'source');
    await copyWorkingTree(source);
    await npm(['pack', '--pack-destination', work], source, 10 * MINUTE);
    const packed = (await readdir(work)).filter((f) => f.endsWith('.tgz'));
    expect(packed).toHaveLength(1);
    tarball = path.join(work, packed[0]!);
    await rm(source, { recursive: true, force: true });

    app = path.join(work, 'app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), await documentedPackageJson());
    installOutput = await npm(['install', '--omit=dev', '--no-audit', '--no-fund', tarball], app, 15 * MINUTE);
  }, 26 * MINUTE);

  afterAll(async () => {
    if (controller && controller.exitCode === null) {
      controller.kill('SIGKILL');
      await once(controller, 'exit');
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packs the built controller and pages, the docs and deployment files, without sources, tests or source maps', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { maxBuffer: 16 * 1024 * 1024 });
    const files = stdout.split('\n').filter(Boolean);
    for (const needed of ['package/package.json', 'package/dist/controller/bin/postern.js', 'package/dist/drivers/scanners/camera/decodeWorker.js', 'package/webui/dist/index.html', 'package/webui/dist/kiosk.html', 'package/webui/dist/badge.html', 'package/controller/config/demo-site.yaml', 'package/docs/credential-format.md', 'package/docs/deploy/postern.service', 'package/docs/deploy/site.example.yaml', 'package/dist/controller/client/client.js', 'package/dist/controller/client/client.d.ts', 'package/dist/controller/client/methodParams.d.ts']) {
      expect(files, needed).toContain(needed);
    }
    expect(files.filter((f) => f.startsWith('package/test/') || f.endsWith('.map') || f.endsWith('.tsbuildinfo') || (f.endsWith('.ts') && !f.endsWith('.d.ts')))).toEqual([]);
  });

  it('installs what runs and nothing that only builds or tests', () => {
    const modules = path.join(app, 'node_modules');
    for (const runtime of ['postern', 'zxing-wasm', 'better-sqlite3', 'xstate']) expect(existsSync(path.join(modules, runtime)), runtime).toBe(true);
    for (const devOnly of ['tsx', 'typescript', 'vite', 'vitest']) expect(existsSync(path.join(modules, devOnly)), devOnly).toBe(false);
    expect(existsSync(path.join(modules, '.bin', 'postern'))).toBe(true);
  });

  it("installs with the guide's package.json, which covers every runtime dependency's install script", async () => {
    // npm 11 runs scripts it was not told of but lists them ("not yet covered by allowScripts");
    // npm 12 skips them. Only postern's own prepare may be listed: the package needs no build.
    const uncovered = [...installOutput.matchAll(/^npm warn install-scripts\s+(@?[\w.-]+(?:\/[\w.-]+)?)@\S+ \(/gm)].map((m) => m[1]);
    expect(uncovered.filter((name) => name !== 'postern'), installOutput).toEqual([]);
    expect(existsSync(path.join(app, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
  });

  it('starts a site with a kiosk scanner, and decodes a PNG frame of a valid code into a grant', async () => {
    const postern = path.join(app, 'node_modules', '.bin', 'postern');
    const site = path.join(work, 'site');
    await mkdir(site);
    const port = await freePort();
    const siteFile = path.join(site, 'site.yaml');
    await writeFile(
      siteFile,
      [
        'site: { id: installed, name: Installed site }',
        'dataDir: ./data',
        'logLevel: warn',
        `api: { host: 127.0.0.1, port: ${port} }`,
        'decoder: { workers: 1 }',
        'scopes:',
        '  - { id: 1, name: lab, doors: [lab] }',
        'doors:',
        '  - { id: lab, name: Lab, io: { driver: simulated, autoWalkThrough: true } }',
        'scanners:',
        '  - { id: lab-kiosk, door: lab, driver: kiosk }',
        '',
      ].join('\n'),
    );
    const cli = async (args: string[]) => (await run(postern, [...args, '--config', siteFile], { cwd: site, env: childEnv(), timeout: MINUTE })).stdout;

    controller = spawn(postern, ['start', '--config', siteFile], { cwd: site, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    controller.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    controller.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitForReady(port, controller, () => output);

    const token = /^pst_[\w-]+$/m.exec(await cli(['token', 'create', '--name', 'tablet', '--role', 'scanner', '--scanner', 'lab-kiosk']))?.[0];
    expect(token, 'token create printed no token').toBeDefined();
    const links = path.join(work, 'links');
    const created = await cli(['link', 'create', '--name', 'Installed visitor', '--doors', 'lab', '--out', links]);
    const code = /P1\.[A-Z2-7]{64}/.exec(created)?.[0];
    expect(code, created).toBeDefined();
    const png = (await readdir(links)).find((f) => f.endsWith('.png'));
    expect(png, `no PNG under ${links}`).toBeDefined();

    const result = await callApi(port, token!, 'scanner.frame', { image: (await readFile(path.join(links, png!))).toString('base64') });
    expect(result, output).toMatchObject({ scanner: 'lab-kiosk', code: true, read: true, outcome: { decided: true, verdict: 'grant', door: 'lab' } });

    // The client the package exports, as an application imports it, against the same controller.
    const viewer = /^pst_[\w-]+$/m.exec(await cli(['token', 'create', '--name', 'app', '--role', 'viewer']))?.[0];
    const script = path.join(app, 'client.mjs');
    await writeFile(
      script,
      [
        "import { connect } from 'postern/client';",
        `const client = await connect('ws://127.0.0.1:${port}/api', { token: process.env.TOKEN });`,
        "const info = await client.call('system.info');",
        "const wrong = await client.call('doors.get', { door: 'nope' }).catch((e) => e);",
        'console.log(JSON.stringify({ site: info.site.id, error: [wrong.name, wrong.code, wrong.posternCode] }));',
        'await client.close();',
        '',
      ].join('\n'),
    );
    const answered = (await run(process.execPath, [script], { cwd: app, env: { ...childEnv(), TOKEN: viewer }, timeout: MINUTE })).stdout;
    expect(JSON.parse(answered)).toEqual({ site: 'installed', error: ['PosternRpcError', -32002, 'POSTERN_ERR_NOT_FOUND'] });
    // Its types too, for a TypeScript application (the compiler and Node's types are this checkout's).
    await writeFile(path.join(app, 'typed.ts'), "import { connect } from 'postern/client';\nconst client = await connect('ws://127.0.0.1:1/api', { token: 't' });\nawait client.call('doors.get', { door: 'front' });\n// @ts-expect-error door is required\nawait client.call('doors.get', {});\n");
    await writeFile(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, typeRoots: [path.join(ROOT, 'node_modules', '@types')], types: ['node'] }, files: ['typed.ts'] }));
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'postern-site', private: true, type: 'module' }) + '\n');
    await run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', app], { cwd: app, timeout: MINUTE });

    controller.kill('SIGTERM');
    const [exitCode] = (await Promise.race([once(controller, 'exit'), new Promise((_, reject) => setTimeout(() => reject(new Error(`no exit 20 s after SIGTERM:\n${output}`)), 20_000))])) as [number | null];
    expect(exitCode, output).toBe(0);
  }, 5 * MINUTE);

  it('makes a site certificate for a kiosk tablet with postern tls, and shows it', async () => {
    const postern = path.join(app, 'node_modules', '.bin', 'postern');
    const site = path.join(work, 'tls-site');
    await mkdir(site);
    const siteFile = path.join(site, 'site.yaml');
    await writeFile(siteFile, ['site: { id: tls, name: TLS site }', 'dataDir: ./data', 'doors:', '  - { id: lab, name: Lab, io: { driver: simulated } }', 'scanners: []', ''].join('\n'));
    const tls = path.join(site, 'tls');
    const cli = async (args: string[]) => (await run(postern, [...args, '--config', siteFile], { cwd: site, env: childEnv(), timeout: MINUTE })).stdout;
    const created = await cli(['tls', 'create', '--dir', tls, '--no-defaults', '--host', 'kiosk.test', '--host', '192.0.2.7']);
    expect(created).toContain('kiosk.test');
    expect((await stat(path.join(tls, 'key.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(tls, 'ca-key.pem'))).mode & 0o777).toBe(0o600);
    const shown = await cli(['tls', 'show', '--dir', tls]);
    expect(shown).toMatch(/kiosk\.test/);
    expect(shown).toMatch(/([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  }, 2 * MINUTE);
});
