/**
 * The built operator pages (webui/dist/, made by Vite): index.html at `/` (and `/index.html`),
 * hashed files under `/assets/` cached for a year, and the few other files at the top of dist/
 * (favicon, robots.txt) that exist when the controller starts. Nothing outside dist/ is ever
 * served: a path with `..`, a backslash, a NUL or an encoded slash is refused (404), and a symbolic
 * link leading out of dist/ too. Without a build, `/` says so and how to make one. The hub's page
 * (controller/hub/hubWebUi.ts) is served with the same pieces, exported for it.
 */
import { createReadStream, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { HttpRoute } from '../api/apiServer.ts';
import type { Logger } from '../logger.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.wasm': 'application/wasm',
};

/** Vite puts a content hash in every name under assets/, so they never change. */
export const ASSET_CACHE = 'public, max-age=31536000, immutable';
export const PAGE_CACHE = 'no-cache';

/**
 * For the pages: scripts, styles and connections from this origin only, no framing. Vite's build
 * needs no inline script; inline styles (style attributes) are allowed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': CONTENT_SECURITY_POLICY,
};

export const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Postern: the web UI is not built</title></head>
<body><h1>The operator web UI is not built</h1>
<p>This controller runs, but the folder <code>webui/dist/</code> with the built pages does not exist.
Build it in the controller's folder with <code>npm run build</code> and reload this page.</p>
<p>The integrator API (<code>/api</code>), <code>/healthz</code> and <code>/metrics</code> work without it.</p>
</body></html>
`;

export interface StaticFilesOptions {
  /** The folder Vite builds into: webui/dist/ of the project. */
  distDir: string;
  logger: Logger;
}

export function staticFileRoutes({ distDir, logger }: StaticFilesOptions): HttpRoute[] {
  const root = path.resolve(distDir);
  const page = (name: string) => (req: IncomingMessage, res: ServerResponse) => {
    if (!methodAllowed(req, res)) return;
    const file = resolveInside(root, name);
    const stats = file === undefined ? undefined : regularFile(file);
    if (file === undefined || stats === undefined) return send(req, res, 200, NOT_BUILT_PAGE, 'text/html; charset=utf-8');
    return stream(req, res, file, stats, PAGE_CACHE, logger);
  };
  const index = page('index.html');
  const asset = (req: IncomingMessage, res: ServerResponse) => {
    if (!methodAllowed(req, res)) return;
    const relative = decodePath((req.url ?? '').split('?')[0]!.slice(1));
    const file = relative === undefined ? undefined : resolveInside(root, relative);
    const stats = file === undefined ? undefined : regularFile(file);
    if (file === undefined || stats === undefined) return send(req, res, 404, 'not found\n', 'text/plain; charset=utf-8');
    return stream(req, res, file, stats, relative!.startsWith('assets/') ? ASSET_CACHE : PAGE_CACHE, logger);
  };
  const routes: HttpRoute[] = [
    { path: '/', handle: index },
    { path: '/index.html', handle: index },
    // The kiosk page for tablets at doors (webui/kiosk.html), by a name an installer can type.
    { path: '/kiosk', handle: page('kiosk.html') },
    { path: '/assets/', prefix: true, handle: asset },
  ];
  for (const name of topLevelFiles(root)) routes.push({ path: `/${name}`, handle: asset });
  return routes;
}

/** Files at the top of dist/ besides index.html, as they are when the controller starts. */
function topLevelFiles(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name !== 'index.html' && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(entry.name))
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** The decoded path, or undefined for anything that could step outside or is not plain. */
export function decodePath(raw: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (decoded === '' || decoded.includes('\0') || decoded.includes('\\') || decoded.startsWith('/')) return undefined;
  // An encoded slash (%2F) is refused too: a file name never holds one.
  if (/%2f|%5c/i.test(raw)) return undefined;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith('.'))) return undefined;
  return decoded;
}

/** The real path of `relative` under root, when it (after symbolic links) stays inside root. */
export function resolveInside(root: string, relative: string): string | undefined {
  const candidate = path.resolve(root, relative);
  if (!candidate.startsWith(root + path.sep)) return undefined;
  try {
    const realRoot = realpathSync(root);
    const real = realpathSync(candidate);
    return real.startsWith(realRoot + path.sep) ? real : undefined;
  } catch {
    return undefined;
  }
}

export function regularFile(file: string): Stats | undefined {
  try {
    const stats = statSync(file);
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}

export function methodAllowed(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
  return false;
}

export function send(req: IncomingMessage, res: ServerResponse, status: number, body: string, type: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', ...SECURITY_HEADERS });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function stream(req: IncomingMessage, res: ServerResponse, file: string, stats: Stats, cache: string, logger: Logger): void {
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  const lastModified = stats.mtime.toUTCString();
  const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  const headers = { 'content-type': type, 'cache-control': cache, 'last-modified': lastModified, etag, ...SECURITY_HEADERS };
  if (req.headers['if-none-match'] === etag) return void res.writeHead(304, headers).end();
  res.writeHead(200, { ...headers, 'content-length': String(stats.size) });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file)
    .on('error', (error) => {
      logger.warn({ err: error, file }, 'cannot read a web UI file');
      res.destroy();
    })
    .pipe(res);
}
