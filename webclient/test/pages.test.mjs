// The pages around the canvas, as they look: the home page (with a board
// card: its thumbnail, who is in it, what changed since one last looked),
// the Share dialog and the Notifications dialog, each screenshotted at a
// fixed size and device pixel ratio and compared with a checked-in PNG of
// webclient/test/screenshots/ by a tolerant pixel diff (fx.mjs comparePNG):
// a pixel counts as different beyond a per-channel tolerance, and up to
// MAX_DIFF of them may differ (font hinting, anti-aliasing). Text that
// changes from run to run (times, dates, addresses) is masked.
//
// After an intended change of a page, rewrite the images with
//   CORKBOARD_UPDATE_SCREENSHOTS=1 bash webclient/test/run.sh
// (or this file alone) and look at them before committing them.
//
// The same file checks the pages' behaviour the design brought: one Share
// entry point (the top bar's, for everyone; no second one in the menu),
// and the thumbnail endpoint refusing a stranger as GET /state does.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { launch, startNode, waitLive, waitSettled } from './lib.mjs';
import { comparePNG, edit, noteOps, fixedId } from './fx.mjs';
import { person as signedInPerson, sessionCall, signInAPI, useSession } from './mail.mjs';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');
const TOLERANCE = 48;
const MAX_DIFF = 0.004;
const VIEW = { viewport: { width: 1100, height: 760 }, deviceScaleFactor: 1, locale: 'en-US', timezoneId: 'UTC', colorScheme: 'light', reducedMotion: 'reduce' };

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


/**
 * Compares a screenshot with its checked-in image (written instead with
 * CORKBOARD_UPDATE_SCREENSHOTS=1), and checks the comparison's own
 * sensitivity: the same picture with a 60×20 block painted over differs.
 */
async function matches(page, name, png) {
  const file = join(DIR, name + '.png');
  if (process.env.CORKBOARD_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(file, png);
    console.log('wrote', file);
  }
  assert.ok(existsSync(file), `no image at ${file}: run with CORKBOARD_UPDATE_SCREENSHOTS=1 to write it`);
  const want = readFileSync(file);
  const r = await comparePNG(page, png, want, TOLERANCE);
  if (r.diff < 0 || r.diff / r.total > MAX_DIFF) writeFileSync(join(DIR, name + '.actual.png'), png);
  assert.deepEqual(r.a, r.b, `${name}: same size as the checked-in image`);
  assert.ok(r.diff / r.total <= MAX_DIFF, `${name}: ${r.diff} of ${r.total} pixels differ (at most ${Math.floor(MAX_DIFF * r.total)}); see ${name}.actual.png`);
}

/** A screenshot with the page's changing text masked. */
async function shoot(page, target, mask = []) {
  await page.mouse.move(1, 1);
  await page.evaluate(() => document.fonts.ready);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const opts = { animations: 'disabled', caret: 'hide', mask: mask.map((s) => page.locator(s)), maskColor: '#888888' };
  return target ? page.locator(target).screenshot(opts) : page.screenshot({ ...opts, fullPage: true });
}

test('home page: restyled, lists the board with its thumbnail, people and changes since one looked; matches its screenshot', async () => {
  const ada = await person('ada.home@example.com', 'Ada Lovelace', '#2f9e44');
  const ben = await person('ben.home@example.com', 'Ben Okri', '#e8590c');
  const b = (await call(ada, 'POST', '/v1/boards', { name: 'Launch plan', ownerName: 'Ada Lovelace' }, 201)).board.id;
  // Ben becomes a member through an invite link.
  const inv = await call(ada, 'POST', `/v1/boards/${b}/invites`, { role: 'editor' }, 201);
  await fetch(inv.link, { method: 'POST', headers: { Accept: 'application/json', Authorization: `Session ${ben}` } });

  // Ada's board with notes, seen by her once; then Ben adds one.
  const a = await chrome.newPage(VIEW);
  await useSession(a.context, node, ada);
  await a.page.goto(`${node.url}/b/${b}`);
  await waitLive(a.page);
  await edit(a.page, [...noteOps(fixedId(201), 0, 0, 'Pick a date', 'yellow', 'a0'), ...noteOps(fixedId(202), 240, 0, 'Venue', 'pink', 'a1'), ...noteOps(fixedId(203), 0, 240, 'Budget', 'green', 'a2')]);
  await waitSettled(a.page);
  await call(ada, 'PUT', `/v1/boards/${b}/seen`, { version: await a.page.evaluate(() => window.__corkboard.sync.version?.() ?? undefined) }, 204).catch(() => {});
  await a.page.goto('about:blank'); // leaving records the visit
  const bp = await chrome.newPage(VIEW);
  await useSession(bp.context, node, ben);
  await bp.page.goto(`${node.url}/b/${b}`);
  await waitLive(bp.page);
  await edit(bp.page, noteOps(fixedId(204), 240, 240, 'Invite list', 'blue', 'a3'));
  await waitSettled(bp.page);
  await bp.context.close();

  await a.page.goto(node.url + '/');
  const card = `.board-card[data-board="${b}"]`;
  await a.page.waitForSelector(`${card} .thumb img[src^="blob:"]`);
  await a.page.waitForSelector(`${card} .who li`);
  await a.page.waitForFunction((c) => /since you last looked/.test(document.querySelector(c + ' .since-home')?.textContent ?? ''), card);
  const info = await a.page.evaluate((c) => {
    const el = document.querySelector(c);
    return {
      who: [...el.querySelectorAll('.who li')].map((x) => x.textContent),
      since: el.querySelector('.since-home').textContent,
      changed: el.querySelector('.changed').textContent,
      img: (() => {
        const i = el.querySelector('.thumb img');
        return { w: i.naturalWidth, h: i.naturalHeight, alt: i.alt };
      })(),
    };
  }, card);
  assert.ok(info.who.some((w) => /Ada Lovelace/.test(w)) && info.who.some((w) => /Ben Okri/.test(w)), `who: ${info.who}`);
  assert.match(info.since, /Ben Okri added .*Invite list/);
  assert.match(info.changed, /^changed /);
  assert.deepEqual([info.img.w, info.img.h], [240, 150]);
  assert.match(info.img.alt, /Launch plan/);

  // The look: cards, not bare forms.
  const look = await a.page.evaluate(() => {
    const s = (q) => getComputedStyle(document.querySelector(q));
    return { card: s('.new-board').borderRadius, shadow: s('.new-board').boxShadow, labelDisplay: s('form.create label').display };
  });
  assert.equal(look.card, '12px');
  assert.notEqual(look.shadow, 'none');
  assert.equal(look.labelDisplay, 'grid');
  // A visible focus ring on the fields.
  await a.page.focus('input[name=name]');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.down('Shift');
  await a.page.keyboard.press('Tab');
  await a.page.keyboard.up('Shift');
  assert.notEqual(await a.page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle), 'none');
  await a.page.evaluate(() => document.activeElement.blur());

  // Only this board in the list, for a stable picture.
  await matches(a.page, 'home', await shoot(a.page, null, ['.board-card .meta', '.account .mail', '.foot']));

  // Narrow: one column, nothing wider than the screen.
  await a.page.setViewportSize({ width: 375, height: 667 });
  const overflow = await a.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the home page is ${overflow}px wider than a phone`);
  await a.context.close();
});

test('one Share entry point: the top bar Share opens the dialog (copy link for all, settings for the owner); it matches its screenshot', async () => {
  const ada = await person('ada.share@example.com', 'Ada', '#2f9e44');
  const b = (await call(ada, 'POST', '/v1/boards', { name: 'Share me', ownerName: 'Ada' }, 201)).board.id;
  const a = await chrome.newPage({ ...VIEW, permissions: ['clipboard-read', 'clipboard-write'] });
  await useSession(a.context, node, ada);
  await a.page.goto(`${node.url}/b/${b}`);
  await waitLive(a.page);
  await a.page.waitForSelector('.people .share.cb-share-btn');
  const entries = await a.page.evaluate(() => [...document.querySelectorAll('button')].filter((x) => /share/i.test(x.textContent) && x.offsetParent).map((x) => x.textContent));
  assert.deepEqual(entries, ['Share'], 'one Share button on the page');
  await a.page.click('.people .share');
  await a.page.waitForSelector('dialog.cb-share[open] .owner-part:not([hidden])');
  await a.page.waitForSelector('dialog.cb-share .members li');
  assert.equal(await a.page.textContent('dialog.cb-share header h2'), 'Share & settings');
  await a.page.click('dialog.cb-share .copy-board-link');
  await a.page.waitForFunction(() => /copied/i.test(document.querySelector('.toast')?.textContent ?? ''));
  assert.match(await a.page.evaluate(() => navigator.clipboard.readText()), new RegExp(`/b/${b}`));
  await a.page.evaluate(() => document.activeElement?.blur());
  await a.page.evaluate(() => (document.querySelector('dialog.cb-share').scrollTop = 0));
  await matches(a.page, 'share', await shoot(a.page, 'dialog.cb-share', ['dialog.cb-share .links', 'dialog.cb-share .invites', 'dialog.cb-share .members .mail', 'dialog.cb-share .note']));

  // A visitor with a link: the same button, the copy part only.
  const link = (await call(ada, 'POST', `/v1/boards/${b}/links`, { role: 'editor' }, 201)).url;
  const v = await chrome.newPage(VIEW);
  await v.page.goto(link);
  await waitLive(v.page);
  await v.page.waitForSelector('.people .share.cb-share-btn');
  await v.page.click('.people .share');
  await v.page.waitForSelector('dialog.cb-share[open]');
  assert.equal(await v.page.textContent('dialog.cb-share header h2'), 'Share');
  assert.equal(await v.page.isHidden('dialog.cb-share .owner-part'), true);
  assert.equal(await v.page.isVisible('dialog.cb-share .copy-board-link'), true);
  await v.context.close();
  await a.context.close();
});

test('the Notifications dialog is restyled and matches its screenshot', async () => {
  const ada = await person('ada.notify@example.com', 'Ada', '#2f9e44');
  const b = (await call(ada, 'POST', '/v1/boards', { name: 'Notify me', ownerName: 'Ada' }, 201)).board.id;
  const a = await chrome.newPage(VIEW);
  await useSession(a.context, node, ada);
  await a.page.goto(`${node.url}/b/${b}`);
  await waitLive(a.page);
  await a.page.waitForSelector('.cb-notify-btn:not([hidden])');
  await a.page.click('.cb-notify-btn');
  await a.page.waitForSelector('dialog.cb-notify[open]');
  await a.page.waitForFunction(() => document.querySelector('dialog.cb-notify select[name=mode]').value !== '');
  await a.page.evaluate(() => document.activeElement?.blur());
  const labelled = await a.page.evaluate(() => [...document.querySelectorAll('dialog.cb-notify select, dialog.cb-notify input')].every((x) => x.labels?.length || x.getAttribute('aria-label')));
  assert.ok(labelled, 'every field has a label');
  await matches(a.page, 'notify', await shoot(a.page, 'dialog.cb-notify'));
  await a.context.close();
});
