// A big board seen from far away (src/lod.ts), in a real browser against a
// real node: tiny notes drawn as boxes of their colour, the view drawn once
// into a cached bitmap that panning reuses, and drawn again when the board
// changes. Run by webclient/test/run.sh.
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

/** Waits two frames of the page. */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** The canvas pixel (device pixels, DPR 1) at a board point, as [r, g, b]. */
function pixelAt(page, x, y) {
  return page.evaluate(
    ([x, y]) => {
      const { app } = window.__corkboard;
      const c = app.cam;
      const sx = Math.round((x - c.x) * c.zoom),
        sy = Math.round((y - c.y) * c.zoom);
      const d = document.querySelector('canvas').getContext('2d').getImageData(sx, sy, 1, 1).data;
      return [d[0], d[1], d[2]];
    },
    [x, y],
  );
}

test('a far view of 2,000 notes: boxes of their colours from one bitmap while panning, drawn again after a change', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Far', 'Ada');
  // 2,000 notes 300 units apart in a 100 × 20 grid, yellow and pink in turn.
  const ids = await seedGrid(page, 2000);
  await waitSettled(page);
  await page.evaluate(() => window.__corkboard.app.fit());
  await frames(page);
  const builds = () => page.evaluate(() => window.__corkboard.app.renderer.far.builds);
  const zoom = await page.evaluate(() => window.__corkboard.app.cam.zoom);
  assert.ok(200 * zoom < 10, `notes are tiny at the fitted zoom ${zoom}`);
  const b0 = await builds();
  assert.ok(b0 >= 1, 'the far view was drawn into its bitmap');

  // Each note's middle shows its colour (#fff176 yellow, #f8bbd0 pink).
  const yellow = [0xff, 0xf1, 0x76],
    pink = [0xf8, 0xbb, 0xd0];
  const near = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 24);
  for (const i of [0, 1, 777, 1998, 1999]) {
    const px = await pixelAt(page, (i % 100) * 300 + 100, Math.floor(i / 100) * 300 + 100);
    assert.ok(near(px, i % 2 ? pink : yellow), `note ${i}: pixel ${px}`);
  }

  // Panning reuses the bitmap: no new drawing of the content.
  for (let k = 0; k < 20; k++) {
    await page.evaluate((k) => window.__corkboard.app.panBy(3, k % 2 ? 2 : -2), k);
    await frames(page);
  }
  assert.equal(await builds(), b0, 'panning drew the content again');
  const px = await pixelAt(page, 100, 100);
  assert.ok(near(px, yellow), `after panning, note 0: pixel ${px}`);

  // A change draws it again: note 0 turns blue.
  await page.evaluate((id) => window.__corkboard.app.edit([{ op: 'set', el: id, key: 'color', value: 'blue' }]), ids[0]);
  await frames(page);
  assert.ok((await builds()) > b0, 'a change did not draw the bitmap again');
  const after = await pixelAt(page, 100, 100);
  assert.ok(!near(after, yellow) && after[2] > after[0], `note 0 after turning blue: pixel ${after}`);

  // Zoomed in, every note is drawn in full (its text): no bitmap.
  await page.evaluate(() => window.__corkboard.app.zoomAt(600, 400, 1 / window.__corkboard.app.cam.zoom));
  await frames(page);
  const b1 = await builds();
  await page.evaluate(() => window.__corkboard.app.panBy(5, 5));
  await frames(page);
  assert.equal(await builds(), b1, 'a near view used the bitmap');
  await context.close();
});
