// Conversion (convert.ts) and dots on mindmap nodes (votes.ts): a note
// becomes a mindmap node and back with its text, comments and everyone's
// dots (the node admits others' as moves, server/room/policy.go); a note
// dropped on a node becomes its subtopic; mindmap nodes take dots, which the
// summary counts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { centre, drag, launch, startNode, state, waitSettled, waitState } from './lib.mjs';
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

const set = (el, key, value) => ({ op: 'set', el, key, value });
const rootOps = (id, x, y, text) => [{ op: 'create', el: id, kind: 'mindmap' }, set(id, 'x', x), set(id, 'y', y), set(id, 'z', 'a5'), { op: 'insertText', el: id, field: 'text', pos: 0, text }];

/** What the page knows of one element: kind, text, dots, the threads pointing at it. */
function about(page, text) {
  return page.evaluate((t) => {
    const cb = window.__corkboard;
    const e = cb.state().elements.find((x) => x.text === t);
    if (!e) return null;
    const f = cb.features;
    return { id: e.id, kind: e.kind, parent: e.parent, dots: f.votes.tally(e.id).total, reacts: f.votes.tally(e.id).reacts, threads: f.comments.read().filter((x) => x.target === e.id).length };
  }, text);
}

test('a note becomes a mindmap node and back with its text, comments and everyone’s dots; undo brings them back', async () => {
  const b = await restBoard(node.url, 'Convert', { ownerName: 'Ada' });
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  const { context: bc, page: bob } = await chrome.newPage();
  await openBoard(bob, node.url, b.id, b.tokens.editor, 'Bob');
  const note = fixedId(1);
  await edit(ada, noteOps(note, 0, 0, 'Bike to work', 'green'));
  await ada.evaluate((n) => window.__corkboard.features.comments.create('Safer lanes first', { target: n, x: 200, y: 0 }), note);
  await ada.evaluate((n) => window.__corkboard.features.votes.vote(n, 2), note);
  await waitSettled(ada);
  // Bob's dot and reaction.
  await waitState(bob, (s, n) => s.elements.some((e) => e.id === n), note);
  await bob.evaluate((n) => window.__corkboard.features.votes.vote(n, 1), note);
  await bob.evaluate((n) => window.__corkboard.features.votes.react(n, '👍'), note);
  await waitSettled(bob);
  await ada.waitForFunction((n) => window.__corkboard.features.votes.tally(n).total === 3, note);
  const mineOn = (page, text) => page.evaluate((t) => {
    const cb = window.__corkboard;
    const e = cb.state().elements.find((x) => x.text === t);
    return e && { kind: e.kind, total: cb.features.votes.tally(e.id).total, mine: cb.features.votes.tally(e.id).mine, reacts: cb.features.votes.tally(e.id).reacts };
  }, text);
  /** Both see the element as kind with Ada's 2 dots, Bob's 1 and his 👍 (and nothing left anywhere else). */
  const bothSee = async (kind, what) => {
    for (const [page, mine] of [[ada, 2], [bob, 1]]) {
      await page.waitForFunction(([k]) => window.__corkboard.state().elements.length === 1 && window.__corkboard.state().elements[0].kind === k, [kind]);
      assert.deepEqual(await mineOn(page, 'Bike to work'), { kind, total: 3, mine, reacts: { '👍': 1 } }, what);
    }
  };

  // The context bar's button: Bob's dot and reaction move with it.
  await ada.evaluate((n) => window.__corkboard.features.host.select([n]), note);
  await ada.click('.context button[data-action=convert]');
  let now = await waitState(ada, (s) => s.elements.some((e) => e.text === 'Bike to work' && e.kind === 'mindmap'));
  assert.equal(now.elements.length, 1, 'the note is gone');
  let a = await about(ada, 'Bike to work');
  assert.deepEqual({ kind: a.kind, dots: a.dots, threads: a.threads, reacts: a.reacts }, { kind: 'mindmap', dots: 3, threads: 1, reacts: { '👍': 1 } });
  assert.deepEqual(now.selection, [a.id]);
  await waitSettled(ada); // the node took it
  await bothSee('mindmap', 'converted');
  const node1 = a.id;

  // Alt+M: back to a note.
  await ada.keyboard.press('Alt+m');
  now = await waitState(ada, (s) => s.elements.some((e) => e.text === 'Bike to work' && e.kind === 'note'));
  a = await about(ada, 'Bike to work');
  assert.deepEqual({ kind: a.kind, dots: a.dots, threads: a.threads }, { kind: 'note', dots: 3, threads: 1 });
  await waitSettled(ada);
  await bothSee('note', 'converted back');
  // Undo brings the mindmap node back whole, with everyone's dots, and again the first note.
  await ada.keyboard.press('Control+z');
  await waitState(ada, (s, id) => s.elements.length === 1 && s.elements[0].id === id, node1);
  await waitSettled(ada);
  await bothSee('mindmap', 'undone once');
  await ada.keyboard.press('Control+z');
  await waitState(ada, (s, id) => s.elements.length === 1 && s.elements[0].id === id, note);
  await waitSettled(ada);
  await bothSee('note', 'undone twice');
  assert.equal((await about(bob, 'Bike to work')).threads, 1);
  // The node counts them once: the tally and the summary.
  const res = await (await fetch(`${node.url}/v1/boards/${b.id}/voting`, { headers: { Authorization: 'Bearer ' + b.token } })).json();
  assert.deepEqual(res.result.map((r) => [r.element, r.dots]), [[note, 3]]);
  const sum = await (await fetch(`${node.url}/v1/boards/${b.id}/summary?format=json`, { headers: { Authorization: 'Bearer ' + b.token } })).json();
  assert.deepEqual(sum.ideas.map((i) => [i.element, i.votes]), [[note, 3]]);

  // Offline, Bob's dots do not move (the node would check them later, against what he did meanwhile): the toast says why.
  await ac.setOffline(true);
  await waitState(ada, (s) => s.state === 'offline');
  await ada.evaluate((n) => window.__corkboard.features.host.select([n]), note);
  await ada.click('.context button[data-action=convert]');
  await ada.waitForFunction(() => /only while you are connected/.test(document.querySelector('.toast').textContent));
  assert.equal((await about(ada, 'Bike to work')).kind, 'note');
  await ac.setOffline(false);
  await waitSettled(ada);
  await Promise.all([ac.close(), bc.close()]);
});

test('a note dropped on a mindmap node becomes its subtopic; mindmap nodes take dots, counted in the summary', async () => {
  const b = await restBoard(node.url, 'Drop', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const [root, note] = [fixedId(1), fixedId(2)];
  await edit(page, [...rootOps(root, 0, 0, 'Commute'), ...noteOps(note, 0, 300, 'Carpool')]);
  await page.evaluate(() => window.__corkboard.app.fit());
  const s = await waitState(page, (s) => s.elements.length === 2 && s.elements.every((e) => e.w > 0));
  const [r, n] = [s.elements.find((e) => e.id === root), s.elements.find((e) => e.id === note)];
  await drag(page, await centre(page, n), await centre(page, r), 12);
  const after = await waitState(page, (s, p) => s.elements.some((e) => e.text === 'Carpool' && e.kind === 'mindmap' && e.parent === p), root);
  assert.equal(after.elements.filter((e) => e.kind === 'note').length, 0);
  const child = after.elements.find((e) => e.text === 'Carpool');

  // Dots on the nodes: a badge on each, click to give one.
  await page.waitForSelector(`.fx-vote[data-id="${child.id}"]`);
  await page.click(`.fx-vote[data-id="${child.id}"]`);
  await page.click(`.fx-vote[data-id="${child.id}"]`);
  await page.click(`.fx-vote[data-id="${root}"]`);
  await page.waitForSelector(`.fx-vote[data-id="${child.id}"][data-total="2"]`);
  assert.deepEqual(await page.evaluate(() => window.__corkboard.features.votes.ranking()), [
    { id: child.id, total: 2 },
    { id: root, total: 1 },
  ]);
  await waitSettled(page);
  const r2 = await fetch(`${node.url}/v1/boards/${b.id}/summary?format=json`, { headers: { Authorization: 'Bearer ' + b.token } });
  const sum = await r2.json();
  const idea = sum.ideas.find((i) => i.element === child.id);
  assert.ok(idea, JSON.stringify(sum.ideas));
  assert.equal(idea.votes, 2);
  assert.equal(sum.ideas[0].element, child.id, 'ranked first');
  await context.close();
});

test('a conversion whose ack was lost is not sent again on reconnecting (the node has it, and would refuse it twice)', async () => {
  const b = await restBoard(node.url, 'Lost ack', { ownerName: 'Ada' });
  const { context: ac, page: ada } = await chrome.newPage();
  let dropAcks = false;
  let conn = null;
  // Routing reaches the page's own WebSockets, not a worker's: the first
  // visit's connection stays in the page (src/main.ts).
  await ada.addInitScript(() => (globalThis.corkboardSocketInPage = true));
  await ada.routeWebSocket(/\/ws/, (ws) => {
    const server = ws.connectToServer();
    conn = ws;
    server.onMessage((m) => {
      if (dropAcks && typeof m === 'string' && m.includes('"type":"ack"')) return;
      ws.send(m);
    });
  });
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  const { context: bc, page: bob } = await chrome.newPage();
  await openBoard(bob, node.url, b.id, b.tokens.editor, 'Bob');
  const note = fixedId(1);
  await edit(ada, noteOps(note, 0, 0, 'Bike to work', 'green'));
  await waitSettled(ada);
  await waitState(bob, (s, n) => s.elements.some((e) => e.id === n), note);
  await bob.evaluate((n) => window.__corkboard.features.votes.vote(n, 1), note);
  await waitSettled(bob);
  await ada.waitForFunction((n) => window.__corkboard.features.votes.tally(n).total === 1, note);
  const replica = (await state(ada)).replica;

  // The node applies the conversion, its ack never arrives, the connection drops.
  dropAcks = true;
  await ada.evaluate((n) => window.__corkboard.features.host.select([n]), note);
  await ada.click('.context button[data-action=convert]');
  await bob.waitForFunction(() => window.__corkboard.state().elements.some((e) => e.kind === 'mindmap'));
  assert.equal((await state(ada)).unacked, 1);
  const first = conn;
  dropAcks = false;
  await first.close({ code: 1001, reason: 'going away' });
  for (const end = Date.now() + 15000; conn === first; ) {
    assert.ok(Date.now() < end, 'the page never reconnected');
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitSettled(ada);
  const s = await state(ada);
  assert.equal(s.replica, replica, 'no refusal: the page did not start over under a new replica');
  assert.ok(!/refused/.test(await ada.evaluate(() => document.querySelector('.toast')?.textContent ?? '')));
  assert.deepEqual(s.elements.map((e) => e.kind), ['mindmap']);
  assert.equal(await ada.evaluate((id) => window.__corkboard.features.votes.tally(id).total, s.elements[0].id), 1);
  await Promise.all([ac.close(), bc.close()]);
});
