/**
 * Measures of the operator web UI:
 * - its JavaScript size: every file of webui/dist/assets/*.js, gzipped (node:zlib, level 9), and
 *   the part the operator page loads at first (the scripts index.html names);
 * - change-to-paint: the time from a door state change in the controller (performance.timeOrigin
 *   + now() in the listener of Controller.onDoorChange) to the frame that shows it in Chromium (a
 *   MutationObserver on the door cards' data-state, then requestAnimationFrame, reporting
 *   performance.timeOrigin + now() of the page), p50/p99 over 200 changes. Both clocks are the
 *   same machine's wall clock at sub-millisecond resolution.
 *
 * Run it with `npx tsx bench/uiMeasures.ts`; it prints a table and writes bench/results/ui.json.
 * The latency part needs Debian's Chromium at /usr/bin/chromium (skipped, and said so, without).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Accounts } from '../controller/accounts/accounts.ts';
import { AuditTrail } from '../controller/audit/auditTrail.ts';
import { validateConfig } from '../controller/config/loadConfig.ts';
import { Controller } from '../controller/controller.ts';
import { openStore } from '../controller/store/openStore.ts';
import { busyWarning, describeEnvironment, describeLoad, environment, watchLoad } from './lib/environment.ts';
import { tempDir, writeResults } from './lib/site.ts';
import { LATENCY_HEADERS, latencyRow, ms, rounded, summarize, table, type LatencySummary } from './lib/stats.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = path.join(ROOT, 'webui', 'dist');
const CHROMIUM = '/usr/bin/chromium';
const DOORS = 16;
const CHANGES = 200;
const WARMUP = 10;
const USER = { name: 'bench-operator', password: 'bench password 1234', role: 'operator' as const };

const now = () => performance.timeOrigin + performance.now();

export interface JsSize {
  files: Array<{ file: string; bytes: number; gzipBytes: number }>;
  totalBytes: number;
  totalGzipBytes: number;
  /** the scripts the operator page (index.html) loads before anything else */
  operatorInitialGzipBytes: number;
}

export async function measureJsSize(dist = DIST): Promise<JsSize> {
  const assets = path.join(dist, 'assets');
  const names = (await readdir(assets)).filter((f) => f.endsWith('.js')).sort();
  const files = [];
  for (const file of names) {
    const data = await readFile(path.join(assets, file));
    files.push({ file, bytes: data.length, gzipBytes: gzipSync(data, { level: 9 }).length });
  }
  const index = await readFile(path.join(dist, 'index.html'), 'utf8');
  const initial = new Set([...index.matchAll(/(?:src|href)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!));
  return {
    files,
    totalBytes: files.reduce((n, f) => n + f.bytes, 0),
    totalGzipBytes: files.reduce((n, f) => n + f.gzipBytes, 0),
    operatorInitialGzipBytes: files.filter((f) => initial.has(f.file)).reduce((n, f) => n + f.gzipBytes, 0),
  };
}

function benchSite(dataDir: string) {
  const doors = Array.from({ length: DOORS }, (_, i) => `door-${String(i).padStart(2, '0')}`);
  return validateConfig(
    {
      site: { id: 'bench-ui', name: 'UI benchmark', defaultScope: 1 },
      dataDir,
      logLevel: 'silent',
      api: { port: 0 },
      scopes: [{ id: 1, name: 'every door', doors }],
      doors: doors.map((id) => ({ id, name: id, unlockSeconds: 5, heldOpenSeconds: 3600 })),
      scanners: doors.map((id) => ({ id: `${id}-in`, door: id, driver: 'simulated' as const, debounceMs: 0 })),
    },
    'UI benchmark site',
  );
}

async function addUser(dataDir: string): Promise<void> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'bench-ui/admin' });
  await audit.start();
  try {
    await new Accounts({ store, audit }).createUser(USER, 'bench');
  } finally {
    await audit.stop();
    await store.stop();
  }
}

async function launch(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(path.join(tmpdir(), 'postern-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Run in the page (a string: this file is type-checked without the DOM's types): each data-state
 * change of a door card, with the time of the frame that shows it.
 */
const WATCH_PAINTS = `(() => {
  window.__paints = [];
  new MutationObserver((records) => {
    const changed = [];
    for (const r of records) {
      if (r.attributeName === 'data-state' && r.target.dataset.door) changed.push({ door: r.target.dataset.door, state: r.target.dataset.state });
    }
    if (changed.length === 0) return;
    requestAnimationFrame(() => {
      const at = performance.timeOrigin + performance.now();
      for (const c of changed) window.__paints.push({ ...c, at });
    });
  }).observe(document.getElementById('door-grid'), { attributes: true, attributeFilter: ['data-state'], subtree: true });
})()`;

interface Paint {
  door: string;
  state: string;
  at: number;
}

async function paintCount(page: Page): Promise<number> {
  return page.evaluate('window.__paints.length') as Promise<number>;
}

export interface ChangeToPaint {
  summary: LatencySummary;
  missing: number;
}

/** Toggles lockdown on the doors in turn, one change at a time, and pairs each with its paint. */
export async function measureChangeToPaint(changes = CHANGES): Promise<ChangeToPaint> {
  const data = await tempDir('postern-bench-ui-');
  const config = benchSite(data.dir);
  await addUser(data.dir);
  const controller = new Controller({ config });
  await controller.start();
  const browser = await launch();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(`${controller.apiUrl}/`);
    await page.locator('input[name="name"]').fill(USER.name);
    await page.locator('input[name="password"]').fill(USER.password);
    await page.locator('button[type="submit"]').click();
    await page.locator('article[data-door]').nth(DOORS - 1).waitFor();
    await page.evaluate(WATCH_PAINTS);

    let serverAt = 0;
    let expected = '';
    const stop = controller.onDoorChange((change) => {
      if (`${change.door}/${change.to}` === expected) serverAt = now();
    });
    const samples: number[] = [];
    let missing = 0;
    try {
      for (let i = 0; i < changes + WARMUP; i++) {
        const door = config.doors[i % DOORS]!.id;
        const on = Math.floor(i / DOORS) % 2 === 0;
        expected = `${door}/${on ? 'lockdown' : 'secured'}`;
        serverAt = 0;
        const before = await paintCount(page);
        await controller.doors.lockdown(door, on, 'bench');
        try {
          // A function, not a string: the page's CSP forbids eval, which a string predicate needs.
          await page.waitForFunction((n) => (globalThis as unknown as { __paints: unknown[] }).__paints.length > n, before, { timeout: 5000, polling: 5 });
        } catch {
          missing++;
          continue;
        }
        const paint = (await page.evaluate(`window.__paints[${before}]`)) as Paint;
        if (serverAt === 0 || `${paint.door}/${paint.state}` !== expected) {
          missing++;
          continue;
        }
        if (i >= WARMUP) samples.push(paint.at - serverAt);
      }
    } finally {
      stop();
    }
    return { summary: summarize(samples), missing };
  } finally {
    await browser.close();
    await controller.stop();
    await data.remove();
  }
}

export async function runUiMeasures(): Promise<void> {
  const env = environment();
  console.log(`\n# ui: the operator web UI's size and change-to-paint latency\n${describeEnvironment(env)}\n`);
  const warning = busyWarning();
  if (warning !== undefined) console.log(warning + '\n');
  if (!existsSync(path.join(DIST, 'index.html'))) {
    execFileSync('npx', ['vite', 'build', '--config', 'webui/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  }
  const size = await measureJsSize();
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  console.log(table(['webui/dist/assets', 'bytes', 'gzip bytes'], [...size.files.map((f) => [f.file, f.bytes, f.gzipBytes]), ['total', size.totalBytes, size.totalGzipBytes]]));
  console.log(`\nJavaScript, gzip: ${kb(size.totalGzipBytes)} KiB in all (${kb(size.operatorInitialGzipBytes)} KiB loaded first by the operator page); target well under 100 KiB\n`);

  let paint: ChangeToPaint | null = null;
  let load = null;
  if (existsSync(CHROMIUM)) {
    const watch = watchLoad();
    paint = await measureChangeToPaint();
    load = watch.stop();
    console.log(table(LATENCY_HEADERS, [latencyRow(`door change → paint (${DOORS} doors)`, paint.summary)]));
    console.log(`\nchange-to-paint: p50 ${ms(paint.summary.p50)} ms, p99 ${ms(paint.summary.p99)} ms over ${paint.summary.count} changes; missing ${paint.missing}`);
    console.log(describeLoad(load));
  } else {
    console.log(`change-to-paint: skipped: Chromium not installed at ${CHROMIUM} (apt-get install chromium)`);
  }
  const file = await writeResults('ui', {
    benchmark: 'ui',
    measuredAt: new Date().toISOString(),
    environment: env,
    config: { doors: DOORS, changes: CHANGES, warmup: WARMUP, browser: existsSync(CHROMIUM) ? CHROMIUM : null },
    jsSize: size,
    changeToPaint: paint === null ? null : { ...rounded(paint.summary), missing: paint.missing },
    load,
  });
  console.log(`results: ${path.relative(process.cwd(), file)}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runUiMeasures();
}
