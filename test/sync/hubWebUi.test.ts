/**
 * The hub's web UI files (controller/hub/hubWebUi.ts) over a real HTTP server, with a dist folder
 * of the test's own: the page at `/`, the assets with their types and the controller's
 * Content-Security-Policy, nothing outside dist/ (dot segments, encoded slashes, a symbolic link
 * out), 405 for other methods, other paths left to the hub, and 503 saying how to build when the
 * page is not built.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { hubWebUi } from '../../controller/hub/hubWebUi.ts';
import { CONTENT_SECURITY_POLICY } from '../../controller/web/staticFiles.ts';
import { tempDir } from '../support/testSite.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request: the path is sent as written (fetch would resolve `..` and encodings first). */
function get(port: number, rawPath: string, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A server with the handler and the hub's own 404 behind it; dist holds hub.html unless `built` is false. */
async function serve(built = true): Promise<{ port: number; dist: string; outside: string }> {
  const dir = await tempDir('postern-hubui-');
  const dist = path.join(dir, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  if (built) await writeFile(path.join(dist, 'hub.html'), '<!doctype html><title>Postern hub</title>');
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>controller page</title>');
  await writeFile(path.join(dist, 'assets', 'hub-abc.js'), 'console.log(1)');
  await writeFile(path.join(dist, 'assets', 'hub-abc.css'), 'body{}');
  const outside = path.join(dir, 'secret.txt');
  await writeFile(outside, 'not for the web');
  await symlink(outside, path.join(dist, 'assets', 'link.txt'));
  const handle = hubWebUi({ distDir: dist, logger: pino({ level: 'silent' }) });
  const server: Server = createServer((req, res) => {
    if (handle(req, res, new URL(req.url ?? '/', 'http://hub').pathname)) return;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"hub.not-found"}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  return { port: (server.address() as AddressInfo).port, dist, outside };
}

describe("the hub's web UI files", () => {
  it('serves hub.html at / with the strict headers, and its assets with their types', async () => {
    const { port } = await serve();
    const page = await get(port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Postern hub');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect((await get(port, '/hub.html')).body).toContain('Postern hub');
    const script = await get(port, '/assets/hub-abc.js');
    expect(script).toMatchObject({ status: 200, body: 'console.log(1)' });
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['cache-control']).toContain('immutable');
    expect(script.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect((await get(port, '/assets/hub-abc.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const head = await get(port, '/', 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
  });

  it("serves nothing outside dist/assets, nor the controller's pages, and leaves other paths to the hub", async () => {
    const { port } = await serve();
    for (const raw of ['/assets/../index.html', '/assets/%2e%2e/index.html', '/assets/..%2findex.html', '/assets/%2e%2e%2f%2e%2e%2fsecret.txt', '/assets/link.txt', '/assets/.hidden', '/assets/nope.js', '/assets/']) {
      const answer = await get(port, raw);
      expect(answer.status, raw).toBe(404);
      expect(answer.body, raw).not.toContain('controller page');
      expect(answer.body, raw).not.toContain('not for the web');
    }
    // The controller's operator page is not the hub's: /index.html is the hub's 404.
    expect(await get(port, '/index.html')).toMatchObject({ status: 404, body: '{"error":{"code":"hub.not-found"}}' });
    expect(await get(port, '/enrol')).toMatchObject({ status: 404 });
    const post = await get(port, '/', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('answers 503 saying to run npm run build:ui when the page is not built', async () => {
    const { port } = await serve(false);
    const answer = await get(port, '/');
    expect(answer.status).toBe(503);
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body).toContain('npm run build:ui');
  });
});
