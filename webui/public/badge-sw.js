/**
 * The badge page's service worker (scope /badge): keeps the page, its scripts and styles, the
 * manifest and the icons in a cache, so a member's phone shows codes without any network. The
 * page comes from the cache at once and is refreshed in the background when the network answers;
 * a refresh caches the new assets before the new page, so a cached page never names a missing file.
 * POST /badge/enrol is never touched: an enrolment answer holds a secret and is never cached.
 */
const CACHE = 'postern-badge-v1';
const PAGE = '/badge';
const SHELL = ['/badge/manifest.webmanifest', '/badge/icon-192.png', '/badge/icon-512.png'];

/** Fetches the page, caches what it names, then the page; drops assets no longer named. */
async function refresh() {
  const cache = await caches.open(CACHE);
  const page = await fetch(PAGE, { cache: 'no-cache', credentials: 'same-origin' });
  if (!page.ok) throw new Error(`badge page: ${page.status}`);
  const html = await page.clone().text();
  const assets = [...new Set([...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]))];
  await cache.addAll([...SHELL, ...assets]);
  await cache.put(PAGE, page);
  const keep = new Set([PAGE, ...SHELL, ...assets].map((p) => new URL(p, self.location.origin).href));
  for (const request of await cache.keys()) if (!keep.has(request.url)) await cache.delete(request);
}

self.addEventListener('install', (event) => {
  event.waitUntil(refresh().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith('postern-badge-') && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE || url.pathname === `${PAGE}/`) {
    event.respondWith(
      (async () => {
        const cached = await caches.match(PAGE, { cacheName: CACHE });
        const refreshing = refresh();
        event.waitUntil(refreshing.catch(() => undefined));
        if (cached) return cached;
        return fetch(request);
      })(),
    );
    return;
  }
  if (url.pathname.startsWith('/assets/') || SHELL.includes(url.pathname)) {
    event.respondWith(
      (async () => (await caches.match(request, { cacheName: CACHE, ignoreSearch: true })) ?? fetch(request))(),
    );
  }
});
