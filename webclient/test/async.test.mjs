// The asynchronous board in the browser (src/account.ts, share.ts,
// password.ts, voting.ts, summary.ts, notify.ts) against a real node whose
// e-mails are read from its log: the owner signs in through the e-mailed
// link, makes a password board and invites a second person, who accepts
// the invite link and edits with the session cookie alone; the owner
// demotes them from the share dialog and their tools go read-only without
// a reload; a third person without an account enters with the password
// (a wrong one first); the owner moves the deadline into the past and the
// others see the board closed; the summary download has the note's text.
// Then, with sessions made over the API: a member's notification
// preferences, the node's "since your last visit" list, and a dot-voting
// session (dots left, close, the frozen result).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitLive, waitSettled, waitState } from './lib.mjs';
import { edit, fixedId, noteOps } from './fx.mjs';
import { confirmJSON, mailLink, mails, signInAPI, useSession } from './mail.mjs';

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

/** Opens an e-mailed confirm page and presses its one button; waits for where it leads. */
async function confirmLink(page, link, to) {
  await page.goto(link);
  await Promise.all([page.waitForURL(to), page.click('button[type=submit]')]);
}

const banner = (page) => page.evaluate(() => {
  const b = document.querySelector('.cb-banner');
  return b && !b.hidden ? { reason: b.dataset.reason, text: b.textContent } : null;
});

test('sign in, password board, invite, demote live, password guest, deadline, summary', async () => {
  const NOTE = 'Sauna and cold plunge';
  const { page: a } = await chrome.newPage({ acceptDownloads: true });

  // Signing in: the form says where the link went; the link signs in.
  await a.goto(node.url + '/');
  await a.waitForSelector('.account[data-state=signed-out]');
  await a.fill('.account input[name=email]', 'maya@example.com');
  await a.click('.account button[type=submit]');
  await a.waitForSelector('.account .note:not([hidden])');
  assert.match(await a.textContent('.account .note'), /sent a sign-in link to maya@example\.com/);
  await confirmLink(a, await mailLink(node, 'maya@example.com', /\/v1\/signin\//), node.url + '/');
  await a.waitForSelector('.account[data-state=signed-in]');
  assert.equal(await a.textContent('.account .mail'), 'maya@example.com');

  // The profile: the time zone defaults to the browser's; the name is saved.
  await a.click('.account .edit-profile');
  const zone = await a.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(await a.inputValue('.profile input[name=tz]'), zone);
  await a.fill('.profile input[name=name]', 'Maya');
  await a.click('.profile button[type=submit]');
  await a.waitForFunction(() => document.querySelector('.account .who')?.textContent === 'Maya');
  const me = await a.evaluate(() => fetch('/v1/me').then((r) => r.json()));
  assert.equal(me.user.name, 'Maya');
  assert.equal(me.user.tz, zone);

  // A password board, made from the home page.
  await a.fill('form.create input[name=name]', 'Retreat ideas');
  await a.fill('form.create input[name=owner]', 'Maya');
  await a.selectOption('form.create select[name=access]', 'password');
  await a.fill('form.create input[name=password]', 'correct horse');
  await a.click('form.create button[type=submit]');
  await a.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(a);
  const id = /\/b\/([0-9a-f-]{36})/.exec(a.url())[1];
  assert.equal((await state(a)).role, 'owner');
  await edit(a, noteOps(fixedId(1), 0, 0, NOTE));
  await waitSettled(a);
  // It is among "My boards" now.
  const mine = await a.evaluate(() => fetch('/v1/me').then((r) => r.json()));
  assert.deepEqual(mine.boards.map((b) => [b.board.id, b.board.access, b.role]), [[id, 'password', 'owner']]);

  // The owner invites Bob from the share dialog.
  await a.waitForSelector('.cb-share-btn:not([hidden])');
  await a.click('.cb-share-btn');
  await a.waitForSelector('dialog.cb-share[open]');
  assert.equal(await a.inputValue('.cb-share select[name=access]'), 'password');
  await a.fill('.cb-share form.invite input[name=email]', 'bob@example.com');
  await a.selectOption('.cb-share form.invite select[name=role]', 'editor');
  await a.click('.cb-share form.invite button[type=submit]');
  await a.waitForSelector('.cb-share .invites li[data-state=pending]');
  assert.match(await a.textContent('.cb-share .invites li'), /bob@example\.com · editor · pending/);

  // Bob accepts in his own browser: the cookie alone opens the board, as an editor.
  const { page: b } = await chrome.newPage();
  await confirmLink(b, await mailLink(node, 'bob@example.com', /\/v1\/invites\//), new RegExp(`/b/${id}`));
  await waitLive(b);
  assert.equal(new URL(b.url()).searchParams.get('token'), null, 'no token: the session cookie authenticates');
  assert.equal((await state(b)).role, 'editor');
  await waitState(b, (s, t) => s.elements.some((e) => e.text === t), NOTE);
  assert.equal(await b.isVisible('[data-tool=note]'), true);
  await b.evaluate(() => (window.__sameLoad = true));

  // The owner demotes Bob to viewer: Bob's tools go read-only, no reload.
  await a.click('dialog.cb-share .close');
  await a.click('.cb-share-btn');
  await a.waitForSelector('.cb-share .members li select');
  assert.equal(await a.$$eval('.cb-share .members li', (ls) => ls.length), 2, 'the owner and Bob');
  await a.selectOption('.cb-share .members li select', 'viewer');
  await a.waitForFunction(() => /is now viewer/.test(document.querySelector('.cb-share .note').textContent));
  await b.waitForFunction(() => window.__corkboard.state().role === 'viewer' && document.querySelector('#app').classList.contains('readonly'));
  assert.equal(await b.evaluate(() => window.__sameLoad), true, 'the same page load');
  assert.equal(await b.isVisible('[data-tool=note]'), false, 'no element tools for a viewer');
  assert.equal(await b.evaluate(() => window.__corkboard.app.canEdit), false);

  // Cleo has no account: the password prompt; a wrong password first.
  const { page: c } = await chrome.newPage();
  await c.goto(`${node.url}/b/${id}`);
  await c.waitForSelector('form.cb-password');
  await c.fill('.cb-password input[name=password]', 'wrong password');
  await c.fill('.cb-password input[name=name]', 'Cleo');
  await c.click('.cb-password button[type=submit]');
  await c.waitForSelector('.cb-password .error:not([hidden])');
  assert.equal(await c.textContent('.cb-password .error'), 'Wrong password.');
  await c.fill('.cb-password input[name=password]', 'correct horse');
  // The guest's token is kept in the browser and the page loaded again; it never shows in the address.
  await Promise.all([c.waitForEvent('load'), c.click('.cb-password button[type=submit]')]);
  await waitLive(c);
  const cs = await waitState(c, (s, t) => s.elements.some((e) => e.text === t), NOTE);
  assert.equal(cs.role, 'editor');
  assert.equal(await c.evaluate(() => window.__corkboard.sync.user.name), 'Cleo');
  assert.match(await c.evaluate(() => window.__corkboard.sync.user.id), /^guest-/);
  assert.equal(await c.isVisible('form.cb-password'), false);

  // The owner moves the deadline an hour into the past from the dialog.
  const past = await a.evaluate(() => {
    const d = new Date(Date.now() - 3600_000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  });
  await a.fill('.cb-share input[name=deadline]', past);
  await a.click('.cb-share button.save');
  await a.waitForFunction(() => document.querySelector('.cb-share .deadline-state').textContent === 'closed');
  const meta = await a.evaluate((id) => fetch(`/v1/boards/${id}`).then((r) => r.json()), id);
  assert.equal(meta.closed, true, 'the node has the board closed');
  assert.equal((await banner(a))?.reason, 'deadline');
  assert.equal(await a.isVisible('.cb-banner button'), true, 'the owner may reopen');

  // Cleo's next edit is refused read_only: the banner, and no more edits.
  await edit(c, noteOps(fixedId(2), 300, 0, 'Too late'));
  await c.waitForFunction(() => document.querySelector('.cb-banner')?.dataset.reason === 'deadline' && !document.querySelector('.cb-banner').hidden);
  assert.match((await banner(c)).text, /closed at its deadline/);
  await waitState(c, () => true);
  await c.waitForFunction(() => !window.__corkboard.state().elements.some((e) => e.text === 'Too late'));
  assert.equal(await c.evaluate(() => window.__corkboard.app.canEdit), false);
  assert.equal(await c.isVisible('.cb-banner button'), false, 'only the owner may reopen');
  // Bob, who makes no edit, learns it from the board's metadata.
  await b.waitForFunction(() => document.querySelector('.cb-banner')?.dataset.reason === 'deadline' && !document.querySelector('.cb-banner').hidden, null, { timeout: 20000 });

  // The summary, downloaded as Markdown, has the note.
  await a.click('dialog.cb-share .close');
  await a.click('.cb-summary-btn');
  const [dl] = await Promise.all([a.waitForEvent('download'), a.click('.cb-summary button[data-format=md]')]);
  const md = await readFile(await dl.path(), 'utf8');
  assert.ok(md.includes(NOTE), md);
  assert.ok(!md.includes('Too late'), 'the refused note is not in it');
});

/** The sign-in links e-mailed to an address so far, oldest first. */
function signInLinks(node, to) {
  return mails(node)
    .filter((m) => m.to.includes(to))
    .flatMap((m) => m.text.match(/https?:\/\/\S+\/v1\/signin\/\S+/g) ?? []);
}

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

/** A signed-in person's page on a board, with the session cookie only. */
async function sessionPage(session, id, context) {
  let page;
  if (context) page = await context.newPage();
  else {
    ({ context, page } = await chrome.newPage());
    await useSession(context, node, session);
  }
  await page.goto(`${node.url}/b/${id}`);
  await waitLive(page);
  return { context, page };
}

test('notification preferences, since your last visit, a voting session with dots left', async () => {
  const maya = await signInAPI(node, 'host@example.com');
  await rest('PATCH', '/v1/me', maya, { name: 'Maya' });
  const { board } = await rest('POST', '/v1/boards', maya, { name: 'Offsite', access: 'members' });
  const id = board.id;
  await rest('POST', `/v1/boards/${id}/invites`, maya, { email: 'ana@example.com', role: 'editor' });
  const ana = (await confirmJSON(await mailLink(node, 'ana@example.com', /\/v1\/invites\//))).session;
  await rest('PATCH', '/v1/me', ana, { name: 'Ana' });

  const { page: a } = await sessionPage(maya, id);
  const n1 = await sessionPage(ana, id);
  assert.equal((await state(a)).role, 'owner');
  assert.equal((await state(n1.page)).role, 'editor');

  // Ana's notification preferences, from the dialog.
  const p = n1.page;
  await p.waitForSelector('.cb-notify-btn:not([hidden])');
  await p.click('.cb-notify-btn');
  await p.waitForFunction(() => document.querySelector('dialog.cb-notify[open] select[name=mode]')?.value === 'digest');
  assert.equal(await p.isVisible('.cb-notify select[name=digestHour]'), true, 'a digest has an hour');
  await p.selectOption('.cb-notify select[name=mode]', 'each');
  assert.equal(await p.isVisible('.cb-notify select[name=digestHour]'), false);
  await p.fill('.cb-notify input[name=batchMinutes]', '15');
  await p.selectOption('.cb-notify select[name=quietFrom]', '22');
  await p.selectOption('.cb-notify select[name=quietTo]', '7');
  await p.click('.cb-notify button[type=submit]');
  await p.waitForFunction(() => document.querySelector('.cb-notify .note').textContent === 'Saved.');
  const prefs = await rest('GET', `/v1/boards/${id}/notify`, ana);
  assert.deepEqual(prefs.notify, { mode: 'each', batchMinutes: 15, digestHour: 8, quietFrom: 22, quietTo: 7 });
  assert.equal(await a.isVisible('.cb-notify-btn'), true, 'the signed-in owner has them too');

  // Ana leaves; the node records her visit when her connection ends.
  await p.close();
  await waitState(a, (s) => !s.peers.includes('Ana'));
  for (let i = 0; (await rest('GET', `/v1/boards/${id}/changes`, ana)).seenAt === 0; i++) {
    if (i > 200) throw new Error('the visit was not recorded');
    await new Promise((r) => setTimeout(r, 50)); // a real process's store: no other signal
  }

  // Maya adds three notes while Ana is away.
  const ids = [fixedId(11), fixedId(12), fixedId(13)];
  await edit(a, noteOps(ids[0], 0, 0, 'Lake walk'));
  await edit(a, noteOps(ids[1], 250, 0, 'Night swim'));
  await edit(a, noteOps(ids[2], 500, 0, 'Board games'));
  await waitSettled(a);

  // Ana comes back: the list says who did what; a line leads to the notes.
  const { page: b } = await sessionPage(ana, id, n1.context);
  await b.waitForSelector('.fx-since:not([hidden]) .fx-change');
  assert.deepEqual(await b.$$eval('.fx-change', (bs) => bs.map((x) => x.textContent)), ['Maya added 3 notes: “Lake walk”, “Night swim” and “Board games”']);
  assert.equal(await b.textContent('.fx-since-btn'), 'New · 3');
  await b.click('.fx-change');
  const sel = (await state(b)).selection;
  assert.equal(sel.length, 1);
  assert.ok(ids.includes(sel[0]), 'a note Maya added');
  await b.click('.fx-change');
  const sel2 = (await state(b)).selection;
  assert.ok(ids.includes(sel2[0]) && sel2[0] !== sel[0], 'the next one');

  // Maya opens a voting session: two dots each.
  assert.equal(await b.isVisible('.cb-voting-btn'), false, 'only the owner runs votes');
  await a.click('.cb-voting-btn');
  await a.fill('.cb-voting input[name=dots]', '2');
  await a.click('.cb-voting .open-voting');
  await a.waitForSelector('.cb-voting[data-state=open]');
  // Ana sees it (the board's metadata, read again while the page is open) with her dots left.
  await b.waitForSelector('.cb-voting[data-state=open]', { timeout: 25000 });
  await b.waitForFunction(() => document.querySelector('.cb-voting .state').dataset.left === '2');
  await b.click(`.fx-vote[data-id="${ids[0]}"]`);
  await b.waitForFunction(() => document.querySelector('.cb-voting .state').dataset.left === '1');
  assert.equal(await b.textContent('.cb-voting .state'), 'Voting open (2 dots each) · 1 left');
  await waitSettled(b);

  // Maya closes it: the frozen result; Ana sees voting closed.
  await a.click('.cb-voting .close-voting');
  await a.waitForSelector('.cb-voting[data-state=closed] .result li');
  assert.equal(await a.textContent('.cb-voting .result li'), 'Lake walk — 1 dot');
  await b.waitForSelector('.cb-voting[data-state=closed]', { timeout: 25000 });
  assert.equal((await banner(b))?.reason, 'voting');
  // Editing goes on: only votes are closed.
  assert.equal(await b.evaluate(() => window.__corkboard.app.canEdit), true);
  await a.click('.cb-voting .end-voting');
  await a.waitForSelector('.cb-voting[data-state=none] .open-voting');
  assert.equal((await banner(a)), null, 'votes are free again');

  // Maya on another device: the members board asks her to sign in, and the link brings her back.
  const { page: d } = await chrome.newPage();
  await d.goto(`${node.url}/b/${id}`);
  await d.waitForSelector('form.cb-signin');
  await d.fill('.cb-signin input[name=email]', 'host@example.com');
  await d.click('.cb-signin button[type=submit]');
  await d.waitForSelector('.cb-signin .note:not([hidden])');
  assert.match(await d.textContent('.cb-signin .note'), /sign-in link to host@example\.com/);
  await confirmLink(d, await mailLink(node, 'host@example.com', /\/v1\/signin\//, new Set(signInLinks(node, 'host@example.com').slice(0, 1))), new RegExp(`/b/${id}$`));
  await waitLive(d);
  assert.equal((await state(d)).role, 'owner');
});

test('a password board says when there were too many wrong passwords', async () => {
  const r = await fetch(node.url + '/v1/boards', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Locked', access: 'password', password: 'open sesame' }) });
  const { board } = await r.json();
  const { page } = await chrome.newPage();
  await page.goto(`${node.url}/b/${board.id}`);
  await page.waitForSelector('form.cb-password');
  const attempt = async () => {
    await page.fill('.cb-password input[name=password]', 'not it at all');
    await page.click('.cb-password button[type=submit]');
    await page.waitForSelector('.cb-password .error:not([hidden])');
    const t = await page.textContent('.cb-password .error');
    await page.evaluate(() => (document.querySelector('.cb-password .error').hidden = true));
    return t;
  };
  const said = [];
  for (let i = 0; i < 6; i++) said.push(await attempt());
  assert.deepEqual(said.slice(0, 5), Array(5).fill('Wrong password.'));
  assert.match(said[5], /Too many wrong passwords/);
  // Even the right one is refused now, and said so.
  await page.fill('.cb-password input[name=password]', 'open sesame');
  await page.click('.cb-password button[type=submit]');
  await page.waitForSelector('.cb-password .error:not([hidden])');
  assert.match(await page.textContent('.cb-password .error'), /Too many wrong passwords/);
  assert.match(page.url(), new RegExp(`/b/${board.id}$`), 'still on the prompt');
});

test('the share dialog: access and visitors, webhooks with their secret once, invites revoked, members removed, reopen', async () => {
  const owner = await signInAPI(node, 'dialog@example.com');
  const { board } = await rest('POST', '/v1/boards', owner, { name: 'Settings', access: 'members' });
  const id = board.id;
  await rest('POST', `/v1/boards/${id}/invites`, owner, { email: 'dan@example.com', role: 'commenter' });
  const dan = (await confirmJSON(await mailLink(node, 'dan@example.com', /\/v1\/invites\//))).session;
  await rest('POST', `/v1/boards/${id}/invites`, owner, { email: 'eve@example.com', role: 'viewer' });
  const { page: a } = await sessionPage(owner, id);
  const { page: d } = await sessionPage(dan, id);
  assert.equal((await state(d)).role, 'commenter');

  await a.click('.cb-share-btn');
  await a.waitForSelector('dialog.cb-share[open] .members li select');
  assert.equal(await a.isVisible('.cb-share select[name=publicRole]'), true);
  assert.equal(await a.isDisabled('.cb-share select[name=publicRole]'), true, 'a members board has no visitors');

  // Open it to anyone with the link, as viewers.
  await a.selectOption('.cb-share select[name=access]', 'public');
  await a.selectOption('.cb-share select[name=publicRole]', 'viewer');
  await a.click('.cb-share button.save');
  await a.waitForFunction(() => document.querySelector('.cb-share .note').textContent === 'Saved.');
  const pub = await (await fetch(`${node.url}/v1/boards/${id}`)).json();
  assert.deepEqual([pub.board.access, pub.board.publicRole, pub.you.role], ['public', 'viewer', 'viewer']);

  // A webhook: its secret is shown once, the list never has it.
  await a.fill('.cb-share form.hook input[name=url]', 'https://hooks.example.com/corkboard');
  await a.uncheck('.cb-share form.hook input[value=vote]');
  await a.click('.cb-share form.hook button[type=submit]');
  await a.waitForSelector('.cb-share .secret:not([hidden])');
  const secret = /shown only now\): (\S+)/.exec(await a.textContent('.cb-share .secret'))[1];
  await a.waitForSelector('.cb-share .hooks li');
  assert.equal(await a.textContent('.cb-share .hooks li .url'), 'https://hooks.example.com/corkboard');
  assert.match(await a.textContent('.cb-share .hooks li'), /element, comment, deadline/);
  assert.ok(!(await a.textContent('.cb-share .hooks')).includes(secret));
  assert.equal((await rest('GET', `/v1/boards/${id}/webhooks`, owner)).webhooks.length, 1);
  await a.click('.cb-share .hooks li .remove');
  await a.waitForFunction(() => document.querySelectorAll('.cb-share .hooks li').length === 0);
  assert.equal((await rest('GET', `/v1/boards/${id}/webhooks`, owner)).webhooks.length, 0);

  // Eve's invitation is revoked.
  await a.waitForSelector('.cb-share .invites li[data-state=pending]');
  assert.match(await a.textContent('.cb-share .invites li[data-state=pending]'), /eve@example\.com · viewer/);
  await a.click('.cb-share .invites li[data-state=pending] .revoke');
  await a.waitForSelector('.cb-share .invites li[data-state=revoked]');
  assert.equal(await a.$$eval('.cb-share .invites li[data-state=pending]', (l) => l.length), 0);

  // Dan is removed: on a board open to anyone now, he stays as a visitor (a viewer), told at once.
  await a.click('.cb-share .members li .remove');
  await a.waitForFunction(() => /was removed/.test(document.querySelector('.cb-share .note').textContent));
  await d.waitForFunction(() => window.__corkboard.state().role === 'viewer');
  assert.equal(await d.evaluate(() => window.__corkboard.state().state), 'live');
  assert.deepEqual((await rest('GET', `/v1/boards/${id}/members`, owner)).members.map((m) => m.role), ['owner']);

  // A deadline in the past, then "No deadline" reopens it.
  await a.click('dialog.cb-share .close');
  await rest('PATCH', `/v1/boards/${id}`, owner, { deadline: Date.now() - 1000 });
  await a.evaluate(() => dispatchEvent(new Event('focus'))); // the person comes back to the tab
  await a.waitForSelector('.cb-banner[data-reason=deadline]:not([hidden])');
  assert.equal(await a.evaluate(() => window.__corkboard.app.canEdit), false);
  await a.click('.cb-banner button');
  await a.waitForSelector('.cb-banner', { state: 'hidden' });
  assert.equal(await a.evaluate(() => window.__corkboard.app.canEdit), true);
  assert.equal((await (await fetch(`${node.url}/v1/boards/${id}`)).json()).closed, false);
  await edit(a, noteOps(fixedId(31), 0, 0, 'Open again'));
  await waitSettled(a);
});
