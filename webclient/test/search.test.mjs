// Search (search.ts): Ctrl/Cmd+F on the board opens the board's own search
// over notes, mindmap nodes, frame titles and comments; Enter and
// Shift+Enter walk the hits, centring and selecting each.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitSettled } from './lib.mjs';
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

const set = (el, key, value) => ({ op: 'set', el, key, value });

test('Ctrl+F finds notes, mindmap nodes, frame titles and comments, and walks them', async () => {
  const b = await restBoard(node.url, 'Search', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const [picnic, museum, topic, frame] = [fixedId(1), fixedId(2), fixedId(3), fixedId(4)];
  await edit(page, [
    ...noteOps(picnic, 0, 0, 'Picnic in the PARK'),
    ...noteOps(museum, 2000, 0, 'Museum trip', 'green', 'a1'),
    { op: 'create', el: topic, kind: 'mindmap' },
    set(topic, 'x', 0),
    set(topic, 'y', 1500),
    set(topic, 'z', 'a2'),
    { op: 'insertText', el: topic, field: 'text', pos: 0, text: 'Park ranger' },
    { op: 'create', el: frame, kind: 'frame' },
    set(frame, 'x', 3000),
    set(frame, 'y', 3000),
    set(frame, 'w', 600),
    set(frame, 'h', 400),
    set(frame, 'z', 'Z0'),
    { op: 'insertText', el: frame, field: 'title', pos: 0, text: 'Parking lot' },
  ]);
  const thread = await page.evaluate((m) => window.__corkboard.features.comments.create('What about the park instead?', { target: m, x: 2200, y: 0 }), museum);
  await waitSettled(page);

  // Ctrl+F in a text field is the browser's (or the field's): no board search.
  await page.evaluate((t) => window.__corkboard.features.comments.open(t), thread);
  await page.focus(`.fx-thread[data-id="${thread}"] textarea`);
  assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'TEXTAREA');
  await page.keyboard.press('Control+f');
  assert.equal(await page.isVisible('.cb-search'), false);

  // On the board: the board's search, and the browser's find is not opened (default prevented).
  await page.mouse.click(600, 400);
  // (The F's keydown, read after the board's own capture listener, registered earlier; not the Control key's.)
  // The listener is in place before the key is pressed (awaited), and its
  // answer is read afterwards: a promise left pending across the press
  // could miss the key and wait forever.
  await page.evaluate(() => {
    window.__fPrevented = undefined;
    const on = (e) => {
      if (e.key !== 'f') return;
      removeEventListener('keydown', on, true);
      window.__fPrevented = e.defaultPrevented;
    };
    addEventListener('keydown', on, true);
  });
  await page.keyboard.press('Control+f');
  await page.waitForSelector('.cb-search:not([hidden])');
  assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('cb-search-input')), true);
  await page.keyboard.type('park');
  // Reading order: top to bottom, then the comment thread.
  await page.waitForSelector('.cb-search[data-hits="4"]');
  assert.equal(await page.textContent('.cb-search-count'), '1 of 4');
  const at = async () => {
    const s = await state(page);
    const c = await page.evaluate(() => window.__corkboard.camera());
    const r = await page.evaluate(() => document.querySelector('canvas').getBoundingClientRect().toJSON());
    return { sel: s.selection, cx: c.x + r.width / 2 / c.zoom, cy: c.y + r.height / 2 / c.zoom };
  };
  let now = await at();
  assert.deepEqual(now.sel, [picnic]);
  assert.ok(Math.abs(now.cx - 100) < 2 && Math.abs(now.cy - 100) < 2, `centred on the note: ${JSON.stringify(now)}`);
  await page.keyboard.press('Enter');
  now = await at();
  assert.deepEqual(now.sel, [topic]);
  assert.equal(await page.textContent('.cb-search-count'), '2 of 4');
  await page.keyboard.press('Enter');
  assert.deepEqual((await at()).sel, [frame]);
  await page.keyboard.press('Enter');
  // The comment: its thread opens, its note is selected.
  assert.deepEqual((await at()).sel, [museum]);
  await page.waitForSelector(`.fx-thread[data-id="${thread}"]`);
  await page.keyboard.press('Shift+Enter');
  assert.deepEqual((await at()).sel, [frame]);
  assert.equal(await page.textContent('.cb-search-count'), '3 of 4');
  assert.equal(await page.evaluate(() => window.__fPrevented), true, 'the browser\'s find was not prevented');

  // A new hit appears as it is written; no hit says so.
  await edit(page, noteOps(fixedId(5), 0, 600, 'park bench', 'yellow', 'a3'));
  await page.waitForSelector('.cb-search[data-hits="5"]');
  await page.fill('.cb-search-input', 'zebra');
  assert.equal(await page.textContent('.cb-search-count'), 'No results');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('.cb-search'), false);
  await context.close();
});
