// People on a board (issue 12, bugs 6, 7, 10, 11, 12): presence colours
// from the profile (guests: stable, without collisions), who one is after
// an offline reload, a quiet console when signed out and on password
// boards, @mentions of the board's members, and inviting an address twice.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, offlineShell, startNode, state, waitLive, waitSettled, waitState } from './lib.mjs';
import { linkToken, openBoard } from './fx.mjs';
import { confirmJSON, mailLink, mails, person as signedInPerson, sessionCall, signInAPI, useSession } from './mail.mjs';

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

/** A REST call with a session (mail.mjs). */
const call = (session, method, path, body, want) => sessionCall(node, session, method, path, body, want);
/** Signs someone in over the API with a profile: their session. */
const person = (email, name, color) => signedInPerson(node, email, name, color);


const avatarMe = (page) =>
  page.evaluate(() => {
    const a = document.querySelector('.avatar.me');
    return a && { text: a.textContent, bg: getComputedStyle(a).backgroundColor };
  });

const peerColors = (page) => page.evaluate(() => [...window.__corkboard.sync.peers.values()].map((p) => p.color));

function overlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

test('presence colours: the profile colour for members, no two guests alike; offline reload keeps who one is', async () => {
  const maya = await person('maya@example.com', 'Maya', '#123456');
  const board = (await call(maya, 'POST', '/v1/boards', { name: 'A rather long board name for a retreat' }, 201)).board.id;
  const a = await chrome.newPage();
  await useSession(a.context, node, maya);
  // This browser once picked orange for itself: the profile wins.
  await a.context.addInitScript(() => localStorage.setItem('cb.color', '#e8590c'));
  await a.page.goto(`${node.url}/b/${board}`);
  await waitLive(a.page);
  await a.page.waitForFunction(() => document.querySelector('.avatar.me')?.textContent === 'M');
  assert.equal((await avatarMe(a.page)).bg, 'rgb(18, 52, 86)');

  // Two guests whose browsers both picked the same orange.
  const guests = [];
  for (let i = 0; i < 2; i++) {
    const g = await chrome.newPage();
    await g.context.addInitScript(() => localStorage.getItem('cb.color') || localStorage.setItem('cb.color', '#e8590c'));
    await g.page.goto(`${node.url}/b/${board}`);
    await waitLive(g.page);
    guests.push(g);
  }
  await a.page.waitForFunction(() => window.__corkboard.sync.peers.size === 2);
  const colors = await peerColors(a.page);
  assert.equal(new Set(colors).size, 2, `guests' colours: ${colors}`);
  assert.ok(!colors.includes('#123456'), `a guest wears the member's colour: ${colors}`);
  // Each guest shows itself in the colour the others see, and keeps it on its next visit.
  const second = guests[1];
  const own = await second.page.evaluate(() => window.__corkboard.sync.user.color);
  assert.ok(colors.includes(own));
  assert.equal(await second.page.evaluate(() => localStorage.getItem('cb.color')), own);

  // Offline reload: the member is still Maya (M, her colour), and Retry
  // does not slide under the centre toolbar.
  await offlineShell(a.page);
  await a.context.setOffline(true);
  await waitState(a.page, (s) => s.state === 'offline');
  await a.page.reload();
  await waitState(a.page, (s) => s.state === 'offline');
  await a.page.waitForSelector('.retry:not([hidden])');
  assert.deepEqual(await avatarMe(a.page), { text: 'M', bg: 'rgb(18, 52, 86)' });
  for (const width of [1200, 900]) {
    await a.page.setViewportSize({ width, height: 800 });
    await a.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const retry = await a.page.locator('.retry').boundingBox();
    const bar = await a.page.locator('.toolbar').boundingBox();
    const chip = await a.page.locator('.conn').boundingBox();
    assert.ok(!overlap(retry, bar), `at ${width}px, Retry ${JSON.stringify(retry)} is under the toolbar ${JSON.stringify(bar)}`);
    assert.ok(!overlap(chip, bar), `at ${width}px, the status ${JSON.stringify(chip)} is under the toolbar ${JSON.stringify(bar)}`);
    assert.ok(retry.width > 30 && retry.x + retry.width <= width, 'Retry is visible');
  }
  await a.context.setOffline(false);
  for (const p of [a, ...guests]) await p.context.close();
});

/** The visible entries of the bottom menu that take more than one line: [{text, lines}]. */
const wrapped = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll('.fx-menu > *')]
      .filter((b) => !b.hidden && b.getClientRects().length)
      .map((b) => {
        const r = document.createRange();
        r.selectNodeContents(b);
        const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
        return { text: b.textContent, lines: tops.size };
      })
      .filter((x) => x.lines > 1),
  );

test('the bottom menu keeps each entry on one line ("New · N" included)', async () => {
  const ada = await person('ada@example.com', 'Ada', '#2f9e44');
  const board = (await call(ada, 'POST', '/v1/boards', { name: 'Menu' }, 201)).board.id;
  const a = await chrome.newPage();
  await useSession(a.context, node, ada);
  await a.page.goto(`${node.url}/b/${board}`);
  await waitLive(a.page);
  await a.page.waitForSelector('.people .cb-share-btn');
  await a.page.waitForSelector('.fx-menu .cb-notify-btn');
  // The since-your-visit entry as it shows with changes to see.
  await a.page.evaluate(() => {
    const b = document.querySelector('.fx-since-btn');
    if (b) {
      b.hidden = false;
      b.textContent = 'New · 12';
    }
  });
  for (const width of [1200, 1000, 800]) {
    await a.page.setViewportSize({ width, height: 800 });
    await a.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    assert.deepEqual(await wrapped(a.page), [], `at ${width}px`);
    const menu = await a.page.locator('.fx-menu').boundingBox();
    assert.ok(menu.x >= 0 && menu.x + menu.width <= width, `at ${width}px the menu ${JSON.stringify(menu)} is off screen`);
  }
  await a.context.close();
});

/** Records a page's console errors, failed requests and WebSocket attempts. */
function noise(page) {
  const n = { errors: [], failed: [], sockets: [] };
  page.on('console', (m) => m.type() === 'error' && n.errors.push(m.text()));
  page.on('response', (r) => r.status() >= 400 && n.failed.push(`${r.status()} ${r.url()}`));
  page.on('websocket', (ws) => n.sockets.push(ws.url()));
  return n;
}

test('a quiet console: signed out, and on a password board before and after its password', async () => {
  // The home page and a board's page, signed out: no 401 for /v1/me.
  const a = await chrome.newPage();
  const n = noise(a.page);
  await a.page.goto(node.url + '/');
  await a.page.waitForSelector('.account[data-state=signed-out]');
  assert.deepEqual(n.failed, [], 'home page, signed out');
  assert.deepEqual(n.errors, [], 'home page, signed out');

  // A password board, first visit: the prompt, in words for people, and
  // no WebSocket tried before the password is given.
  const owner = await person('olga@example.com', 'Olga', '#1c7ed6');
  const board = (await call(owner, 'POST', '/v1/boards', { name: 'Secret', access: 'password', password: 'open sesame' }, 201)).board.id;
  await a.page.goto(`${node.url}/b/${board}`);
  await a.page.waitForSelector('.cb-password input[name=password]');
  // Long enough for a connection attempt to have been made if the page were going to.
  await a.page.evaluate(() => new Promise((r) => setTimeout(r, 1500)));
  const page = await a.page.evaluate(() => document.body.innerText);
  assert.doesNotMatch(page, /POST|\/v1\/|\{board\}/, 'a developer message on the page');
  assert.match(await a.page.textContent('.cb-password'), /password/i);
  assert.deepEqual(n.sockets, [], 'WebSocket attempts before the password');
  // The one refusal is the one that asks for the password (the console
  // says "Failed to load resource" for it, without its address).
  assert.deepEqual(n.failed, [`401 ${node.url}/v1/boards/${board}`], 'failed requests before the password');
  assert.ok(n.errors.length <= 1 && n.errors.every((e) => /status of 401/.test(e)), `console errors before the password: ${n.errors}`);

  // A wrong password is said as such; the right one lets in, with one connection.
  await a.page.fill('.cb-password input[name=password]', 'wrong');
  await a.page.click('.cb-password button[type=submit]');
  await a.page.waitForSelector('.cb-password .error:not([hidden])');
  assert.equal(await a.page.textContent('.cb-password .error'), 'Wrong password.');
  n.failed.length = n.errors.length = 0;
  await a.page.fill('.cb-password input[name=password]', 'open sesame');
  await a.page.click('.cb-password button[type=submit]');
  await waitLive(a.page);
  assert.equal(n.sockets.length, 1, `WebSocket attempts: ${n.sockets}`);
  assert.deepEqual(n.errors, [], 'console errors after the password');
  await a.context.close();
});

test("@mentions offer the board's members, whoever saw them online, and show highlighted for everyone", async () => {
  const olga = await person('olga2@example.com', 'Olga', '#1c7ed6');
  const created = await call(olga, 'POST', '/v1/boards', { name: 'Mentions', publicRole: 'commenter' }, 201);
  const board = created.board.id;
  // Two members who have never been on the board in this browser.
  const members = {};
  for (const [email, name] of [['ben@example.com', 'Ben Li'], ['dana@example.com', 'Dana']]) {
    await call(olga, 'POST', `/v1/boards/${board}/invites`, { email, role: 'editor' }, 201);
    const { session } = await confirmJSON(await mailLink(node, email, /\/v1\/invites\//));
    await call(session, 'PATCH', '/v1/me', { name });
    members[name] = session;
  }
  // Cleo comes through the commenter link: nobody else is online.
  const c = await chrome.newPage();
  await openBoard(c.page, node.url, board, linkToken(created.links.commenter), 'Cleo');
  assert.equal((await state(c.page)).peers.length, 0);
  await c.page.click('.fx-comment-btn');
  await c.page.mouse.click(600, 400);
  await c.page.waitForSelector('.fx-composer:not([hidden]) textarea');
  await c.page.keyboard.type('Over to @');
  await c.page.waitForFunction(() => [...document.querySelectorAll('.fx-suggest:not([hidden]) .fx-mention')].map((b) => b.textContent).join('|') === 'Ben Li|Cleo|Dana|Olga');
  await c.page.keyboard.type('Be');
  await c.page.waitForFunction(() => [...document.querySelectorAll('.fx-suggest:not([hidden]) .fx-mention')].map((b) => b.textContent).join('|') === 'Ben Li');
  await c.page.click('.fx-suggest .fx-mention');
  assert.equal(await c.page.inputValue('.fx-composer textarea'), 'Over to @Ben Li ');
  await c.page.click('.fx-post');
  await waitSettled(c.page);
  await c.context.close();

  // Dana, signed in, has met neither Cleo nor Ben here: the mention is highlighted all the same.
  const d = await chrome.newPage();
  await useSession(d.context, node, members.Dana);
  await d.page.goto(`${node.url}/b/${board}`);
  await waitLive(d.page);
  await d.page.click('.fx-threads-btn');
  await d.page.waitForSelector('.fx-thread .fx-at');
  assert.equal(await d.page.textContent('.fx-thread .fx-at'), '@Ben Li');
  assert.equal(await d.page.textContent('.fx-thread .fx-text'), 'Over to @Ben Li');
  await d.context.close();
});

test('inviting an address twice: one pending invitation, the share dialog says so, Resend sends a new one', async () => {
  const olga = await person('olga3@example.com', 'Olga', '#1c7ed6');
  const board = (await call(olga, 'POST', '/v1/boards', { name: 'Invites' }, 201)).board.id;
  const a = await chrome.newPage();
  await useSession(a.context, node, olga);
  await a.page.goto(`${node.url}/b/${board}`);
  await waitLive(a.page);
  await a.page.waitForSelector('.cb-share-btn:not([hidden])');
  await a.page.click('.cb-share-btn');
  const invite = async (email, role) => {
    await a.page.fill('.cb-share form.invite input[name=email]', email);
    await a.page.selectOption('.cb-share form.invite select[name=role]', role);
    await a.page.click('.cb-share form.invite button[type=submit]');
  };
  const pending = () => a.page.$$eval('.cb-share .invites li[data-state=pending]', (ls) => ls.map((l) => l.textContent));
  const mailsTo = (addr) => mails(node).filter((m) => m.to.includes(addr)).length;

  await invite('zoe@example.com', 'editor');
  await a.page.waitForFunction(() => /Invitation sent to zoe@example\.com/.test(document.querySelector('.cb-share .note')?.textContent ?? ''));
  await mailLink(node, 'zoe@example.com', /\/v1\/invites\//);
  await invite('zoe@example.com', 'commenter');
  await a.page.waitForFunction(() => /already invited/.test(document.querySelector('.cb-share .note')?.textContent ?? ''));
  const note = await a.page.textContent('.cb-share .note');
  assert.match(note, /zoe@example\.com was already invited .* no second e-mail was sent \(the invitation is now for a commenter\)/);
  await a.page.waitForFunction(() => [...document.querySelectorAll('.cb-share .invites li[data-state=pending]')].some((l) => /commenter/.test(l.textContent)));
  const list = await pending();
  assert.equal(list.length, 1, `pending: ${list}`);
  assert.match(list[0], /zoe@example\.com · commenter · pending/);
  assert.equal(mailsTo('zoe@example.com'), 1);

  // Resend: a new e-mail, still one pending invitation.
  await a.page.click('.cb-share .invites li[data-state=pending] .resend');
  await a.page.waitForFunction(() => /A new invitation was sent to zoe@example\.com/.test(document.querySelector('.cb-share .note')?.textContent ?? ''));
  await a.page.waitForFunction(() => document.querySelectorAll('.cb-share .invites li[data-state=revoked]').length === 1);
  assert.equal((await pending()).length, 1);
  const end = Date.now() + 10000;
  while (mailsTo('zoe@example.com') < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mailsTo('zoe@example.com'), 2);
  await a.context.close();
});
