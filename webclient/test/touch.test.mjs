// Touch and small screens (src/touch.ts, touch.css): on a 375×667 phone
// with touch (playwright's isMobile and hasTouch, fingers through the
// DevTools protocol's Input.dispatchTouchEvent), the board's panels fit
// the screen without overlapping, the tools scroll in a strip, pinching
// zooms about the fingers, two fingers pan, a long press opens the menu of
// the element under the finger (vote, delete), the comments panel is a
// sheet, and the page may be zoomed (no user-scalable=no).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, toScreen, waitSettled } from './lib.mjs';
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

const PHONE = { viewport: { width: 375, height: 667 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** Fingers: touches(type, [[x, y], …]) through the DevTools protocol. */
function fingers(cdp) {
  return (type, points) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x, y, id, radiusX: 4, radiusY: 4, force: 1 })) });
}

const cam = (page) => page.evaluate(() => window.__corkboard.features.host.camera());

test('a phone: the layout fits, pinch zooms, two fingers pan, a long press opens the element menu', async () => {
  const b = await restBoard(node.url, 'Phone', { ownerName: 'Ada' });
  const { page, context } = await chrome.newPage(PHONE);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const meta = await page.getAttribute('meta[name=viewport]', 'content');
  assert.doesNotMatch(meta, /user-scalable=no|maximum-scale=1\b/, 'the page may be zoomed');

  // The panels fit and do not overlap.
  await page.waitForSelector('.fx-menu button');
  const rects = await page.evaluate(() =>
    ['.topbar', '.toolbar', '.people', '.fx-menu', '.history'].map((s) => {
      const el = document.querySelector(s);
      const r = el.getBoundingClientRect();
      return { s, x: r.x, y: r.y, r: r.right, b: r.bottom, shown: getComputedStyle(el).display !== 'none' && r.width > 0 };
    }),
  );
  for (const r of rects.filter((r) => r.shown)) assert.ok(r.x >= 0 && r.y >= 0 && r.r <= 375 && r.b <= 667, `${r.s} is off the screen: ${JSON.stringify(r)}`);
  const shown = rects.filter((r) => r.shown);
  for (let i = 0; i < shown.length; i++)
    for (let j = i + 1; j < shown.length; j++) {
      const [p, q] = [shown[i], shown[j]];
      assert.ok(p.r <= q.x || q.r <= p.x || p.b <= q.y || q.b <= p.y, `${p.s} overlaps ${q.s}: ${JSON.stringify([p, q])}`);
    }
  assert.equal(await page.isHidden('.zoom'), true, 'zoom buttons give way to pinching');
  // Every tool is within reach: the strip scrolls to the last one.
  const last = await page.evaluate(() => {
    const bar = document.querySelector('.toolbar');
    const btn = bar.lastElementChild;
    btn.scrollIntoView({ inline: 'end' });
    const r = btn.getBoundingClientRect();
    return { overflow: getComputedStyle(bar).overflowX, r: r.right, w: r.width };
  });
  assert.equal(last.overflow, 'auto');
  assert.ok(last.r <= 375 && last.w >= 40, `the last tool: ${JSON.stringify(last)}`);

  // A note in the middle of the screen.
  const N = fixedId(1);
  await edit(page, noteOps(N, 0, 0, 'Tap me', 'yellow', 'a0'));
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -87, y: -200, zoom: 1 }));
  await waitSettled(page);
  const cdp = await context.newCDPSession(page);
  const touch = fingers(cdp);

  // Pinch out about (187, 420): zoom grows by the fingers' spread.
  const c0 = await cam(page);
  await touch('touchStart', [[150, 420], [225, 420]]);
  for (let i = 1; i <= 5; i++) await touch('touchMove', [[150 - i * 10, 420], [225 + i * 10, 420]]);
  await touch('touchEnd', []);
  const c1 = await cam(page);
  const want = c0.zoom * (175 / 75);
  assert.ok(Math.abs(c1.zoom - want) / want < 0.05, `pinch: zoom ${c0.zoom} → ${c1.zoom}, want about ${want}`);
  // Two fingers moved together: a pan by their motion.
  await touch('touchStart', [[150, 400], [230, 400]]);
  for (let i = 1; i <= 5; i++) await touch('touchMove', [[150, 400 - i * 12], [230, 400 - i * 12]]);
  await touch('touchEnd', []);
  const c2 = await cam(page);
  assert.ok(Math.abs(c2.y - c1.y - 60 / c1.zoom) < 2 / c1.zoom && Math.abs(c2.zoom - c1.zoom) < 1e-6, `pan: ${JSON.stringify([c1, c2])}`);

  // A long press on the note: its menu, and the note selected.
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -87, y: -200, zoom: 1 }));
  const at = await toScreen(page, 100, 100);
  await touch('touchStart', [[at.x, at.y]]);
  await page.waitForSelector('.cb-touch-menu'); // while the finger is down
  await touch('touchEnd', []);
  const items = await page.$$eval('.cb-touch-menu button', (bs) => bs.map((b) => b.dataset.action));
  assert.deepEqual(items, ['edit', 'comment', 'vote', 'delete']);
  assert.deepEqual(await page.evaluate(() => [...window.__corkboard.features.host.selection()]), [N]);
  // On a phone the menu is a sheet at the bottom.
  const sheet = await page.locator('.cb-touch-menu').boundingBox();
  assert.ok(Math.abs(sheet.width - 375) < 1 && Math.abs(sheet.y + sheet.height - 667) < 1, `menu: ${JSON.stringify(sheet)}`);
  await page.tap('.cb-touch-menu [data-action=vote]');
  await page.waitForFunction((id) => window.__corkboard.features.votes.tally(id).mine === 1, N);
  assert.equal(await page.$('.cb-touch-menu'), null, 'the menu closes after a choice');

  // A moving finger is a drag, not a long press.
  await touch('touchStart', [[at.x, at.y]]);
  assert.equal(await page.evaluate(() => window.__corkboard.longPress.pending), true, 'a finger down, still: a long press is timed');
  await touch('touchMove', [[at.x + 40, at.y]]);
  await touch('touchMove', [[at.x + 80, at.y]]);
  assert.equal(await page.evaluate(() => window.__corkboard.longPress.pending), false, 'a moving finger is no long press');
  await touch('touchEnd', []);
  assert.equal(await page.$('.cb-touch-menu'), null, 'no menu for a drag');

  // Comment from the menu: the comments panel is a sheet.
  await touch('touchStart', [[at.x + 80, at.y]]);
  await page.waitForSelector('.cb-touch-menu');
  await touch('touchEnd', []);
  await page.tap('.cb-touch-menu [data-action=comment]');
  await page.waitForSelector('.fx-comments:not([hidden])');
  const panel = await page.locator('.fx-comments').boundingBox();
  assert.ok(Math.abs(panel.width - 375) < 1 && Math.abs(panel.y + panel.height - 667) < 1 && panel.height <= 667 * 0.63, `comments: ${JSON.stringify(panel)}`);
  assert.deepEqual(errors, []);
  await context.close();
});
