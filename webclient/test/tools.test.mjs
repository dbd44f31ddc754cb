// The canvas tools in real browsers against a real node: connectors that
// follow the elements they join, frames that carry what they contain,
// freehand strokes, rotation, group resize, the shortcuts overlay (copy,
// paste and pinch zoom: canvas.test.mjs). Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { centre, createBoard, drag, launch, noteAt, startNode, state, toScreen, waitLive, waitSettled, waitState } from './lib.mjs';
import { openBoard } from './fx.mjs';

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

const note = noteAt;

const open = (page, id, token) => openBoard(page, node.url, id, token);

test('a connector stays attached to the notes it joins when one moves, on both screens', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Connectors', 'Ada');
  await open(b.page, id, token);
  const n1 = await note(a.page, 300, 300, 'From');
  const n2 = await note(a.page, 800, 300, 'To');
  // The connector tool (L): drag from one note to the other.
  await a.page.keyboard.press('l');
  await drag(a.page, await centre(a.page, n1), await centre(a.page, n2));
  const sb = await waitState(b.page, (s) => s.elements.some((e) => e.kind === 'connector'));
  const c = sb.elements.find((e) => e.kind === 'connector');
  assert.equal(c.from.el, n1.id);
  assert.equal(c.to.el, n2.id);
  // Drawn edge to edge: between the notes, not through them.
  assert.ok(c.x + 12 >= n1.x + n1.w - 1 && c.x + c.w - 12 <= n2.x + 1, JSON.stringify(c));

  // Bob moves the second note down by 300: the connector follows on both screens.
  const from = await centre(b.page, n2);
  await drag(b.page, from, { x: from.x, y: from.y + 300 });
  for (const p of [a.page, b.page]) {
    const s = await waitState(p, (s, n) => s.elements.find((e) => e.id === n.id).y > n.y + 250, n2);
    const moved = s.elements.find((e) => e.id === n2.id);
    const cc = s.elements.find((e) => e.kind === 'connector');
    assert.ok(cc.h > 200, `the connector now spans the drop (${JSON.stringify(cc)})`);
    assert.ok(cc.y + cc.h >= moved.y, 'it reaches the moved note');
  }
  // Its elbow form, set from the selection's context bar, reaches both too.
  await a.page.click('.context [data-action=route]');
  await waitState(b.page, (s) => s.elements.find((e) => e.kind === 'connector').route === 'elbow');
  await a.page.click('.context [data-action=route]');
  await waitState(b.page, (s) => s.elements.find((e) => e.kind === 'connector').route === 'curve');
  await a.context.close();
  await b.context.close();
});

test('frames take in what is dropped on them and carry it when moved', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Frames', 'Ada');
  const inside = await note(page, 400, 350, 'Inside');
  const outside = await note(page, 1000, 350, 'Outside');
  // Draw a frame around the first note: it becomes the frame's child.
  await page.keyboard.press('f');
  const tl = await toScreen(page, inside.x - 60, inside.y - 80);
  const br = await toScreen(page, inside.x + inside.w + 300, inside.y + inside.h + 60);
  await drag(page, tl, br);
  await page.keyboard.type('Sprint');
  await page.keyboard.press('Escape');
  let s = await waitState(page, (s) => s.elements.some((e) => e.kind === 'frame' && e.title === 'Sprint'));
  const frame = s.elements.find((e) => e.kind === 'frame');
  assert.equal(s.elements.find((e) => e.id === inside.id).parent, frame.id);
  assert.equal(s.elements.find((e) => e.id === outside.id).parent, null);

  // Drop the other note into the frame: a child too.
  const to = await toScreen(page, frame.x + frame.w - 110, frame.y + frame.h - 110);
  await drag(page, await centre(page, outside), to);
  s = await waitState(page, (s, a) => s.elements.find((e) => e.id === a.o).parent === a.f, { o: outside.id, f: frame.id });

  // Move the frame by its title: both notes move with it, in one undo step.
  const before = Object.fromEntries(s.elements.map((e) => [e.id, e]));
  const title = await toScreen(page, frame.x + 40, frame.y + 12);
  await drag(page, title, { x: title.x + 100, y: title.y + 50 });
  s = await waitState(page, (s, f) => s.elements.find((e) => e.id === f.id).x === f.x + 100, frame);
  for (const idn of [inside.id, outside.id]) {
    const e = s.elements.find((x) => x.id === idn);
    assert.deepEqual([e.x, e.y], [before[idn].x + 100, before[idn].y + 50]);
  }
  await page.keyboard.press('Control+z');
  s = await waitState(page, (s, f) => s.elements.find((e) => e.id === f.id).x === f.x, frame);
  assert.equal(s.elements.find((e) => e.id === inside.id).x, before[inside.id].x);

  // Drag a note out of the frame: back on the board.
  const e = s.elements.find((x) => x.id === inside.id);
  const c = await centre(page, e);
  await drag(page, c, { x: c.x - 300, y: c.y + 150 });
  await waitState(page, (s, i) => s.elements.find((e) => e.id === i).parent === null, inside.id);
  await waitSettled(page);
  await context.close();
});

test('freehand strokes, rotation, group resize and the shortcuts overlay', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Tools', 'Ada');
  // A stroke: the pen (P), a wavy drag.
  await page.keyboard.press('p');
  await page.mouse.move(200, 600);
  await page.mouse.down();
  for (let i = 1; i <= 30; i++) await page.mouse.move(200 + i * 8, 600 + Math.sin(i / 4) * 50);
  await page.mouse.up();
  let s = await waitState(page, (s) => s.elements.some((e) => e.kind === 'stroke'));
  const st = s.elements.find((e) => e.kind === 'stroke');
  assert.ok(st.points >= 10, `points kept: ${st.points}`);
  assert.ok(st.w >= 230 && st.h >= 90, `the stroke's box holds its points: ${st.w}×${st.h}`);
  await page.keyboard.press('Escape');

  // Rotation: the handle above a selected note, dragged to its right: 90°.
  const n = await note(page, 600, 350, 'Turn me');
  const c = await centre(page, n);
  await page.mouse.click(c.x, c.y);
  const handle = await toScreen(page, n.x + n.w / 2, n.y);
  await page.mouse.move(handle.x, handle.y - 26);
  await page.mouse.down({ button: 'left' });
  await page.mouse.move(c.x + 60, c.y - 80, { steps: 4 });
  await page.mouse.move(c.x + 200, c.y, { steps: 4 });
  await page.mouse.up();
  s = await waitState(page, (s, i) => s.elements.find((e) => e.id === i).rot !== 0, n.id);
  assert.equal(s.elements.find((e) => e.id === n.id).rot, 90);

  // Resizing it by a corner handle, which turned with it: the local
  // south-east corner is now at the bottom left; the opposite corner stays put.
  const r = s.elements.find((e) => e.id === n.id);
  const cx = r.x + r.w / 2,
    cy = r.y + r.h / 2;
  const se = await toScreen(page, cx - r.h / 2, cy + r.w / 2);
  const fixed = { x: cx + r.h / 2, y: cy - r.w / 2 };
  await drag(page, se, { x: se.x - 50, y: se.y + 50 });
  s = await waitState(page, (s, i) => s.elements.find((e) => e.id === i).w > 220, n.id);
  const g = s.elements.find((e) => e.id === n.id);
  assert.ok(Math.abs(g.w - 250) <= 2 && Math.abs(g.h - 250) <= 2 && g.rot === 90, JSON.stringify(g));
  const gx = g.x + g.w / 2 + g.h / 2,
    gy = g.y + g.h / 2 - g.w / 2;
  assert.ok(Math.abs(gx - fixed.x) <= 2 && Math.abs(gy - fixed.y) <= 2, JSON.stringify({ fixed, gx, gy }));

  // Group resize: two notes selected (shift-click), the corner handle dragged.
  const a1 = await note(page, 300, 200, 'A');
  const a2 = await note(page, 600, 200, 'B');
  await page.keyboard.press('Escape');
  await page.mouse.click((await centre(page, a1)).x, (await centre(page, a1)).y);
  await page.keyboard.down('Shift');
  await page.mouse.click((await centre(page, a2)).x, (await centre(page, a2)).y);
  await page.keyboard.up('Shift');
  s = await state(page);
  assert.deepEqual(s.selection.sort(), [a1.id, a2.id].sort());
  const corner = await toScreen(page, a2.x + a2.w, a2.y + a2.h);
  const x0 = a1.x;
  const span = a2.x + a2.w - x0;
  // Drag the bottom-right corner so the group grows by half.
  const target = await toScreen(page, x0 + span * 1.5, a2.y + a2.h * 1.5);
  await drag(page, corner, target);
  s = await waitState(page, (s, i) => s.elements.find((e) => e.id === i).w > 250, a2.id);
  const r1 = s.elements.find((e) => e.id === a1.id);
  const r2 = s.elements.find((e) => e.id === a2.id);
  assert.ok(Math.abs(r1.w - 300) <= 2 && Math.abs(r2.w - 300) <= 2, `${r1.w} ${r2.w}`);
  assert.equal(r1.x, a1.x, 'the far corner stays put');
  assert.ok(Math.abs(r2.x - (x0 + (a2.x - x0) * 1.5)) <= 2);

  // The shortcuts overlay.
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await page.waitForSelector('.help:not([hidden])');
  assert.match(await page.textContent('.help'), /Ctrl\+D/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('.help[hidden]', { state: 'attached' });
  await waitSettled(page);
  await context.close();
});
