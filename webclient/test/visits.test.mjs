// "Since your last visit" as people meet it (src/sincevisit.ts, notify.ts,
// server/api/activity.go): the board's creator, whose page keeps the
// creation token, gets their visits recorded like any signed-in member;
// the list says who did what to which element, named by its text.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitLive, waitSettled } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';
import { confirmJSON, mailLink, signInAPI, useSession } from './mail.mjs';

let node;
let chrome;

before(async () => {
  node = await startNode({ logLevel: 'info', publicURL: true });
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
});

/** Calls the REST API with a session. */
async function rest(method, path, session, body) {
  const r = await fetch(node.url + path, {
    method,
    headers: { Authorization: 'Session ' + session, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** A signed-in person's page on a board (in context, or a new one), with a board token when given. */
async function personPage(session, id, { context, token } = {}) {
  let page;
  if (context) page = await context.newPage();
  else {
    ({ context, page } = await chrome.newPage());
    await useSession(context, node, session);
  }
  await page.goto(`${node.url}/b/${id}${token ? '#token=' + encodeURIComponent(token) : ''}`);
  await waitLive(page);
  return { context, page };
}

/** A member invited by e-mail, signed in, with a display name: their session. */
async function invite(owner, id, email, name) {
  await rest('POST', `/v1/boards/${id}/invites`, owner, { email, role: 'editor' });
  const s = (await confirmJSON(await mailLink(node, email, /\/v1\/invites\//))).session;
  await rest('PATCH', '/v1/me', s, { name });
  return s;
}

/**
 * Waits (bounded) until the node has a visit of the session's person on
 * the board; returns its time (0: none within the bound). A poll of a real
 * process's store: it gives no other signal.
 */
async function seenAt(session, id, tries = 100) {
  for (let i = 0; i < tries; i++) {
    const r = await rest('GET', `/v1/boards/${id}/changes`, session);
    if (r.seenAt > 0) return r.seenAt;
    await new Promise((res) => setTimeout(res, 50));
  }
  return 0;
}

test("the creator's visits are recorded; the list names who did what to which element", async () => {
  const maya = await signInAPI(node, 'creator@example.com');
  await rest('PATCH', '/v1/me', maya, { name: 'Maya' });
  // Made while signed in: the page keeps the creation (owner) token.
  const made = await rest('POST', '/v1/boards', maya, { name: 'Retreat', access: 'members' });
  const id = made.board.id;
  const ana = await invite(maya, id, 'ana@example.com', 'Ana');
  const ben = await invite(maya, id, 'ben@example.com', 'Ben');
  const n1 = fixedId(1);
  const [m1, m2] = [fixedId(2), fixedId(3)];

  const m = await personPage(maya, id, { token: made.token });
  assert.equal(await m.page.evaluate(() => window.__corkboard.access.token !== undefined), true, 'the page uses the creation token');
  await edit(m.page, noteOps(n1, 0, 0, 'Lake walk'));
  await waitSettled(m.page);
  await m.page.close();
  assert.ok((await seenAt(maya, id)) > 0, "the creator's visit is recorded when her page closes");

  // Ana edits Maya's note and starts a mindmap; Ben votes for the note.
  const a = await personPage(ana, id);
  await edit(a.page, [{ op: 'insertText', el: n1, field: 'text', pos: 9, text: ' at dawn' }]);
  await edit(a.page, [
    { op: 'create', el: m1, kind: 'mindmap' }, { op: 'set', el: m1, key: 'x', value: 0 }, { op: 'set', el: m1, key: 'y', value: 500 },
    { op: 'insertText', el: m1, field: 'text', pos: 0, text: 'Goals' },
    { op: 'create', el: m2, kind: 'mindmap' }, { op: 'move', el: m2, parent: m1, posKey: 'a0' },
    { op: 'insertText', el: m2, field: 'text', pos: 0, text: 'Grow' },
  ]);
  await waitSettled(a.page);
  const b = await personPage(ben, id);
  assert.equal(await b.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 1), n1), true);
  await waitSettled(b.page);
  await a.context.close();
  await b.context.close();

  // Maya comes back with her token: only what the others did, each element named.
  const back = await personPage(maya, id, { context: m.context, token: made.token });
  const lines = await sinceLines(back.page, 3);
  assert.deepEqual(lines, ['Ana edited “Lake walk at dawn”', 'Ben voted for “Lake walk at dawn”', 'Ana added 2 mindmap nodes: “Goals” and “Grow”']);
  await m.context.close();
});

/** The lines of the "since your last visit" list once it has n of them. */
async function sinceLines(page, n) {
  await page.waitForFunction((n) => document.querySelectorAll('.fx-since .fx-change').length >= n, n);
  return page.$$eval('.fx-since .fx-change', (bs) => bs.map((x) => x.textContent));
}

test('one "since your last visit" view, with one count, naming each element', async () => {
  const maya = await signInAPI(node, 'one-view@example.com');
  await rest('PATCH', '/v1/me', maya, { name: 'Maya' });
  const made = await rest('POST', '/v1/boards', maya, { name: 'One view', access: 'members' });
  const id = made.board.id;
  const ana = await invite(maya, id, 'ana-one@example.com', 'Ana');
  const [n1, n2, n3] = [fixedId(11), fixedId(12), fixedId(13)];
  const m = await personPage(maya, id);
  await edit(m.page, noteOps(n1, 0, 0, 'Budget'));
  await waitSettled(m.page);
  await m.page.waitForFunction(() => window.__corkboard.features.since.ready);
  await m.page.close();
  assert.ok((await seenAt(maya, id)) > 0);

  const a = await personPage(ana, id);
  await edit(a.page, [{ op: 'insertText', el: n1, field: 'text', pos: 6, text: ' for travel' }]);
  await edit(a.page, noteOps(n2, 300, 0, 'Train tickets'));
  await edit(a.page, noteOps(n3, 600, 0, 'Hotel near the station'));
  await waitSettled(a.page);
  await a.context.close();

  const back = await personPage(maya, id, { context: m.context });
  const lines = await sinceLines(back.page, 2);
  assert.deepEqual(lines, ['Ana edited “Budget for travel”', 'Ana added 2 notes: “Train tickets” and “Hotel near the station”']);
  // One panel and one menu button about it, one count everywhere.
  const views = await back.page.evaluate(() => ({
    panels: [...document.querySelectorAll('.panel:not([hidden])')].filter((p) => /since (your )?last visit/i.test(p.textContent)).length,
    buttons: [...document.querySelectorAll('.fx-menu button:not([hidden])')].filter((b) => /visit|^New/i.test(b.textContent + ' ' + b.title)).map((b) => b.textContent),
    label: document.querySelector('.fx-since-label').textContent,
    badges: [...document.querySelectorAll('.fx-new')].map((b) => b.dataset.id).sort(),
  }));
  assert.equal(views.panels, 1, 'one panel');
  assert.deepEqual(views.buttons, ['New · 3'], 'one button, with the count');
  assert.match(views.label, /^3 changed since your last visit/);
  assert.deepEqual(views.badges, [n1, n2, n3].sort());
  // A line steps through the elements it names.
  await back.page.click('.fx-since .fx-change >> nth=1');
  assert.deepEqual((await back.page.evaluate(() => window.__corkboard.state().selection)), [n2]);
  await back.page.click('.fx-since .fx-change >> nth=1');
  assert.deepEqual((await back.page.evaluate(() => window.__corkboard.state().selection)), [n3]);
  await m.context.close();
});

test('your own note is never "new" to you, even when the tab dies a moment after adding it', async () => {
  const b = await restBoard(node.url, 'Quick exit', { ownerName: 'Ada' });
  const n1 = fixedId(21);
  const { context, page } = await chrome.newPage();
  // Through the editor link: the node cannot tell her changes from those
  // of anyone else holding it.
  await openBoard(page, node.url, b.id, b.tokens.editor, 'Ada');
  await page.waitForFunction(() => window.__corkboard.features.since.ready);
  // Ada adds a note; the node has it; the tab dies at once (no pagehide,
  // nothing stored after: a killed tab, a closed laptop).
  await edit(page, noteOps(n1, 0, 0, 'Mine'));
  await waitSettled(page);
  const cdp = await context.newCDPSession(page);
  const crashed = page.waitForEvent('crash');
  cdp.send('Page.crash').catch(() => {}); // never answers: the page is gone
  await crashed;
  const again = await context.newPage();
  await again.goto(`${node.url}/b/${b.id}`);
  await waitLive(again);
  await again.waitForFunction(() => window.__corkboard.features.since.ready);
  const listed = await again.evaluate(() => window.__corkboard.features.since.visible());
  assert.ok(!listed.includes(n1), 'her own note is not new to her');
  await context.close();
});
