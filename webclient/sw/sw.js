// Corkboard's service worker: keeps the app shell (index.html and the
// hashed assets, the WebAssembly CRDT among them) so that a board opens,
// and a reload works, without a network. Board data is not its business:
// the app keeps that in IndexedDB. Generated into dist/ by vite.config.ts,
// which fills in the version and the asset list.
const VERSION = '__VERSION__';
const ASSETS = __ASSETS__;
const CACHE = 'corkboard-' + VERSION;

self.addEventListener('install', (e) => {
  e.waitUntil(
    caches
      .open(CACHE)
      .then((c) => c.addAll(['/', ...ASSETS]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('corkboard-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  if (req.mode === 'navigate' && (url.pathname === '/' || url.pathname.startsWith('/b/'))) {
    // The network first (a new version, the right status), the shell when offline.
    e.respondWith(
      fetch(req).catch(() => caches.open(CACHE).then((c) => c.match('/')).then((r) => r || Response.error())),
    );
    return;
  }
  if (url.pathname.startsWith('/assets/') || url.pathname === '/favicon.svg') {
    e.respondWith(
      caches.open(CACHE).then((c) =>
        c.match(req).then(
          (hit) =>
            hit ||
            fetch(req).then((r) => {
              if (r.ok) c.put(req, r.clone());
              return r;
            }),
        ),
      ),
    );
  }
});
