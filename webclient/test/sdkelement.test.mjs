// The SDK in Chromium, on a plain page of another origin (a small server of
// this test serving an HTML page and the built SDK): <corkboard-board>
// connects to the node, and an element an SDK client in Node makes appears
// in it, drawn by the web client's renderer in its shadow root; and with
// store: 'indexeddb', a change made offline survives a reload and is sent.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { launch, startNode } from './lib.mjs';
import { newBoard, proxy, sdk, waitFor } from './sdklib.mjs';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'sdk', 'dist');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

let node, browser, page, site;
const clients = [];

/** Serves page at / and the SDK's dist under /sdk/. */
async function serve(html) {
  const srv = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/blank') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(path === '/' ? html() : '<!doctype html><meta charset="utf-8"><title>blank</title>');
      return;
    }
    const file = normalize(join(dist, path.replace(/^\/sdk\//, '')));
    if (!path.startsWith('/sdk/') || !file.startsWith(dist)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

let board;
before(async () => {
  site = await serve(
    () => `<!doctype html><meta charset="utf-8"><title>embed</title>
<h1>Someone else's page</h1>
<corkboard-board id="cb" url="${node.url}" board="${board.id}" token="${board.editor}" name="Embedder" style="width:800px;height:500px"></corkboard-board>
<script type="module" src="/sdk/element.js"></script>`,
  );
  // The page is another origin than the node: the node lets it open WebSockets.
  node = await startNode({ args: ['--allowed-origins', new URL(site.url).host] });
  board = await newBoard(node.url, 'Embedded');
  browser = await launch();
  ({ page } = await browser.newPage());
});
after(async () => {
  for (const c of clients) c.close();
  await browser?.close();
  await node?.stop();
  await site?.close();
});

test('<corkboard-board> on a plain page shows what an SDK client in Node makes, live', async () => {
  const writer = await sdk.connect({ url: node.url, board: board.id, token: board.token, name: 'Script' });
  clients.push(writer);
  const first = writer.create('note', { props: { x: 0, y: 0, w: 200, h: 200, color: 'pink' }, text: { text: 'made before' } });
  await writer.synced();

  await page.goto(site.url + '/');
  await page.waitForFunction(() => document.getElementById('cb')?.dataset.status === 'synced', null, { timeout: 20000 });
  // The note made before the page loaded is in the element's model, drawn on its shadow root's canvas.
  await page.waitForFunction((id) => !!document.getElementById('cb').model.get(id), first);
  const shadow = await page.evaluate(() => {
    const el = document.getElementById('cb');
    const c = el.shadowRoot.querySelector('canvas');
    return { canvas: !!c, width: c.width, height: c.height, light: el.querySelector('canvas') === null };
  });
  assert.ok(shadow.canvas && shadow.light, 'the canvas is in the shadow root');
  assert.ok(shadow.width >= 800 && shadow.height >= 500, JSON.stringify(shadow));

  // A note made now, in Node, appears in the page.
  const second = writer.create('note', { props: { x: 260, y: 0, w: 200, h: 200, color: 'blue' }, text: { text: 'made while watching' } });
  const seen = await page.waitForFunction(
    (id) => {
      const e = document.getElementById('cb').model.get(id);
      return e && { text: e.text.text, x: e.x };
    },
    second,
    { timeout: 15000 },
  );
  assert.deepEqual(seen, { text: 'made while watching', x: 260 });

  // It is painted: the pixel at the new note's centre is its paper colour, not the background.
  const px = await page.evaluate((id) => {
    const el = document.getElementById('cb');
    const e = el.model.get(id);
    const cam = el.camera;
    const c = el.shadowRoot.querySelector('canvas');
    const dpr = c.width / c.getBoundingClientRect().width;
    const x = Math.round((e.x + e.w / 2 - cam.x) * cam.zoom * dpr);
    const y = Math.round((e.y + 20 - cam.y) * cam.zoom * dpr);
    return new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r([...c.getContext('2d').getImageData(x, y, 1, 1).data]))));
  }, second);
  assert.notDeepEqual(px.slice(0, 3), [0xf7, 0xf7, 0xf5], 'the note is drawn, not the background');

  // The page's element is a peer the Node client sees, and its board object edits (it is not readonly).
  await page.mouse.move(300, 300);
  await waitFor(() => writer.presence.peers.some((p) => p.data?.c), () => JSON.stringify(writer.presence.peers));
  const fromPage = await page.evaluate(() => document.getElementById('cb').board.create('note', { props: { x: 0, y: 300 }, text: { text: 'from the page' } }));
  await waitFor(() => writer.get(fromPage)?.text?.text === 'from the page', 'the Node client sees the page\'s note');

  // Read-only: the same element with readonly refuses writes.
  await page.evaluate(() => document.getElementById('cb').setAttribute('readonly', ''));
  await page.waitForFunction(() => document.getElementById('cb').dataset.status === 'synced');
  const refused = await page.evaluate(() => {
    try {
      document.getElementById('cb').board.create('note');
      return 'made';
    } catch (e) {
      return e.message;
    }
  });
  assert.match(refused, /read-only/);
});

test('the SDK with store "indexeddb" in a page: a change made offline survives a reload and reaches the node', async () => {
  const net = await proxy(node.url);
  const { page: p } = await browser.newPage();
  try {
    const reader = await sdk.connect({ url: node.url, board: board.id, token: board.token });
    clients.push(reader);
    await p.goto(site.url + '/blank');
    const opts = { url: net.url, board: board.id, token: board.editor, store: 'indexeddb', name: 'Page' };
    const replica = await p.evaluate(async (o) => {
      const m = await import('/sdk/index.js');
      window.b = await m.connect(o);
      await window.b.synced();
      return window.b.replica;
    }, opts);
    net.cut();
    await p.waitForFunction(() => window.b.status === 'offline');
    const made = await p.evaluate(async () => {
      const id = window.b.create('note', { props: { x: 0, y: 600 }, text: { text: 'written offline, then reloaded' } });
      await window.b.sync.persistNow(); // the stored copy (the outbox entry was written before it)
      return { id, pending: window.b.pending };
    });
    assert.ok(made.pending >= 1);
    await p.reload(); // the page and its memory are gone; IndexedDB keeps the replica and its outbox
    net.restore();
    const back = await p.evaluate(async (o) => {
      const m = await import('/sdk/index.js');
      window.b = await m.connect(o);
      const before = { replica: window.b.replica, pending: window.b.pending, has: !!window.b.get(o.id) };
      await window.b.synced();
      return before;
    }, { ...opts, id: made.id });
    assert.deepEqual(back, { replica, pending: made.pending, has: true }, 'the reloaded page adopts its replica with the unsent change');
    await waitFor(() => reader.get(made.id)?.text?.text === 'written offline, then reloaded', 'the node has the change made offline');
  } finally {
    await p.context().close();
    await net.close();
  }
});
