/** The built pages: index, assets with long cache and content types, nothing outside dist/, and the "not built" page. */
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CSS, APP_JS, INDEX_HTML, rawGet, startWebSite, type WebSite } from '../support/webSite.ts';

describe('static files of the built UI', () => {
  let site: WebSite;
  beforeAll(async () => {
    site = await startWebSite();
    // A link inside dist/ that leads out of it.
    await symlink(path.join(site.distDir, '..', '..', 'package.json'), path.join(site.distDir, 'assets', 'leak.json'));
  });
  afterAll(() => site.stop());

  it('serves index.html at / without long caching, with security headers', async () => {
    for (const at of ['/', '/index.html']) {
      const response = await fetch(`${site.url}${at}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(await response.text()).toBe(INDEX_HTML);
    }
  });

  it('serves /assets/* with their content types and a year of cache; 404 for missing files', async () => {
    const js = await fetch(`${site.url}/assets/app-3f2a1b.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await js.text()).toBe(APP_JS);
    const css = await fetch(`${site.url}/assets/app-9c8d7e.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toBe(APP_CSS);
    const head = await fetch(`${site.url}/assets/app-3f2a1b.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(APP_JS.length));
    const icon = await fetch(`${site.url}/favicon.svg`);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect((await fetch(`${site.url}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${site.url}/assets/`)).status).toBe(404);
    expect((await fetch(`${site.url}/assets/app-3f2a1b.js`, { method: 'POST' })).status).toBe(405);
    // the API's own paths are untouched
    expect((await fetch(`${site.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${site.url}/nothing-here`)).status).toBe(404);
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const first = await fetch(`${site.url}/assets/app-3f2a1b.js`);
    const etag = first.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await fetch(`${site.url}/assets/app-3f2a1b.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });

  it('never serves a file outside dist/: traversal, encoded variants, backslashes, NUL, symbolic links', async () => {
    const attempts = [
      '/assets/../../package.json',
      '/assets/../../../package.json',
      '/assets/../index.html',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/assets/%2E%2E/%2E%2E/package.json',
      '/assets/..%2f..%2fpackage.json',
      '/assets/..%2F..%2F..%2Fpackage.json',
      '/assets/%252e%252e/%252e%252e/package.json',
      '/assets/..%5c..%5cpackage.json',
      '/assets/..\\..\\package.json',
      '/assets/%c0%ae%c0%ae/%c0%ae%c0%ae/package.json',
      '/assets/app-3f2a1b.js%00.png',
      '/assets//etc/passwd',
      '/assets/%2fetc%2fpasswd',
      '/assets/../secret.txt',
      '/assets/leak.json',
    ];
    for (const attempt of attempts) {
      const response = await rawGet(site.url, attempt);
      expect(response.status, attempt).toBeGreaterThanOrEqual(400);
      expect(response.body, attempt).not.toContain('secret');
    }
  });
});

describe('without a build', () => {
  let site: WebSite;
  beforeAll(async () => {
    site = await startWebSite({ built: false });
  });
  afterAll(() => site.stop());

  it('says at / that the UI is not built and how to build it', async () => {
    const response = await fetch(`${site.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const text = await response.text();
    expect(text).toContain('not built');
    expect(text).toContain('npm run build');
    expect((await fetch(`${site.url}/assets/app.js`)).status).toBe(404);
  });
});

describe('with the web UI disabled', () => {
  let site: WebSite;
  beforeAll(async () => {
    site = await startWebSite({ patch: (c) => (c.web = { enabled: false }) });
  });
  afterAll(() => site.stop());

  it('serves neither pages nor /auth nor socket.io, and the API still works', async () => {
    expect((await fetch(`${site.url}/`)).status).toBe(404);
    expect((await fetch(`${site.url}/auth/me`)).status).toBe(404);
    expect((await fetch(`${site.url}/socket.io/?EIO=4&transport=polling`)).status).toBe(404);
    expect((await fetch(`${site.url}/healthz`)).status).toBe(200);
  });
});
