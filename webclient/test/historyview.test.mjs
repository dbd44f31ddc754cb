// The board's history drawn on the canvas (src/history.ts,
// src/historyview.ts) in a real browser against a real node: a past
// version is drawn by the board's own renderer where its elements were (a
// note deleted since is there, in its colour, on the past canvas and not on
// the live one), scrubbing with the arrow keys and the slider changes what
// is drawn, the elements an entry touched are outlined and tagged with its
// author, nothing edits the live board while a version is shown, a remote
// edit made meanwhile is on the live board after "Back to live"; "Restore
// this element" brings back exactly the element picked (not another deleted
// in the same change) for everyone; a viewer gets no restore.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, toScreen, waitSettled, waitState } from './lib.mjs';
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

/** Two animation frames: what was asked to be drawn is drawn. */
const frames = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

/** The colour [r, g, b] of a canvas (selector) at a board point, through the live camera (the past view shares it). */
function pixel(page, sel, x, y) {
  return page.evaluate(
    ([sel, x, y]) => {
      const c = document.querySelector(sel);
      const cam = window.__corkboard.camera();
      const dpr = c.width / c.getBoundingClientRect().width;
      const d = c.getContext('2d').getImageData(Math.round((x - cam.x) * cam.zoom * dpr), Math.round((y - cam.y) * cam.zoom * dpr), 1, 1).data;
      return [d[0], d[1], d[2]];
    },
    [sel, x, y],
  );
}

const BACKGROUND = [0xf7, 0xf7, 0xf5];
const isBackground = (p) => p.every((v, i) => Math.abs(v - BACKGROUND[i]) <= 20); // the grid's lines (#e6e6e2) included
/** A note's yellow (#fff176 or thereabouts): red and green high, blue well under. */
const isYellow = (p) => p[0] > 200 && p[1] > 200 && p[2] < 190;

/** The past board's live elements (ids sorted) and the version shown. */
function past(page) {
  return page.evaluate(() => {
    const v = window.__corkboard.history.view;
    return { seq: v.seq, ids: v.board.all().map((e) => e.id).sort(), changed: v.changed, selected: v.selected ?? null };
  });
}

/** Opens the History panel; resolves with the timeline's seqs, newest first, once the newest is drawn. */
async function openHistory(page) {
  await page.click('.cb-boardfile-btn');
  await page.click('.cb-history');
  await page.waitForSelector('dialog.cb-history[open] .timeline li[data-seq]');
  const seqs = await page.$$eval('dialog.cb-history .timeline li[data-seq]', (ls) => ls.map((l) => Number(l.dataset.seq)));
  await page.waitForSelector(`.cb-pastview[data-seq="${seqs[0]}"]`);
  return seqs;
}

/** Waits until the canvas shows the version after entry seq (and it is drawn). */
async function shown(page, seq) {
  await page.waitForSelector(`.cb-pastview[data-seq="${seq}"]`);
  await page.waitForSelector(`dialog.cb-history .preview[data-seq="${seq}"] h3`);
  await frames(page);
}

test('history on the canvas: a deleted note drawn where it was, scrubbing follows, the change outlined with its author, read-only, remote edits there after Back to live', async () => {
  const b = await restBoard(node.url, 'Past', { ownerName: 'Ada' });
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const { page: peer } = await chrome.newPage();
  await openBoard(peer, node.url, b.id, b.tokens.editor, 'Ben');
  const A = fixedId(31),
    B = fixedId(32),
    C = fixedId(33);
  await edit(page, noteOps(A, 0, 0, 'Alpha', 'yellow', 'a0'));
  await waitSettled(page);
  await edit(page, noteOps(B, 300, 0, 'Beta', 'yellow', 'a1'));
  await waitSettled(page);
  await edit(page, [{ op: 'delete', el: A }]);
  await waitSettled(page);
  await page.evaluate(() => window.__corkboard.app.camera.set({ x: -100, y: -100, zoom: 1 }));
  await page.evaluate((id) => window.__corkboard.features.host.select([id]), B);
  await frames(page);
  // A corner of each note, clear of its text.
  const inA = [30, 170],
    inB = [330, 170],
    inC = [630, 170];
  assert.ok(isBackground(await pixel(page, '.canvas', ...inA)), 'A is gone from the live board');
  const live = async () => JSON.stringify((await state(page)).elements);
  const before = await live();

  const seqs = await openHistory(page);
  assert.ok(seqs.length >= 3, JSON.stringify(seqs));
  const [sDel, sB, sA] = seqs;
  // The newest entry: A deleted, B alone; the deletion named in the panel.
  assert.deepEqual((await past(page)).ids, [B]);
  assert.match(await page.textContent('dialog.cb-history .preview .changed'), /Changed by Ada: “Alpha” \(deleted\)/);
  assert.match(await page.textContent('.cb-past-banner'), /Viewing the version of .* by Ada\s*Back to live/);
  // A, which it deleted, as a ghost where it was, saying who deleted it.
  await frames(page);
  assert.deepEqual(await page.$$eval('.cb-past-mark', (ms) => ms.map((m) => [m.dataset.id, m.className, m.textContent])), [[A, 'cb-past-mark cb-past-ghost', 'Deleted by Ada']]);
  const ghost = await page.locator('.cb-past-ghost').boundingBox();
  const a0 = await toScreen(page, 0, 0);
  assert.ok(Math.abs(ghost.x - a0.x) <= 2 && Math.abs(ghost.y - a0.y) <= 2 && Math.abs(ghost.width - 200) <= 2, `the ghost on A's box: ${JSON.stringify([ghost, a0])}`);

  // The entry that made B: A is on the past canvas, in its colour, at its place; not on the live one.
  await page.click(`dialog.cb-history .timeline li[data-seq="${sB}"] .show`);
  await shown(page, sB);
  const p1 = await past(page);
  assert.deepEqual(p1.ids, [A, B].sort());
  assert.deepEqual(p1.changed, [B], 'the change that made B');
  assert.ok(isYellow(await pixel(page, '.cb-past-canvas', ...inA)), `A drawn in the past: ${await pixel(page, '.cb-past-canvas', ...inA)}`);
  assert.ok(isBackground(await pixel(page, '.canvas', ...inA)), 'and still not live');
  assert.deepEqual((await state(page)).elements.map((e) => e.id), [B], 'the live board is as it was');
  // B, which this entry made, is outlined in the change's colour and tagged with its author.
  assert.deepEqual(await page.$$eval('.cb-past-mark', (ms) => ms.map((m) => [m.dataset.id, m.className, m.textContent])), [[B, 'cb-past-mark', 'Ada']]);
  const edge = await pixel(page, '.cb-past-canvas', 300 - 2, 100);
  const edgeLive = await pixel(page, '.canvas', 300 - 2, 100);
  assert.notDeepEqual(edge, edgeLive, 'an outline around B in the past');

  // Scrub: one older (the arrow key), then the newest (the slider's End).
  await page.keyboard.press('ArrowLeft');
  await shown(page, sA);
  assert.deepEqual((await past(page)).ids, [A]);
  assert.ok(isBackground(await pixel(page, '.cb-past-canvas', ...inB)), 'B not made yet');
  assert.ok(isYellow(await pixel(page, '.cb-past-canvas', ...inA)));
  assert.match(await page.textContent('dialog.cb-history .scrub .pos'), /^1 of \d+$/);
  await page.keyboard.press('ArrowRight');
  await shown(page, sB);
  await page.focus('dialog.cb-history .scrubber');
  await page.keyboard.press('End');
  await shown(page, sDel);
  assert.deepEqual((await past(page)).ids, [B]);
  assert.ok(isBackground(await pixel(page, '.cb-past-canvas', ...inA)), 'A deleted by then');

  // Read-only: the arrows scrubbed rather than nudge the live selection
  // (B), and the keys that would delete it, undo or make a note do nothing.
  assert.equal(await live(), before, 'the live board unchanged by the scrubbing');
  await page.mouse.click(...Object.values(await toScreen(page, 800, 600)));
  for (const k of ['Delete', 'Control+z', 'Control+d']) {
    await page.keyboard.press(k);
    await waitSettled(page);
    assert.equal(await live(), before, `${k} changed nothing on the live board`);
  }
  await page.keyboard.press('n');
  await page.mouse.dblclick(...Object.values(await toScreen(page, 800, 600)));
  await waitSettled(page);
  assert.equal(await live(), before, 'nothing made on the live board');
  assert.equal(await page.isVisible('.cb-pastview'), true, 'still previewing');

  // A remote edit while the past is shown: on the live board, not on the past canvas.
  await edit(peer, noteOps(C, 600, 0, 'Gamma', 'yellow', 'a2'));
  await waitState(page, (s, c) => s.elements.some((e) => e.id === c), C);
  await frames(page);
  assert.ok(isBackground(await pixel(page, '.cb-past-canvas', ...inC)), 'the past does not change');
  assert.deepEqual((await past(page)).ids, [B]);
  // Ben's change joins the timeline at the top; the version shown stays.
  await page.waitForFunction((top) => Number(document.querySelector('dialog.cb-history .timeline li[data-seq]')?.dataset.seq) > top, sDel);
  assert.equal(await page.textContent('dialog.cb-history .timeline li[data-seq] .author'), 'Ben');
  assert.equal(await page.getAttribute('dialog.cb-history .timeline li.active', 'data-seq'), String(sDel));
  assert.equal((await past(page)).seq, sDel);

  // Back to live: the cover is gone, C is drawn, A is not.
  await page.click('.cb-past-banner .back');
  await page.waitForSelector('.cb-pastview', { state: 'detached' });
  assert.equal(await page.isVisible('dialog.cb-history'), false, 'the panel closed');
  await frames(page);
  assert.ok(isYellow(await pixel(page, '.canvas', ...inC)), 'the remote note, live');
  assert.ok(isBackground(await pixel(page, '.canvas', ...inA)));
  assert.deepEqual((await state(page)).elements.map((e) => e.id).sort(), [B, C].sort());
  // The board is editable again.
  await page.evaluate((id) => window.__corkboard.features.host.select([id]), B);
  await page.keyboard.press('Delete');
  await waitState(page, (s, id) => !s.elements.some((e) => e.id === id), B);
  await peer.close();
  await page.close();
});

test('restore one element: exactly the one picked comes back, for everyone; a viewer gets no restore', async () => {
  const b = await restBoard(node.url, 'One back', { ownerName: 'Ada' });
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const { page: peer } = await chrome.newPage();
  await openBoard(peer, node.url, b.id, b.tokens.editor, 'Ben');
  const A = fixedId(41),
    B = fixedId(42),
    C = fixedId(43);
  await edit(page, noteOps(A, 0, 0, 'Alpha', 'yellow', 'a0'));
  await waitSettled(page);
  await edit(page, noteOps(B, 300, 0, 'Beta', 'blue', 'a1'));
  await waitSettled(page);
  await edit(page, noteOps(C, 600, 0, 'Gamma', 'green', 'a2'));
  await waitSettled(page);
  // A and B deleted in one change; C's text changed since.
  await edit(page, [
    { op: 'delete', el: A },
    { op: 'delete', el: B },
  ]);
  await edit(page, [{ op: 'insertText', el: C, field: 'text', pos: 5, text: '!' }]);
  await waitSettled(page);
  await waitState(peer, (s, c) => s.elements.length === 1 && s.elements[0].text === 'Gamma!', C);
  await page.evaluate(() => window.__corkboard.app.camera.set({ x: -100, y: -100, zoom: 1 }));

  const seqs = await openHistory(page);
  const sC = seqs[2]; // newest first: C's text, the deletion, C made
  await page.click(`dialog.cb-history .timeline li[data-seq="${sC}"] .show`);
  await shown(page, sC);
  assert.deepEqual((await past(page)).ids, [A, B, C].sort());
  assert.equal(await page.isHidden('dialog.cb-history .preview .selected'), true, 'nothing picked yet');
  // Pick A on the past canvas.
  const at = await toScreen(page, 100, 150);
  await page.mouse.click(at.x, at.y);
  await page.waitForSelector('dialog.cb-history .preview .selected:not([hidden])');
  assert.equal((await past(page)).selected, A);
  assert.equal(await page.textContent('dialog.cb-history .preview .selected .what'), 'Selected: “Alpha”');
  await page.click('dialog.cb-history .preview .restore-element');
  await page.waitForSelector('.cb-pastview', { state: 'detached' });
  for (const p of [page, peer]) {
    const s = await waitState(p, (s, a) => s.elements.some((e) => e.id === a), A);
    assert.deepEqual(
      s.elements.map((e) => [e.id, e.text]).sort(),
      [
        [A, 'Alpha'],
        [C, 'Gamma!'],
      ].sort(),
      'A back, B still deleted, C as it is now',
    );
  }
  await waitState(page, (s, a) => s.selection.length === 1 && s.selection[0] === a, A);
  assert.match(await page.textContent('.toast'), /“Alpha” is back as it was at /);

  // B from the entry that deleted it: its ghost is picked and comes back as it was just before.
  const seqs2 = await openHistory(page);
  const sDel = seqs2[2]; // newest first: A's restore, C's text, the deletion
  await page.click(`dialog.cb-history .timeline li[data-seq="${sDel}"] .show`);
  await shown(page, sDel);
  assert.deepEqual((await past(page)).ids, [C], 'after the deletion only C is drawn');
  const gat = await toScreen(page, 400, 150);
  await page.mouse.click(gat.x, gat.y);
  await page.waitForSelector('dialog.cb-history .preview .selected:not([hidden])');
  assert.equal((await past(page)).selected, B, 'the ghost of B is picked');
  await page.waitForSelector(`.cb-past-ghost.picked[data-id="${B}"]`); // marked at the next frame
  await page.click('dialog.cb-history .preview .restore-element');
  await page.waitForSelector('.cb-pastview', { state: 'detached' });
  for (const p of [page, peer]) {
    const s = await waitState(p, (s, b) => s.elements.some((e) => e.id === b), B);
    assert.deepEqual(
      s.elements.map((e) => [e.id, e.text]).sort(),
      [
        [A, 'Alpha'],
        [B, 'Beta'],
        [C, 'Gamma!'],
      ].sort(),
      'B back as it was before its deletion',
    );
  }

  // A viewer previews and picks, with no restore offered.
  const { page: viewer } = await chrome.newPage();
  await openBoard(viewer, node.url, b.id, b.tokens.viewer, 'Cy');
  await viewer.waitForFunction(() => window.__corkboard.access?.view?.you.role === 'viewer');
  await viewer.evaluate(() => window.__corkboard.app.camera.set({ x: -100, y: -100, zoom: 1 }));
  await openHistory(viewer);
  await viewer.click(`dialog.cb-history .timeline li[data-seq="${sC}"] .show`);
  await shown(viewer, sC);
  const vat = await toScreen(viewer, 400, 150);
  await viewer.mouse.click(vat.x, vat.y);
  await viewer.waitForSelector('dialog.cb-history .preview .selected:not([hidden])');
  assert.equal((await past(viewer)).selected, B);
  assert.equal(await viewer.isHidden('dialog.cb-history .preview .restore-element'), true, 'no element restore for a viewer');
  assert.equal(await viewer.isHidden('dialog.cb-history .preview .restore'), true, 'no version restore for a viewer');
  await viewer.keyboard.press('Escape');
  await viewer.waitForSelector('.cb-pastview', { state: 'detached' });
  await viewer.close();
  await peer.close();
  await page.close();
});
