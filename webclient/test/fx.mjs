// Helpers of the feature tests (export, embedding, comments and votes,
// "since your last visit", screenshots): boards made over REST with their
// role links, elements made through the page's own edit path, and PNG
// comparison done by the browser's own decoder.
import { createServer } from 'node:http';
import { waitLive } from './lib.mjs';

/** Creates a board over REST: {id, token (owner), links: {owner, editor, commenter, viewer}}. */
export async function restBoard(base, name = 'Board', extra = {}) {
  const r = await fetch(base + '/v1/boards', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, ...extra }) });
  if (r.status !== 201) throw new Error('create board: ' + r.status + ' ' + (await r.text()));
  const j = await r.json();
  const tok = (role) => linkToken(j.links[role]);
  return { id: j.board.id, token: j.token, links: j.links, tokens: { owner: j.token, editor: tok('editor'), commenter: tok('commenter'), viewer: tok('viewer') } };
}

/** The token of a board link: in its fragment (`#token=`), or in the query of older links. */
export function linkToken(link) {
  const u = new URL(link);
  return new URLSearchParams(u.hash.slice(1)).get('token') ?? u.searchParams.get('token');
}

/** Opens a board page as `name` with a token (a link's fragment), and waits until it is live. */
export async function openBoard(page, base, id, token, name) {
  if (name) await page.addInitScript((n) => localStorage.setItem('cb.name', n), name);
  await page.goto(`${base}/b/${id}${token ? '#token=' + encodeURIComponent(token) : ''}`);
  await waitLive(page);
}

/** Applies ops through the page's own edit path (as a tool would); returns the touched ids. */
export function edit(page, ops) {
  return page.evaluate((o) => window.__corkboard.app.edit(o), ops);
}

/** Ops making a note. */
export function noteOps(id, x, y, text, color = 'yellow', z = 'a0') {
  const set = (key, value) => ({ op: 'set', el: id, key, value });
  return [{ op: 'create', el: id, kind: 'note' }, set('x', x), set('y', y), set('w', 200), set('h', 200), set('color', color), set('z', z), { op: 'insertText', el: id, field: 'text', pos: 0, text }];
}

/** A fixed, valid element id (UUIDv7 layout) for element n. */
export function fixedId(n) {
  return `0190f5e2-7c3a-7d4e-9b1a-${String(n).padStart(12, '0')}`;
}

/** Serves fixed pages on a loopback port: routes maps a path to HTML. */
export async function servePages(routes, host = '127.0.0.1') {
  const server = createServer((req, res) => {
    const page = routes[new URL(req.url, 'http://x').pathname];
    if (page === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = req.url.split('?')[0].endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/html; charset=utf-8';
    res.writeHead(200, { 'Content-Type': type }).end(typeof page === 'function' ? page(req) : page);
  });
  await new Promise((r) => server.listen(0, host, r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Compares two PNGs (Buffers) in the page's browser: returns the number of
 * pixels whose colour differs by more than `tol` in some channel, the
 * total, and each image's size.
 */
export function comparePNG(page, a, b, tol = 48) {
  return page.evaluate(
    async ([a64, b64, tol]) => {
      const load = async (s) => {
        // Decoded here, not fetched as a data: URL: the page's CSP
        // (connect-src 'self') refuses that.
        const bmp = await createImageBitmap(new Blob([Uint8Array.from(atob(s), (c) => c.charCodeAt(0))], { type: 'image/png' }));
        const c = new OffscreenCanvas(bmp.width, bmp.height);
        const ctx = c.getContext('2d');
        ctx.drawImage(bmp, 0, 0);
        return { w: bmp.width, h: bmp.height, px: ctx.getImageData(0, 0, bmp.width, bmp.height).data };
      };
      const [x, y] = await Promise.all([load(a64), load(b64)]);
      if (x.w !== y.w || x.h !== y.h) return { diff: -1, total: 0, a: [x.w, x.h], b: [y.w, y.h] };
      let diff = 0;
      for (let i = 0; i < x.px.length; i += 4) {
        if (Math.abs(x.px[i] - y.px[i]) > tol || Math.abs(x.px[i + 1] - y.px[i + 1]) > tol || Math.abs(x.px[i + 2] - y.px[i + 2]) > tol) diff++;
      }
      return { diff, total: x.w * x.h, a: [x.w, x.h], b: [y.w, y.h] };
    },
    [a.toString('base64'), b.toString('base64'), tol],
  );
}
