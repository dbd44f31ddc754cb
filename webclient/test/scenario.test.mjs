// The whole asynchronous brainstorm of three days, in the browser, against
// a node that sends its e-mails over real SMTP (smtp.mjs), with no console
// error and no page error on any page throughout.
//
// Day 1: Olivia signs in from the home page through the e-mailed link,
// makes a password board, seeds notes and a mindmap, invites Ana and Ben
// by e-mail from the Share dialog, and asks for a daily digest.
// Day 2: Ana follows her invitation, gives her name, edits a note, adds
// one, and comments on Olivia's note with an @mention. Olivia opens a vote.
// Day 3: Ben follows his, gives his name, replies to the thread and votes.
// Then Olivia reads the digest e-mail, closes the vote, sets a deadline
// and downloads the summary.
//
// The "days" are sessions one after the other (separate browser contexts,
// separate people): the node's clock is the real one. The daily digest is
// made to fall due by moving Olivia's time zone (see digestDue), the way
// her digest hour would come round a day later.
//
// async.test.mjs covers each of these pieces on its own; this file strings
// them together as people use them, which is what the console checks need.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { launch, startNode, toScreen, waitLive, waitSettled } from './lib.mjs';
import { edit, fixedId } from './fx.mjs';
import { linkIn, startSMTP } from './smtp.mjs';

let smtp;
let node;
let chrome;

before(async () => {
  smtp = await startSMTP();
  node = await startNode({ publicURL: true, args: ['--smtp-addr', smtp.addr, '--smtp-tls', 'none', '--notify-interval', '1s'] });
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
  await smtp?.close();
});

/** Everything wrong a page says: console errors and uncaught exceptions, with the page's name. */
const trouble = [];
async function person(name, opts = {}) {
  const { context, page } = await chrome.newPage({ acceptDownloads: true, ...opts });
  const watch = (p) => {
    p.on('console', (m) => m.type() === 'error' && trouble.push(`${name} console: ${m.text()} (${p.url()})`));
    p.on('pageerror', (e) => trouble.push(`${name} pageerror: ${e.message} (${p.url()})`));
  };
  watch(page);
  context.on('page', watch);
  return { context, page };
}

/** Opens an e-mailed confirm page and presses its one button; waits for where it leads. */
async function confirmLink(page, link, to) {
  await page.goto(link);
  await Promise.all([page.waitForURL(to), page.click('button[type=submit]')]);
}

const mailTo = (addr, re, what) => smtp.waitFor((m) => m.to.includes(addr) && re.test(m.text), 20000, what);

/**
 * Time zones in which Olivia's digest hour is still to come today (A)
 * and has come (B), with that hour: her cursor, started in A, is dated the
 * day before; read in B, the digest is due. Two zones 25 hours apart,
 * so B's local hour is A's plus one (chosen so that neither wraps past
 * midnight at the hour the test runs).
 */
function digestDue() {
  const h = new Date().getUTCHours();
  const [a, b, offA] = h === 11 ? ['Etc/GMT+11', 'Etc/GMT-14', -11] : ['Etc/GMT+12', 'Etc/GMT-13', -12];
  const localA = (((h + offA) % 24) + 24) % 24;
  return { a, b, hour: localA + 1 };
}

test('three days of an async brainstorm in the browser, without a console error', async () => {
  const PASSWORD = 'offsite 2027!';
  const due = digestDue();

  // ---- Day 1: Olivia ----
  const o = await person('Olivia');
  const a = o.page;
  await a.goto(node.url + '/');
  await a.waitForSelector('.account[data-state=signed-out]');
  await a.fill('.account input[name=email]', 'olivia@example.com');
  await a.click('.account button[type=submit]');
  await a.waitForSelector('.account .note:not([hidden])');
  await confirmLink(a, linkIn(await mailTo('olivia@example.com', /\/v1\/signin\//, 'sign-in e-mail'), /\/v1\/signin\//), node.url + '/');
  await a.waitForSelector('.account[data-state=signed-in]');
  await a.click('.account .edit-profile');
  await a.fill('.profile input[name=name]', 'Olivia Park');
  await a.fill('.profile input[name=tz]', due.a);
  await a.click('.profile button[type=submit]');
  await a.waitForFunction(() => document.querySelector('.account .who')?.textContent === 'Olivia Park');

  await a.fill('form.create input[name=name]', 'Offsite ideas');
  await a.selectOption('form.create select[name=access]', 'password');
  await a.fill('form.create input[name=password]', PASSWORD);
  await a.click('form.create button[type=submit]');
  await a.waitForURL(/\/b\/[0-9a-f-]{36}$/);
  await waitLive(a);
  const id = /\/b\/([0-9a-f-]{36})/.exec(a.url())[1];

  // Seed: two notes by double-click, a mindmap through the page's edit path.
  await a.evaluate(() => window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 }));
  for (const [x, y, text] of [[300, 300, 'Lake walk'], [560, 300, 'Cooking class']]) {
    await a.mouse.dblclick(x, y);
    await a.keyboard.type(text);
    await a.keyboard.press('Escape');
  }
  const M = fixedId(1), M1 = fixedId(2);
  await edit(a, [
    { op: 'create', el: M, kind: 'mindmap' }, { op: 'set', el: M, key: 'x', value: 300 }, { op: 'set', el: M, key: 'y', value: 600 },
    { op: 'insertText', el: M, field: 'text', pos: 0, text: 'Where' },
    { op: 'create', el: M1, kind: 'mindmap' }, { op: 'move', el: M1, parent: M, posKey: 'a0' }, { op: 'insertText', el: M1, field: 'text', pos: 0, text: 'By the sea' },
  ]);
  await waitSettled(a);
  const notes = await a.evaluate(() => window.__corkboard.state().elements.filter((e) => e.kind === 'note').map((e) => ({ id: e.id, text: e.text, x: e.x, y: e.y, w: e.w, h: e.h })));
  const lake = notes.find((n) => n.text === 'Lake walk');
  assert.ok(lake && notes.length === 2, JSON.stringify(notes));

  // Invitations by e-mail from the Share dialog.
  await a.click('.people .share');
  await a.waitForSelector('dialog.cb-share[open] .owner-part:not([hidden])');
  for (const who of ['ana@example.com', 'ben@example.com']) {
    await a.fill('dialog.cb-share form.invite input[name=email]', who);
    await a.click('dialog.cb-share form.invite button[type=submit]');
    await a.waitForFunction((w) => document.querySelector('dialog.cb-share .note')?.textContent === `Invitation sent to ${w}.`, who);
  }
  await a.click('dialog.cb-share .close');
  // A daily digest, at an hour still to come in her time zone.
  await a.click('.cb-notify-btn');
  await a.waitForSelector('dialog.cb-notify[open]');
  await a.waitForFunction(() => document.querySelector('dialog.cb-notify select[name=mode]').value !== '');
  await a.selectOption('dialog.cb-notify select[name=mode]', 'digest');
  await a.selectOption('dialog.cb-notify select[name=digestHour]', String(due.hour));
  await a.click('dialog.cb-notify button[type=submit]');
  await a.waitForFunction(() => document.querySelector('dialog.cb-notify .note')?.textContent === 'Saved.');
  await a.click('dialog.cb-notify .close');
  await waitSettled(a);
  await o.context.close(); // the end of her day: the node records her visit

  // ---- Day 2: Ana ----
  const an = await person('Ana');
  const b = an.page;
  await confirmLink(b, linkIn(await mailTo('ana@example.com', /\/v1\/invites\//, "Ana's invitation"), /\/v1\/invites\//), new RegExp(`/b/${id}$`));
  await waitLive(b);
  await b.waitForSelector('.cb-welcome');
  assert.equal(await b.inputValue('.cb-welcome input[name=name]'), 'Ana');
  await b.fill('.cb-welcome input[name=name]', 'Ana Silva');
  await Promise.all([b.waitForEvent('load'), b.click('.cb-welcome button[type=submit]')]);
  await waitLive(b);
  assert.equal((await b.evaluate(() => window.__corkboard.state())).role, 'editor');
  await b.evaluate(() => window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 }));
  // She edits Olivia's note and adds her own.
  const at = await toScreen(b, lake.x + lake.w / 2, lake.y + lake.h / 2);
  await b.mouse.dblclick(at.x, at.y);
  await b.waitForSelector('textarea.editor:not([hidden])');
  await b.keyboard.press('End');
  await b.keyboard.type(' at dawn');
  await b.keyboard.press('Escape');
  await b.mouse.dblclick(820, 300);
  await b.keyboard.type('Sauna night');
  await b.keyboard.press('Escape');
  // A comment on the note, mentioning Olivia (completion from the members).
  await b.click('.fx-comment-btn');
  await b.mouse.click(at.x, at.y);
  await b.waitForSelector('.fx-composer:not([hidden]) textarea');
  await b.keyboard.type('Sunrise is at 7, @Oli');
  await b.waitForSelector('.fx-suggest:not([hidden]) .fx-mention');
  await b.click('.fx-suggest .fx-mention');
  await b.click('.fx-post');
  await b.waitForSelector('.fx-pin');
  await waitSettled(b);

  await an.context.close();

  // ---- Day 3: Ben ----
  const bn = await person('Ben');
  const c = bn.page;
  await confirmLink(c, linkIn(await mailTo('ben@example.com', /\/v1\/invites\//, "Ben's invitation"), /\/v1\/invites\//), new RegExp(`/b/${id}$`));
  await waitLive(c);
  await c.waitForSelector('.cb-welcome');
  await c.fill('.cb-welcome input[name=name]', 'Ben Okri');
  await Promise.all([c.waitForEvent('load'), c.click('.cb-welcome button[type=submit]')]);
  await waitLive(c);
  // He replies in the thread.
  await c.waitForSelector('.fx-pin');
  await c.click('.fx-pin');
  await c.waitForSelector('.fx-comments:not([hidden]) .fx-thread textarea');
  await c.fill('.fx-thread textarea', 'Count me in');
  await c.press('.fx-thread textarea', 'Enter');
  await c.waitForFunction(() => [...document.querySelectorAll('.fx-thread .fx-text')].map((e) => e.textContent).join('|') === 'Sunrise is at 7, @Olivia Park|Count me in');
  await waitSettled(c);

  // ---- Olivia comes back ----
  // Back through a new sign-in link.
  const o3 = await person('Olivia');
  const a3 = o3.page;
  await a3.goto(node.url + '/');
  await a3.fill('.account input[name=email]', 'olivia@example.com');
  await a3.click('.account button[type=submit]');
  await a3.waitForSelector('.account .note:not([hidden])');
  const seen = new Set(smtp.messages.filter((m) => m.to.includes('olivia@example.com') && /\/v1\/signin\//.test(m.text)).slice(0, 1));
  const signin = await smtp.waitFor((m) => m.to.includes('olivia@example.com') && /\/v1\/signin\//.test(m.text) && !seen.has(m), 20000, 'a second sign-in e-mail');
  await confirmLink(a3, linkIn(signin, /\/v1\/signin\//), node.url + '/');
  // The home page lists the board with what changed since she looked.
  await a3.waitForSelector(`.board-card[data-board="${id}"] .since-home .count`);
  assert.match(await a3.textContent(`.board-card[data-board="${id}"] .since-home`), /Ana Silva/);
  await a3.click(`.board-card[data-board="${id}"] .title`);
  await waitLive(a3);
  assert.equal((await a3.evaluate(() => window.__corkboard.state())).role, 'owner');

  // The vote: open, Ben votes for the lake walk, closed.
  await a3.click('.cb-voting-btn');
  await a3.fill('.cb-voting input[name=dots]', '2');
  await a3.click('.cb-voting .open-voting');
  await a3.waitForSelector('.cb-voting[data-state=open]');
  await c.waitForSelector('.cb-voting[data-state=open]', { timeout: 25000 });
  await c.click(`.fx-vote[data-id="${lake.id}"]`);
  await c.waitForFunction(() => document.querySelector('.cb-voting .state')?.dataset.left === '1');
  await waitSettled(c);
  await a3.waitForFunction((n) => window.__corkboard.features.votes.tally(n).total === 1, lake.id);

  // Her digest: her day's digest hour has come (the time zone she travelled to).
  await a3.evaluate((tz) => fetch('/v1/me', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tz }) }), due.b);
  const digest = await smtp.waitFor((m) => m.to.includes('olivia@example.com') && /Ana Silva/.test(m.text), 30000, "Olivia's digest");
  assert.match(digest.text, /Lake walk at dawn|Sauna night/);
  assert.match(digest.text, /Ben Okri/);

  await a3.click('.cb-voting .close-voting');
  await a3.waitForSelector('.cb-voting[data-state=closed] .result li');
  assert.match(await a3.textContent('.cb-voting .result li'), /^Lake walk at dawn — 1 dot$/);

  // A deadline tomorrow, from the Share dialog.
  const tomorrow = await a3.evaluate(() => {
    const d = new Date(Date.now() + 24 * 3600_000);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  });
  await a3.click('.people .share');
  await a3.waitForSelector('dialog.cb-share[open] .owner-part:not([hidden])');
  await a3.fill('dialog.cb-share input[name=deadline]', tomorrow);
  await a3.click('dialog.cb-share button.save');
  await a3.waitForFunction(() => document.querySelector('dialog.cb-share .deadline-state')?.textContent === 'open until then');
  await a3.click('dialog.cb-share .close');
  await a3.waitForSelector('.fx-deadline:not([hidden])');

  // The summary, as Markdown: the ideas, who proposed them, the thread.
  await a3.click('.cb-summary-btn');
  const [dl] = await Promise.all([a3.waitForEvent('download'), a3.click('.cb-summary button[data-format=md]')]);
  const md = await readFile(await dl.path(), 'utf8');
  for (const want of ['Lake walk at dawn', 'Sauna night', 'Sunrise is at 7', 'Count me in', 'Ana Silva', 'Ben Okri']) assert.ok(md.includes(want), `the summary lacks ${want}:\n${md}`);

  await bn.context.close();
  await o3.context.close();
  assert.deepEqual(trouble, [], 'no console error and no page error on any page');
});
