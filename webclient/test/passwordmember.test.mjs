// A password board opened by one of its members who is not signed in in
// this browser (invited by e-mail and never told the password, or the
// owner on another device, following the digest's link): the password
// prompt lets them sign in instead, and the e-mailed link brings them back
// to the board as the member they are, not as a password guest. A
// signed-in visitor who is no member is not offered it: the password
// makes them a member.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitLive } from './lib.mjs';
import { confirmJSON, mailLink, sessionCall, signInAPI, useSession } from './mail.mjs';

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

test('a password board: a member not signed in here signs in from the prompt instead of giving the password', async () => {
  const owner = await signInAPI(node, 'olivia@example.com');
  const { board } = await sessionCall(node, owner, 'POST', '/v1/boards', { name: 'Offsite', access: 'password', password: 'correct horse' }, 201);
  await sessionCall(node, owner, 'POST', `/v1/boards/${board.id}/invites`, { email: 'ana@example.com', role: 'editor' }, 201);
  const seen = new Set();
  await confirmJSON(await mailLink(node, 'ana@example.com', /\/v1\/invites\//, seen)); // she joined, on her laptop

  // Her phone: no session, the board's address (the digest's link).
  const { page } = await chrome.newPage();
  await page.goto(`${node.url}/b/${board.id}`);
  await page.waitForSelector('form.cb-password .signin-instead:visible');
  await page.click('.cb-password .signin-instead');
  await page.waitForSelector('form.cb-signin input[name=email]');
  assert.equal(await page.isVisible('form.cb-password input[name=password]'), false, 'the password form gave way');
  assert.match(await page.textContent('form.cb-signin'), /invited with/);
  await page.fill('.cb-signin input[name=email]', 'ana@example.com');
  await page.click('.cb-signin button[type=submit]');
  await page.waitForSelector('.cb-signin .note:not([hidden])');
  assert.match(await page.textContent('.cb-signin .note'), /sign-in link to ana@example\.com/);
  const link = await mailLink(node, 'ana@example.com', /\/v1\/signin\//, seen);
  await page.goto(link);
  await Promise.all([page.waitForURL(new RegExp(`/b/${board.id}$`)), page.click('button[type=submit]')]);
  await waitLive(page);
  const s = await state(page);
  assert.equal(s.role, 'editor', 'her role as a member');
  assert.match(await page.evaluate(() => window.__corkboard.sync.user.id), /^u_/, 'as her account, not a guest');

  // Someone signed in who is no member: the password is the way in, no sign-in offered.
  const bob = await signInAPI(node, 'bob@example.com');
  const b = await chrome.newPage();
  await useSession(b.context, node, bob);
  await b.page.goto(`${node.url}/b/${board.id}`);
  await b.page.waitForSelector('form.cb-password');
  await b.page.waitForSelector('form.cb-password .member', { state: 'hidden' });
  await b.context.close();
});
