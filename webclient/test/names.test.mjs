// Names (welcome.ts): someone invited by e-mail arrives with an account
// named after their address ("ben.okri"); the board asks them, once, what
// the others should call them, suggests "Ben Okri", and stores the answer
// with the profile API; the others then see that name. A member who chose
// a name is never asked, and "Not now" is not asked again in that browser.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitLive } from './lib.mjs';
import { mailLink, sessionCall, signInAPI, useSession } from './mail.mjs';

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

test('an invitee is asked for a display name on arrival; it is stored in the profile and shown to the others', async () => {
  const ada = await signInAPI(node, 'ada.names@example.com');
  await call(ada, 'PATCH', '/v1/me', { name: 'Ada' });
  const board = (await call(ada, 'POST', '/v1/boards', { name: 'Names', access: 'members' }, 201)).board.id;
  await call(ada, 'POST', `/v1/boards/${board}/invites`, { email: 'ben.okri@example.com', role: 'editor' }, 201);

  // Ada is on the board, named: she is not asked.
  const a = await chrome.newPage();
  await useSession(a.context, node, ada);
  await a.page.goto(`${node.url}/b/${board}`);
  await waitLive(a.page);
  await a.page.waitForSelector('.cb-share-btn');
  await a.page.waitForFunction(() => window.__corkboard?.access?.me);
  assert.equal(await a.page.$('.cb-welcome'), null, 'a named member is not asked');

  // Ben follows his e-mailed invite.
  const b = await chrome.newPage();
  const link = await mailLink(node, 'ben.okri@example.com', /\/v1\/invites\//);
  await b.page.goto(link);
  await Promise.all([b.page.waitForURL(new RegExp(`/b/${board}`)), b.page.click('button[type=submit]')]);
  await waitLive(b.page);
  await b.page.waitForSelector('.cb-welcome');
  assert.equal(await b.page.inputValue('.cb-welcome input[name=name]'), 'Ben Okri', 'a name suggested from the address');
  assert.equal(await b.page.evaluate(() => document.activeElement?.name), 'name', 'the field has the focus');
  await b.page.fill('.cb-welcome input[name=name]', 'Benjamin Okri');
  await Promise.all([b.page.waitForEvent('load'), b.page.click('.cb-welcome button[type=submit]')]);
  await waitLive(b.page);
  const me = await b.page.evaluate(() => fetch('/v1/me').then((r) => r.json()));
  assert.equal(me.user.name, 'Benjamin Okri', 'stored in the profile');
  await b.page.waitForFunction(() => window.__corkboard?.access?.me);
  assert.equal(await b.page.$('.cb-welcome'), null, 'asked once');
  // The others see the name.
  await a.page.waitForFunction(() => [...window.__corkboard.sync.peers.values()].some((p) => p.name === 'Benjamin Okri'), undefined, { timeout: 15000 });
  const members = await call(ada, 'GET', `/v1/boards/${board}/members`);
  assert.ok(members.members.some((m) => m.name === 'Benjamin Okri'));

  // "Not now": not asked again in this browser.
  await call(ada, 'POST', `/v1/boards/${board}/invites`, { email: 'cy@example.com', role: 'viewer' }, 201);
  const c = await chrome.newPage();
  await c.page.goto(await mailLink(node, 'cy@example.com', /\/v1\/invites\//));
  await Promise.all([c.page.waitForURL(new RegExp(`/b/${board}`)), c.page.click('button[type=submit]')]);
  await c.page.waitForSelector('.cb-welcome');
  await c.page.click('.cb-welcome .later');
  assert.equal(await c.page.$('.cb-welcome'), null);
  await c.page.reload();
  await waitLive(c.page);
  await c.page.waitForFunction(() => window.__corkboard?.access?.me);
  assert.equal(await c.page.$('.cb-welcome'), null, 'not asked again after Not now');
  assert.equal((await c.page.evaluate(() => fetch('/v1/me').then((r) => r.json()))).user.name, 'cy');
  for (const p of [a, b, c]) await p.context.close();
});
