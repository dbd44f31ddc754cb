// The canvas beyond single elements, in real browsers against a real node:
// duplicate, copy and paste within and across boards (the system
// clipboard), and two-finger pinch zoom. Run by webclient/test/run.sh.
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

test('duplicate, and copy and paste within and across boards', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Copy from', 'Ada');
  const n1 = await note(page, 400, 300, 'Copy me');
  const n2 = await note(page, 800, 300, 'And me');
  await page.keyboard.press('l');
  await drag(page, await centre(page, n1), await centre(page, n2));
  await waitState(page, (s) => s.elements.some((e) => e.kind === 'connector'));

  // Duplicate one note: a copy 24 units off, same text, a new id, selected.
  await page.keyboard.press('Escape');
  await page.mouse.click((await centre(page, n1)).x, (await centre(page, n1)).y);
  await page.keyboard.press('Control+d');
  let s = await waitState(page, (s) => s.elements.filter((e) => e.text === 'Copy me').length === 2);
  const dup = s.elements.find((e) => e.text === 'Copy me' && e.id !== n1.id);
  assert.deepEqual([dup.x, dup.y], [n1.x + 24, n1.y + 24]);
  assert.deepEqual(s.selection, [dup.id]);
  // Undoing the duplicate deletes it and nothing else: the node takes the
  // undo (no refusal that would start the page over as a new replica).
  const replica = s.replica;
  await page.keyboard.press('Control+z');
  await waitState(page, (s) => s.elements.filter((e) => e.text === 'Copy me').length === 1);
  await waitSettled(page);
  s = await state(page);
  assert.equal(s.replica, replica);
  assert.equal(s.elements.filter((e) => e.text === 'Copy me').length, 1);

  // Select all three, copy, and paste on the same board: the
  // copied connector joins the copied notes, not the originals.
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Control+c');
  await page.mouse.move(600, 650);
  await page.keyboard.press('Control+v');
  s = await waitState(page, (s) => s.elements.length === 6);
  const copies = s.elements.filter((e) => ![n1.id, n2.id].includes(e.id) && e.kind === 'note');
  assert.deepEqual(copies.map((e) => e.text).sort(), ['And me', 'Copy me']);
  const conn = s.elements.filter((e) => e.kind === 'connector');
  const fresh = conn.find((e) => e.from.el !== n1.id);
  assert.ok(copies.some((e) => e.id === fresh.from.el) && copies.some((e) => e.id === fresh.to.el), 'the pasted connector is bound to the pasted notes');

  // Another board, in another tab: paste from the system clipboard.
  const other = await context.newPage();
  await createBoard(other, node.url, 'Paste to', 'Ada');
  await other.mouse.click(600, 400);
  await other.keyboard.press('Control+v');
  const so = await waitState(other, (s) => s.elements.length === 3);
  assert.deepEqual(so.elements.filter((e) => e.kind === 'note').map((e) => e.text).sort(), ['And me', 'Copy me']);
  const oc = so.elements.find((e) => e.kind === 'connector');
  assert.ok(so.elements.some((e) => e.id === oc.to.el), 'bound on the new board');
  await waitSettled(other);
  await waitSettled(page);
  await context.close();
});

test('two fingers pinch to zoom about their midpoint', async () => {
  const { context, page } = await chrome.newPage({ hasTouch: true });
  await createBoard(page, node.url, 'Pinch', 'Ada');
  const before = await page.evaluate(() => window.__corkboard.camera());
  // The board point under the fingers' midpoint stays under it.
  const mid = { x: 600, y: 400 };
  const under = { x: before.x + mid.x / before.zoom, y: before.y + mid.y / before.zoom };
  const cdp = await context.newCDPSession(page);
  const touch = (type, d) =>
    cdp.send('Input.dispatchTouchEvent', {
      type,
      touchPoints: type === 'touchEnd' ? [] : [
        { x: mid.x - d, y: mid.y, id: 1 },
        { x: mid.x + d, y: mid.y, id: 2 },
      ],
    });
  await touch('touchStart', 50);
  for (let d = 60; d <= 150; d += 10) await touch('touchMove', d);
  await touch('touchEnd', 150);
  const after = await page.evaluate(() => window.__corkboard.camera());
  assert.ok(after.zoom > before.zoom * 2.5 && after.zoom < before.zoom * 3.5, `zoom ${before.zoom} → ${after.zoom}`);
  const now = { x: after.x + mid.x / after.zoom, y: after.y + mid.y / after.zoom };
  assert.ok(Math.abs(now.x - under.x) < 2 && Math.abs(now.y - under.y) < 2, JSON.stringify({ under, now }));
  // No element was made or moved by the fingers.
  assert.equal((await state(page)).elements.length, 0);
  await context.close();
});

/** Pastes text as if from the system clipboard (a paste event with its data). */
function paste(page, text) {
  return page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.setData('text/plain', t);
    document.querySelector('canvas.canvas').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
  }, text);
}

const box = { x: 0, y: 0, w: 200, h: 200 };

test('pasted elements that do not fit the schema are left out, never sent and refused', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Bad paste', 'Ada');
  const { replica } = await state(page);
  const long = 'x'.repeat(70000); // more than one insert may carry
  const payload = {
    format: 'corkboard/elements',
    version: 1,
    board: 'elsewhere',
    elements: [
      { id: 'a', kind: 'note', props: { x: 10, y: 20, color: 'pink' }, text: { text: 'fine' }, box },
      { id: 'b', kind: 'note', props: { x: 'left', color: 5, w: 150 }, text: { text: 'typed' }, box },
      { id: 'c', kind: 'image', props: { alt: 'pic' }, text: { text: 'an image has no text' }, box },
      { id: 'd', kind: 'note', parent: 'a', pos: 'a0', props: {}, text: { text: 'a note under a note' }, box },
      { id: 'e', kind: '', props: { x: 1 }, text: {}, box },
      { id: 'f', kind: 'note', props: { z: 'not a key' }, text: { text: long }, box },
    ],
  };
  await paste(page, JSON.stringify(payload));
  await waitSettled(page);
  const s = await state(page);
  assert.equal(s.replica, replica, 'no change was refused (a refusal starts the page over as a new replica)');
  const by = Object.fromEntries(s.elements.map((e) => [e.text.length > 100 ? 'long' : e.text || e.kind, e]));
  assert.deepEqual(Object.keys(by).sort(), ['a note under a note', 'fine', 'image', 'long', 'typed']);
  assert.equal(by.typed.w, 150, 'the properties that fit are kept');
  assert.equal(by['a note under a note'].parent, null, 'a move the schema forbids is left out');
  assert.equal(by.long.text.length, 70000);
  await context.close();
});

test('random pastes never get a change refused', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Random paste', 'Ada');
  const { replica } = await state(page);
  // A small deterministic generator (mulberry32), so a failure can be replayed.
  let seed = 0x5eed;
  const rnd = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const kinds = ['note', 'shape', 'text', 'stroke', 'connector', 'image', 'frame', 'mindmap', 'comment', 'gadget', '', 'x'.repeat(200)];
  const keys = ['x', 'y', 'w', 'h', 'rot', 'z', 'color', 'fill', 'points', 'from', 'to', 'collapsed', 'author', 'shape', 'k'.repeat(200), ''];
  const values = [1, -5.5, 'pink', '#ff0000', '', 'a0', 'zz', true, false, null, [1, 2, 0.5], { el: 'nope' }, { x: 1, y: 2 }, 'v'.repeat(300)];
  const fields = ['text', 'title', 'label', 'nope'];
  let pasted = 0;
  for (let round = 0; round < 40; round++) {
    const n = 1 + Math.floor(rnd() * 5);
    const els = [];
    for (let i = 0; i < n; i++) {
      const props = {};
      for (let k = Math.floor(rnd() * 5); k > 0; k--) props[pick(keys)] = pick(values);
      const text = rnd() < 0.6 ? { [pick(fields)]: pick(['hi', 'é👍', 'line\nbreak', '']) } : {};
      const el = { id: 'e' + i, kind: pick(kinds), props, text, box: { x: rnd() * 500, y: rnd() * 500, w: 100, h: 80 } };
      if (i && rnd() < 0.4) {
        el.parent = 'e' + Math.floor(rnd() * i);
        el.pos = pick(['a0', 'a1', '', 'bad key']);
      }
      els.push(el);
    }
    let text = JSON.stringify({ format: 'corkboard/elements', version: 1, board: 'x', elements: els });
    if (rnd() < 0.15) text = text.slice(0, Math.floor(rnd() * text.length)); // cut short: not a payload (plain text)
    await paste(page, text);
    pasted++;
  }
  await waitSettled(page);
  const s = await state(page);
  assert.equal(pasted, 40);
  assert.equal(s.replica, replica, 'no change was refused');
  assert.ok(s.elements.length > 10, `pasted elements are on the board (${s.elements.length})`);
  await context.close();
});
