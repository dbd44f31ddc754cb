// The board kept in the browser (src/store.ts, "parts"), in a real
// browser against a real node: a big board's doc is stored as the node's
// snapshot as it came, then what changed after it appended as parts (no
// encoding of the whole doc at each save); the parts outgrowing a quarter
// of the snapshot make the next save a snapshot again; a reload offline
// shows everything the parts hold; and a board stored the version-2 way
// (the snapshot in the replica's record) is read and moved to parts.
// The page is told to store parts from 16 KiB
// (globalThis.corkboardAppendFromBytes; the default is 512 KiB).
// Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createBoard, launch, offlineShell, seedGrid, startNode, state, waitLive, waitSettled, waitState } from './lib.mjs';

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

/** The replica records of a board and their stored parts, read from the page's IndexedDB (sizes and a checksum per part). */
function stored(page, board) {
  return page.evaluate(async (board) => {
    const db = await new Promise((res, rej) => {
      const r = indexedDB.open('corkboard');
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const all = (name, range) =>
      new Promise((res, rej) => {
        const r = db.transaction(name).objectStore(name).getAll(range);
        r.onsuccess = () => res(r.result);
        r.onerror = () => rej(r.error);
      });
    try {
      const sum = (b) => {
        let h = 0;
        for (let i = 0; i < b.length; i++) h = (h * 31 + b[i]) | 0;
        return h;
      };
      const recs = await all('replicas', IDBKeyRange.bound([board, ''], [board, '\uffff']));
      const out = [];
      for (const rec of recs) {
        const parts = db.objectStoreNames.contains('parts') ? await all('parts', IDBKeyRange.bound([board, rec.replica, 0], [board, rec.replica, Number.MAX_SAFE_INTEGER])) : [];
        const outbox = await all('outbox', IDBKeyRange.bound([board, rec.replica, 0], [board, rec.replica, Number.MAX_SAFE_INTEGER]));
        out.push({
          replica: rec.replica,
          legacy: !!rec.snapshot,
          docBytes: rec.docBytes,
          outbox: outbox.length,
          parts: parts.map((p) => {
            const kind = p.snapshot ? 'snapshot' : p.batch ? 'batch' : 'change';
            const b = p.snapshot ?? p.batch ?? p.change;
            return { n: p.n, kind, len: b.length, sum: sum(b) };
          }),
        });
      }
      return out;
    } finally {
      db.close();
    }
  }, board);
}

/** Records every save's mode on the page (the corkboard:persist measures) in window.__saves. */
const watchSaves = (appendFrom) => {
  globalThis.corkboardAppendFromBytes = appendFrom;
  window.__saves = [];
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) if (e.name === 'corkboard:persist') window.__saves.push(e.detail.mode);
  }).observe({ type: 'measure', buffered: true });
};

/** Waits until a save of this mode is made after the first `after` saves; returns how many saves there were then. */
async function savedAs(page, mode, after = 0) {
  await page.waitForFunction(([mode, after]) => window.__saves.slice(after).includes(mode), [mode, after], { timeout: 15000 });
  return page.evaluate(() => window.__saves.length);
}

/** Saves now, and waits until that save (or the one it was folded into) is written. */
async function saveNow(page) {
  const n = await page.evaluate(() => window.__saves.length);
  await page.evaluate(() => window.__corkboard.sync.persistNow());
  await page.waitForFunction((n) => window.__saves.length > n, n, { timeout: 15000 });
  return page.evaluate(() => window.__saves.at(-1));
}

test("a big board is stored as the node's snapshot, then its changes as parts; a reload offline shows them all", async () => {
  const { context: c1, page: seeder } = await chrome.newPage();
  const { id, token } = await createBoard(seeder, node.url, 'Parts', 'Ada');
  await seedGrid(seeder, 400, true);
  await waitSettled(seeder);

  const { context: c2, page } = await chrome.newPage();
  await page.addInitScript(watchSaves, 16 << 10);
  await page.goto(`${node.url}/b/${id}?token=${token}`);
  await waitState(page, (s) => s.state === 'live' && s.elements.length === 400);
  // A first visit: the node's snapshot, stored as it came (no encoding).
  await savedAs(page, 'node-snapshot');
  let [rec] = await stored(page, id);
  assert.equal(rec.parts[0].kind, 'snapshot');
  assert.ok(rec.parts[0].len > 16 << 10, `snapshot ${rec.parts[0].len} bytes`);
  assert.equal(rec.docBytes, rec.parts[0].len);
  const snap = rec.parts[0];

  // A change from the node, and a note made here: appended as parts.
  await seeder.evaluate(() => {
    const app = window.__corkboard.app;
    const id = crypto.randomUUID();
    app.edit([{ op: 'create', el: id, kind: 'note' }, { op: 'set', el: id, key: 'x', value: -500 }, { op: 'set', el: id, key: 'y', value: -500 }, { op: 'set', el: id, key: 'w', value: 200 }, { op: 'set', el: id, key: 'h', value: 200 }, { op: 'insertText', el: id, field: 'text', pos: 0, text: 'from the node' }]);
  });
  await waitState(page, (s) => s.elements.some((e) => e.text === 'from the node'));
  await page.evaluate(() => {
    const app = window.__corkboard.app;
    const id = crypto.randomUUID();
    app.edit([{ op: 'create', el: id, kind: 'note' }, { op: 'set', el: id, key: 'x', value: -900 }, { op: 'set', el: id, key: 'y', value: -500 }, { op: 'set', el: id, key: 'w', value: 200 }, { op: 'set', el: id, key: 'h', value: 200 }, { op: 'insertText', el: id, field: 'text', pos: 0, text: 'made here' }]);
  });
  await waitSettled(page);
  // A save after the ack: the acked change leaves the outbox for a part.
  assert.equal(await saveNow(page), 'parts');
  [rec] = await stored(page, id);
  assert.deepEqual(rec.parts[0], snap, 'the snapshot is not written again');
  const kinds = rec.parts.slice(1).map((p) => p.kind);
  assert.ok(kinds.includes('batch') && kinds.includes('change'), `parts after the snapshot: ${kinds}`);
  assert.equal(rec.outbox, 0);
  // The page's count of the parts after the snapshot is what is stored.
  assert.equal(await page.evaluate(() => window.__corkboard.sync.stored.tail), rec.parts.slice(1).reduce((n, p) => n + p.len, 0));

  // Offline, a reload reads the snapshot and the parts: everything is there.
  await offlineShell(page);
  const before = (await state(page)).elements.map((e) => e.id + e.text).sort();
  await c2.setOffline(true);
  await page.reload();
  const s = await waitState(page, (s, n) => s.elements.length === n, before.length);
  assert.equal(s.state, 'offline');
  assert.equal(s.unacked, 0);
  assert.deepEqual(s.elements.map((e) => e.id + e.text).sort(), before);
  await c2.setOffline(false);
  await waitLive(page);
  await c1.close();
  await c2.close();
});

test('parts outgrowing a quarter of the snapshot make the next save a snapshot', async () => {
  const { context: c1, page: seeder } = await chrome.newPage();
  const { id, token } = await createBoard(seeder, node.url, 'Compaction', 'Ada');
  const ids = await seedGrid(seeder, 400, true);
  await waitSettled(seeder);

  const { context: c2, page } = await chrome.newPage();
  await page.addInitScript(watchSaves, 16 << 10);
  await page.goto(`${node.url}/b/${id}?token=${token}`);
  await waitState(page, (s) => s.state === 'live' && s.elements.length === 400);
  let saves = await savedAs(page, 'node-snapshot');
  const [first] = await stored(page, id);
  // Every note's words rewritten on the node, in batches: more than a
  // quarter of the snapshot's bytes.
  await seeder.evaluate((ids) => {
    const app = window.__corkboard.app;
    for (let i = 0; i < ids.length; i += 50) app.edit(ids.slice(i, i + 50).map((el) => ({ op: 'insertText', el, field: 'text', pos: 0, text: crypto.randomUUID() + ' ' })));
  }, ids);
  await waitSettled(seeder);
  await waitState(page, (s) => s.elements.every((e) => e.text.length > 70));
  saves = await savedAs(page, 'snapshot', saves);
  await saveNow(page);
  const [rec] = await stored(page, id);
  assert.equal(rec.parts[0].kind, 'snapshot');
  assert.notEqual(rec.parts[0].sum, first.parts[0].sum, 'a new snapshot');
  // Whatever came after that snapshot, no more than a quarter of it.
  const tail = rec.parts.slice(1).reduce((n, p) => n + p.len, 0);
  assert.ok(tail <= rec.docBytes / 4, `${tail} bytes of parts after ${rec.docBytes}`);
  // And it holds the board: a reload offline shows every rewritten note.
  await offlineShell(page);
  const want = (await state(page)).elements.map((e) => e.id + e.text).sort();
  await c2.setOffline(true);
  await page.reload();
  const s = await waitState(page, (s, n) => s.elements.length === n, want.length);
  assert.equal(s.state, 'offline');
  assert.deepEqual(s.elements.map((e) => e.id + e.text).sort(), want);
  await c1.close();
  await c2.close();
});

test('a board stored the version-2 way (its snapshot in the replica record) is read offline, then moved to parts', async () => {
  const { context, page } = await chrome.newPage();
  await page.addInitScript(watchSaves, 512 << 10);
  const { id } = await createBoard(page, node.url, 'Old store', 'Ada');
  await seedGrid(page, 50);
  await waitSettled(page);
  await offlineShell(page);
  const want = (await state(page)).elements.map((e) => e.id + e.text).sort();
  const old = await page.evaluate(() => ({
    replica: window.__corkboard.sync.replica,
    rec: { ...window.__corkboard.sync.record },
    snapshot: Array.from(window.__corkboard.doc.snapshot()),
  }));
  // Off the board page (no connection to the database), the database is
  // made again as version 2 had it, with the board's doc in the record.
  await page.goto(`${node.url}/healthz`);
  await page.evaluate(async ({ board, old }) => {
    const boards = await new Promise((res, rej) => {
      const r = indexedDB.open('corkboard');
      r.onsuccess = () => {
        const g = r.result.transaction('boards').objectStore('boards').getAll();
        g.onsuccess = () => {
          r.result.close();
          res(g.result);
        };
      };
      r.onerror = () => rej(r.error);
    });
    await new Promise((res, rej) => {
      const r = indexedDB.deleteDatabase('corkboard');
      r.onsuccess = res;
      r.onerror = () => rej(r.error);
      // blocked: until the board page (kept for going back) lets go of it.
    });
    await new Promise((res, rej) => {
      const r = indexedDB.open('corkboard', 2);
      r.onupgradeneeded = () => {
        const db = r.result;
        db.createObjectStore('boards', { keyPath: 'id' });
        db.createObjectStore('replicas', { keyPath: ['board', 'replica'] });
        db.createObjectStore('outbox', { keyPath: ['board', 'replica', 'start'] });
        db.createObjectStore('visits', { keyPath: 'board' });
        for (const b of boards) r.transaction.objectStore('boards').put(b);
        const rec = { board, replica: old.replica, token: old.rec.token, userId: old.rec.userId, role: old.rec.role, userName: old.rec.userName, snapshot: new Uint8Array(old.snapshot), updated: Date.now() };
        r.transaction.objectStore('replicas').put(rec);
      };
      r.onsuccess = () => {
        r.result.close();
        res();
      };
      r.onerror = () => rej(r.error);
    });
  }, { board: id, old });

  // Offline: only the stored doc can show the notes.
  await context.setOffline(true);
  await page.goto(`${node.url}/b/${id}`);
  const s = await waitState(page, (s, n) => s.elements.length === n, want.length);
  assert.equal(s.replica, old.replica, 'the stored replica is taken up');
  assert.deepEqual(s.elements.map((e) => e.id + e.text).sort(), want);
  await context.setOffline(false);
  await waitLive(page);
  await saveNow(page);
  assert.equal(await page.evaluate(() => window.__saves[0]), 'snapshot', 'a version-2 doc is stored anew');
  const [rec] = await stored(page, id);
  assert.equal(rec.legacy, false, 'the record no longer holds the snapshot');
  assert.equal(rec.parts[0].kind, 'snapshot');
  assert.equal(rec.docBytes, rec.parts[0].len);
  await context.close();
});

test('a tab of an older version holding the database does not stop the page; the page lets a newer version have it', async () => {
  const { context, page } = await chrome.newPage();
  const { id, token } = await createBoard(page, node.url, 'Blocked', 'Ada');
  await page.goto(`${node.url}/healthz`);
  // The database made again at version 2, and held open there as an older
  // tab holds it (it never closes for an upgrade).
  await page.evaluate(async () => {
    await new Promise((res, rej) => {
      const r = indexedDB.deleteDatabase('corkboard');
      r.onsuccess = res;
      r.onerror = () => rej(r.error);
    });
    window.__old = await new Promise((res, rej) => {
      const r = indexedDB.open('corkboard', 2);
      r.onupgradeneeded = () => ['boards', 'replicas', 'outbox', 'visits'].forEach((s, i) => r.result.createObjectStore(s, { keyPath: i === 0 ? 'id' : i === 3 ? 'board' : i === 1 ? ['board', 'replica'] : ['board', 'replica', 'start'] }));
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
  });
  const b = await context.newPage();
  await b.goto(`${node.url}/b/${id}?token=${token}`);
  // The page goes on without IndexedDB rather than wait for that tab.
  await waitLive(b);
  await page.evaluate(() => window.__old.close());
  await b.close();

  // The page holding version 3 lets a newer version open the database.
  const c = await context.newPage();
  await c.goto(`${node.url}/b/${id}?token=${token}`);
  await waitLive(c);
  const upgraded = await page.evaluate(
    () =>
      new Promise((res) => {
        const r = indexedDB.open('corkboard', 4);
        r.onsuccess = () => {
          r.result.close();
          res('opened');
        };
        r.onblocked = () => setTimeout(() => res('blocked'), 5000);
        r.onerror = () => res('error: ' + r.error);
      }),
  );
  assert.equal(upgraded, 'opened');
  await context.close();
});

test('a stored snapshot that cannot be read: the replica’s own changes stored after it still keep a new change from reusing their counters', async () => {
  const { context: c1, page: seeder } = await chrome.newPage();
  const { id, token } = await createBoard(seeder, node.url, 'Broken snapshot', 'Ada');
  await seedGrid(seeder, 400, true);
  await waitSettled(seeder);
  const { context, page } = await chrome.newPage();
  await page.addInitScript(watchSaves, 16 << 10);
  await page.goto(`${node.url}/b/${id}?token=${token}`);
  await waitState(page, (s) => s.state === 'live' && s.elements.length === 400);
  await savedAs(page, 'node-snapshot');
  await page.evaluate(() => {
    const el = crypto.randomUUID();
    window.__corkboard.app.edit([{ op: 'create', el, kind: 'note' }, { op: 'set', el, key: 'x', value: -900 }, { op: 'set', el, key: 'y', value: -500 }, { op: 'insertText', el, field: 'text', pos: 0, text: 'mine' }]);
  });
  await waitSettled(page);
  assert.equal(await saveNow(page), 'parts');
  const mine = await page.evaluate(() => ({ replica: window.__corkboard.sync.replica, end: window.__corkboard.doc.version()[window.__corkboard.sync.replica] }));
  assert.ok(mine.end > 0);
  await offlineShell(page);
  // The stored snapshot overwritten with bytes no CRDT reads.
  await page.goto(`${node.url}/healthz`);
  await page.evaluate(
    ([board, replica]) =>
      new Promise((res, rej) => {
        const r = indexedDB.open('corkboard');
        r.onsuccess = () => {
          const tx = r.result.transaction('parts', 'readwrite');
          tx.objectStore('parts').put({ board, replica, n: 0, snapshot: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
          tx.oncomplete = () => {
            r.result.close();
            res();
          };
          tx.onerror = () => rej(tx.error);
        };
        r.onerror = () => rej(r.error);
      }),
    [id, mine.replica],
  );
  // Offline: the page starts from what it can read; a note made now takes new counters.
  await context.setOffline(true);
  await page.goto(`${node.url}/b/${id}`);
  await waitState(page, (s) => s.state === 'offline');
  assert.equal((await state(page)).replica, mine.replica);
  await page.evaluate(() => {
    const el = crypto.randomUUID();
    window.__corkboard.app.edit([{ op: 'create', el, kind: 'note' }, { op: 'insertText', el, field: 'text', pos: 0, text: 'after' }]);
  });
  const starts = await page.evaluate(() => window.__corkboard.sync.pending.map((p) => p.start));
  assert.ok(starts.length > 0 && starts.every((s) => s > mine.end), `new change starts ${starts}, own changes stored up to ${mine.end}`);
  await c1.close();
  await context.close();
});
