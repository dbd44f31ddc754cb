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
  const { page: bob } = await chrome.newPage();
  await openBoard(bob, node.url, b.id, b.tokens.editor, 'Bob');
  await bob.waitForFunction(() => window.__corkboard.features.since.ready);
  await bob.evaluate(() => window.__corkboard.features.since.markSeen());
  await bob.goto(node.url + '/');

  // Ada adds two ideas and runs a vote on them.
  const { page: ada } = await chrome.newPage();
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
});
