/**
 * The controller as a separate process, started the way an operator starts it
 * (`postern start --config FILE`), and the `postern` command line, each with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../../controller/bin/postern.ts', import.meta.url));
const BUILT_BIN = fileURLToPath(new URL('../../../dist/controller/bin/postern.js', import.meta.url));

/**
 * How `postern` is run: from the sources through tsx, or, when POSTERN_RELIABILITY_BUILT=1 (the
 * soak sets it after building), the built package, as an installed controller runs, which starts
 * in a third of the time and so fits three times the kills into an hour.
 */
function posternArgs(): string[] {
  return process.env.POSTERN_RELIABILITY_BUILT === '1' ? [BUILT_BIN] : ['--import', 'tsx', BIN];
}

/** Children still running: killed if this process leaves first (a test that timed out, Ctrl-C). */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The environment of a child: DATABASE_URL only when the store is PostgreSQL. */
export function childEnv(databaseUrl: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.DATABASE_URL;
  delete env.POSTERN_CONFIG;
  delete env.POSTERN_DATA_DIR;
  delete env.POSTERN_API_PORT;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `postern ARGS`; kills it (and says so) when it takes longer than timeoutMs. */
export async function runPostern(args: string[], databaseUrl: string | undefined, timeoutMs = 60_000, stdin?: string): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [...posternArgs(), ...args], { cwd: ROOT, env: childEnv(databaseUrl), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin!.end(stdin);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  live.add(child);
  child.once('exit', () => live.delete(child));
  try {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    if (signal === 'SIGKILL') stderr += `\n(postern ${args.join(' ')}: killed after ${timeoutMs} ms)`;
    return { code, signal, stdout, stderr, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** Keeps the last `limit` characters of a stream, for messages when something goes wrong. */
class Tail {
  private text = '';
  constructor(private readonly limit = 64 * 1024) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.slice(-this.limit);
  }
}

export interface ControllerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One run of `postern start`: from spawn to its exit. */
export class ControllerProcess {
  readonly child: ChildProcess;
  readonly spawnedAt = performance.now();
  private readonly out = new Tail();
  private readonly err = new Tail();
  private buffered = '';
  private apiUrlValue: string | undefined;
  private readyAt: number | undefined;
  private readonly exitPromise: Promise<ControllerExit>;
  private exitValue: ControllerExit | undefined;
  /**
   * Log lines (standard error, JSON) at level error (50) or fatal (60), and lines that are no log
   * line (a crash's stack), grouped by what they say: the component and message, with a count and
   * the first line in full.
   */
  readonly alarms = new Map<string, { count: number; example: string }>();
  /** Log lines at level warn (40), by message, with a count. */
  readonly warnings = new Map<string, number>();
  private errBuffered = '';
  private lineListeners = new Set<(line: string) => void>();

  constructor(siteFile: string, databaseUrl: string | undefined) {
    this.child = spawn(process.execPath, [...posternArgs(), 'start', '--config', siteFile], {
      cwd: ROOT,
      env: childEnv(databaseUrl),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    this.child.stderr!.on('data', (chunk: string) => this.onStderr(chunk));
    live.add(this.child);
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitValue = { code, signal };
        resolve(this.exitValue);
      });
    });
  }

  static start(siteFile: string, databaseUrl: string | undefined): ControllerProcess {
    return new ControllerProcess(siteFile, databaseUrl);
  }

  private onStdout(chunk: string): void {
    this.out.push(chunk);
    this.buffered += chunk;
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (this.apiUrlValue === undefined) {
        const match = /^API: (wss?:\/\/\S+\/api) /.exec(line);
        if (match) {
          this.apiUrlValue = match[1];
          this.readyAt = performance.now();
        }
      }
      for (const listener of this.lineListeners) listener(line);
    }
  }

  private onStderr(chunk: string): void {
    this.err.push(chunk);
    this.errBuffered += chunk;
    const lines = this.errBuffered.split('\n');
    this.errBuffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let entry: { level?: number; msg?: string } | undefined;
      try {
        entry = JSON.parse(line) as { level?: number; msg?: string };
      } catch {
        entry = undefined;
      }
      if (entry === undefined || typeof entry.level !== 'number') {
        this.alarm(line.slice(0, 200), line);
      } else if (entry.level >= 50) {
        const e = entry as { component?: string; msg?: string; err?: { message?: string } };
        this.alarm(`${e.component ?? '?'}: ${e.msg ?? ''}${e.err?.message ? ` (${e.err.message})` : ''}`, line);
      } else if (entry.level >= 40) {
        const msg = String(entry.msg ?? '?');
        this.warnings.set(msg, (this.warnings.get(msg) ?? 0) + 1);
      }
    }
  }

  private alarm(key: string, line: string): void {
    const seen = this.alarms.get(key);
    if (seen) seen.count++;
    else if (this.alarms.size < 200) this.alarms.set(key, { count: 1, example: line.slice(0, 1000) });
  }

  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get apiUrl(): string | undefined {
    return this.apiUrlValue;
  }

  /** From spawn to the API line (the controller has started), when it came. */
  get startMs(): number | undefined {
    return this.readyAt === undefined ? undefined : this.readyAt - this.spawnedAt;
  }

  get exited(): ControllerExit | undefined {
    return this.exitValue;
  }

  output(): string {
    return `--- stdout (tail) ---\n${this.out}\n--- stderr (tail) ---\n${this.err}`;
  }

  /** Resolves with the API's ws:// URL once the controller has started; throws if it exits or takes too long. */
  async ready(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.apiUrlValue === undefined) {
      if (this.exitValue) throw new Error(`the controller exited (${JSON.stringify(this.exitValue)}) before it started\n${this.output()}`);
      if (Date.now() > deadline) throw new Error(`the controller did not start within ${timeoutMs} ms\n${this.output()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.apiUrlValue;
  }

  /** kill -9, and waits until the process is gone. */
  async kill9(timeoutMs = 10_000): Promise<ControllerExit> {
    if (!this.exitValue) this.child.kill('SIGKILL');
    return this.waitExit(timeoutMs);
  }

  /** SIGTERM, as an operator stops it; resolves with how it ended (SIGKILL after timeoutMs). */
  async stop(timeoutMs = 15_000): Promise<ControllerExit & { forced: boolean }> {
    if (this.exitValue) return { ...this.exitValue, forced: false };
    this.child.kill('SIGTERM');
    const exited = await Promise.race([this.exitPromise, new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs).unref())]);
    if (exited) return { ...exited, forced: false };
    return { ...(await this.kill9()), forced: true };
  }

  async waitExit(timeoutMs: number): Promise<ControllerExit> {
    const exited = await Promise.race([this.exitPromise, new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs).unref())]);
    if (!exited) throw new Error(`controller pid ${this.pid} did not exit within ${timeoutMs} ms`);
    return exited;
  }
}

/**
 * What a run of the controller logged, into a harness's result: warnings counted by message; each
 * kind of error a failure, unless `excuse` names it as expected (then it is counted as a warning
 * under that name). Node's own warnings ("(node:123) ...") are warnings.
 */
export function collectLog(
  proc: ControllerProcess,
  failures: { add(message: string): void },
  warnings: { add(key: string, n?: number): void },
  excuse: (line: string) => string | undefined = () => undefined,
): void {
  for (const [msg, n] of proc.warnings) warnings.add(msg, n);
  for (const [key, { count, example }] of proc.alarms) {
    const excused = example.startsWith('(node:') ? example.slice(0, 120) : excuse(example);
    if (excused !== undefined) warnings.add(excused, count);
    else failures.add(`controller log, ${count} time(s): ${key}\n  first: ${example}`);
  }
}
