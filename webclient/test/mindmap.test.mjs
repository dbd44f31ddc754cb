// Mindmaps in real browsers against a real node: growing a map with the
// keyboard, reparenting by drag as seen by a second person, collapse, two
// people editing one map (and one note) while one of them is offline, and
// undo that takes back only one's own change. Run by webclient/test/run.sh.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { centre, converged, createBoard, drag, editElement, launch, startNode, state, toScreen, waitLive, waitSettled, waitState } from './lib.mjs';
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

/** The mindmap nodes of a state, by text. */
function nodes(s) {
  return Object.fromEntries(s.elements.filter((e) => e.kind === 'mindmap').map((e) => [e.text, e]));
}

/** Clicks an element to select it. */
async function select(page, el) {
  const c = await centre(page, el);
  await page.mouse.click(c.x, c.y);
}

/** Makes a mindmap root with the toolbar's shortcut and names it. */
async function newRoot(page, x, y, name) {
  await page.keyboard.press('m');
  await page.mouse.click(x, y);
  await page.waitForSelector('textarea.editor:not([hidden])');
  await page.keyboard.type(name); // the default label is selected: typing replaces it
  await page.keyboard.press('Escape');
  return waitState(page, (s, n) => s.elements.some((e) => e.kind === 'mindmap' && e.text === n), name);
}

const open = (page, id, token) => openBoard(page, node.url, id, token);

test('a mindmap grows with Tab and Enter, lays itself out, and a reparent by drag shows for both', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Mindmap', 'Ada');
  await open(b.page, id, token);

  await newRoot(a.page, 300, 350, 'Plan');
  // Enter while editing a node makes a sibling, Tab a subtopic.
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.type('Design');
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('Build');
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('Ship');
  await a.page.keyboard.press('Escape');
  const sb = await waitState(b.page, (s) => ['Design', 'Build', 'Ship'].every((t) => s.elements.some((e) => e.kind === 'mindmap' && e.text === t)));
  let n = nodes(sb);
  for (const t of ['Design', 'Build', 'Ship']) {
    assert.equal(n[t].parent, n.Plan.id, `${t} is a subtopic of Plan`);
    assert.ok(n[t].x >= n.Plan.x + n.Plan.w, `${t} is laid out right of its parent`);
  }
  // Siblings in position-key order, top to bottom, without overlapping.
  assert.ok(n.Design.y + n.Design.h <= n.Build.y && n.Build.y + n.Build.h <= n.Ship.y, JSON.stringify([n.Design, n.Build, n.Ship].map((e) => [e.y, e.h])));
  // The layout is derived, so both replicas draw the same boxes.
  const na = nodes(await state(a.page));
  for (const t of ['Plan', 'Design', 'Build', 'Ship']) assert.deepEqual([na[t].x, na[t].y], [n[t].x, n[t].y], t);

  // Ada drags Ship onto Design: a subtopic of Design, on both screens.
  const from = await centre(a.page, na.Ship);
  const to = await centre(a.page, na.Design);
  await drag(a.page, from, to);
  await waitState(b.page, (s) => {
    const m = Object.fromEntries(s.elements.filter((e) => e.kind === 'mindmap').map((e) => [e.text, e]));
    return m.Ship.parent === m.Design.id;
  });
  n = nodes(await state(b.page));
  assert.ok(n.Ship.x >= n.Design.x + n.Design.w, 'Ship now sits right of Design');
  assert.equal(n.Build.parent, n.Plan.id);

  // Bob collapses Design: Ship is hidden for both; expanding brings it back.
  await select(b.page, n.Design);
  await b.page.keyboard.press('.');
  await waitState(a.page, (s, sid) => s.hidden.includes(sid) && !s.elements.some((e) => e.id === sid), n.Ship.id);
  await waitState(b.page, (s, sid) => s.hidden.includes(sid), n.Ship.id);
  await b.page.keyboard.press('.');
  await waitState(a.page, (s, sid) => s.elements.some((e) => e.id === sid), n.Ship.id);

  // Deleting a node hides its subtopics with it; undo restores them.
  const sa = await state(a.page);
  await select(a.page, nodes(sa).Design);
  await a.page.keyboard.press('Delete');
  await waitState(b.page, (s, sid) => !s.elements.some((e) => e.id === sid), n.Ship.id);
  await a.page.keyboard.press('Control+z');
  await waitState(b.page, (s, sid) => s.elements.some((e) => e.id === sid), n.Ship.id);
  await a.context.close();
  await b.context.close();
});

test('one person offline: both edit the same mindmap and note, and back online nothing is lost', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Offline mindmap', 'Ada');
  await open(b.page, id, token);
  await newRoot(a.page, 300, 300, 'Topic');
  await a.page.mouse.dblclick(800, 500);
  await a.page.keyboard.type('Hello');
  await a.page.keyboard.press('Escape');
  const s0 = await waitState(b.page, (s) => s.elements.some((e) => e.text === 'Hello') && s.elements.some((e) => e.text === 'Topic'));
  const root = nodes(s0).Topic;
  const note = s0.elements.find((e) => e.kind === 'note');

  await b.context.setOffline(true);
  await waitState(b.page, (s) => s.state === 'offline');
  // Bob, offline: a subtopic under Topic, Topic renamed, the note extended.
  await select(b.page, root);
  await b.page.keyboard.press('Tab');
  await b.page.keyboard.type('From Bob');
  await b.page.keyboard.press('Escape');
  await editElement(b.page, root);
  await b.page.keyboard.press('Control+End');
  await b.page.keyboard.type(' (Bob)');
  await b.page.keyboard.press('Escape');
  await editElement(b.page, note);
  await b.page.keyboard.press('Control+End');
  await b.page.keyboard.type(' from Bob');
  await b.page.keyboard.press('Escape');
  // Ada, online: the same node gets a subtopic and a new name, the note too.
  await select(a.page, root);
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.type('From Ada');
  await a.page.keyboard.press('Escape');
  await editElement(a.page, root);
  await a.page.keyboard.press('Control+Home');
  await a.page.keyboard.type('Ada: ');
  await a.page.keyboard.press('Escape');
  await editElement(a.page, note);
  await a.page.keyboard.press('Control+Home');
  await a.page.keyboard.type('Ada says ');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);
  const offline = await state(b.page);
  assert.ok(offline.unacked > 0, 'Bob’s edits wait in his outbox');
  assert.ok(!offline.elements.some((e) => e.text === 'From Ada'), 'Bob cannot see Ada’s edits while offline');

  await b.context.setOffline(false);
  await waitSettled(b.page);
  const key = (s) =>
    JSON.stringify(
      s.elements
        .filter((e) => e.kind === 'mindmap' || e.kind === 'note')
        .map((e) => [e.kind, e.text, e.parent ? s.elements.find((p) => p.id === e.parent)?.text ?? '?' : null, e.x, e.y])
        .sort(),
    );
  const merged = JSON.parse(await converged([a.page, b.page], key));
  const texts = merged.map((e) => e[1]);
  assert.ok(texts.includes('Ada: Topic (Bob)'), JSON.stringify(texts));
  assert.ok(texts.includes('Ada says Hello from Bob'), JSON.stringify(texts));
  const kids = merged.filter((e) => e[2] === 'Ada: Topic (Bob)').map((e) => e[1]).sort();
  assert.deepEqual(kids, ['From Ada', 'From Bob']);
  // Both subtopics laid out without overlapping.
  const [k1, k2] = merged.filter((e) => e[2] === 'Ada: Topic (Bob)');
  assert.notEqual(k1[4], k2[4]);
  await a.context.close();
  await b.context.close();
});

test('undo takes back one’s own reparent and leaves the other person’s later rename', async () => {
  const a = await chrome.newPage();
  const b = await chrome.newPage();
  const { id, token } = await createBoard(a.page, node.url, 'Undo mindmap', 'Ada');
  await open(b.page, id, token);
  await newRoot(a.page, 300, 350, 'Root');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.type('Left');
  await a.page.keyboard.press('Enter');
  await a.page.keyboard.type('Right');
  await a.page.keyboard.press('Escape');
  await waitSettled(a.page);
  let n = nodes(await state(a.page));
  // Ada moves Right under Left (one gesture: one undo step).
  await drag(a.page, await centre(a.page, n.Right), await centre(a.page, n.Left));
  await waitState(b.page, (s) => {
    const m = Object.fromEntries(s.elements.filter((e) => e.kind === 'mindmap').map((e) => [e.text, e]));
    return m.Right?.parent === m.Left?.id;
  });
  // Then Bob renames Right.
  n = nodes(await state(b.page));
  await editElement(b.page, n.Right);
  await b.page.keyboard.press('Control+End');
  await b.page.keyboard.type(' side');
  await b.page.keyboard.press('Escape');
  await waitState(a.page, (s) => s.elements.some((e) => e.text === 'Right side'));
  // Ada's undo: Right goes back under Root, still with Bob's name.
  await a.page.keyboard.press('Control+z');
  const want = (s) => {
    const m = Object.fromEntries(s.elements.filter((e) => e.kind === 'mindmap').map((e) => [e.text, e]));
    return m['Right side']?.parent === m.Root?.id;
  };
  await waitState(a.page, want);
  await waitState(b.page, want);
  await a.context.close();
  await b.context.close();
});

test('a subtopic dragged to empty canvas becomes a root there; a small slip snaps back', async () => {
  const { context, page } = await chrome.newPage();
  await createBoard(page, node.url, 'Detach', 'Ada');
  await newRoot(page, 300, 300, 'Hub');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Spoke');
  await page.keyboard.press('Escape');
  await waitSettled(page);
  let n = nodes(await state(page));
  const c = await centre(page, n.Spoke);
  // A slip of a few pixels: nothing changes.
  await drag(page, c, { x: c.x + 12, y: c.y + 8 });
  await waitSettled(page);
  let s = await state(page);
  assert.equal(nodes(s).Spoke.parent, n.Hub.id);
  assert.deepEqual([nodes(s).Spoke.x, nodes(s).Spoke.y], [n.Spoke.x, n.Spoke.y]);
  // Far away on empty canvas: a root of its own, where it was dropped, in one undo step.
  await drag(page, c, { x: c.x + 250, y: c.y + 300 });
  s = await waitState(page, (s) => s.elements.some((e) => e.text === 'Spoke' && e.parent === null));
  const spoke = nodes(s).Spoke;
  assert.ok(Math.abs(spoke.x - (n.Spoke.x + 250)) <= 2 && Math.abs(spoke.y - (n.Spoke.y + 300)) <= 2, JSON.stringify(spoke));
  await page.keyboard.press('Control+z');
  s = await waitState(page, (s, hub) => s.elements.some((e) => e.text === 'Spoke' && e.parent === hub), n.Hub.id);
  await waitSettled(page);
  await context.close();
});
