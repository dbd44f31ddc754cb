// A big board's first visit, loaded in slices (src/steps.ts): the page
// draws frames while the snapshot loads into the CRDT and while its
// elements are read out, and changes that arrive meanwhile are kept, in a
// real browser against a real node. The page is told to load in slices
// from 32 KiB (globalThis.corkboardSteppedBytes; the default is 512 KiB).
// Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createBoard, launch, seedGrid, startNode, waitSettled } from './lib.mjs';

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

test('a big board loads in slices: frames drawn during the load, a change made during it kept, the board whole', async () => {
  const { context: c1, page: seeder } = await chrome.newPage();
  const { id, token } = await createBoard(seeder, node.url, 'Sliced', 'Ada');
  // 6,000 notes with a text each that does not compress much.
  const n = 6000;
  await seedGrid(seeder, n, true);
  await waitSettled(seeder);
  const snapBytes = await seeder.evaluate(() => window.__corkboard.app.doc.snapshot().length);

  // The visitor: a fresh profile. Every animation frame's time is kept;
  // when the snapshot arrives, a note is made on the node (a synchronous
  // request: its change reaches the page while the snapshot loads).
  const blueId = crypto.randomUUID();
  // A note made on the page while its board is read out of the CRDT; its
  // id sorts first, so the read has passed it by then.
  const localId = '00000000-0000-4000-8000-000000000001';
  const { context: c2, page } = await chrome.newPage();
  await page.addInitScript(
    ([board, token, blueId, localId]) => {
      globalThis.corkboardFarViewFrom = 100;
      globalThis.corkboardSteppedBytes = 32 << 10;
      window.__frames = [];
      const tick = (t) => {
        window.__frames.push(t);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
      const mark = performance.mark.bind(performance);
      window.__seen = {};
      performance.mark = (name, ...rest) => {
        const r = mark(name, ...rest);
        window.__seen[name] = r.startTime;
        if (name === 'corkboard:snapshot-in') {
          const x = new XMLHttpRequest();
          x.open('POST', `/v1/boards/${board}/changes`, false);
          x.setRequestHeader('authorization', 'Bearer ' + token);
          x.setRequestHeader('content-type', 'application/json');
          x.send(JSON.stringify({ actions: [{ op: 'create', element: blueId, kind: 'note', props: { x: 0, y: 0, w: 200, h: 200, color: 'blue', z: 'a1' } }] }));
          window.__seen.change = x.status;
        }
        // At the next frame (the read yields to frames; a timer would wait for its end).
        if (name === 'corkboard:snapshot-loaded')
          requestAnimationFrame(() => {
            const ops = [{ op: 'create', el: localId, kind: 'note' }, ...Object.entries({ x: 50, y: 50, w: 100, h: 100, color: 'green', z: 'a2' }).map(([key, value]) => ({ op: 'set', el: localId, key, value }))];
            window.__seen.local = window.__corkboard.app.edit(ops) ? performance.now() : -1;
          });
        return r;
      };
    },
    [id, token, blueId, localId],
  );
  await page.goto(`${node.url}/b/${id}`);
  await page.waitForFunction(() => window.__seen['corkboard:interactive'] !== undefined, null, { timeout: 60000 });
  const seen = await page.evaluate(() => ({ ...window.__seen, frames: window.__frames }));
  assert.equal(seen.change, 200, 'the change made during the load was accepted');
  const inside = (from, to) => seen.frames.filter((t) => t > seen[from] && t < seen[to]).length;
  const loading = inside('corkboard:snapshot-in', 'corkboard:snapshot-loaded');
  const all = inside('corkboard:snapshot-in', 'corkboard:elements-json');
  assert.ok(loading >= 1, `no frame was drawn while the snapshot (${snapBytes} bytes) loaded`);
  assert.ok(all >= 2, `${all} frames drawn while the snapshot loaded and the elements were read: ${JSON.stringify(seen, (k, v) => (k === 'frames' ? v.length : v))}`);

  assert.ok(seen.local > seen['corkboard:snapshot-loaded'] && seen.local < seen['corkboard:elements-json'], `the local note was made while the board was read (${seen.local})`);

  // The board whole, with the change made during the load and the note made during the read.
  await page.waitForFunction((id) => !!window.__corkboard.board.get(id), blueId, { timeout: 15000 });
  assert.ok(await page.evaluate((id) => !!window.__corkboard.board.get(id), localId), 'the note made during the read is on the board');
  const st = await page.evaluate(() => window.__corkboard.state());
  assert.equal(st.elements.length, n + 2, 'every note, the change and the local note');
  const want = await seeder.evaluate(() => window.__corkboard.state().elements.slice(0, 5));
  for (const e of want) assert.deepEqual(st.elements.find((x) => x.id === e.id), e, `note ${e.id} as the seeder has it`);
  await waitSettled(page);
  await c2.close();
  await c1.close();
});

// While the page reads a board loaded whole (Board.reading), saves of the
// doc wait: a save of a big board (a fifth of a second for 100,000
// elements) made the board editable that much later. Each time the save's
// timer comes while reading, it is put off again; once the read is over,
// the save is made.
test('saves of the doc wait while the board loaded whole is being read', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Saves wait', 'Ada');
  await waitSettled(page);
  await page.evaluate(() => {
    const { app, sync } = window.__corkboard;
    window.__saves = 0;
    window.__asked = 0;
    const save = sync.persistNow.bind(sync);
    sync.persistNow = () => {
      window.__saves++;
      return save();
    };
    // The save's timer asks whether the page is busy, and only it: each
    // question is a turn of the timer.
    const busy = sync.o.busy;
    sync.o.busy = () => {
      window.__asked++;
      return busy ? busy() : false;
    };
    app.reloadIds = new Set(); // as Board.remote(null) sets it while it reads
    sync.schedulePersist();
  });
  // Two turns of the save's timer (each put off while reading), or a save.
  await page.waitForFunction(() => window.__saves > 0 || window.__asked >= 2, null, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.__saves), 0, 'a save was made while the board was read');
  await page.evaluate(() => {
    window.__corkboard.app.reloadIds = null;
  });
  await page.waitForFunction(() => window.__saves > 0, null, { timeout: 15000 });
  await context.close();
});
