// Anonymous dot votes name nobody (server/api/ballot.go): in an anonymous
// session the page casts a vote through POST …/voting/vote, never in a
// change of its own replica (which presence ties to the person). The vote
// shows on every page under the pseudonym, and the board's log holds no
// vote in a change of the voter's replica, nor one with an author.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitSettled } from './lib.mjs';
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

test('an anonymous vote is cast through the ballot: no change of the voter carries it', async () => {
  const b = await restBoard(node.url, 'Ballot', { ownerName: 'Ada' });
  const [n1, n2] = [fixedId(71), fixedId(72)];
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, [...noteOps(n1, 0, 0, 'One'), ...noteOps(n2, 260, 0, 'Two', 'pink', 'a1')]);
  await waitSettled(a.page);
  const rest = (path, body) => fetch(`${node.url}/v1/boards/${b.id}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const r = await rest('/voting', { dots: 3, anonymous: true });
  assert.ok(r.ok, `open voting: ${r.status}`);

  const c = await chrome.newPage();
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  await c.page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -200, y: -150, zoom: 1 }));
  const rules = await c.page.evaluate(async () => {
    await window.__corkboard.features.votes.refreshRules();
    return window.__corkboard.features.votes.rules;
  });
  const me = await c.page.evaluate(() => window.__corkboard.sync.user.id);
  assert.ok(rules.anonymous && rules.voter && rules.voter !== me, 'an anonymous session votes under a pseudonym');
  const replica = (await state(c.page)).replica;

  // Two dots on One by clicks, one on Two; then one taken back from One.
  const badge = (id) => `.fx-vote[data-id="${id}"]`;
  await c.page.click(badge(n1));
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '1', badge(n1));
  await c.page.click(badge(n1));
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '2', badge(n1));
  await c.page.click(badge(n2));
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '1', badge(n2));
  await c.page.click(badge(n1), { button: 'right' });
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '1', badge(n1));
  await waitSettled(c.page);

  // The owner's page shows the dots under the pseudonym.
  await a.page.waitForFunction(
    ([x, y, voter]) => {
      const [e1, e2] = window.__corkboard.doc.elements([x, y]);
      return e1?.votes?.vote?.[voter] === 1 && e2?.votes?.vote?.[voter] === 1;
    },
    [n1, n2, rules.voter],
    { timeout: 15000 },
  );
  const [j] = await a.page.evaluate((id) => window.__corkboard.doc.elements([id]), n1);
  assert.deepEqual(Object.keys(j?.votes?.vote ?? {}), [rules.voter], 'cast under the pseudonym');

  // The board's log: every vote under the pseudonym came in a change of
  // another replica than the voter's page, with no author.
  const ops = await (await rest('/ops')).json();
  const votes = ops.changes.filter((ch) => ch.ops.some((op) => op.op === 'vote' && op.voter === rules.voter));
  assert.equal(votes.length, 4, `four ballots in the log: ${JSON.stringify(votes)}`);
  for (const ch of votes) {
    assert.notEqual(ch.replica, replica, 'a vote in a change of the voter’s own replica');
    assert.equal(ch.author, undefined, `a ballot with an author: ${ch.author}`);
  }
  assert.ok(!ops.changes.some((ch) => ch.replica === replica), 'the voter’s page wrote nothing');
  assert.equal((await state(c.page)).replica, replica, 'no refused change: the page never started over');
  await a.context.close();
  await c.context.close();
});

// A guest who is not signed in votes on a public board (the node gives
// them a guest token in the welcome, which the page keeps: their
// identity). Their ballots carry that token, so they count as one voter,
// within the session's budget: 2 dots of 3 clicks. A ballot without it
// would be a new voter on each call, outside any budget.
test('a guest’s ballots are one voter within the dots budget', async () => {
  const b = await restBoard(node.url, 'Guest ballot', { access: 'public', publicRole: 'commenter' });
  const n1 = fixedId(81);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, noteOps(n1, 0, 0, 'One'));
  await waitSettled(a.page);
  const owner = (method, path, body) =>
    fetch(`${node.url}/v1/boards/${b.id}${path}`, {
      method,
      headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const r = await owner('POST', '/voting', { dots: 2, anonymous: true });
  assert.ok(r.ok, `open voting: ${r.status}`);

  // Gus opens the board's address, with no link and no account.
  const g = await chrome.newPage();
  await openBoard(g.page, node.url, b.id, undefined, 'Gus');
  const gus = await g.page.evaluate(() => window.__corkboard.sync.user.id);
  assert.match(gus, /^guest-/);
  assert.equal(await g.page.evaluate(() => window.__corkboard.sync.user.role), 'commenter');
  await g.page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -200, y: -150, zoom: 1 }));
  const rules = await g.page.evaluate(async () => {
    await window.__corkboard.features.votes.refreshRules();
    return window.__corkboard.features.votes.rules;
  });
  assert.ok(rules.state === 'open' && rules.anonymous && rules.dots === 2, `the rules: ${JSON.stringify(rules)}`);

  // Three clicks on One: two dots, then the budget is spent.
  const badge = `.fx-vote[data-id="${n1}"]`;
  await g.page.waitForSelector(badge);
  await g.page.click(badge);
  await g.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '1', badge);
  await g.page.click(badge);
  await g.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '2', badge);
  await g.page.click(badge);
  // Refused (the page says so), or counted: either ends the third click.
  await g.page.waitForFunction(
    (s) => /You have used your 2 dots/.test(document.querySelector('.toast')?.textContent ?? '') || document.querySelector(s)?.dataset.total !== '2',
    badge,
  );
  await waitSettled(g.page);
  const total = await g.page.evaluate((s) => Number(document.querySelector(s).dataset.total), badge);

  // The owner's page, once it has every dot Gus's page shows: one voter's
  // register on One, with 2 dots.
  await a.page.waitForFunction(
    ([x, n]) => Object.values(window.__corkboard.doc.elements([x])[0]?.votes?.vote ?? {}).reduce((s, v) => s + v, 0) === n,
    [n1, total],
  );
  const [j] = await a.page.evaluate((x) => window.__corkboard.doc.elements([x]), n1);
  assert.deepEqual(Object.values(j.votes.vote), [2], `the votes on One: ${JSON.stringify(j.votes.vote)}`);

  // Closed: 2 dots on One, from one voter, revealed as Gus.
  const closed = await owner('POST', '/voting/close');
  assert.ok(closed.ok, `close voting: ${closed.status}`);
  const { voting } = await closed.json();
  assert.deepEqual(
    voting.result.map((v) => [v.element, v.dots, v.voters]),
    [[n1, 2, [gus]]],
    `the result: ${JSON.stringify(voting.result)}`,
  );
  await a.context.close();
  await g.context.close();
});
