// The node's far-view summary on a first visit (src/farsummary.ts, the
// 0x04 frame of docs/PROTOCOL.md), in a real browser against a real node:
// the page draws the whole board from the summary before its CRDT has the
// snapshot, then from the board once it is loaded, and a change made while
// it loads is neither lost nor drawn wrong. Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createBoard, launch, seedGrid, startNode, waitSettled } from './lib.mjs';

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

const yellow = [0xff, 0xf1, 0x76],
  pink = [0xf8, 0xbb, 0xd0],
  blue = [0xb3, 0xe5, 0xfc];
const near = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 24);

/** Where the notes of the grid are (board units): 100 a row, 300 apart. */
const at = (i) => [(i % 100) * 300 + 100, Math.floor(i / 100) * 300 + 100];

test('a first visit of a big board: drawn from the far-view summary, then from the board; a change made during the load is kept', async () => {
  const { context: c1, page: seeder } = await chrome.newPage();
  const { id, token } = await createBoard(seeder, node.url, 'Summary', 'Ada');
  // 2,000 notes, yellow and pink in turn.
  await seedGrid(seeder, 2000);
  await waitSettled(seeder);

  // A first visit in a fresh profile: ask for the summary from 100
  // elements (the page's default is 10,000). When the summary arrives, a
  // blue note is made on the node (a synchronous request: the page's
  // frames wait behind it) at the place of note 0; when the first frame is
  // drawn, its pixels are read, and whether the board was loaded then.
  const { context: c2, page } = await chrome.newPage();
  const blueId = crypto.randomUUID();
  await page.addInitScript(
    ([board, token, blueId, spots]) => {
      globalThis.corkboardFarViewFrom = 100;
      const mark = performance.mark.bind(performance);
      window.__seen = {};
      performance.mark = (name, ...rest) => {
        const r = mark(name, ...rest);
        if (name === 'corkboard:far-view-in') {
          const x = new XMLHttpRequest();
          x.open('POST', `/v1/boards/${board}/changes`, false);
          x.setRequestHeader('authorization', 'Bearer ' + token);
          x.setRequestHeader('content-type', 'application/json');
          x.send(JSON.stringify({ actions: [{ op: 'create', element: blueId, kind: 'note', props: { x: 0, y: 0, w: 200, h: 200, color: 'blue', z: 'a1' } }] }));
          window.__seen.change = x.status;
        }
        if (name === 'corkboard:first-paint' || name === 'corkboard:interactive') {
          const { app, board: b } = window.__corkboard;
          const c = app.cam;
          const ctx = document.querySelector('canvas').getContext('2d');
          if (name === 'corkboard:first-paint') window.__summary = app.summary; // for the bitmap's check below
          window.__seen[name] = {
            builds: app.renderer.summaryBuilds,
            elements: b.size,
            zoom: c.zoom,
            pixels: spots.map(([x, y]) => [...ctx.getImageData(Math.round((x - c.x) * c.zoom), Math.round((y - c.y) * c.zoom), 1, 1).data.slice(0, 3)]),
          };
        }
        return r;
      };
    },
    [id, token, blueId, [at(0), at(1), at(777), at(1998), at(1999)]],
  );
  await page.goto(`${node.url}/b/${id}`);
  await page.waitForFunction(() => !!window.__seen['corkboard:interactive'], null, { timeout: 30000 });
  const seen = await page.evaluate(() => window.__seen);
  const far = seen['corkboard:first-paint'];
  const live = seen['corkboard:interactive'];
  assert.equal(seen.change, 200, 'the change made during the load was accepted');
  assert.equal(far.elements, 0, 'the first frame was drawn before the board was loaded (from the summary)');
  assert.ok(200 * far.zoom < 10, `fitted: the notes are tiny (zoom ${far.zoom})`);
  // The summary is of the board before the change: note 0 yellow.
  for (const [k, i] of [0, 1, 777, 1998, 1999].entries()) assert.ok(near(far.pixels[k], i % 2 ? pink : yellow), `summary, note ${i}: pixel ${far.pixels[k]}`);
  // Then the board itself, with the change on top (blue over note 0).
  assert.ok(live.elements >= 2000, `the board was loaded (${live.elements})`);
  assert.equal(live.zoom, far.zoom, 'the view stays');
  await page.waitForFunction((id) => !!window.__corkboard.board.get(id), blueId, { timeout: 15000 });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const pixels = await page.evaluate((spots) => {
    const { app } = window.__corkboard;
    const c = app.cam;
    const ctx = document.querySelector('canvas').getContext('2d');
    return spots.map(([x, y]) => [...ctx.getImageData(Math.round((x - c.x) * c.zoom), Math.round((y - c.y) * c.zoom), 1, 1).data.slice(0, 3)]);
  }, [at(0), at(1), at(777)]);
  assert.ok(near(pixels[0], blue), `the change is drawn: pixel ${pixels[0]}`);
  assert.ok(near(pixels[1], pink) && near(pixels[2], pink), `the rest as before: ${pixels.slice(1)}`);
  const st = await page.evaluate(() => window.__corkboard.state());
  assert.equal(st.elements.length, 2001, 'every note and the change');
  assert.equal(far.builds, 0, 'the first frame drew the summary straight onto the canvas');
  // The summary's bitmap (Renderer.drawSummary): the first frame at a zoom
  // draws it straight, the second makes the bitmap, later ones blit it
  // where a pan puts it. Drawn at the fitted view, then at views moved by
  // whole and by fractional pixels: one bitmap, and each note's pixels
  // where each view puts them.
  const panned = await page.evaluate((spots) => {
    const { app } = window.__corkboard;
    const r = app.renderer;
    const c = app.cam;
    const ctx = document.querySelector('canvas').getContext('2d');
    const out = [];
    for (const [dx, dy] of [[0, 0], [-100, 37], [-150.5, 210.25]]) {
      const cam = { x: c.x + dx, y: c.y + dy, zoom: c.zoom };
      r.drawSummary(window.__summary, cam);
      out.push({ builds: r.summaryBuilds, pixels: spots.map(([x, y]) => [...ctx.getImageData(Math.round((x - cam.x) * cam.zoom), Math.round((y - cam.y) * cam.zoom), 1, 1).data.slice(0, 3)]) });
    }
    app.redraw();
    return out;
  }, [at(1), at(777), at(1998), at(1999)]);
  const builds = panned[0].builds;
  assert.deepEqual(
    panned.map((p) => p.builds - builds),
    [0, 1, 1],
    'drawn straight, then the bitmap made once and blitted',
  );
  for (const [k, p] of panned.entries()) {
    for (const [j, i] of [1, 777, 1998, 1999].entries()) assert.ok(near(p.pixels[j], i % 2 ? pink : yellow), `view ${k}, note ${i}: pixel ${p.pixels[j]}`);
  }
  await waitSettled(page);
  await c2.close();

  // A near view does not use the summary: a visit with the origin at 100 %
  // (the view kept by an earlier visit; no stored board) waits for the board.
  const { context: c3, page: p3 } = await chrome.newPage();
  await p3.addInitScript((board) => {
    globalThis.corkboardFarViewFrom = 100;
    localStorage.setItem('cb.cam.' + board, JSON.stringify({ x: -100, y: -100, zoom: 1 }));
  }, id);
  await p3.goto(`${node.url}/b/${id}`);
  await p3.waitForFunction(() => performance.getEntriesByName('corkboard:interactive').length > 0, null, { timeout: 30000 });
  const marks = await p3.evaluate(() => ({
    far: performance.getEntriesByName('corkboard:far-view-in').length,
    paint: performance.getEntriesByName('corkboard:first-paint')[0]?.startTime,
    live: performance.getEntriesByName('corkboard:interactive')[0]?.startTime,
    zoom: window.__corkboard.app.cam.zoom,
  }));
  assert.equal(marks.zoom, 1, 'the kept view');
  assert.equal(marks.far, 0, 'no summary drawn at a near view');
  assert.ok(Math.abs(marks.paint - marks.live) < 5, `the first frame is the board’s (${marks.paint}, ${marks.live})`);
  await c3.close();
  await c1.close();
});
