// What the board page says over the board (featurekit.ts notices,
// account.ts, voting.ts, sincevisit.ts, features.ts): notices are stacked,
// never over one another, and each can be put away; a deadline is shown
// before it passes, said when it passes, and gone at once on Reopen; words
// the node refused are kept where their author can copy them.
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

/** Calls the REST API with a board token. */
async function rest(method, path, token, body) {
  const r = await fetch(node.url + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The visible notices at the board's top: their class, box, and whether they have a visible close button. */
function notices(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('.cb-banner, .fx-since, .cb-voting')]
      .filter((e) => !e.hidden && e.getClientRects().length)
      .map((e) => {
        const r = e.getBoundingClientRect();
        const close = [...e.querySelectorAll('button')].find((b) => !b.hidden && b.getClientRects().length && /^(×|Hide)$/.test(b.getAttribute('aria-label') ?? b.title ?? ''));
        return { cls: e.className, box: [r.left, r.top, r.right, r.bottom], close: !!close };
      }),
  );
}

const overlap = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];

test('after a vote closes, a non-owner can put every notice away, and none covers another', async () => {
  const b = await restBoard(node.url, 'Vote', { ownerName: 'Ada' });
  const [n1, n2] = [fixedId(1), fixedId(2)];
  // Bob's first visit, seen to the end.
  const { context: bc, page: bob } = await chrome.newPage();
  await openBoard(bob, node.url, b.id, b.tokens.editor, 'Bob');
  await bob.waitForFunction(() => window.__corkboard.features.since.ready);
  await bob.evaluate(() => window.__corkboard.features.since.markSeen());
  await bob.goto(node.url + '/');

  // Ada adds two ideas and runs a vote on them.
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  await edit(ada, [...noteOps(n1, 0, 0, 'Picnic'), ...noteOps(n2, 250, 0, 'Museum', 'green', 'a1')]);
  await waitSettled(ada);
  await rest('POST', `/v1/boards/${b.id}/voting`, b.token, { dots: 2 });
  await ada.evaluate(() => window.__corkboard.access.refresh());
  assert.equal(await ada.evaluate((id) => window.__corkboard.features.votes.vote(id, 1), n1), true);
  await waitSettled(ada);
  await rest('POST', `/v1/boards/${b.id}/voting/close`, b.token);

  // Bob comes back: what changed, voting closed, and the result.
  await bob.goto(`${node.url}/b/${b.id}`);
  await waitLive(bob);
  await bob.waitForSelector('.fx-since:not([hidden])');
  await bob.waitForSelector('.cb-voting[data-state=closed] .result:not([hidden]) li');
  await bob.waitForSelector('.cb-banner[data-reason=voting]:not([hidden])');
  const shown = await notices(bob);
  assert.equal(shown.length, 3, JSON.stringify(shown));
  for (let i = 0; i < shown.length; i++) {
    assert.ok(shown[i].close, `${shown[i].cls} can be put away`);
    for (let j = i + 1; j < shown.length; j++) assert.ok(!overlap(shown[i].box, shown[j].box), `${shown[i].cls} and ${shown[j].cls} do not overlap`);
  }
  // Each goes when put away; the voting bar comes back from the menu.
  for (const sel of ['.cb-voting', '.cb-banner', '.fx-since']) {
    await bob.click(`${sel} button[aria-label=Hide], ${sel} button[title=Hide]`);
    await bob.waitForSelector(sel, { state: 'hidden' });
  }
  assert.deepEqual(await notices(bob), []);
  await bob.click('.cb-voting-btn');
  await bob.waitForSelector('.cb-voting[data-state=closed]:not([hidden])');
  await bc.close();
  await ac.close();
});

/** Records every toast the page shows from now on (window.__toasts). */
function recordToasts(page) {
  return page.evaluate(() => {
    window.__toasts = [];
    const t = document.querySelector('.toast');
    new MutationObserver(() => !t.hidden && window.__toasts.push(t.textContent)).observe(t, { childList: true, characterData: true, subtree: true, attributes: true, attributeFilter: ['hidden'] });
  });
}

test('a deadline: counted down before, said when it passes, refused words kept to copy, gone at once on Reopen', async () => {
  const b = await restBoard(node.url, 'Deadline', { ownerName: 'Ada' });
  const { context: cc, page: cleo } = await chrome.newPage();
  await openBoard(cleo, node.url, b.id, b.tokens.editor, 'Cleo');
  await recordToasts(cleo);

  // A deadline a minute ahead: Cleo's page counts down to it (told at once by the node's settings frame).
  // A minute: far enough that a busy machine still shows the countdown before it passes.
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: Date.now() + 60000 });
  await cleo.waitForSelector('.topbar .fx-deadline:not([hidden])');
  const first = await cleo.textContent('.fx-deadline');
  // The page counts in the node's time as its clock offset estimates it,
  // which may put the node a few milliseconds behind: 60.002 s is "1:01".
  assert.match(first, /^Closes in (0:[0-5]\d|1:0[01])$/);
  await cleo.waitForFunction((t) => document.querySelector('.fx-deadline').textContent !== t, first);
  // Brought forward to a moment from now, it passes while Cleo watches: said in a toast and the banner;
  // the countdown goes; the page is read-only.
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: Date.now() + 1500 });
  await cleo.waitForSelector('.cb-banner[data-reason=deadline]:not([hidden])', { timeout: 20000 });
  await cleo.waitForFunction(() => window.__toasts.some((t) => /deadline has passed/.test(t)));
  // The countdown goes at its next tick (each second).
  await cleo.waitForSelector('.fx-deadline', { state: 'hidden', timeout: 3000 });
  assert.equal(await cleo.evaluate(() => window.__corkboard.app.canEdit), false);

  // Reopened, then closed again behind Cleo's back: her next note is refused, and its words are kept.
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: 0 });
  await cleo.evaluate(() => window.__corkboard.access.refresh());
  await cleo.waitForFunction(() => window.__corkboard.app.canEdit);
  // The node tells every page of a new deadline at once (the "settings"
  // frame): Cleo types while it is still on its way, as if her page had not
  // heard it yet (its settings frames are held back here).
  await cleo.evaluate(() => {
    const l = window.__corkboard.sync.listeners;
    for (let i = 0; i < l.length; i++) {
      const fn = l[i];
      l[i] = (f) => (f.type === 'settings' ? undefined : fn(f));
    }
  });
  // The page starting over waits for its store to forget the replica:
  // held here until the page's state is read (it said "live" meanwhile,
  // with the refused note still on the board).
  await cleo.evaluate(() => {
    const store = window.__corkboard.sync.o.store;
    const forget = store.deleteReplica.bind(store);
    store.deleteReplica = (...args) =>
      new Promise((done) => {
        window.__forget = () => done(forget(...args));
      });
  });
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: Date.now() - 1000 });
  const WORDS = 'Late idea: lunch by the lake';
  await edit(cleo, noteOps(fixedId(9), 0, 0, WORDS));
  await cleo.waitForSelector('.fx-kept:not([hidden])');
  assert.ok((await cleo.inputValue('.fx-kept textarea')).includes(WORDS));
  await cleo.waitForFunction(() => typeof window.__forget === 'function');
  assert.notEqual(await cleo.evaluate(() => window.__corkboard.state().state), 'live', 'the page says live while it starts over');
  await cleo.evaluate(() => window.__forget());
  await cleo.waitForFunction(() => window.__corkboard.state().state === 'live');
  assert.ok(!(await cleo.evaluate(() => window.__corkboard.state().elements.some((e) => e.id === '0190f5e2-7c3a-7d4e-9b1a-000000000009'))), 'the note itself is gone');
  // Kept across a reload, until discarded.
  await cleo.reload();
  await waitLive(cleo);
  await cleo.waitForSelector('.fx-kept:not([hidden])');
  assert.ok((await cleo.inputValue('.fx-kept textarea')).includes(WORDS));
  await cleo.click('.fx-kept .fx-close');
  await cleo.waitForSelector('.fx-kept', { state: 'hidden' });
  await cleo.click('.fx-kept-btn');
  await cleo.waitForSelector('.fx-kept:not([hidden])');
  await cleo.click('.fx-kept-discard');
  await cleo.waitForSelector('.fx-kept-btn', { state: 'hidden' });
  await cc.close();

  // Ada opens the closed board, and reopens it: no sign of "closed" is left once the node has answered.
  const { context: ac, page: ada } = await chrome.newPage();
  await openBoard(ada, node.url, b.id, b.token, 'Ada');
  await ada.waitForSelector('.cb-banner[data-reason=deadline]:not([hidden]) button');
  await ada.waitForSelector('.topbar .fx-role[data-role=closed]:not([hidden])');
  await ada.click('.cb-banner button:has-text("Reopen")');
  await ada.waitForSelector('.cb-banner', { state: 'hidden', timeout: 3000 });
  const after = await ada.evaluate(() => ({
    chip: !document.querySelector('.topbar .fx-role').hidden && document.querySelector('.topbar .fx-role').textContent,
    viewer: document.querySelector('#app').classList.contains('fx-viewer'),
    canEdit: window.__corkboard.app.canEdit,
    closed: window.__corkboard.features.closed,
  }));
  assert.deepEqual(after, { chip: false, viewer: false, canEdit: true, closed: false });
  await ac.close();
});
