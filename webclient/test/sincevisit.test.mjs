// "Since your last visit" (src/sincevisit.ts): the browser stores the
// board's version when the page is left; what others changed meanwhile is
// highlighted on the next visit, listed and stepped through, until marked
// as seen; a reply is listed by the note its thread is on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitLive, waitSettled } from './lib.mjs';
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

/** Waits until the page has stored its visit with at least `version`, then leaves the board. */
async function leave(page, base, board, version) {
  // A bounded poll of the browser's own IndexedDB (the write is the page's, asynchronous).
  for (let i = 0; i < 100; i++) {
    const ok = await page.evaluate(
      async ([board, version]) => {
        const db = await new Promise((res, rej) => {
          const r = indexedDB.open('corkboard');
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        try {
          if (!db.objectStoreNames.contains('visits')) return false;
          const v = await new Promise((res) => {
            const r = db.transaction('visits').objectStore('visits').get(board);
            r.onsuccess = () => res(r.result);
            r.onerror = () => res(undefined);
          });
          return !!v && Object.entries(version).every(([k, c]) => (v.version[k] ?? 0) >= c);
        } finally {
          db.close();
        }
      },
      [board, version],
    );
    if (ok) {
      await page.goto(base + '/');
      return;
    }
    await page.waitForTimeout(50);
  }
  throw new Error('the visit was not stored');
}

const listed = (page) => page.evaluate(() => (window.__corkboard.features.since.ready ? window.__corkboard.features.since.visible() : null));

test("since your last visit: others' changes highlighted, stepped through, marked as seen", async () => {
  const b = await restBoard(node.url, 'Overnight', { ownerName: 'Ada' });
  const [n1, n2, n3] = [fixedId(41), fixedId(42), fixedId(43)];
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, [...noteOps(n1, 0, 0, 'Draft', 'yellow', 'a0'), ...noteOps(n2, 300, 0, 'Untouched', 'green', 'a1')]);
  await waitSettled(a.page);
  // A first visit: nothing to show.
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready);
  assert.deepEqual(await listed(a.page), []);
  const version = await a.page.evaluate(() => window.__corkboard.doc.version());
  await leave(a.page, node.url, b.id, version);

  // Overnight, Bob edits one note and adds another.
  const bob = await chrome.newPage();
  await openBoard(bob.page, node.url, b.id, b.tokens.editor, 'Bob');
  await edit(bob.page, [{ op: 'insertText', el: n1, field: 'text', pos: 0, text: 'Final ' }]);
  await edit(bob.page, noteOps(n3, 1200, 800, 'New idea', 'pink', 'a2'));
  await waitSettled(bob.page);
  await bob.context.close();

  // Ada comes back: both are highlighted, the untouched note is not.
  await a.page.goto(`${node.url}/b/${b.id}`);
  await waitLive(a.page);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready && window.__corkboard.features.since.visible().length > 0);
  assert.deepEqual(await listed(a.page), [n1, n3]);
  await a.page.waitForFunction(() => document.querySelectorAll('.fx-new').length === 2);
  assert.deepEqual((await a.page.$$eval('.fx-new', (es) => es.map((e) => e.dataset.id))).sort(), [n1, n3]);
  assert.match(await a.page.textContent('.fx-since-label'), /2 changed since your last visit/);
  const authors = await a.page.evaluate((id) => [...(window.__corkboard.features.since.authors.get(id) ?? [])], n3);
  assert.equal(authors.length, 1, 'who made it is known');

  // Next / previous zoom to each and select it.
  const centre = () =>
    a.page.evaluate(() => {
      const c = window.__corkboard.camera();
      return [Math.round(c.x + innerWidth / 2 / c.zoom), Math.round(c.y + innerHeight / 2 / c.zoom)];
    });
  await a.page.click('.fx-since .fx-next');
  assert.deepEqual((await a.page.evaluate(() => window.__corkboard.state().selection)), [n1]);
  assert.deepEqual(await centre(), [100, 100]);
  await a.page.click('.fx-since .fx-next');
  assert.deepEqual((await a.page.evaluate(() => window.__corkboard.state().selection)), [n3]);
  assert.deepEqual(await centre(), [1300, 900]);
  await a.page.click('.fx-since .fx-prev');
  assert.deepEqual((await a.page.evaluate(() => window.__corkboard.state().selection)), [n1]);
  assert.match(await a.page.textContent('.fx-since-label'), /^1 \/ 2 changed/);

  // Mark all as seen: the highlights go, and stay gone on the next visit.
  await a.page.click('.fx-since .fx-seen');
  await a.page.waitForFunction(() => document.querySelectorAll('.fx-new').length === 0);
  await a.page.reload();
  await waitLive(a.page);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready);
  assert.deepEqual(await listed(a.page), []);
  await a.context.close();
});

test('visits stored by the older client in a database of their own are moved into the one store', async () => {
  const b = await restBoard(node.url, 'Moved', { ownerName: 'Ada' });
  const n = fixedId(51);
  const bob = await chrome.newPage();
  await openBoard(bob.page, node.url, b.id, b.tokens.editor, 'Bob');
  await edit(bob.page, noteOps(n, 0, 0, 'While you were away', 'pink', 'a0'));
  await waitSettled(bob.page);
  await bob.context.close();

  // Ada's browser has a visit of the board from before Bob's note, kept
  // where the older client kept visits (written from a page of the node's
  // origin that runs no client code).
  const a = await chrome.newPage();
  await a.page.goto(node.url + '/favicon.svg');
  await a.page.evaluate(
    (board) =>
      new Promise((resolve, reject) => {
        const r = indexedDB.open('corkboard-visits', 2);
        r.onupgradeneeded = () => r.result.createObjectStore('visits', { keyPath: 'board' });
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const tx = r.result.transaction('visits', 'readwrite');
          tx.objectStore('visits').put({ board, version: {}, at: Date.now() - 86_400_000 });
          tx.oncomplete = () => {
            r.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    b.id,
  );
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready);
  assert.deepEqual(await listed(a.page), [n], 'the old visit was found');
  const names = await a.page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name).sort());
  assert.deepEqual(names, ['corkboard'], 'the old database is gone');
  await a.context.close();
});

test("since your last visit: a reply is named by the note its thread is on, not by the thread's first comment", async () => {
  const b = await restBoard(node.url, 'Replies', { ownerName: 'Olivia Park' });
  const n = fixedId(61);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Olivia Park');
  await edit(a.page, noteOps(n, 0, 0, 'Sunrise hike on Saturday', 'yellow', 'a0'));
  const thread = await a.page.evaluate((target) => window.__corkboard.features.comments.create('Sunrise is at 7, @Olivia Park', { target, x: 0, y: 0 }), n);
  assert.ok(thread, 'the thread was made');
  await waitSettled(a.page);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready);
  await leave(a.page, node.url, b.id, await a.page.evaluate(() => window.__corkboard.doc.version()));

  const bob = await chrome.newPage();
  await openBoard(bob.page, node.url, b.id, b.tokens.editor, 'Ben Okri');
  await bob.page.waitForFunction((id) => window.__corkboard.features.comments.read().some((t) => t.id === id), thread);
  assert.ok(await bob.page.evaluate((id) => window.__corkboard.features.comments.reply(id, 'Count me in'), thread), 'the reply was made');
  await waitSettled(bob.page);
  await bob.context.close();

  await a.page.goto(`${node.url}/b/${b.id}`);
  await waitLive(a.page);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready && window.__corkboard.features.since.groups.length > 0);
  const lines = await a.page.evaluate(() => window.__corkboard.features.since.groups.map((g) => g.text));
  const reply = lines.find((l) => l.includes('replied'));
  assert.ok(reply, `no line of the reply: ${lines}`);
  assert.match(reply, /replied on “Sunrise hike on Saturday”$/);
  assert.ok(!lines.some((l) => l.includes('Sunrise is at 7')), `a line names the thread's first comment: ${lines}`);
  // The list's button steps to the note, highlighted as new.
  assert.deepEqual(await listed(a.page), [n]);
  await a.page.waitForFunction((id) => document.querySelector(`.fx-new[data-id="${id}"]`), n);
  await a.context.close();
});

test('a view fitted on arrival keeps the notes clear of "since your last visit"', async () => {
  // Three rows of notes, far from the origin.
  const b = await restBoard(node.url, 'Rows', { ownerName: 'Ada' });
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  const ids = [];
  const ops = [];
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 4; c++) {
      const id = fixedId(60 + r * 4 + c);
      ids.push(id);
      ops.push(...noteOps(id, 4000 + c * 260, 3000 + r * 260, `row ${r} note ${c}`, 'yellow', 'a' + 'ABCDEFGHIJKL'[r * 4 + c]));
    }
  await edit(a.page, ops);
  await waitSettled(a.page);
  assert.equal(await a.page.evaluate(() => window.__corkboard.board.all().length), 12);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready);
  await leave(a.page, node.url, b.id, await a.page.evaluate(() => window.__corkboard.doc.version()));

  // Bob edits two notes; Ada comes back with no view kept (another
  // device's view, or a cleared one): the page fits the board in view.
  const bob = await chrome.newPage();
  await openBoard(bob.page, node.url, b.id, b.tokens.editor, 'Bob');
  await edit(bob.page, [
    { op: 'insertText', el: ids[0], field: 'text', pos: 0, text: 'Bob: ' },
    { op: 'insertText', el: ids[9], field: 'text', pos: 0, text: 'Bob: ' },
  ]);
  await waitSettled(bob.page);
  await bob.context.close();
  await a.page.evaluate((board) => localStorage.removeItem('cb.cam.' + board), b.id);
  await a.page.goto(`${node.url}/b/${b.id}`);
  await waitLive(a.page);
  await a.page.waitForFunction(() => window.__corkboard.features.since.ready && window.__corkboard.features.since.visible().length === 2);
  await a.page.waitForFunction(() => !document.querySelector('.fx-since').hidden);
  // Two frames for the observer's fit to be drawn.
  await a.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const covered = await a.page.evaluate((ids) => {
    const n = document.querySelector('.fx-notices').getBoundingClientRect();
    const c = document.querySelector('canvas').getBoundingClientRect();
    const cam = window.__corkboard.camera();
    const out = [];
    for (const id of ids) {
      const e = window.__corkboard.board.get(id);
      const x0 = c.left + (e.x - cam.x) * cam.zoom,
        y0 = c.top + (e.y - cam.y) * cam.zoom;
      const x1 = x0 + e.w * cam.zoom,
        y1 = y0 + e.h * cam.zoom;
      if (x1 < 0 || y0 < 0 || x0 > innerWidth || y1 > innerHeight) out.push(id + ' out of view');
      else if (x0 < n.right && x1 > n.left && y0 < n.bottom && y1 > n.top) out.push(id + ' under the notices');
    }
    return out;
  }, ids);
  assert.deepEqual(covered, [], 'every note in view and none under the panel');
  await a.context.close();
});
