// Embedding (src/embed.ts, public/embed.js, docs/EMBED.md): a host page on
// another origin (a second local HTTP server) embeds a board with the
// helper, drives it (zoomTo, select, setMode, load) and hears its events
// (ready, selection, and change when someone else edits the board); a
// message from a third origin is ignored; the node refuses to serve the
// embed for an origin it does not allow.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitSettled } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard, servePages } from './fx.mjs';

let node;
let chrome;
let pages;
let hostOrigin;

const hostPage = (req) => {
  const q = new URL(req.url, 'http://x').searchParams;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Host</title></head><body>
<div id="here" style="width:900px;height:600px"></div>
<iframe id="other" src="${q.get('other')}/evil.html" style="width:10px;height:10px"></iframe>
<script src="${q.get('node')}/embed.js"></script>
<script>
  window.events = [];
  window.api = Corkboard.embed(document.getElementById('here'), { node: ${JSON.stringify(q.get('node'))}, board: ${JSON.stringify(q.get('board'))}, token: ${JSON.stringify(q.get('token'))}, mode: 'view' });
  for (const ev of ['ready', 'change', 'selection']) api.on(ev, (e) => events.push(e));
</script></body></html>`;
};

// A page of a third origin, framed next to the board: it tries to drive the
// board through postMessage.
const evilPage = `<!doctype html><script>
  window.attack = (msg) => { for (let i = 0; i < parent.frames.length; i++) if (parent.frames[i] !== window) parent.frames[i].postMessage(msg, '*'); };
</script>`;

// Another site's /embed.js: what a link to the node's example page with
// &node=<that site> would run on the node's origin if the page let it.
const evilScript = `window.pwned = document.cookie + '|' + Object.keys(localStorage).join(',');`;

before(async () => {
  // The host pages are on localhost:<port>, the board on localhost:<node
  // port>: two origins of one site (a cross-site frame would need
  // third-party storage, which this headless browser denies: docs/EMBED.md).
  // The third origin is 127.0.0.1:<port>.
  pages = await servePages({ '/host.html': hostPage, '/evil.html': evilPage, '/embed.js': evilScript }, '127.0.0.1');
  hostOrigin = `http://localhost:${pages.port}`;
  process.env.CORKBOARD_ALLOWED_ORIGINS = `localhost:${pages.port}`;
  node = await startNode();
  delete process.env.CORKBOARD_ALLOWED_ORIGINS;
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
  await pages?.close();
});

test('the node serves /embed/{board} only for allowed origins, framed by them only', async () => {
  const b = await restBoard(node.url, 'Embedded');
  let r = await fetch(`${node.url}/embed/${b.id}?origin=${encodeURIComponent(hostOrigin)}`);
  assert.equal(r.status, 200);
  // The app shell's CSP (static.go shellCSP), framed by the host only.
  assert.match(r.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval';/);
  assert.ok(r.headers.get('content-security-policy').endsWith(`; frame-ancestors ${hostOrigin}`));
  assert.equal(r.headers.get('x-frame-options'), null);
  assert.match(await r.text(), /<div id="app">/);
  r = await fetch(`${node.url}/embed/${b.id}?origin=${encodeURIComponent('http://evil.example')}`);
  assert.equal(r.status, 403);
  assert.equal((await r.json()).error.code, 'forbidden');
  r = await fetch(`${node.url}/embed/${b.id}?origin=${encodeURIComponent(hostOrigin + '/path')}`);
  assert.equal(r.status, 403, 'an origin must be exactly scheme://host:port');
  r = await fetch(`${node.url}/embed/${b.id}`);
  assert.equal(r.status, 200);
  assert.ok(r.headers.get('content-security-policy').endsWith("; frame-ancestors 'self'"));
  r = await fetch(`${node.url}/embed/0190f5e2-7c3a-7d4e-9b1a-000000000000?origin=${encodeURIComponent(hostOrigin)}`);
  assert.equal(r.status, 404);
});

test('a host page on another origin embeds a board and drives it', async () => {
  const b = await restBoard(node.url, 'Embedded');
  const b2 = await restBoard(node.url, 'Second');
  const n1 = fixedId(11);
  const n2 = fixedId(12);
  // The owner, in a browser of their own, seeds the board.
  const owner = await chrome.newPage();
  await openBoard(owner.page, node.url, b.id, b.token, 'Olga');
  await edit(owner.page, [...noteOps(n1, 0, 0, 'One', 'yellow', 'a0'), ...noteOps(n2, 1400, 900, 'Two', 'pink', 'a1')]);
  await waitSettled(owner.page);

  const host = await chrome.newPage();
  const page = host.page;
  const nodeURL = node.url.replace('127.0.0.1', 'localhost');
  const q = new URLSearchParams({ node: nodeURL, board: b.id, token: b.tokens.editor, other: `http://127.0.0.1:${pages.port}` });
  await page.goto(`${hostOrigin}/host.html?${q}`);
  await page.waitForFunction(() => window.events.some((e) => e.event === 'ready'));
  const ready = await page.evaluate(() => window.events.find((e) => e.event === 'ready'));
  assert.deepEqual([ready.board, ready.mode, ready.role], [b.id, 'view', 'editor']);
  const frame = page.frames().find((f) => f.url().includes('/embed/'));
  assert.ok(frame, 'the board frame');
  assert.doesNotMatch(await frame.evaluate(() => location.href), /token/, 'the frame took the token out of its address');
  // View mode: no chrome, no tools, not editable.
  assert.equal(await frame.isVisible('.toolbar'), false);
  assert.equal(await frame.isVisible('.topbar'), false);
  assert.equal(await frame.evaluate(() => window.__corkboard.app.canEdit), false);

  // zoomTo centres the view on the element.
  await page.evaluate((id) => window.api.zoomTo(id), n2);
  const cam = await frame.evaluate(() => window.__corkboard.camera());
  const vw = await frame.evaluate(() => innerWidth);
  const vh = await frame.evaluate(() => innerHeight);
  assert.ok(Math.abs(cam.x + vw / 2 / cam.zoom - 1500) < 2 && Math.abs(cam.y + vh / 2 / cam.zoom - 1000) < 2, `centred on the note: ${JSON.stringify(cam)}`);
  await assert.rejects(page.evaluate(() => window.api.zoomTo('0190f5e2-7c3a-7d4e-9b1a-999999999999')), /no such element/);

  // select → the selection, and a selection event back.
  await page.evaluate((id) => window.api.select([id]), n1);
  await page.waitForFunction((id) => window.events.some((e) => e.event === 'selection' && e.ids.length === 1 && e.ids[0] === id), n1);
  assert.deepEqual(await frame.evaluate(() => [...window.__corkboard.features.host.selection()]), [n1]);

  // A third origin's message is ignored.
  const other = page.frames().find((f) => f.url().endsWith('/evil.html'));
  await other.evaluate((id) => window.attack({ corkboard: 1, cmd: 'select', ids: [id] }), n2);
  await other.evaluate(() => window.attack({ corkboard: 1, cmd: 'setMode', mode: 'edit' }));
  await frame.waitForFunction(() => window.__corkboard.features.embed.refused >= 2);
  assert.deepEqual(await frame.evaluate(() => [...window.__corkboard.features.host.selection()]), [n1]);
  assert.equal(await frame.evaluate(() => window.__corkboard.app.canEdit), false);

  // Someone else edits the board: the host hears which element changed.
  const before = await page.evaluate(() => window.events.length);
  await owner.page.evaluate((id) => window.__corkboard.app.edit([{ op: 'set', el: id, key: 'color', value: 'green' }]), n2);
  await page.waitForFunction(([id, n]) => window.events.slice(n).some((e) => e.event === 'change' && e.ids.includes(id)), [n2, before]);

  // setMode edit: the tools come back; edits made in the frame reach the owner.
  await page.evaluate(() => window.api.setMode('edit'));
  assert.equal(await frame.isVisible('.toolbar'), true);
  assert.equal(await frame.evaluate(() => window.__corkboard.app.canEdit), true);

  // load: another board in the same frame.
  await page.evaluate(([id, tok]) => window.api.load(id, tok), [b2.id, b2.tokens.viewer]);
  await page.waitForFunction((id) => window.events.some((e) => e.event === 'ready' && e.board === id), b2.id);
  const r2 = await page.evaluate((id) => window.events.find((e) => e.event === 'ready' && e.board === id), b2.id);
  assert.deepEqual([r2.mode, r2.role], ['edit', 'viewer']);
  const frame2 = page.frames().find((f) => f.url().includes(`/embed/${b2.id}`));
  assert.doesNotMatch(await frame2.evaluate(() => location.href), /token/);
  await host.context.close();
  await owner.context.close();
});

test("an embedded password board asks for the password only: no sign-in, no link away from the host's frame", async () => {
  // The session's cookie is not sent to another site's frame, so signing
  // in there would not let anyone in; the home page's link navigated the
  // host page's frame away from the board.
  const b = await restBoard(node.url, 'Behind a password', { access: 'password', password: 'open sesame' });
  const host = await chrome.newPage();
  const nodeURL = node.url.replace('127.0.0.1', 'localhost');
  const q = new URLSearchParams({ node: nodeURL, board: b.id, token: '', other: `http://127.0.0.1:${pages.port}` });
  await host.page.goto(`${hostOrigin}/host.html?${q}`);
  const frame = await (await host.page.waitForSelector('iframe[src*="/embed/"]')).contentFrame();
  await frame.waitForSelector('.cb-password input[name=password]');
  assert.equal(await frame.locator('.cb-password a[href="/"]').count(), 0, 'a link to the home page in the frame');
  assert.equal(await frame.isVisible('.cb-password .member'), false, 'the sign-in offer in the frame');
  await host.context.close();
  // The board's own page still offers both.
  const page = await chrome.newPage();
  await page.page.goto(`${node.url}/b/${b.id}`);
  await page.page.waitForSelector('.cb-password .member button');
  assert.equal(await page.page.locator('.cb-password a[href="/"]').count(), 1);
  await page.context.close();
});

test("the example page on the node runs no other site's script, whatever its node= says", async () => {
  const b = await restBoard(node.url, 'Example');
  const r = await fetch(`${node.url}/embed-example.html`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval';.*frame-ancestors 'self'$/);
  // The same file by a path the node cleans to it: the same headers.
  const r2 = await fetch(`${node.url}/embed-example.html/`);
  if (r2.status === 200) assert.match(r2.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const { page, context } = await chrome.newPage();
  const blocked = [];
  page.on('console', (m) => blocked.push(m.text()));
  const evil = `http://localhost:${pages.port}`;
  await page.goto(`${node.url}/embed-example.html?board=${b.id}&node=${encodeURIComponent(evil)}#token=${b.tokens.viewer}`);
  await page.waitForFunction(() => document.getElementById('log')?.textContent.includes('could not load '));
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'the other site ran its script on the node');
  assert.ok(blocked.some((t) => /Content Security Policy/.test(t)), 'refused by the CSP');
  // Not an http(s) URL: refused by the page itself.
  await page.goto(`${node.url}/embed-example.html?board=${b.id}&node=${encodeURIComponent('javascript:alert(1)//')}`);
  await page.waitForFunction(() => document.getElementById('log')?.textContent.includes('must be an http(s) URL'));
  await context.close();
});

test('the example page on the node embeds a board', async () => {
  const b = await restBoard(node.url, 'Example');
  const { page, context } = await chrome.newPage();
  await page.goto(`${node.url}/embed-example.html?board=${b.id}&token=${b.tokens.viewer}`);
  await page.waitForFunction(() => document.getElementById('log')?.textContent.includes('ready: '));
  assert.match(await page.textContent('#log'), /as viewer \(view\)/);
  await context.close();
});
