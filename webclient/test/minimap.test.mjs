// The minimap (minimap.ts): the whole board small with the view's
// rectangle; a click or a drag on it moves the view; a button hides it (kept
// across visits); small screens do without it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, seedGrid, startNode, waitSettled } from './lib.mjs';
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

/** The page point over a board point on the minimap. */
function onMinimap(page, x, y) {
  return page.evaluate(
    ([x, y]) => {
      const m = window.__corkboard.features.minimap;
      const p = m.toMini(x, y);
      const r = m.canvas.getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    [x, y],
  );
}

/** The board point at the canvas' middle. */
function centre(page) {
  return page.evaluate(() => {
    const c = window.__corkboard.camera();
    const r = document.querySelector('canvas').getBoundingClientRect();
    return { x: c.x + r.width / 2 / c.zoom, y: c.y + r.height / 2 / c.zoom };
  });
}

test('the minimap shows the board and the view; a click and a drag move the view', async () => {
  const b = await restBoard(node.url, 'Map', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  await edit(page, [...noteOps(fixedId(1), 0, 0, 'near'), ...noteOps(fixedId(2), 4000, 3000, 'far', 'green', 'a1')]);
  await page.evaluate(() => window.__corkboard.app.fit());
  await page.waitForSelector('.cb-minimap[data-elements="2"]');
  const r = await page.evaluate(() => document.querySelector('.cb-minimap').getBoundingClientRect().toJSON());
  assert.ok(r.width >= 150 && r.right <= 1200 && r.bottom <= 800, JSON.stringify(r));
  // The view's rectangle: the whole board is in view after fit, so it spans most of the map.
  const view = (await page.getAttribute('.cb-minimap', 'data-view')).split(',').map(Number);
  assert.ok(view[2] > 100, `view rectangle ${view}`);

  // Zoom in: the rectangle shrinks.
  await page.evaluate(() => window.__corkboard.app.zoomAt(600, 400, 4));
  await page.waitForFunction((w) => Number(document.querySelector('.cb-minimap').dataset.view.split(',')[2]) < w / 2, view[2]);

  // A click on the far note in the minimap centres the view on it.
  const far = await onMinimap(page, 4100, 3100);
  await page.mouse.click(far.x, far.y);
  let c = await centre(page);
  assert.ok(Math.abs(c.x - 4100) < 40 && Math.abs(c.y - 3100) < 40, `after the click: ${JSON.stringify(c)}`);
  // A drag carries the view along.
  const near = await onMinimap(page, 100, 100);
  await page.mouse.move(far.x, far.y);
  await page.mouse.down();
  await page.mouse.move(near.x, near.y, { steps: 6 });
  await page.mouse.up();
  c = await centre(page);
  assert.ok(Math.abs(c.x - 100) < 40 && Math.abs(c.y - 100) < 40, `after the drag: ${JSON.stringify(c)}`);
  // No note was made or moved under the minimap.
  const els = await page.evaluate(() => window.__corkboard.state().elements.map((e) => [e.x, e.y]));
  assert.deepEqual(els.sort(), [[0, 0], [4000, 3000]]);

  // Hidden by its button, and still hidden on the next visit.
  await page.click('.cb-minimap-btn');
  assert.equal(await page.isVisible('.cb-minimap'), false);
  await page.reload();
  await page.waitForFunction(() => window.__corkboard?.features);
  assert.equal(await page.isVisible('.cb-minimap'), false);
  await page.click('.cb-minimap-btn');
  assert.equal(await page.isVisible('.cb-minimap'), true);
  await context.close();
});

test('small screens do without the minimap', async () => {
  const b = await restBoard(node.url, 'Phone', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage({ viewport: { width: 390, height: 700 } });
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  await page.waitForFunction(() => window.__corkboard?.features?.minimap);
  assert.equal(await page.isVisible('.cb-minimap'), false);
  await context.close();
});

test('a pan past the board’s edge moves the map without painting the elements again; they stay where they are on it', async () => {
  const b = await restBoard(node.url, 'Edge', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  await edit(page, [...noteOps(fixedId(1), 0, 0, 'near'), ...noteOps(fixedId(2), 4000, 3000, 'far', 'green', 'a1')]);
  await page.evaluate(() => window.__corkboard.app.fit());
  await page.waitForSelector('.cb-minimap[data-elements="2"]');
  const frame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await frame();
  // Each paint of the elements sets the map's data-elements (to the same
  // value, too): counted by a MutationObserver.
  await page.evaluate(() => {
    window.__paints = 0;
    new MutationObserver((rs) => (window.__paints += rs.length)).observe(document.querySelector('.cb-minimap'), { attributes: true, attributeFilter: ['data-elements'] });
  });
  const paints = async () => {
    await page.evaluate(() => new Promise((r) => setTimeout(r, 0))); // the observer's records delivered
    return page.evaluate(() => window.__paints);
  };
  /** The minimap's pixel over a board point: [r, g, b]. */
  const pixel = (x, y) =>
    page.evaluate(
      ([x, y]) => {
        const m = window.__corkboard.features.minimap;
        const p = m.toMini(x, y);
        const dpr = m.canvas.width / 200;
        return [...m.canvas.getContext('2d').getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data.slice(0, 3)];
      },
      [x, y],
    );
  const before = await paints();
  const green = await pixel(4100, 3100);
  // Three steps away from the board, each out of the area the map showed.
  for (let i = 0; i < 3; i++) {
    await page.evaluate(() => {
      const m = window.__corkboard.features.minimap;
      const c = window.__corkboard.camera();
      window.__corkboard.app.panBy(-(m.world.x + m.world.w - c.x) * c.zoom, 0); // the view's left edge to the map's right edge
    });
    await frame();
  }
  const world = await page.evaluate(() => window.__corkboard.features.minimap.world);
  assert.ok(world.w > 12000, `the map shows the board and the view far off: ${JSON.stringify(world)}`);
  assert.equal(await paints(), before, 'the elements were not painted again');
  // The notes are drawn where they are on the map (the layer scaled into it).
  const near = await pixel(100, 100);
  const far = await pixel(4100, 3100);
  const blank = await pixel(2000, 1500);
  assert.notDeepEqual(near, blank, `the near note on the map: ${near} against ${blank}`);
  assert.notDeepEqual(far, blank, `the far note on the map: ${far} against ${blank}`);
  assert.ok(far[1] > far[0] && green[1] > green[0], `the far note is green on the map (${far}, before: ${green})`);
  // A change paints them again.
  await edit(page, noteOps(fixedId(3), 2000, 1500, 'middle', 'pink', 'a2'));
  await page.waitForSelector('.cb-minimap[data-elements="3"]');
  assert.ok((await paints()) > before);
  await context.close();
});

test('a change is painted into the minimap where it is, not all the elements again; the map is the one painted anew', async () => {
  const b = await restBoard(node.url, 'Many', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const ids = await seedGrid(page, 400);
  await waitSettled(page);
  await page.evaluate(() => window.__corkboard.app.fit());
  await page.waitForSelector('.cb-minimap[data-elements="400"]');
  await page.evaluate(() => {
    const m = window.__corkboard.features.minimap;
    window.__whole = 0;
    const inner = m.paintLayer.bind(m);
    m.paintLayer = () => {
      window.__whole++;
      inner();
    };
  });
  const painted = () => page.waitForFunction(() => !window.__corkboard.features.minimap.layerStale);
  const edit = (ops) => page.evaluate((ops) => window.__corkboard.app.edit(ops), ops);
  const set = (el, key, value) => ({ op: 'set', el, key, value });
  await edit([set(ids[5], 'x', 12000), set(ids[5], 'y', 700)]);
  await painted();
  await edit([set(ids[77], 'color', 'blue')]);
  await painted();
  await edit([{ op: 'delete', el: ids[123] }]);
  await page.waitForSelector('.cb-minimap[data-elements="399"]');
  const N = '0190f5e2-7c3a-7d4e-9b1a-00000000bb01';
  await edit([{ op: 'create', el: N, kind: 'note' }, set(N, 'x', 20000), set(N, 'y', 500), set(N, 'w', 600), set(N, 'h', 400), set(N, 'color', 'green'), set(N, 'z', 'a1')]);
  await page.waitForSelector('.cb-minimap[data-elements="400"]');
  assert.equal(await page.evaluate(() => window.__whole), 0, 'the elements were all painted again');

  const layer = () =>
    page.evaluate(() => {
      const c = window.__corkboard.features.minimap.layer;
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
    });
  const patched = await layer();
  await page.evaluate(() => {
    const m = window.__corkboard.features.minimap;
    m.dirty = null;
    m.layerStale = true;
    m.draw();
  });
  assert.equal(await page.evaluate(() => window.__whole), 1, 'painted anew');
  const fresh = await layer();
  let differ = 0;
  for (let i = 0; i < fresh.length; i += 4) if (Math.max(...[0, 1, 2, 3].map((k) => Math.abs(fresh[i + k] - patched[i + k]))) > 16) differ++;
  assert.ok(differ <= 4, `${differ} pixels of the map differ from the one painted anew`);
  await context.close();
});
