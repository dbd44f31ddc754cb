// Tokens out of the address bar, and role links (src/boardtoken.ts,
// share.ts; issue 10, finding 3): a board made on the home page leaves no
// token in the address and its owner stays owner after a reload; a link's
// `#token=` (and an older link's `?token=`) is gone from the address as
// soon as the page has loaded, and its role applies; the owner opening one
// of their own links stays owner; the owner makes an editor link in Share &
// settings, someone else edits through it, and revoking it shuts them out;
// revoking every link leaves the owner in charge (the node's new owner
// token is taken at once, and kept across a reload); an invite link asks
// its holder to sign in.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createBoard, launch, noteAt, startNode, state, storedToken, waitLive, waitSettled, waitState } from './lib.mjs';
import { edit, fixedId, linkToken, noteOps, restBoard } from './fx.mjs';
import { signInAPI, useSession } from './mail.mjs';

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

const CLIP = { permissions: ['clipboard-read', 'clipboard-write'] };

/** A page that notes its address as its scripts finish (DOMContentLoaded: after main.ts ran). */
async function watchedPage(opts = {}) {
  const p = await chrome.newPage({ ...CLIP, ...opts });
  await p.page.addInitScript(() => {
    window.__historyAtStart = history.length;
    document.addEventListener('DOMContentLoaded', () => (window.__hrefAtReady = location.href));
  });
  return p;
}

/** What the node says a token may do on the board (GET /v1/boards/{id}): the role, or the HTTP status. */
async function roleOf(id, token) {
  const r = await fetch(`${node.url}/v1/boards/${id}`, { headers: { Authorization: 'Bearer ' + token } });
  return r.ok ? (await r.json()).you.role : r.status;
}

/**
 * Waits until the page is live with role, through the reloads the page
 * may do meanwhile (a refused token is forgotten with one). A bounded
 * poll: a reload destroys the context a waitForFunction runs in.
 */
async function liveAs(page, role, timeout = 15000) {
  const end = Date.now() + timeout;
  let seen;
  while (Date.now() < end) {
    try {
      seen = await page.evaluate(() => window.__corkboard?.state() ?? null);
      if (seen?.state === 'live' && seen.role === role) return seen;
    } catch {
      /* navigating */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not live as ${role}: ${JSON.stringify(seen)}`);
}

/** Opens the share dialog (the owner's). */
async function openShare(page) {
  await page.waitForSelector('.cb-share-btn:not([hidden])');
  await page.click('.cb-share-btn');
  await page.waitForSelector('dialog.cb-share[open]');
}

test('creating a board leaves no token in the address; the owner is still owner after a reload', async () => {
  const { page, context } = await chrome.newPage(CLIP);
  const { id, token } = await createBoard(page, node.url, 'No token', 'Ada');
  assert.equal(page.url(), `${node.url}/b/${id}`, 'the address is the board, nothing more');
  assert.ok(token, 'the owner token is kept in the browser');
  assert.equal(await roleOf(id, token), 'owner');
  assert.equal((await state(page)).role, 'owner');

  await page.reload();
  await waitLive(page);
  assert.equal(page.url(), `${node.url}/b/${id}`);
  assert.equal((await state(page)).role, 'owner');
  await page.waitForSelector('.cb-share-btn:not([hidden])');
  await noteAt(page, 600, 400, 'Still mine');
  await waitSettled(page);

  // The home page lists the board without its token.
  await page.goto(node.url + '/');
  await page.waitForSelector('.recent li a');
  assert.equal(await page.getAttribute('.recent li a', 'href'), `/b/${id}`);
  await page.click('.recent li a');
  await waitLive(page);
  assert.equal(page.url(), `${node.url}/b/${id}`);
  assert.equal((await state(page)).role, 'owner');

  // The top bar's Share (the one entry point) copies a link with its token in the fragment, never the query.
  await page.click('.share');
  await page.click('dialog.cb-share[open] .copy-board-link');
  await page.waitForFunction(() => /copied/.test(document.querySelector('.toast')?.textContent ?? ''));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, new RegExp(`/b/${id}#token=`));
  assert.equal(new URL(copied).searchParams.get('token'), null);
  assert.equal(await roleOf(id, linkToken(copied)), 'editor');
  await context.close();
});

test("a link's #token= is gone from the address once the page has loaded, and its role applies", async () => {
  const b = await restBoard(node.url, 'Fragment', { publicRole: 'viewer' });
  const { page, context } = await watchedPage();
  await page.goto(`${node.url}/b/${b.id}?from=mail#token=${encodeURIComponent(b.tokens.commenter)}&x=1`);
  const atReady = await page.evaluate(() => window.__hrefAtReady);
  assert.equal(atReady, `${node.url}/b/${b.id}?from=mail#x=1`, 'the token is out of the address by the time the page is ready; the rest stays');
  await waitLive(page);
  assert.doesNotMatch(page.url(), /token/);
  assert.equal((await state(page)).role, 'commenter');
  assert.equal(await page.evaluate(() => history.length - window.__historyAtStart), 0, 'the address was replaced, not pushed: Back does not bring the token back');

  // A reload without the token in the address: the browser kept it.
  await page.reload();
  await waitLive(page);
  assert.equal((await state(page)).role, 'commenter');
  assert.equal(await storedToken(page, b.id), b.tokens.commenter);
  await context.close();
});

test('a legacy ?token= link is taken out of the address too', async () => {
  const b = await restBoard(node.url, 'Legacy', { publicRole: 'viewer' });
  const { page, context } = await watchedPage();
  await page.goto(`${node.url}/b/${b.id}?token=${encodeURIComponent(b.tokens.editor)}&from=mail`);
  assert.equal(await page.evaluate(() => window.__hrefAtReady), `${node.url}/b/${b.id}?from=mail`);
  await waitLive(page);
  assert.equal((await state(page)).role, 'editor');
  await edit(page, noteOps(fixedId(1), 0, 0, 'legacy link'));
  await waitSettled(page);
  await page.reload();
  await waitLive(page);
  assert.equal(page.url(), `${node.url}/b/${b.id}?from=mail`);
  assert.equal((await state(page)).role, 'editor');
  await context.close();
});

test('the owner opening a link to their own board stays owner', async () => {
  const { page, context } = await chrome.newPage(CLIP);
  const { id, token } = await createBoard(page, node.url, 'Own link', 'Ada');
  const viewer = await page.evaluate(
    (id) =>
      new Promise((resolve) => {
        const open = indexedDB.open('corkboard');
        open.onsuccess = () => {
          const get = open.result.transaction('boards').objectStore('boards').get(id);
          get.onsuccess = () => resolve(get.result.links.viewer);
        };
      }),
    id,
  );
  // Only the fragment changes: the page takes the link and reloads, and
  // says so once it has come back (wait for that, not for the page that
  // is about to reload).
  await page.goto(viewer);
  await page.waitForFunction(() => /your own board/.test(document.querySelector('.toast')?.textContent ?? ''));
  await waitLive(page);
  assert.doesNotMatch(page.url(), /token/);
  assert.equal((await state(page)).role, 'owner');
  assert.equal(await storedToken(page, id), token);
  await context.close();
});

test('the owner makes an editor link, someone edits through it, and revoking it shuts them out', async () => {
  const { page: a, context: ca } = await chrome.newPage(CLIP);
  const { id, token } = await createBoard(a, node.url, 'Minted', 'Ada');
  // Visitors without a link may only look: losing the link means losing edit rights.
  const r = await fetch(`${node.url}/v1/boards/${id}`, { method: 'PATCH', headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }, body: JSON.stringify({ publicRole: 'viewer' }) });
  assert.equal(r.status, 200);

  await openShare(a);
  await a.click('.cb-share .new-link[data-role=editor]');
  await a.waitForSelector('.cb-share .links-section .minted:not([hidden])');
  const url = await a.inputValue('.cb-share .minted .link-url');
  assert.match(url, new RegExp(`^${node.url}/b/${id}#token=`), 'the token rides in the fragment');
  assert.equal(new URL(url).search, '');
  const linkId = await a.getAttribute('.cb-share .links-section .minted', 'data-link');
  await a.waitForSelector(`.cb-share .links li[data-role=editor][data-link="${linkId}"]`);
  assert.doesNotMatch(await a.textContent('.cb-share .links'), /token/, 'the list shows no tokens');
  await a.click('.cb-share .minted .copy-link');
  assert.equal(await a.evaluate(() => navigator.clipboard.readText()), url);
  await a.click('dialog.cb-share .close');

  // Bob opens the link and edits.
  const { page: b, context: cb } = await watchedPage();
  await b.goto(url);
  assert.equal(await b.evaluate(() => window.__hrefAtReady), `${node.url}/b/${id}`);
  await waitLive(b);
  assert.equal((await state(b)).role, 'editor');
  await noteAt(b, 500, 400, 'From Bob');
  await waitSettled(b);
  await waitState(a, (s) => s.elements.some((e) => e.text === 'From Bob'));

  // The owner revokes it: Bob's connection ends or loses its rights, and the token is refused.
  await openShare(a);
  await a.waitForSelector(`.cb-share .links li[data-link="${linkId}"]`);
  await a.click(`.cb-share .links li[data-link="${linkId}"] .revoke-link`);
  await a.waitForSelector(`.cb-share .links li[data-link="${linkId}"]`, { state: 'detached' });
  await waitState(b, (s) => s.state === 'stopped' || (s.role !== 'editor' && s.role !== 'owner'));
  assert.equal(await b.evaluate(() => window.__corkboard.sync.state === 'stopped' || !window.__corkboard.app.canEdit), true);
  assert.equal(await roleOf(id, linkToken(url)), 401);

  // After a reload Bob's browser has let the refused token go: he is a
  // visitor of the board, who may only look.
  await b.reload();
  await liveAs(b, 'viewer');
  assert.equal(await b.evaluate(() => window.__corkboard.app.canEdit), false);
  assert.equal(await storedToken(b, id), null);
  assert.equal((await state(a)).role, 'owner');
  await cb.close();
  await ca.close();
});

test('revoking every link keeps the owner in charge, across a reload', async () => {
  const { page, context } = await chrome.newPage(CLIP);
  const { id, token: old } = await createBoard(page, node.url, 'Revoke all', 'Ada');
  // A second tab of the same browser on the board.
  const tab2 = await context.newPage();
  await tab2.goto(`${node.url}/b/${id}`);
  await waitLive(tab2);
  assert.equal((await state(tab2)).role, 'owner');
  await openShare(page);
  await page.click('.cb-share .new-link[data-role=viewer]');
  await page.waitForSelector('.cb-share .links-section .minted:not([hidden])');
  const viewer = linkToken(await page.inputValue('.cb-share .minted .link-url'));
  page.once('dialog', (d) => d.accept());
  await page.click('.cb-share .revoke-links');
  await page.waitForFunction(() => /Every link was revoked/.test(document.querySelector('.cb-share .note').textContent));
  await page.waitForSelector('.cb-share .links li.empty');
  assert.equal(await page.isVisible('.cb-share .minted'), false);

  // The page took the node's new owner token: connected again as owner.
  const fresh = await storedToken(page, id);
  assert.notEqual(fresh, old);
  assert.equal(await roleOf(id, fresh), 'owner');
  assert.equal(await roleOf(id, old), 401, 'the old owner token was revoked with the links');
  assert.equal(await roleOf(id, viewer), 401);
  await waitState(page, (s) => s.state === 'live' && s.role === 'owner');
  // The other tab was cut off with the old token, and took the new one.
  await waitState(tab2, (s) => s.state === 'live' && s.role === 'owner');
  assert.equal(await tab2.evaluate(() => window.__corkboard.sync.record.token), fresh);
  await tab2.close();
  await page.click('dialog.cb-share .close');
  await noteAt(page, 600, 400, 'After revoking');
  await waitSettled(page);

  await page.reload();
  await waitLive(page);
  assert.equal((await state(page)).role, 'owner');
  await openShare(page);
  await page.click('.cb-share .new-link[data-role=editor]');
  await page.waitForSelector('.cb-share .links-section .minted:not([hidden])');
  assert.equal(await roleOf(id, linkToken(await page.inputValue('.cb-share .minted .link-url'))), 'editor', 'the owner can make new links');
  await context.close();
});

test('an invite link makes a member of whoever opens it signed in, and asks the others to sign in', async () => {
  const { page: a, context: ca } = await chrome.newPage(CLIP);
  const { id } = await createBoard(a, node.url, 'Invite link', 'Ada');
  await openShare(a);
  await a.selectOption('.cb-share form.invite-link select[name=role]', 'commenter');
  await a.click('.cb-share form.invite-link button[type=submit]');
  await a.waitForSelector('.cb-share .invite-section .minted:not([hidden])');
  const link = await a.inputValue('.cb-share .invite-section .minted .link-url');
  assert.match(link, /\/v1\/invites\//);
  await a.waitForSelector('.cb-share .invites li[data-state=pending]');
  assert.match(await a.textContent('.cb-share .invites li'), /invite link · commenter · pending/);

  // Without a session the link does nothing but ask to sign in.
  const anon = await fetch(link, { method: 'POST', headers: { Accept: 'application/json' } });
  assert.equal(anon.status, 401);
  assert.equal((await anon.json()).error.code, 'unauthorized');

  // Signed in, it makes a member with the link's role and leads to the board.
  const { page: b, context: cb } = await chrome.newPage();
  await useSession(cb, node, await signInAPI(node, 'bob@example.com'));
  await b.goto(link);
  await Promise.all([b.waitForURL(new RegExp(`/b/${id}`)), b.click('button[type=submit]')]);
  await waitLive(b);
  assert.doesNotMatch(b.url(), /token/);
  assert.equal((await state(b)).role, 'commenter');
  await cb.close();
  await ca.close();
});
