// Files in and out of a board page (src/boardfile.ts, src/history.ts) in a
// real browser against a real node: a list picked from the "Import…" menu
// entry, an Excalidraw scene dropped on the canvas, a tldraw file and a CSV
// become elements for everyone, with what the node skipped listed, and
// what came in is shown selected; viewers get no import entry.
// The History panel lists the changes with their author, previews the
// board as it was (on the canvas: historyview.test.mjs), and restores a
// version for everyone after a confirmation (not offered to viewers).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitSettled, waitState } from './lib.mjs';
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

/** An Excalidraw scene: a rectangle with its bound text, a text, and an embeddable (which has no Corkboard kind). */
function scene() {
  const base = { angle: 0, strokeColor: '#1e1e1e', backgroundColor: 'transparent', isDeleted: false, strokeWidth: 2 };
  return JSON.stringify({
    type: 'excalidraw',
    version: 2,
    source: 'https://excalidraw.com',
    elements: [
      { ...base, id: 'rect1', type: 'rectangle', x: 100, y: 100, width: 200, height: 100, boundElements: [{ type: 'text', id: 'txt1' }] },
      { ...base, id: 'txt1', type: 'text', x: 120, y: 130, width: 160, height: 25, text: 'Boxed idea', containerId: 'rect1', fontSize: 20 },
      { ...base, id: 'txt2', type: 'text', x: 400, y: 100, width: 160, height: 25, text: 'Loose text', fontSize: 20 },
      { ...base, id: 'emb1', type: 'embeddable', x: 600, y: 100, width: 300, height: 200, link: 'https://example.com' },
    ],
    appState: {},
    files: {},
  });
}

test('import: a list from the menu, an Excalidraw scene dropped, a tldraw file, a CSV; skipped items listed, what came in selected, nothing for viewers', async () => {
  const b = await restBoard(node.url, 'Imports');
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const { page: peer } = await chrome.newPage();
  await openBoard(peer, node.url, b.id, b.tokens.editor, 'Ben');

  // The menu entry: a file chooser, a plain list of ideas.
  await page.waitForSelector('.cb-boardfile-btn:not([hidden])');
  await page.click('.cb-boardfile-btn');
  await page.waitForSelector('.cb-import:not([hidden])');
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('.cb-import')]);
  await chooser.setFiles({ name: 'ideas.txt', mimeType: 'text/plain', buffer: Buffer.from('Ship it\n- Test it\n• Tell people\n') });
  await page.waitForFunction(() => /Imported 3 elements from ideas\.txt\./.test(document.querySelector('.toast')?.textContent ?? ''));
  for (const p of [page, peer]) {
    await waitState(p, (s) => ['Ship it', 'Test it', 'Tell people'].every((t) => s.elements.some((e) => e.kind === 'note' && e.text === t)));
  }
  assert.equal(await page.isHidden('.cb-import-report'), true, 'nothing skipped: no report');

  // A scene dropped on the canvas (by the editor).
  await peer.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'sketch.excalidraw', { type: '' }));
    const c = document.querySelector('canvas');
    const r = c.getBoundingClientRect();
    c.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true, clientX: r.left + 200, clientY: r.top + 200 }));
  }, scene());
  for (const p of [page, peer]) {
    await waitState(p, (s) => s.elements.some((e) => e.kind === 'shape' && e.text === 'Boxed idea') && s.elements.some((e) => e.kind === 'text' && e.text === 'Loose text'));
  }
  await peer.waitForSelector('.cb-import-report:not([hidden])');
  const report = await peer.textContent('.cb-import-report');
  assert.match(report, /sketch\.excalidraw: 2 elements imported, 1 skipped/);
  assert.match(report, /embeddable: no matching kind/);
  assert.match(await peer.textContent('.toast'), /Imported 2 elements from sketch\.excalidraw; 1 skipped\./);
  await peer.click('.cb-import-report .close');
  assert.equal(await peer.isHidden('.cb-import-report'), true, 'the report closes');
  const s = await state(page);
  assert.equal(s.elements.length, 5, 'three notes, a shape and a text: the embeddable was not made');

  // A tldraw file from the menu: made, then shown selected on the importer's page.
  const rich = (t) => ({ type: 'doc', content: [{ type: 'paragraph', content: [{ type: 'text', text: t }] }] });
  const tldr = JSON.stringify({
    tldrawFileFormatVersion: 1,
    schema: { schemaVersion: 2 },
    records: [
      { typeName: 'page', id: 'page:p', name: 'Page 1' },
      { typeName: 'shape', id: 'shape:g', type: 'geo', x: 2000, y: 2000, rotation: 0, parentId: 'page:p', props: { w: 120, h: 60, geo: 'rectangle', color: 'blue', fill: 'solid', richText: rich('Goal') } },
      { typeName: 'shape', id: 'shape:n', type: 'note', x: 2200, y: 2000, parentId: 'page:p', props: { color: 'yellow', richText: rich('Sticky') } },
      { typeName: 'shape', id: 'shape:b', type: 'bookmark', x: 2000, y: 2400, parentId: 'page:p', props: { url: 'https://example.com' } },
    ],
  });
  await page.click('.cb-boardfile-btn');
  const [chooser2] = await Promise.all([page.waitForEvent('filechooser'), page.click('.cb-import')]);
  await chooser2.setFiles({ name: 'board.tldr', mimeType: '', buffer: Buffer.from(tldr) });
  await waitState(page, (s) => s.elements.some((e) => e.kind === 'shape' && e.text === 'Goal') && s.elements.some((e) => e.kind === 'note' && e.text === 'Sticky'));
  await page.waitForSelector('.cb-import-report:not([hidden])');
  assert.match(await page.textContent('.cb-import-report'), /board\.tldr: 2 elements imported, 1 skipped.*bookmark: no matching kind/s);
  await waitState(page, (s) => s.selection.length === 2);
  const sel = await state(page);
  assert.deepEqual(sel.selection.map((id) => sel.elements.find((e) => e.id === id)?.text).sort(), ['Goal', 'Sticky'], 'what came in is selected');
  const cam = await page.evaluate(() => window.__corkboard.camera());
  assert.ok(cam.x > 1000 && cam.y > 1000, `the view moved to what came in: ${JSON.stringify(cam)}`);

  // A CSV: its colours kept.
  await page.evaluate(() => window.__corkboard.boardFile.importFile(new File(['text,color\nAlpha,green\nBeta,blue\n'], 'ideas.csv', { type: 'text/csv' })));
  await waitState(page, (s) => s.elements.some((e) => e.text === 'Alpha' && e.color === 'green') && s.elements.some((e) => e.text === 'Beta' && e.color === 'blue'));
  const total = (await state(page)).elements.length;
  assert.equal(total, 9);

  // A file the node cannot read: said, nothing made.
  const err = await page.evaluate(async () => {
    const r = await window.__corkboard.boardFile.importFile(new File(['{"hello":1}'], 'other.json', { type: 'application/json' }));
    return { r, toast: document.querySelector('.toast').textContent };
  });
  assert.equal(err.r, null);
  assert.match(err.toast, /other\.json could not be imported: unknown file/);
  assert.equal((await state(page)).elements.length, total);

  // A viewer: no import entry, and a drop makes nothing.
  const { page: viewer } = await chrome.newPage();
  await openBoard(viewer, node.url, b.id, b.tokens.viewer, 'Cy');
  await viewer.waitForFunction(() => window.__corkboard.access?.view?.you.role === 'viewer');
  await viewer.click('.cb-boardfile-btn');
  await viewer.waitForSelector('.cb-boardfile:not([hidden])');
  assert.equal(await viewer.isHidden('.cb-import'), true, 'no Import… for a viewer');
  assert.equal(await viewer.isVisible('.cb-history'), true, 'a viewer may look at the history');
  await viewer.close();
  await peer.close();
  await page.close();
});

test('history: the timeline with authors, a preview of a past version, restore after a confirmation (comments left, and listed), none for viewers', async () => {
  const b = await restBoard(node.url, 'Timeline', { ownerName: 'Ada' });
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const n1 = fixedId(11);
  const n2 = fixedId(12);
  await edit(page, noteOps(n1, 0, 0, 'First idea', 'yellow', 'a0'));
  await waitSettled(page);
  await edit(page, noteOps(n2, 300, 0, 'Second idea', 'blue', 'a1'));
  await waitSettled(page);
  await edit(page, [{ op: 'delete', el: n1 }]);
  await waitSettled(page);
  // A comment (over the write API): the restore leaves it, and says so.
  const cr = await fetch(`${node.url}/v1/boards/${b.id}/elements/${n2}/comments`, { method: 'POST', headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' }, body: JSON.stringify({ text: 'Keep this one' }) });
  assert.equal(cr.status, 201, await cr.text());
  const { page: peer } = await chrome.newPage();
  await openBoard(peer, node.url, b.id, b.tokens.editor, 'Ben');
  await waitState(peer, (s, ids) => s.elements.length === 1 && s.elements[0].id === ids[1], [n1, n2]);

  await page.click('.cb-boardfile-btn');
  await page.click('.cb-history');
  await page.waitForSelector('dialog.cb-history[open] .timeline li[data-seq]');
  const rows = await page.$$eval('dialog.cb-history .timeline li[data-seq]', (ls) =>
    ls.map((l) => ({ seq: Number(l.dataset.seq), author: l.querySelector('.author').textContent, ops: l.querySelector('.ops').textContent, time: l.querySelector('time').textContent })),
  );
  assert.ok(rows.length >= 3, `at least the three edits: ${JSON.stringify(rows)}`);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].seq > rows[i].seq, 'newest first');
  for (const r of rows) {
    assert.equal(r.author, 'Ada', 'the owner by name');
    assert.match(r.ops, /^\d+ ops?$/);
    assert.ok(r.time.length > 0);
  }

  // The oldest entry: the first note alone.
  const oldest = rows[rows.length - 1].seq;
  await page.click(`dialog.cb-history .timeline li[data-seq="${oldest}"] .show`);
  await page.waitForSelector(`dialog.cb-history .preview[data-seq="${oldest}"] .elements li[data-id]`);
  const shown = await page.$$eval('dialog.cb-history .preview .elements li[data-id]', (ls) => ls.map((l) => [l.dataset.id, l.querySelector('.text').textContent]));
  assert.deepEqual(shown, [[n1, 'First idea']]);
  // Drawn on the canvas (historyview.test.mjs looks at its pixels).
  assert.deepEqual(await page.evaluate(() => window.__corkboard.history.view.board.all().map((e) => e.text.text)), ['First idea'], 'the past board on the canvas');
  assert.match(await page.textContent('dialog.cb-history .preview h3'), /\(1 element\)/);
  // Previewing changes nothing on the live board.
  assert.deepEqual((await state(page)).elements.map((e) => e.id), [n2]);

  // Restore: asked first; Cancel keeps everything.
  await page.click('dialog.cb-history .preview .restore');
  await page.waitForSelector('dialog.cb-history .confirm:not([hidden])');
  await page.click('dialog.cb-history .confirm .no');
  assert.equal(await page.isHidden('dialog.cb-history .confirm'), true);
  assert.deepEqual((await state(page)).elements.map((e) => e.id), [n2]);
  await page.click('dialog.cb-history .preview .restore');
  await page.click('dialog.cb-history .confirm .yes');
  await page.waitForSelector('dialog.cb-history .preview ul.skipped li');
  assert.match(await page.textContent('.toast'), /The board is back as it was at .*1 skipped\./);
  assert.deepEqual(await page.$$eval('dialog.cb-history .preview ul.skipped li', (ls) => ls.map((l) => l.textContent)), ["comment: comments are their authors'"]);
  assert.equal(await page.textContent('dialog.cb-history .note'), 'Restored, but for what is listed below.');
  await page.click('dialog.cb-history .close');
  for (const p of [page, peer]) {
    await waitState(p, (s, ids) => s.elements.length === 1 && s.elements[0].id === ids[0] && s.elements[0].text === 'First idea', [n1, n2]);
  }

  // A viewer sees the timeline and previews, without a restore button.
  const { page: viewer } = await chrome.newPage();
  await openBoard(viewer, node.url, b.id, b.tokens.viewer, 'Cy');
  await viewer.waitForFunction(() => window.__corkboard.access?.view?.you.role === 'viewer');
  await viewer.click('.cb-boardfile-btn');
  await viewer.click('.cb-history');
  await viewer.waitForSelector('dialog.cb-history[open] .timeline li[data-seq]');
  const newest = await viewer.getAttribute('dialog.cb-history .timeline li[data-seq]', 'data-seq');
  await viewer.click(`dialog.cb-history .timeline li[data-seq="${newest}"] .show`);
  await viewer.waitForSelector(`dialog.cb-history .preview[data-seq="${newest}"] .elements li[data-id]`);
  assert.equal(await viewer.isHidden('dialog.cb-history .preview .restore'), true, 'no restore for a viewer');
  await viewer.close();
  await peer.close();
  await page.close();
});

test('history: pages of 50, older ones on demand, none twice', async () => {
  const b = await restBoard(node.url, 'Long', { ownerName: 'Ada' });
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  for (let i = 0; i < 55; i++) await edit(page, noteOps(fixedId(100 + i), i * 10, 0, `Note ${i}`));
  await waitSettled(page);
  await page.click('.cb-boardfile-btn');
  await page.click('.cb-history');
  await page.waitForSelector('dialog.cb-history[open] .timeline li[data-seq]');
  const seqs = () => page.$$eval('dialog.cb-history .timeline li[data-seq]', (ls) => ls.map((l) => Number(l.dataset.seq)));
  assert.equal((await seqs()).length, 50, 'the newest 50');
  assert.equal(await page.isVisible('dialog.cb-history .more'), true, 'older changes to load');
  await page.click('dialog.cb-history .more');
  await page.waitForFunction(() => document.querySelectorAll('dialog.cb-history .timeline li[data-seq]').length > 50);
  const all = await seqs();
  assert.ok(all.length >= 55, `every change: ${all.length}`);
  assert.equal(new Set(all).size, all.length, 'no entry twice');
  for (let i = 1; i < all.length; i++) assert.ok(all[i - 1] > all[i], 'newest first across pages');
  assert.equal(Math.min(...all), 1, 'down to the first');
  assert.equal(await page.isHidden('dialog.cb-history .more'), true, 'nothing older');
  await page.close();
});
