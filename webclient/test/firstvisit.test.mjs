// A first visit's early connection (src/early.ts): on a board this browser
// has never opened, the page says hello to the node before its code and
// the WebAssembly are loaded, and Sync takes that connection over; on a
// later visit it does not; and an early connection that no longer fits
// (the board is stored after all) is closed and the usual one is used.
// A first visit shows the board's content in view, wherever it lies.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, toScreen, waitLive, waitSettled } from './lib.mjs';
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

/** Records the page's WebSockets from now on: each with its sent JSON frames and whether it closed. */
function watchSockets(page) {
  const list = [];
  const onSocket = (ws) => {
    const rec = { ws, sent: [], closed: false };
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') rec.sent.push(JSON.parse(f.payload));
    });
    ws.on('close', () => (rec.closed = true));
    list.push(rec);
  };
  page.on('websocket', onSocket);
  return { list, stop: () => page.off('websocket', onSocket) };
}

/** Waits until the page shows element id with colour c. */
const colored = (page, id, c) => page.waitForFunction(([id, c]) => window.__corkboard.board.get(id)?.props.color === c, [id, c], { timeout: 15000 });

const hellos = (rec) => rec.sent.filter((f) => f.type === 'hello');

test('first visit: the connection opened at start is taken over; later visits and a stale mark use the usual one', async () => {
  const b = await restBoard(node.url, 'First visit', { ownerName: 'Ada' });
  const owner = await chrome.newPage();
  await openBoard(owner.page, node.url, b.id, b.tokens.owner, 'Ada');
  const ops = [];
  for (let i = 0; i < 30; i++) ops.push(...noteOps(fixedId(i), (i % 6) * 220, Math.floor(i / 6) * 220, 'note ' + i, 'yellow', 'a' + '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i]));
  assert.ok(await edit(owner.page, ops), 'the notes are made');
  await waitSettled(owner.page);

  // A fresh profile: the first visit.
  const guest = await chrome.newPage();
  let socks = watchSockets(guest.page);
  await openBoard(guest.page, node.url, b.id, b.tokens.editor, 'Bo');
  socks.stop();
  const st = await guest.page.evaluate(() => window.__corkboard.state());
  assert.equal(socks.list.length, 1, 'one connection on a first visit');
  const [hello] = hellos(socks.list[0]);
  assert.ok(hello, 'the early connection said hello');
  assert.deepEqual(hello.version, {}, 'as an empty doc');
  assert.equal(hello.replica, st.replica, 'as the replica the page then uses');
  assert.equal(hellos(socks.list[0]).length, 1, 'and only once');
  assert.equal(await guest.page.evaluate(() => window.__corkboard.board.all().length), 30);
  assert.equal(await guest.page.evaluate((id) => localStorage.getItem('cb.known.' + id), b.id), '1');

  // The taken-over connection carries edits both ways.
  await edit(guest.page, [{ op: 'set', el: fixedId(3), key: 'color', value: 'pink' }]);
  await edit(owner.page, [{ op: 'set', el: fixedId(4), key: 'color', value: 'blue' }]);
  await colored(owner.page, fixedId(3), 'pink');
  await colored(guest.page, fixedId(4), 'blue');
  await waitSettled(guest.page);
  await guest.page.evaluate(() => window.__corkboard.sync.persistNow());

  // A reload: the board is stored, so no early connection; the hello has the stored version.
  socks = watchSockets(guest.page);
  await guest.page.reload();
  await waitLive(guest.page);
  socks.stop();
  assert.equal(socks.list.length, 1, 'one connection on a later visit');
  const [again] = hellos(socks.list[0]);
  assert.ok(Object.keys(again.version).length > 0, 'the stored version');
  assert.equal(again.replica, st.replica, 'the same replica');

  // The mark gone but the board still stored: the early connection is made,
  // does not fit (another replica, a non-empty doc), and is closed unused.
  await guest.page.evaluate((id) => localStorage.removeItem('cb.known.' + id), b.id);
  socks = watchSockets(guest.page);
  await guest.page.reload();
  await waitLive(guest.page);
  socks.stop();
  assert.equal(socks.list.length, 2, 'the early connection and the usual one');
  // Which is which by their hellos: the early one's socket is a worker's
  // (src/workersocket.ts), made after the page's own may be, and closed
  // before it says hello if it had not opened yet.
  const usual = socks.list.find((r) => Object.keys(hellos(r)[0]?.version ?? {}).length > 0);
  const early = socks.list.find((r) => r !== usual);
  assert.ok(usual && early, 'one connection said hello with the stored version');
  if (!early.closed) await early.ws.waitForEvent('close', { timeout: 10000 }); // the page closed it
  assert.ok(hellos(early).length <= 1, 'the early connection said hello at most once');
  assert.deepEqual(hellos(early)[0]?.version ?? {}, {}, 'as an empty doc');
  assert.ok(hellos(usual)[0].replica === st.replica && Object.keys(hellos(usual)[0].version).length > 0, 'the usual hello, as the stored replica');
  const live = await guest.page.evaluate(() => ({ n: window.__corkboard.board.all().length, s: window.__corkboard.state() }));
  assert.equal(live.n, 30);
  assert.equal(live.s.replica, st.replica);
  assert.equal(await guest.page.evaluate((id) => localStorage.getItem('cb.known.' + id), b.id), '1', 'marked again');
  await edit(guest.page, [{ op: 'set', el: fixedId(5), key: 'color', value: 'green' }]);
  await colored(owner.page, fixedId(5), 'green');
  await guest.context.close();
  await owner.context.close();
});

/** Whether the whole of every element of the page's board is on its screen. */
async function allInView(page) {
  const els = await page.evaluate(() => window.__corkboard.board.all().map((e) => ({ x: e.x, y: e.y, w: e.w, h: e.h })));
  const size = await page.evaluate(() => ({ w: innerWidth, h: innerHeight }));
  for (const e of els) {
    const a = await toScreen(page, e.x, e.y);
    const b = await toScreen(page, e.x + e.w, e.y + e.h);
    if (a.x < 0 || a.y < 0 || b.x > size.w || b.y > size.h) return false;
  }
  return els.length > 0;
}

test('first visit: the content is in view wherever it lies; a change after that leaves the view alone', async () => {
  // Notes far from the origin, where a view with nothing kept starts: the
  // owner worked over there.
  const b = await restBoard(node.url, 'Far off', { ownerName: 'Ada' });
  const owner = await chrome.newPage();
  await openBoard(owner.page, node.url, b.id, b.tokens.owner, 'Ada');
  await edit(owner.page, [...noteOps(fixedId(1), 3000, 2000, 'Over here'), ...noteOps(fixedId(2), 3900, 2400, 'And here', 'pink', 'a1')]);
  await waitSettled(owner.page);

  // An invitee's first visit: both notes on the screen once live.
  const guest = await chrome.newPage();
  await openBoard(guest.page, node.url, b.id, b.tokens.editor, 'Bo');
  assert.equal(await guest.page.evaluate(() => window.__corkboard.board.all().length), 2);
  assert.ok(await allInView(guest.page), 'the notes are in view: ' + JSON.stringify(await guest.page.evaluate(() => window.__corkboard.camera())));

  // Live now: a note added far away does not move the view.
  const cam = await guest.page.evaluate(() => window.__corkboard.camera());
  await edit(owner.page, noteOps(fixedId(3), -5000, -5000, 'Elsewhere', 'blue', 'a2'));
  await guest.page.waitForFunction((id) => !!window.__corkboard.board.get(id), fixedId(3));
  assert.deepEqual(await guest.page.evaluate(() => window.__corkboard.camera()), cam, 'the view stays put');
  await guest.context.close();
  await owner.context.close();
});
