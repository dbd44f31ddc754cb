// Shapes (issue 12, bug 8): R, O and D draw a shape sized by the drag, as
// every drawing tool does (Shift: as wide as high, from any corner); a
// click without a drag makes the default 160×120; a shape holds text,
// edited by double-click like a note.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createBoard, drag, editElement, launch, startNode, state, toScreen, waitSettled, waitState } from './lib.mjs';

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

const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 2, `${what}: ${a}, want about ${b}`);

test('shapes: drag sizes them, a click makes the default size, they hold text', async () => {
  const { page } = await chrome.newPage();
  await createBoard(page, node.url, 'Shapes');
  await page.evaluate(() => window.__corkboard.app.camera.set({ x: -100, y: -100, zoom: 1 }));
  const shapes = async () => (await state(page)).elements.filter((e) => e.kind === 'shape');

  // R, then a drag from board (0, 0) to (240, 100): that box.
  await page.keyboard.press('r');
  await drag(page, await toScreen(page, 0, 0), await toScreen(page, 240, 100));
  let s = await waitState(page, (s) => s.elements.some((e) => e.kind === 'shape'));
  const rect = s.elements.find((e) => e.kind === 'shape');
  near(rect.x, 0, 'x');
  near(rect.y, 0, 'y');
  near(rect.w, 240, 'w');
  near(rect.h, 100, 'h');
  assert.deepEqual(s.selection, [rect.id], 'the new shape is selected');

  // D, dragged up and left with Shift: a square ending where the drag started.
  await page.keyboard.press('d');
  await page.keyboard.down('Shift');
  await drag(page, await toScreen(page, 600, 400), await toScreen(page, 520, 360));
  await page.keyboard.up('Shift');
  s = await waitState(page, (s) => s.elements.filter((e) => e.kind === 'shape').length === 2);
  const dia = s.elements.find((e) => e.kind === 'shape' && e.id !== rect.id);
  near(dia.w, 80, 'square w');
  near(dia.h, 80, 'square h');
  near(dia.x + dia.w, 600, 'right edge');
  near(dia.y + dia.h, 400, 'bottom edge');

  // O, a click: the default size, centred on it.
  await page.keyboard.press('o');
  const c = await toScreen(page, 300, 600);
  await page.mouse.click(c.x, c.y);
  s = await waitState(page, (s) => s.elements.filter((e) => e.kind === 'shape').length === 3);
  const ell = s.elements.find((e) => e.kind === 'shape' && e.id !== rect.id && e.id !== dia.id);
  assert.deepEqual([ell.x, ell.y, ell.w, ell.h], [220, 540, 160, 120]);

  // Text in a shape: double-click, type, Escape.
  await page.keyboard.press('Escape');
  await editElement(page, rect);
  await page.keyboard.type('Decide by Friday');
  await page.keyboard.press('Escape');
  await waitState(page, (s, id) => s.elements.find((e) => e.id === id)?.text === 'Decide by Friday', rect.id);
  await waitSettled(page);
  assert.equal((await shapes()).length, 3);
  await page.context().close();
});
