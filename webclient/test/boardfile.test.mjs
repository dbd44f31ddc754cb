// Files in and out of a board page (src/boardfile.ts, src/history.ts) in a
// real browser against a real node: a list picked from the "Import…" menu
// entry and an Excalidraw scene dropped on the canvas become elements for
// everyone, with what the node skipped listed; viewers get no import entry.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitState } from './lib.mjs';
import { openBoard, restBoard } from './fx.mjs';

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

test('import: a list from the menu, an Excalidraw scene dropped, skipped items listed, nothing for viewers', async () => {
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

  // A file the node cannot read: said, nothing made.
  const err = await page.evaluate(async () => {
    const r = await window.__corkboard.boardFile.importFile(new File(['{"hello":1}'], 'other.json', { type: 'application/json' }));
    return { r, toast: document.querySelector('.toast').textContent };
  });
  assert.equal(err.r, null);
  assert.match(err.toast, /other\.json could not be imported: unknown file/);
  assert.equal((await state(page)).elements.length, 5);

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
