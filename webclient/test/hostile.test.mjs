// What others put on a board cannot stop a page from drawing it, in real
// browsers against a real node: presence data of any shape from a raw
// WebSocket of a public board's anonymous viewer (the node relays any JSON
// of up to 2048 bytes: PROTOCOL.md section 8), and a text element wide
// enough to put a whole paragraph on one line. After each, a note added
// next is drawn on every page, and no page raised an error. Run by
// webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitState } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';

let node;
let chrome;

before(async () => {
  node = await startNode();
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
});

/** A page that keeps its errors. */
async function page() {
  const p = await chrome.newPage();
  p.errors = [];
  p.page.on('pageerror', (e) => p.errors.push(e.message));
  return p;
}

/** The canvas' colour at a board point, two frames from now. */
function colourAt(page, x, y) {
  return page.evaluate(
    ([x, y]) =>
      new Promise((res) =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() => {
            const c = document.querySelector('canvas.canvas');
            const r = c.getBoundingClientRect();
            const p = window.__corkboard.toScreen(x, y);
            const ctx = c.getContext('2d');
            res([...ctx.getImageData(Math.round((p.x - r.left) * devicePixelRatio), Math.round((p.y - r.top) * devicePixelRatio), 1, 1).data.slice(0, 3)]);
          }),
        ),
      ),
    [x, y],
  );
}

const YELLOW = [0xff, 0xf1, 0x76];

/** Ada adds note n (a grid of 220 units), and every page draws it. */
async function noteDrawn(ada, pages, n) {
  const id = fixedId(n);
  const x = (n % 4) * 220,
    y = Math.floor(n / 4) * 220;
  await edit(ada.page, noteOps(id, x, y, 'note ' + n));
  for (const p of pages) {
    await waitState(p.page, (s, id) => s.elements.some((e) => e.id === id), id);
    assert.deepEqual(await colourAt(p.page, x + 20, y + 20), YELLOW, `note ${n} drawn`);
  }
}

/** A raw WebSocket to the board, with no credentials: the node's welcome. */
async function rawViewer(boardId) {
  const ws = new WebSocket(`${node.url.replace('http', 'ws')}/v1/boards/${boardId}/ws`, 'corkboard.v1');
  const frames = [];
  let wake = null;
  ws.onmessage = (m) => {
    if (typeof m.data === 'string') frames.push(JSON.parse(m.data));
    wake?.();
  };
  await new Promise((res, rej) => {
    ws.onopen = res;
    ws.onerror = rej;
  });
  ws.send(JSON.stringify({ type: 'hello', replica: '00000000000000e1', version: {}, name: 'Eve', format: 'json' }));
  for (const end = Date.now() + 15000; !frames.some((f) => f.type === 'synced'); ) {
    assert.ok(Date.now() < end, 'no synced: ' + JSON.stringify(frames));
    await new Promise((r) => (wake = r));
  }
  const welcome = frames.find((f) => f.type === 'welcome');
  assert.equal(welcome.user.role, 'viewer');
  return { ws, session: welcome.session };
}

test('presence data of any shape from a viewer: every page still draws, and raises no error', async () => {
  const b = await restBoard(node.url, 'Open house', { ownerName: 'Ada', access: 'public', publicRole: 'viewer' });
  const ada = await page();
  await openBoard(ada.page, node.url, b.id, b.token, 'Ada');
  const bob = await page();
  await openBoard(bob.page, node.url, b.id, null, 'Bob');
  const pages = [ada, bob];
  for (const p of pages) await p.page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -50, y: -50, zoom: 0.5 }));

  const eve = await rawViewer(b.id);
  // Each page counts Eve's presence frames with data as they arrive (frames
  // sent 50 ms apart or more are never coalesced by the node).
  for (const p of pages) {
    await p.page.evaluate((s) => {
      window.__eve = 0;
      window.__corkboard.sync.listeners.push((f) => f.type === 'presence' && f.peer?.session === s && 'data' in f.peer && window.__eve++);
    }, eve.session);
  }
  const note0 = fixedId(0);
  const bad = [
    '{"sel":1}',
    '{"sel":{}}',
    '{"sel":"abc","c":"x"}',
    '{"drag":{"ids":5,"dx":1,"dy":1}}',
    `{"drag":{"ids":["${note0}"],"dx":"far","dy":null}}`,
    '{"drag":{"dx":1,"dy":1}}',
    `{"box":{"id":"${note0}","x":"0","y":{},"w":-1,"h":1e400}}`,
    '{"c":{"x":1e400,"y":-1e400}}',
    '{"c":{"x":null}}',
    '{"v":{"x":0,"y":0,"z":0,"w":1e400,"h":-5},"spot":1}',
    `{"sel":[${Array(380).fill('"ab"').join(',')}]}`,
    `{"sel":["${'x'.repeat(1800)}",7,null,{}],"drag":{"ids":[[1],{"a":1}],"dx":0,"dy":0}}`,
    '5',
    '[1,2,3]',
    '"sel"',
    '{"__proto__":{"sel":1},"constructor":{"prototype":1}}',
  ];
  let n = 0;
  for (const data of bad) {
    n++;
    eve.ws.send(`{"type":"presence","data":${data}}`);
    for (const p of pages) await p.page.waitForFunction((n) => window.__eve >= n, n);
    await noteDrawn(ada, pages, n);
    for (const p of pages) assert.deepEqual(p.errors, [], `after ${data}`);
  }
  // The peers are listed still (avatars), Eve among them.
  assert.equal(await bob.page.getAttribute('.avatars', 'data-count'), '3');
  // An overlay that throws all the same (a bug of the page's own) is left
  // out of the frame, logged once; the board is still drawn.
  const logged = [];
  bob.page.on('console', (m) => m.type() === 'error' && logged.push(m.text()));
  await bob.page.evaluate(() => {
    const p = window.__corkboard.app.presence;
    p.remote = p.previews = () => {
      throw new Error('overlay bug');
    };
  });
  await noteDrawn(ada, pages, ++n);
  await noteDrawn(ada, pages, ++n);
  assert.deepEqual(bob.errors, []);
  assert.equal(logged.filter((t) => /drawing peers' cursors and selections failed/.test(t)).length, 1, logged.join('\n'));
  eve.ws.close();
  await Promise.all(pages.map((p) => p.context.close()));
});

test('a text element a hundred million units wide costs measures linear in its text, and the page still draws', async () => {
  const b = await restBoard(node.url, 'Wide text', { ownerName: 'Ada', access: 'public', publicRole: 'viewer' });
  const ada = await page();
  await openBoard(ada.page, node.url, b.id, b.token, 'Ada');
  const bob = await page();
  // Bob's page counts what it measures, from the start.
  await bob.page.addInitScript(() => {
    const measure = CanvasRenderingContext2D.prototype.measureText;
    globalThis.__measured = { calls: 0, chars: 0 };
    CanvasRenderingContext2D.prototype.measureText = function (s) {
      __measured.calls++;
      __measured.chars += String(s).length;
      return measure.call(this, s);
    };
  });
  await openBoard(bob.page, node.url, b.id, null, 'Bob');
  const pages = [ada, bob];
  for (const p of pages) await p.page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -50, y: -50, zoom: 1 }));
  const before = await bob.page.evaluate(() => ({ ...__measured }));

  const id = fixedId(900);
  const text = 'ab '.repeat(2048);
  const set = (key, value) => ({ op: 'set', el: id, key, value });
  await edit(ada.page, [{ op: 'create', el: id, kind: 'text' }, set('x', 0), set('y', 700), set('w', 1e8), set('h', 5000), set('fontSize', 24), set('z', 'a0'), { op: 'insertText', el: id, field: 'text', pos: 0, text }]);
  await waitState(bob.page, (s, id) => s.elements.some((e) => e.id === id), id);
  await noteDrawn(ada, pages, 1);
  const after = await bob.page.evaluate(() => ({ ...__measured }));
  const chars = after.chars - before.chars;
  assert.ok(chars <= 10 * text.length, `${chars} characters measured for a text of ${text.length} (${after.calls - before.calls} measures)`);
  for (const p of pages) assert.deepEqual(p.errors, []);
  // Its first words are on the canvas: dark pixels on its first line.
  const dark = await bob.page.evaluate(() => {
    const c = document.querySelector('canvas.canvas');
    const r = c.getBoundingClientRect();
    const p = window.__corkboard.toScreen(0, 700);
    const d = c.getContext('2d').getImageData(Math.round((p.x - r.left) * devicePixelRatio), Math.round((p.y - r.top) * devicePixelRatio), Math.round(100 * devicePixelRatio), Math.round(30 * devicePixelRatio)).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 0x80 && d[i + 1] < 0x80 && d[i + 2] < 0x80) n++;
    return n;
  });
  assert.ok(dark > 20, `the text drawn: ${dark} dark pixels on its first line`);
  await Promise.all(pages.map((p) => p.context.close()));
});
