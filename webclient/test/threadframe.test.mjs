// A comment thread shows the element it belongs to (comments.ts): its text
// in the thread's header, the element outlined while the thread is open, a
// click on the header going there. A frame's title stays readable when
// zoomed out (drawn above the frame, render.ts), where a double-click edits
// it, and the export has it.
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

test('a thread names its element, outlines it while open, and goes there from its header', async () => {
  const b = await restBoard(node.url, 'Threads', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const note = fixedId(1);
  await edit(page, noteOps(note, 0, 0, 'Budget for the offsite\nsecond line'));
  const onNote = await page.evaluate((n) => window.__corkboard.features.comments.create('Too low?', { target: n, x: 200, y: 0 }), note);
  const onPoint = await page.evaluate(() => window.__corkboard.features.comments.create('Empty corner', { x: 900, y: 900 }));
  await waitSettled(page);
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -300, y: -200, zoom: 1 }));

  // Opened from its pin: the header names the note by its first line; the note is outlined.
  await page.click(`.fx-pin[data-id="${onNote}"]`);
  const head = `.fx-thread[data-id="${onNote}"] .fx-on`;
  await page.waitForSelector(head);
  assert.equal(await page.textContent(head), 'On “Budget for the offsite”');
  assert.equal(await page.textContent(`.fx-thread[data-id="${onPoint}"] .fx-on`), 'On the board');
  await page.waitForSelector(`.fx-target-mark[data-target="${note}"]:not([hidden])`);
  const [mark, want] = await page.evaluate((n) => {
    const m = document.querySelector('.fx-target-mark').getBoundingClientRect();
    const a = window.__corkboard.toScreen(0, 0);
    const z = window.__corkboard.camera().zoom;
    return [m.toJSON(), { left: a.x, top: a.y, w: 200 * z, h: 200 * z, n }];
  }, note);
  assert.ok(Math.abs(mark.left + 4 - want.left) < 2 && Math.abs(mark.top + 4 - want.top) < 2 && Math.abs(mark.width - 8 - want.w) < 2, `${JSON.stringify(mark)} vs ${JSON.stringify(want)}`);

  // Far away, the header brings the note back into view, selected.
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: 5000, y: 5000, zoom: 0.5 }));
  await page.click(head);
  const s = await state(page);
  assert.deepEqual(s.selection, [note]);
  const c = await page.evaluate(() => {
    const c = window.__corkboard.camera();
    const r = document.querySelector('canvas').getBoundingClientRect();
    return { x: c.x + r.width / 2 / c.zoom, y: c.y + r.height / 2 / c.zoom };
  });
  assert.ok(Math.abs(c.x - 100) < 2 && Math.abs(c.y - 100) < 2, JSON.stringify(c));

  // Closing the panel takes the outline away; a deleted note is said so.
  await page.click('.fx-comments .fx-close');
  await page.waitForSelector('.fx-target-mark', { state: 'hidden' });
  await edit(page, [{ op: 'delete', el: note }]);
  await page.evaluate((t) => window.__corkboard.features.comments.open(t), onNote);
  await page.waitForFunction((h) => document.querySelector(h)?.textContent === 'On a deleted element', head);
  assert.equal(await page.isDisabled(head), true);
  await context.close();
});

test('a frame’s title is drawn above it when zoomed out, edited there by double-click, and exported', async () => {
  const b = await restBoard(node.url, 'Frames', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const frame = fixedId(1);
  await edit(page, [{ op: 'create', el: frame, kind: 'frame' }, set(frame, 'x', 0), set(frame, 'y', 0), set(frame, 'w', 1600), set(frame, 'h', 1000), set(frame, 'z', 'Z0'), { op: 'insertText', el: frame, field: 'title', pos: 0, text: 'Sprint goals' }]);
  await waitSettled(page);
  const zoom = 0.3;
  await page.evaluate((z) => window.__corkboard.features.host.setCamera({ x: -200, y: -300, zoom: z }), zoom);

  /** Dark pixels in the band just above the frame (the title's ink). */
  const ink = () =>
    page.evaluate(
      ([z]) =>
        new Promise((resolve) =>
          requestAnimationFrame(() =>
            requestAnimationFrame(() => {
              const cv = document.querySelector('canvas.canvas');
              const dpr = cv.width / cv.getBoundingClientRect().width;
              const a = window.__corkboard.camera();
              const x0 = Math.round((0 - a.x) * a.zoom * dpr);
              const y1 = Math.round((0 - a.y) * a.zoom * dpr);
              const d = cv.getContext('2d').getImageData(x0, y1 - Math.round(20 * dpr), Math.round(200 * dpr), Math.round(18 * dpr)).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] < 140 && d[i + 1] < 140 && d[i + 2] < 140) n++;
              resolve(n);
            }),
          ),
        ),
      [zoom],
    );
  const withTitle = await ink();
  assert.ok(withTitle > 20, `ink above the frame: ${withTitle}`);

  // A double-click on the title above the frame edits it.
  const p = await page.evaluate(() => window.__corkboard.toScreen(60, -20));
  await page.mouse.dblclick(p.x, p.y);
  await page.waitForSelector('textarea.editor:not([hidden])');
  assert.equal(await page.evaluate(() => window.__corkboard.app.editor.id), frame);
  await page.keyboard.press('Control+a');
  await page.keyboard.type('Q3 goals');
  await page.keyboard.press('Escape');
  await page.waitForFunction((f) => window.__corkboard.state().elements.find((e) => e.id === f)?.title === 'Q3 goals', frame);
  assert.ok((await page.evaluate(() => window.__corkboard.features.exporter.svg())).includes('>Q3 goals<'), 'the export has the title');

  // No title: nothing above the frame.
  await edit(page, [{ op: 'deleteText', el: frame, field: 'title', pos: 0, count: 8 }]);
  assert.equal(await ink(), 0);
  await context.close();
});
