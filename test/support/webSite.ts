/**
 * A running controller with the web UI on port 0: users of each role made in its store before it
 * starts, an admin API token, a fake built UI (its own dist folder, inside a folder that also
 * holds a package.json for traversal tests), captured pino logs, and helpers to sign in over HTTP
 * and to open a socket.io connection with the session cookie.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { io, type Socket } from 'socket.io-client';
import { Accounts } from '../../controller/accounts/accounts.ts';
import type { UserRole } from '../../controller/accounts/accountTypes.ts';
import { AuditTrail } from '../../controller/audit/auditTrail.ts';
import type { SiteConfigInput } from '../../controller/config/configSchema.ts';
import { Controller } from '../../controller/controller.ts';
import { createLogger } from '../../controller/logger.ts';
import { openStore } from '../../controller/store/openStore.ts';
import { makeTokens } from './apiClient.ts';
import { tempDir, testSite } from './testSite.ts';

export const USERS = {
  viewer: { name: 'vera', password: 'vera-password-123', role: 'viewer' },
  operator: { name: 'otto', password: 'otto-password-123', role: 'operator' },
  admin: { name: 'ada', password: 'ada-password-1234', role: 'admin' },
  other: { name: 'olga', password: 'olga-password-123', role: 'operator' },
} as const satisfies Record<string, { name: string; password: string; role: UserRole }>;

export const INDEX_HTML = '<!doctype html><html><head><script type="module" src="/assets/app-3f2a1b.js"></script></head><body>Postern UI</body></html>\n';
export const APP_JS = 'console.log("postern ui");\n';
export const APP_CSS = 'body { color: black; }\n';

export interface WebSite {
  controller: Controller;
  url: string;
  dataDir: string;
  distDir: string;
  adminToken: string;
  /** Every log line the controller wrote, parsed. */
  logs: Array<Record<string, any>>;
  stop(): Promise<void>;
}

export interface WebSiteOptions {
  patch?: (input: SiteConfigInput) => void;
  /** false: no dist folder at all (the "not built" page). */
  built?: boolean;
}

export async function startWebSite(options: WebSiteOptions = {}): Promise<WebSite> {
  const dataDir = await tempDir('postern-web-');
  const config = testSite(dataDir, (input) => options.patch?.(input));
  // dist/ inside a folder with a package.json, as the real webui/dist/ is inside the project.
  const uiRoot = path.join(dataDir, 'project');
  const distDir = path.join(uiRoot, 'webui', 'dist');
  await mkdir(path.join(uiRoot, 'webui'), { recursive: true });
  await writeFile(path.join(uiRoot, 'package.json'), '{"name":"secret-package"}\n');
  await writeFile(path.join(uiRoot, 'webui', 'secret.txt'), 'secret\n');
  if (options.built !== false) {
    await mkdir(path.join(distDir, 'assets'), { recursive: true });
    await writeFile(path.join(distDir, 'index.html'), INDEX_HTML);
    await writeFile(path.join(distDir, 'assets', 'app-3f2a1b.js'), APP_JS);
    await writeFile(path.join(distDir, 'assets', 'app-9c8d7e.css'), APP_CSS);
    await writeFile(path.join(distDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  }
  await makeUsers(dataDir);
  const { admin: adminToken } = await makeTokens(dataDir, [{ name: 'admin', role: 'admin' }]);

  const logs: Array<Record<string, any>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line));
      callback();
    },
  });
  const controller = new Controller({ config, terminal: new PassThrough(), logger: createLogger('info', sink), webUiDir: distDir });
  await controller.start();
  return { controller, url: controller.apiUrl!, dataDir, distDir, adminToken: adminToken!, logs, stop: () => controller.stop() };
}

async function makeUsers(dataDir: string): Promise<void> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
  await audit.start();
  try {
    const accounts = new Accounts({ store, audit });
    for (const user of Object.values(USERS)) await accounts.createUser(user, 'test');
  } finally {
    await audit.stop();
    await store.stop();
  }
}

/** Changes an account in the site's store while the controller runs (disable, role). */
export async function withAccounts<T>(dataDir: string, run: (accounts: Accounts) => Promise<T>): Promise<T> {
  const store = openStore({ dataDir });
  await store.start();
  const audit = new AuditTrail({ store, controllerId: 'tests/admin' });
  await audit.start();
  try {
    return await run(new Accounts({ store, audit }));
  } finally {
    await audit.stop();
    await store.stop();
  }
}

export interface LoginResult {
  status: number;
  body: any;
  /** `postern_session=...` ready for a Cookie header, when one was set. */
  cookie: string | undefined;
  setCookie: string[];
  headers: Headers;
}

export async function login(url: string, name: string, password: string, headers: Record<string, string> = {}): Promise<LoginResult> {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ name, password }),
  });
  const setCookie = response.headers.getSetCookie();
  const session = setCookie.find((c) => c.startsWith('postern_session='));
  return {
    status: response.status,
    body: await response.json().catch(() => undefined),
    cookie: session?.split(';')[0],
    setCookie,
    headers: response.headers,
  };
}

export async function loginAs(url: string, user: { name: string; password: string }): Promise<string> {
  const result = await login(url, user.name, user.password);
  if (result.status !== 200 || result.cookie === undefined) throw new Error(`login ${user.name}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.cookie;
}

/** A request with the path sent exactly as given (fetch would normalise `..`). */
export function rawGet(url: string, rawPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, any> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: rawPath, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface WebClient {
  socket: Socket;
  hello: any;
  events: any[];
  /** rpc through the socket: resolves with the ack ({result} or {error}). */
  rpc(method: string, params?: unknown): Promise<any>;
  close(): void;
}

/** Connects with the cookie (and Origin) given; rejects with the connect_error. */
export function connectWeb(url: string, cookie: string | undefined, options: { origin?: string; transports?: string[] } = {}): Promise<WebClient> {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = cookie;
  if (options.origin !== undefined) headers.origin = options.origin;
  const socket = io(url, { path: '/socket.io', extraHeaders: headers, reconnection: false, forceNew: true, transports: options.transports ?? ['polling', 'websocket'] });
  const events: any[] = [];
  socket.on('event', (event) => events.push(event));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no hello'));
    }, 5000);
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    });
    socket.once('hello', (hello) => {
      clearTimeout(timer);
      resolve({
        socket,
        hello,
        events,
        rpc: (method, params) => socket.timeout(5000).emitWithAck('rpc', method, params ?? {}),
        close: () => socket.close(),
      });
    });
  });
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
