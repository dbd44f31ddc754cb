// Comments and dot votes (src/comments.ts, src/votes.ts) between people of
// different roles, live: a commenter pins a thread to a note with an
// @mention, the owner sees the pin and replies, the thread is resolved and
// reopened; dots given by one show in the other's tally at once; a viewer
// sees tallies but cannot vote or comment.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, toScreen, waitSettled } from './lib.mjs';
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

const setCam = (page) => page.evaluate(() => window.__corkboard.features.host.setCamera({ x: -200, y: -150, zoom: 1 }));
const pinCount = (page) => page.evaluate(() => document.querySelectorAll('.fx-pin').length);

test('comment threads: pin, mention, reply, resolve, reopen — live between a commenter and the owner', async () => {
  const b = await restBoard(node.url, 'Review', { ownerName: 'Ada' });
  const n1 = fixedId(21);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, noteOps(n1, 0, 0, 'Launch plan'));
  await waitSettled(a.page);

  const c = await chrome.newPage();
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  assert.equal((await state(c.page)).role, 'commenter');
  await c.page.waitForFunction(() => window.__corkboard.state().peers.includes('Ada'));
  assert.equal(await c.page.isVisible('.fx-image-btn'), false, 'no image tool for a commenter');
  assert.equal(await c.page.isVisible('.fx-comment-btn'), true);
  assert.equal(await c.page.textContent('.topbar .fx-role'), 'Can comment and vote', 'the role is said');

  // Cleo places a comment on the note.
  await setCam(c.page);
  await c.page.click('.fx-comment-btn');
  const p = await toScreen(c.page, 100, 100);
  await c.page.mouse.click(p.x, p.y);
  await c.page.waitForSelector('.fx-composer:not([hidden]) textarea');
  assert.equal(await c.page.getAttribute('.fx-composer', 'data-target'), n1, 'pinned to the note under the click');
  assert.deepEqual((await state(c.page)).selection, [], 'the click did not select the note');
  await c.page.keyboard.type('Ship it, @Ad');
  await c.page.waitForSelector('.fx-suggest:not([hidden]) .fx-mention');
  assert.deepEqual(await c.page.$$eval('.fx-suggest .fx-mention', (bs) => bs.map((b) => b.textContent)), ['Ada']);
  await c.page.click('.fx-suggest .fx-mention');
  assert.equal(await c.page.inputValue('.fx-composer textarea'), 'Ship it, @Ada ');
  await c.page.click('.fx-post');
  await waitSettled(c.page);

  // Ada sees the pin on her note, and the thread in the panel.
  await setCam(a.page);
  await a.page.waitForSelector('.fx-pin');
  const pin = await a.page.$eval('.fx-pin', (e) => ({ x: parseFloat(e.style.left), y: parseFloat(e.style.top), n: e.textContent }));
  assert.deepEqual(pin, { x: 400, y: 150, n: '1' }, "at the note's top-right corner");
  await a.page.click('.fx-pin');
  await a.page.waitForSelector('.fx-comments:not([hidden]) .fx-thread');
  assert.equal(await a.page.textContent('.fx-thread .fx-who'), 'Cleo');
  assert.equal(await a.page.textContent('.fx-thread .fx-text'), 'Ship it, @Ada');
  assert.equal(await a.page.textContent('.fx-thread .fx-at'), '@Ada');
  const [first] = await a.page.evaluate(() => window.__corkboard.features.comments.read());
  assert.equal(first.target, n1);
  assert.equal(first.first.props.author, (await c.page.evaluate(() => window.__corkboard.sync.user.id)));

  // Ada replies; Cleo sees the reply in her panel.
  await a.page.fill('.fx-thread textarea', 'Agreed');
  await a.page.press('.fx-thread textarea', 'Enter');
  await c.page.waitForFunction(() => [...document.querySelectorAll('.fx-thread .fx-text')].map((e) => e.textContent).join('|') === 'Ship it, @Ada|Agreed');
  assert.equal(await c.page.textContent('.fx-pin'), '2');

  // Cleo resolves: the pin goes, on both sides; the thread leaves the list.
  await c.page.click('.fx-thread .fx-resolve');
  await a.page.waitForFunction(() => document.querySelectorAll('.fx-pin').length === 0);
  assert.equal(await pinCount(c.page), 0);
  await a.page.waitForFunction(() => document.querySelectorAll('.fx-thread').length === 0);
  // Ada shows resolved threads and reopens it: the pin comes back for Cleo.
  await a.page.check('.fx-head input[type=checkbox]');
  assert.equal(await a.page.textContent('.fx-thread .fx-resolve'), 'Reopen');
  await a.page.click('.fx-thread .fx-resolve');
  await c.page.waitForFunction(() => document.querySelectorAll('.fx-pin').length === 1);

  // A comment pinned to a point.
  const id = await c.page.evaluate(() => window.__corkboard.features.comments.create('Empty corner', { x: 600, y: 400 }));
  assert.ok(id);
  await a.page.waitForFunction(() => document.querySelectorAll('.fx-pin').length === 2);
  const pts = await a.page.$$eval('.fx-pin', (ps) => ps.map((e) => [parseFloat(e.style.left), parseFloat(e.style.top)]).sort((x, y) => x[0] - y[0]));
  assert.deepEqual(pts, [[400, 150], [800, 550]]);
  await a.context.close();
  await c.context.close();
});

test("a comment is shown under its author's name, not the authorName it carries (anyone who may comment can write that)", async () => {
  const b = await restBoard(node.url, 'Sign-off', { ownerName: 'Ada' });
  const n1 = fixedId(31);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, noteOps(n1, 0, 0, 'Budget'));
  await waitSettled(a.page);
  const m = await chrome.newPage();
  await openBoard(m.page, node.url, b.id, b.tokens.commenter, 'Mal');
  await a.page.waitForFunction(() => window.__corkboard.state().peers.includes('Mal'));

  // Mal writes a comment as herself (the node checks author) that names Ada.
  const mal = await m.page.evaluate((n1) => {
    const f = window.__corkboard.features;
    const id = crypto.randomUUID();
    const set = (key, value) => ({ op: 'set', el: id, key, value });
    const ok = f.apply([{ op: 'create', el: id, kind: 'comment' }, set('target', n1), set('x', 0), set('y', 0), set('author', f.userId), set('authorName', 'Ada'), { op: 'insertText', el: id, field: 'text', pos: 0, text: 'Approved' }]);
    return ok && f.userId;
  }, n1);
  assert.ok(mal, 'the comment was made');
  await waitSettled(m.page);

  // Ada's page names Mal: on the pin, in the panel, in the outline.
  await setCam(a.page);
  await a.page.waitForSelector('.fx-pin');
  assert.equal(await a.page.getAttribute('.fx-pin', 'title'), 'Mal: Approved');
  await a.page.click('.fx-pin');
  await a.page.waitForSelector('.fx-comments:not([hidden]) .fx-thread');
  assert.equal(await a.page.textContent('.fx-thread .fx-who'), 'Mal');
  await a.page.waitForFunction((n1) => document.querySelector(`.cb-outline [data-el="${n1}"]`)?.closest('li').textContent.includes('Comment by Mal: Approved'), n1);
  const stored = (page) => page.evaluate((id) => JSON.parse(localStorage.getItem('cb.people.' + id) ?? '{}'), b.id);
  assert.equal((await stored(a.page))[mal], 'Mal', "Mal's name is kept for her id: seen here");

  // Mal gone, Ada's page still knows her. A page that never met her shows
  // the name the comment carries, and keeps it for nobody.
  await m.context.close();
  await a.page.reload();
  await a.page.waitForFunction(() => window.__corkboard?.state().state === 'live');
  await setCam(a.page);
  await a.page.waitForSelector('.fx-pin');
  assert.equal(await a.page.getAttribute('.fx-pin', 'title'), 'Mal: Approved');
  const e = await chrome.newPage();
  await openBoard(e.page, node.url, b.id, b.tokens.editor, 'Eli');
  await setCam(e.page);
  await e.page.waitForSelector('.fx-pin');
  assert.equal(await e.page.getAttribute('.fx-pin', 'title'), 'Ada: Approved');
  await e.page.evaluate(() => window.__corkboard.features.comments.knownPeople());
  assert.equal((await stored(e.page))[mal], undefined, 'the name a comment carries is not kept as its author\'s');
  await a.context.close();
  await e.context.close();
});

test('dot votes and reactions: live tallies, your own dots, take one back; viewers only look', async () => {
  const b = await restBoard(node.url, 'Vote');
  const n1 = fixedId(31);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, noteOps(n1, 0, 0, 'Idea'));
  await waitSettled(a.page);
  const c = await chrome.newPage();
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  await setCam(a.page);
  await setCam(c.page);
  const badge = `.fx-vote[data-id="${n1}"]`;
  const tally = (page) => page.$eval(badge, (e) => [Number(e.dataset.total), Number(e.dataset.mine)]);

  await c.page.click(badge);
  await c.page.click(badge);
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '2', badge);
  assert.deepEqual(await tally(c.page), [2, 2]);
  await a.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '2', badge);
  assert.deepEqual(await tally(a.page), [2, 0], "Cleo's dots are not Ada's");
  await a.page.click(badge);
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '3', badge);
  assert.deepEqual(await tally(a.page), [3, 1]);
  await c.page.click(badge, { button: 'right' });
  await a.page.waitForFunction((s) => document.querySelector(s)?.dataset.total === '2', badge);
  assert.deepEqual(await tally(c.page), [2, 1]);
  await waitSettled(c.page);
  // The registers are per voter, in the doc.
  const [j] = await a.page.evaluate((id) => window.__corkboard.doc.elements([id]), n1);
  assert.deepEqual(Object.values(j.votes.vote).sort(), [1, 1]);

  // Reactions: Cleo selects the note and picks one; Ada sees it; one
  // reaction per person (another replaces it), clicked again it goes.
  const mid = await toScreen(c.page, 100, 60);
  await c.page.mouse.click(mid.x, mid.y);
  await c.page.waitForSelector(`.fx-reacts[data-id="${n1}"] .fx-react[data-react="🎉"]`);
  await c.page.click(`.fx-reacts[data-id="${n1}"] .fx-react[data-react="🎉"]`);
  const row = `.fx-reacts[data-id="${n1}"]`;
  await a.page.waitForFunction((r) => document.querySelector(r)?.textContent === '🎉 1', row);
  assert.equal(await a.page.evaluate((id) => window.__corkboard.features.votes.react(id, '👍'), n1), true);
  await c.page.waitForFunction((r) => [...document.querySelectorAll(r + ' .fx-react')].some((b) => b.textContent === '👍 1'), row);
  await c.page.click(`${row} .fx-react[data-react="❤️"]`);
  await a.page.waitForFunction((r) => document.querySelector(r)?.textContent === '❤️ 1👍 1', row);
  await c.page.click(`${row} .fx-react[data-react="❤️"]`);
  await a.page.waitForFunction((r) => document.querySelector(r)?.textContent === '👍 1', row);

  // A viewer sees the tally on a disabled badge, and no comment tool.
  const v = await chrome.newPage();
  await openBoard(v.page, node.url, b.id, b.tokens.viewer, 'Vic');
  await setCam(v.page);
  await v.page.waitForSelector(badge);
  assert.deepEqual(await tally(v.page), [2, 0]);
  assert.equal(await v.page.$eval(badge, (e) => e.disabled), true);
  assert.equal(await v.page.isVisible('.fx-comment-btn'), false);
  assert.equal(await v.page.textContent('.topbar .fx-role'), 'View only');
  assert.equal(await v.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 1), n1), false);
  await a.context.close();
  await c.context.close();
  await v.context.close();
});

test("dot votes follow the owner's voting session: budget, pseudonym, close", async () => {
  const b = await restBoard(node.url, 'Session', { ownerName: 'Ada' });
  const [n1, n2] = [fixedId(61), fixedId(62)];
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, [...noteOps(n1, 0, 0, 'One'), ...noteOps(n2, 260, 0, 'Two', 'pink', 'a1')]);
  await waitSettled(a.page);
  const rest = (path, body) => fetch(`${node.url}/v1/boards/${b.id}${path}`, { method: 'POST', headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
  let r = await rest('/voting', { dots: 2, anonymous: true });
  assert.ok(r.ok, `open voting: ${r.status}`);

  const c = await chrome.newPage();
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  await setCam(c.page);
  const rules = await c.page.evaluate(async () => {
    await window.__corkboard.features.votes.refreshRules();
    return window.__corkboard.features.votes.rules;
  });
  assert.equal(rules.state, 'open');
  assert.equal(rules.dots, 2);
  const me = await c.page.evaluate(() => window.__corkboard.sync.user.id);
  assert.ok(rules.voter && rules.voter !== me, 'an anonymous session votes under a pseudonym');
  const replica = (await state(c.page)).replica;

  const badge = (id) => `.fx-vote[data-id="${id}"]`;
  await c.page.click(badge(n1));
  await c.page.click(badge(n2));
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '1', badge(n2));
  // A third dot is over the budget: refused here, with a word, not sent.
  assert.equal(await c.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 2), n1), false);
  await c.page.click(badge(n1));
  assert.match(await c.page.textContent('.toast'), /used your 2 dots/);
  await waitSettled(c.page);
  const [j] = await a.page.evaluate((id) => window.__corkboard.doc.elements([id]), n1);
  assert.deepEqual(Object.keys(j?.votes?.vote ?? {}), [rules.voter], 'cast under the pseudonym');
  // Taking one back frees a dot for another note.
  await c.page.click(badge(n2), { button: 'right' });
  await c.page.waitForFunction((s) => document.querySelector(s)?.dataset.mine === '0', badge(n2));
  assert.equal(await c.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 2), n1), true);
  // That dot reaches the node before the vote closes (else the node refuses it, rightly).
  await waitSettled(c.page);

  // The owner closes the vote: the badges turn off, nothing more is sent.
  r = await rest('/voting/close');
  assert.ok(r.ok, `close voting: ${r.status}`);
  await c.page.evaluate(() => window.__corkboard.features.votes.refreshRules());
  await c.page.waitForFunction((s) => document.querySelector(s)?.disabled === true, badge(n1));
  assert.equal(await c.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 1), n2), false);
  await waitSettled(c.page);
  assert.equal((await state(c.page)).replica, replica, 'no refused change: the page never started over');
  await a.context.close();
  await c.context.close();
});

test('after the deadline the board is read-only here too: nothing is sent to be refused', async () => {
  const b = await restBoard(node.url, 'Deadline', { ownerName: 'Ada' });
  const n1 = fixedId(71);
  const a = await chrome.newPage();
  await openBoard(a.page, node.url, b.id, b.token, 'Ada');
  await edit(a.page, noteOps(n1, 0, 0, 'Last idea'));
  await waitSettled(a.page);
  const r = await fetch(`${node.url}/v1/boards/${b.id}`, { method: 'PATCH', headers: { Authorization: 'Bearer ' + b.token, 'Content-Type': 'application/json' }, body: JSON.stringify({ deadline: Date.now() - 1000 }) });
  assert.ok(r.ok, `PATCH deadline: ${r.status} ${await r.text()}`);

  const c = await chrome.newPage();
  await openBoard(c.page, node.url, b.id, b.tokens.commenter, 'Cleo');
  await c.page.waitForFunction(() => document.querySelector('.topbar .fx-role')?.textContent === 'Closed');
  const replica = (await state(c.page)).replica;
  assert.equal(await c.page.evaluate(() => window.__corkboard.features.comments.create('Too late', { x: 10, y: 10 })), null);
  assert.equal(await c.page.evaluate((id) => window.__corkboard.features.votes.vote(id, 1), n1), false);
  assert.equal(await c.page.evaluate(() => window.__corkboard.app.canEdit), false);
  assert.equal(await c.page.isVisible('.fx-comment-btn'), false);
  await waitSettled(c.page);
  assert.equal((await state(c.page)).replica, replica, 'no refused change');
  await a.context.close();
  await c.context.close();
});
