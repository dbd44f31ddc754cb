// The web client in a real browser (Debian's Chromium, headless) against a
// real node: collaboration between two browser contexts, offline edits that
// merge, and an outbox that survives a reload. Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converged, createBoard, drag, editElement, launch, offlineShell, startNode, state, toScreen, waitLive, waitSettled, waitState } from './lib.mjs';

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

test('two people on one board: notes appear, moves converge, cursors show', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id } = await createBoard(a.page, node.url, 'Together', 'Ada');
  // Bob opens the plain board link: a guest of a public board.
  await b.page.addInitScript(() => localStorage.setItem('cb.name', 'Bob'));
  await b.page.goto(`${node.url}/b/${id}`);
  await waitLive(b.page);
  assert.equal((await state(b.page)).role, 'editor');

  // Ada double-clicks the canvas: a note, typed into in place.
  await a.page.mouse.dblclick(400, 300);
  await a.page.keyboard.type('Ship it');
  await a.page.keyboard.press('Escape');
  let sb = await waitState(b.page, (s) => s.elements.length === 1 && s.elements[0].text === 'Ship it');
  const note = sb.elements[0];
  assert.equal(note.kind, 'note');

  // Bob sees Ada among those here, and her cursor.
  await a.page.mouse.move(700, 500);
  await waitState(b.page, (s) => s.peers.includes('Ada'));

  // Bob drags the note; Ada sees it land where he dropped it.
  const from = await toScreen(b.page, note.x + 100, note.y + 100);
  await drag(b.page, from, { x: from.x + 150, y: from.y + 80 });
  sb = await waitState(b.page, (s, n) => s.elements[0].x !== n.x, note);
  const moved = sb.elements[0];
  await waitState(a.page, (s, m) => s.elements[0].x === m.x && s.elements[0].y === m.y, moved);

  // Undo is of one's own changes: Ada's undo takes back her typing, and
  // leaves Bob's move alone; redo brings the text back.
  await a.page.keyboard.press('Control+z');
  await waitState(b.page, (s, m) => s.elements[0].text === '' && s.elements[0].x === m.x, moved);
  await a.page.keyboard.press('Control+Shift+z');
  await waitState(b.page, (s) => s.elements[0].text === 'Ship it');

  // Both drag the same note at once, to different places: one position wins everywhere.
  const fa = await toScreen(a.page, moved.x + 100, moved.y + 100);
  const fb = await toScreen(b.page, moved.x + 100, moved.y + 100);
  await Promise.all([drag(a.page, fa, { x: fa.x - 200, y: fa.y }), drag(b.page, fb, { x: fb.x, y: fb.y + 200 })]);
  await Promise.all([waitSettled(a.page), waitSettled(b.page)]);
  const fin = await converged([a.page, b.page], (s) => `${s.elements[0].x},${s.elements[0].y}`);
  assert.ok(fin === `${moved.x - 200},${moved.y}` || fin === `${moved.x},${moved.y + 200}`, fin);
  await a.context.close();
  await b.context.close();
});

test('offline edits of one note by two people merge when back online', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Offline merge', 'Ada');
  await b.page.goto(`${node.url}/b/${id}?token=${token}`);
  await waitLive(b.page);
  await a.page.mouse.dblclick(500, 350);
  await a.page.keyboard.type('Hello');
  await a.page.keyboard.press('Escape');
  const { elements } = await waitState(b.page, (s) => s.elements.length === 1 && s.elements[0].text === 'Hello');
  const note = elements[0];

  // Bob loses the network; both keep editing the same text.
  await b.context.setOffline(true);
  await waitState(b.page, (s) => s.state === 'offline');
  await editElement(b.page, note);
  await b.page.keyboard.press('Control+Home');
  await b.page.keyboard.type('Bob says: ');
  await b.page.keyboard.press('Escape');
  await editElement(a.page, note);
  await a.page.keyboard.press('Control+End');
  await a.page.keyboard.type(', world');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);
  const sb = await state(b.page);
  assert.equal(sb.elements[0].text, 'Bob says: Hello');
  assert.ok(sb.unacked > 0, 'offline edits wait in the outbox');
  assert.match(await b.page.textContent('.conn'), /Offline · \d+ pending/);

  // Back online: the outbox goes out, both converge, nothing is lost.
  await b.context.setOffline(false);
  await waitSettled(b.page);
  const want = 'Bob says: Hello, world';
  await waitState(a.page, (s, t) => s.elements[0].text === t, want);
  await waitState(b.page, (s, t) => s.elements[0].text === t, want);

  // Live, both typing in the same note at once: each sees the other's
  // words arrive while typing, and keeps typing where they were.
  await editElement(a.page, note);
  await editElement(b.page, note);
  await a.page.keyboard.press('Control+End');
  await b.page.keyboard.press('Control+Home');
  for (const [wa, wb] of [['!', '>'], [' A1', ' B1'], [' A2', ' B2']]) {
    await Promise.all([a.page.keyboard.type(wa, { delay: 30 }), b.page.keyboard.type(wb, { delay: 30 })]);
    await a.page.waitForTimeout(400); // a commit each, crossing on the wire
  }
  await a.page.keyboard.press('Escape');
  await b.page.keyboard.press('Escape');
  const text = await converged([a.page, b.page], (s) => s.elements[0].text);
  assert.equal(text, '> B1 B2Bob says: Hello, world! A1 A2');
  await a.context.close();
  await b.context.close();
});

test('unsent changes survive a reload offline, then sync', async () => {
  const a = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Reload', 'Ada');
  // The offline shell: the service worker must be in control first.
  await offlineShell(a.page);
  await a.context.setOffline(true);
  await waitState(a.page, (s) => s.state === 'offline');
  await a.page.mouse.dblclick(300, 300);
  await a.page.keyboard.type('written offline');
  await a.page.keyboard.press('Escape');
  await a.page.click('button[data-tool=rectangle]');
  await a.page.mouse.click(700, 400);
  await waitState(a.page, (s) => s.elements.length === 2 && s.unacked >= 2);

  await a.page.reload();
  const s = await waitState(a.page, (s) => s.elements.length === 2);
  assert.equal(s.state, 'offline');
  assert.ok(s.unacked >= 2, `unacked after reload: ${s.unacked}`);
  assert.ok(s.elements.some((e) => e.text === 'written offline'));

  await a.context.setOffline(false);
  await waitSettled(a.page);
  // The node has them: read the board over REST.
  const r = await fetch(`${node.url}/v1/boards/${id}/state`, { headers: { Authorization: `Bearer ${token}` } });
  const board = await r.json();
  const live = board.elements.filter((e) => !e.deleted);
  assert.equal(live.length, 2);
  assert.ok(live.some((e) => e.kind === 'note' && e.text?.text === 'written offline'));
  assert.ok(live.some((e) => e.kind === 'shape' && e.props.shape === 'rectangle'));
  await a.context.close();
});

test('a node restart: the client reconnects and sends what it made meanwhile', async () => {
  const a = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Restart', 'Ada');
  await a.page.mouse.dblclick(400, 300);
  await a.page.keyboard.type('before');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);

  await node.halt(); // graceful: shutdown frame, close 1001
  await waitState(a.page, (s) => s.state !== 'live');
  await a.page.mouse.dblclick(800, 500);
  await a.page.keyboard.type('during');
  await a.page.keyboard.press('Escape');
  await node.start();
  // No help from here: the client's own backoff finds the node again.
  await waitSettled(a.page, 30000);
  const r = await fetch(`${node.url}/v1/boards/${id}/state`, { headers: { Authorization: `Bearer ${token}` } });
  const texts = (await r.json()).elements.map((e) => e.text?.text).sort();
  assert.deepEqual(texts, ['before', 'during']);
  await a.context.close();
});

test('a refused change: the client starts over as a new replica from the server copy', async () => {
  const a = await chrome.newPage();
  await createBoard(a.page, node.url, 'Refused', 'Ada');
  await a.page.mouse.dblclick(400, 300);
  await a.page.keyboard.type('kept');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);
  const before = await state(a.page);
  // A colour must be a string (docs/SCHEMA.md): the node refuses this with "schema".
  await a.page.evaluate((id) => window.__corkboard.app.edit([{ op: 'set', el: id, key: 'color', value: 42 }]), before.elements[0].id);
  const after = await waitState(a.page, (s, r) => s.replica !== r && s.state === 'live', before.replica);
  assert.equal(after.elements.length, 1);
  assert.equal(after.elements[0].text, 'kept');
  assert.equal(after.elements[0].color, 'yellow');
  assert.match(await a.page.textContent('.toast'), /refused/);
  // And the new replica works.
  await a.page.mouse.dblclick(800, 500);
  await a.page.keyboard.type('after');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);
  await a.context.close();
});

test('two tabs of one browser write as two replicas; a reload takes its replica back', async () => {
  const a = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Tabs', 'Ada');
  const tab2 = await a.context.newPage();
  await tab2.goto(`${node.url}/b/${id}?token=${token}`);
  await waitLive(tab2);
  const [r1, r2] = [(await state(a.page)).replica, (await state(tab2)).replica];
  assert.notEqual(r1, r2);
  await a.page.mouse.dblclick(400, 300);
  await a.page.keyboard.type('one');
  await a.page.keyboard.press('Escape');
  await tab2.mouse.dblclick(800, 300);
  await tab2.keyboard.type('two');
  await tab2.keyboard.press('Escape');
  const key = (s) => s.elements.map((e) => e.text).sort().join(',');
  assert.equal(await converged([a.page, tab2], key), 'one,two');
  await a.page.reload();
  await waitLive(a.page);
  assert.equal((await state(a.page)).replica, r1);
  await a.context.close();
});

test('a deleted board: the client stops reconnecting and says why', async () => {
  const a = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Doomed', 'Ada');
  const r = await fetch(`${node.url}/v1/boards/${id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  assert.ok(r.ok, `delete: ${r.status}`);
  await waitState(a.page, (s) => s.state === 'stopped');
  assert.match(await a.page.textContent('.conn'), /Disconnected: board deleted/);
  await a.context.close();
});
