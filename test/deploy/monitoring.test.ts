/**
 * docs/prometheus-alerts.yml and docs/grafana-dashboard.json: the rules load in Prometheus's own
 * parser (promtool check rules) and fire on the series they are meant for (promtool test rules,
 * prometheus-alerts.promtest.yml); the dashboard's queries parse too; and every metric, label and
 * label value they name is one a real controller exports on /metrics.
 *
 * promtool comes with Debian's prometheus package. Without it the promtool suites are skipped,
 * saying so, unless POSTERN_TEST_REQUIRE_ALL=1 (CI), under which they fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { SimulatedDoorIo } from '../../drivers/doorIo/simulatedDoorIo.ts';
import type { SimulatedScanner } from '../../drivers/scanners/simulatedScanner.ts';
import { startApiSite, type ApiSite } from '../support/apiSite.ts';
import { tempDir } from '../support/testSite.ts';

const root = path.resolve(import.meta.dirname, '../..');
const RULES = path.join(root, 'docs/prometheus-alerts.yml');
const RULE_TESTS = path.join(root, 'test/deploy/prometheus-alerts.promtest.yml');
const DASHBOARD = path.join(root, 'docs/grafana-dashboard.json');
const requireAll = process.env.POSTERN_TEST_REQUIRE_ALL === '1';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const hasPromtool = promtool.status === 0;
const promtoolSuite = (name: string) =>
  hasPromtool
    ? name
    : requireAll
      ? `${name} (promtool not found, and POSTERN_TEST_REQUIRE_ALL=1: failing)`
      : `${name} (skipped: promtool not found; apt-get install prometheus)`;

function runPromtool(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', cwd: root });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules: Rule[] = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string; query?: unknown }[] };
};

/** Every PromQL expression of the dashboard: its panels' and its variables'. */
function dashboardExpressions(): { where: string; expr: string }[] {
  const found: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) for (const target of panel.targets ?? []) found.push({ where: `panel "${panel.title}" ${target.refId}`, expr: target.expr });
  for (const variable of dashboard.templating.list) {
    // label_values(<selector>, <label>): the selector is PromQL.
    const selector = variable.definition !== undefined ? /^label_values\((.*),\s*\w+\)$/.exec(variable.definition)?.[1] : undefined;
    if (selector !== undefined) found.push({ where: `variable $${variable.name}`, expr: selector });
  }
  return found;
}

/** Grafana's variables put in as a query would get them, so that the text is PromQL. */
function asPromQl(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$\{?(instance|door)\}?/g, '.*');
}

/** The scrape configuration docs/monitoring.md gives, with /etc/prometheus/ moved to `dir`. */
function scrapeConfig(dir: string): string {
  const doc = readFileSync(path.join(root, 'docs/monitoring.md'), 'utf8');
  const block = /<!-- prometheus-config[^>]*-->\n```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  if (block === undefined) throw new Error('docs/monitoring.md has no prometheus-config block');
  return block.replaceAll('/etc/prometheus/', `${dir}/`);
}

const allExpressions = [...rules.map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })), ...dashboardExpressions()];

describe('the dashboard (docs/grafana-dashboard.json)', () => {
  it('is a Grafana dashboard whose panels all use the datasource variable, with unique ids, inside the 24-column grid', () => {
    expect(dashboard.uid).toBe('postern-controller');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(datasource?.type).toBe('datasource');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(refIds.length, panel.title).toBeGreaterThan(0);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, panel.title).toBe('${datasource}');
    }
    // No two panels overlap.
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('shows doors, alarms, scanners, decisions, latency, the wait for the disk, the audit outbox and store problems', () => {
    const text = dashboardExpressions().map((e) => e.expr).join('\n');
    for (const metric of ['postern_door_state', 'postern_door_alarm', 'postern_scanner_up', 'postern_decisions_total', 'postern_scan_to_relay_seconds_bucket', 'postern_audit_durable_seconds_bucket', 'postern_audit_outbox_pending', 'postern_audit_journaled', 'postern_store_problems']) {
      expect(text).toContain(metric);
    }
  });
});

describe('the alert rules (docs/prometheus-alerts.yml)', () => {
  it('cover forced and held-open doors, offline scanners, the audit outbox, store problems and latency, each with a severity and a summary', () => {
    const names = rules.map((r) => r.alert);
    for (const name of ['PosternDoorForcedOpen', 'PosternDoorHeldOpen', 'PosternScannerOffline', 'PosternAuditOutboxGrowing', 'PosternAuditNotDurable', 'PosternStoreProblem', 'PosternGrantsSlow', 'PosternGrantsWaitForDisk', 'PosternControllerDown']) {
      expect(names).toContain(name);
    }
    for (const rule of rules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
    }
  });
});

describe.skipIf(!hasPromtool && !requireAll)(promtoolSuite('promtool'), () => {
  it('promtool check rules accepts the alert rules', () => {
    const { status, output } = runPromtool(['check', 'rules', RULES]);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(status, output).toBe(0);
  });

  it('promtool test rules: each alert fires on the series it is for, and not on a healthy controller', () => {
    const { status, output } = runPromtool(['test', 'rules', RULE_TESTS]);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('promtool check config accepts the scrape configuration of docs/monitoring.md', async () => {
    const dir = await tempDir('postern-promconfig-');
    const config = scrapeConfig(dir);
    writeFileSync(path.join(dir, 'postern.token'), 'pst_test\n');
    writeFileSync(path.join(dir, 'postern-ca.pem'), '');
    writeFileSync(path.join(dir, 'postern-alerts.yml'), readFileSync(RULES));
    writeFileSync(path.join(dir, 'prometheus.yml'), config);
    const { status, output } = runPromtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
    expect(status, output).toBe(0);
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('every query of the dashboard is PromQL that Prometheus parses', async () => {
    const dir = await tempDir('postern-dashboard-');
    const file = path.join(dir, 'dashboard-queries.yml');
    const expressions = dashboardExpressions();
    const body = expressions.map((e, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(asPromQl(e.expr))}\n`).join('');
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${body}`);
    const { status, output } = runPromtool(['check', 'rules', file]);
    expect(status, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${expressions.length} rules found`);
  });
});

/** A metric exposition, read: each metric's type, and the label sets of its samples. */
interface Exposition {
  types: Map<string, string>;
  labels: Map<string, Set<string>>;
  values: Map<string, Set<string>>;
}

function readExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  const values = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const set = labels.get(sample[1]!) ?? new Set<string>();
    labels.set(sample[1]!, set);
    for (const pair of (sample[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) {
      set.add(pair[1]!);
      const seen = values.get(pair[1]!) ?? new Set<string>();
      values.set(pair[1]!, seen);
      seen.add(pair[2]!);
    }
  }
  return { types, labels, values };
}

/** The metric a sample name belongs to: a histogram's _bucket, _sum and _count are its own. */
function metricOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  return ['histogram', 'summary'].includes(types.get(base) ?? '') ? base : undefined;
}

/** Labels every series gets from Prometheus (the target's) or from the histogram itself. */
const TARGET_LABELS = new Set(['instance', 'job']);

/** Label values that are the product's own words (a door's state, an alarm's kind, a reason). */
const CHECKED_VALUES = new Set(['state', 'kind', 'verdict', 'reason', 'outcome', 'driver']);

/** Quoted words of the source folders where these values are made (door machine, verifier, drivers). */
function sourceWords(): Set<string> {
  const files = ['machines/doorMachine.ts', 'controller/credentials/verifier.ts', 'controller/api/metrics.ts', 'controller/decision/decisionLog.ts', 'drivers/driverConfig.ts'];
  const words = new Set<string>();
  for (const file of files) for (const m of readFileSync(path.join(root, file), 'utf8').matchAll(/'([a-zA-Z-]+)'/g)) words.add(m[1]!);
  return words;
}

describe('every metric the rules and the dashboard name, a real controller exports', () => {
  let site: ApiSite;
  let exposition: Exposition;

  beforeAll(async () => {
    site = await startApiSite();
    // A decision (the counter and the histogram get samples) and a forced door (the alarm gauge does).
    const decided = new Promise((resolve) => site.controller.onDecision(resolve));
    (site.controller.scannerDriver('lab-in') as SimulatedScanner).read('not a code');
    await decided;
    const forced = new Promise<void>((resolve) => {
      const off = site.controller.onDoorChange((change) => {
        if (change.door === 'front' && change.to === 'forcedOpen') {
          off();
          resolve();
        }
      });
    });
    (site.controller.doorIo('front') as SimulatedDoorIo).setDoorOpen(true);
    await forced;
    const response = await fetch(`${site.url}/metrics`, { headers: { authorization: `Bearer ${site.tokens.viewer}` } });
    expect(response.status).toBe(200);
    exposition = readExposition(await response.text());
  });

  afterAll(async () => {
    await site?.stop();
  });

  it('names only metrics that /metrics has (and up, which Prometheus adds)', () => {
    const unknown: string[] = [];
    for (const { where, expr } of allExpressions) {
      for (const [name] of asPromQl(expr).matchAll(/\b(?:postern|nodejs|process)_[a-z0-9_]+\b/g)) {
        if (metricOf(name, exposition.types) === undefined) unknown.push(`${where}: ${name}`);
      }
      for (const [, name] of expr.matchAll(/(?:^|[^a-z_])(up)\{/g)) if (name !== 'up') unknown.push(`${where}: ${name}`);
    }
    expect(unknown).toEqual([]);
    expect(exposition.types.get('postern_scan_to_relay_seconds')).toBe('histogram');
  });

  it('selects by labels those metrics have, with values a controller uses', () => {
    const words = sourceWords();
    const problems: string[] = [];
    for (const { where, expr } of allExpressions) {
      for (const [, name, body] of asPromQl(expr).matchAll(/\b((?:postern|nodejs|process)_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const metric = metricOf(name!, exposition.types)!;
        const has = new Set([...(exposition.labels.get(name!) ?? []), ...(exposition.labels.get(metric) ?? []), ...TARGET_LABELS, ...(name!.endsWith('_bucket') ? ['le'] : [])]);
        for (const matcher of body!.split(',').map((m) => m.trim()).filter(Boolean)) {
          const parsed = /^([a-zA-Z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"$/.exec(matcher);
          if (!parsed) {
            problems.push(`${where}: cannot read matcher ${matcher}`);
            continue;
          }
          const [, label, op, value] = parsed;
          if (!has.has(label!)) problems.push(`${where}: ${name} has no label ${label}`);
          if (!CHECKED_VALUES.has(label!) || op!.startsWith('!')) continue;
          for (const literal of value!.split('|')) {
            if (/[.*+?()[\]\\]/.test(literal)) continue;
            if (!exposition.values.get(label!)?.has(literal) && !words.has(literal)) problems.push(`${where}: ${label}="${literal}" is no value of ${name}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the alarm the forced door raised is the kind the rules look for', () => {
    expect(exposition.values.get('kind')).toContain('forced-open');
    expect(rules.find((r) => r.alert === 'PosternDoorForcedOpen')?.expr).toContain('kind="forced-open"');
  });
});

const hasPrometheus = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).status === 0;
const prometheusSuite = hasPrometheus
  ? 'a real Prometheus with the rules and the scrape configuration, against a real controller'
  : requireAll
    ? 'a real Prometheus against a real controller (prometheus not found, and POSTERN_TEST_REQUIRE_ALL=1: failing)'
    : 'a real Prometheus against a real controller (skipped: prometheus not found; apt-get install prometheus)';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

describe.skipIf(!hasPrometheus && !requireAll)(prometheusSuite, () => {
  let site: ApiSite;
  let prometheus: ChildProcess | undefined;
  let api: string;
  let log = '';

  beforeAll(async () => {
    site = await startApiSite();
    const dir = await tempDir('postern-prometheus-');
    // The documented configuration, scraping this controller over plain HTTP every second.
    const target = new URL(site.url).host;
    const config = scrapeConfig(dir)
      .replace(/scrape_interval: \S+/, 'scrape_interval: 1s')
      .replace(/evaluation_interval: \S+/, 'evaluation_interval: 1s')
      .replace(/scheme: https.*\n/, 'scheme: http\n')
      .replace(/ +tls_config:\n.*\n/, '')
      .replace("['doors.example.org:8443']", `['${target}']`);
    writeFileSync(path.join(dir, 'postern.token'), `${site.tokens.viewer}\n`);
    writeFileSync(path.join(dir, 'postern-alerts.yml'), readFileSync(RULES));
    writeFileSync(path.join(dir, 'prometheus.yml'), config);
    mkdirSync(path.join(dir, 'data'));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (chunk) => (log += chunk));
    prometheus.stderr!.on('data', (chunk) => (log += chunk));
    await until('Prometheus to be ready', async () => ((await fetch(`${api}/-/ready`)).ok ? true : undefined));
    await until('the first scrape', async () => {
      const body = (await (await fetch(`${api}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
      const health = body.data.activeTargets[0];
      if (health?.health === 'down') throw new Error(health.lastError);
      return health?.health === 'up' ? true : undefined;
    });
  });

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await site?.stop();
  });

  const query = async (expr: string) => {
    const response = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await response.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  };

  it('scrapes the controller with the viewer token, and answers every query of the dashboard', async () => {
    const failed: string[] = [];
    for (const { where, expr } of dashboardExpressions()) {
      const answer = await query(asPromQl(expr));
      if (answer.status !== 'success') failed.push(`${where}: ${answer.error}`);
    }
    expect(failed, log).toEqual([]);
    // The door-state timeline has a series per door, with the code of its state (0: secured).
    const states = dashboard.panels.find((p) => p.title === 'Door states')!.targets![0]!.expr;
    const answer = await until('a door state', async () => {
      const result = (await query(asPromQl(states))).data?.result ?? [];
      return result.length === 3 ? result : undefined;
    });
    expect(Object.fromEntries(answer.map((r) => [r.metric.door, r.value[1]]))).toEqual({ front: '0', lab: '0', store: '0' });
  });

  it('evaluates every rule without error, and fires PosternDoorForcedOpen when a door is forced', async () => {
    (site.controller.doorIo('front') as SimulatedDoorIo).setDoorOpen(true);
    const firing = await until('PosternDoorForcedOpen to fire', async () => {
      const body = (await (await fetch(`${api}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      return body.data.alerts.find((a) => a.labels.alertname === 'PosternDoorForcedOpen' && a.state === 'firing');
    });
    expect(firing.labels).toMatchObject({ door: 'front', severity: 'critical', instance: new URL(site.url).host });
    const body = (await (await fetch(`${api}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const rulesSeen = body.data.groups.flatMap((g) => g.rules);
    expect(rulesSeen).toHaveLength(rules.length);
    expect(rulesSeen.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
  });
});
