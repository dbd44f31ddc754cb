// Accessibility (src/outline.ts, the restyled pages): the board's outline
// in the DOM (frames and mindmaps as nested lists, notes with their votes
// and comment threads), kept in step with the canvas but brought up to
// date at most every so often (a burst of changes costs one update), Tab
// from the canvas through the elements (focus selects the element and
// brings it into view), and axe-core run in the page: no serious or
// critical violation on the board, the home page, the Share dialog and
// the Notifications dialog.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import { launch, seedGrid, startNode, waitLive, waitSettled } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';
import { signInAPI, useSession } from './mail.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

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

/**
 * Runs axe-core in the page (put there through the DevTools protocol, as
 * the page's CSP forbids inline scripts) and returns its serious and
 * critical violations, each with the elements concerned.
 */
async function axe(page, context = 'document') {
  await page.evaluate(AXE);
  const v = await page.evaluate(async (ctx) => {
    const r = await window.axe.run(ctx === 'document' ? document : document.querySelector(ctx), { resultTypes: ['violations'] });
    return r.violations.map((x) => ({ id: x.id, impact: x.impact, help: x.help, nodes: x.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
  }, context);
  return v.filter((x) => x.impact === 'serious' || x.impact === 'critical');
}

const F = fixedId(1), N1 = fixedId(2), N2 = fixedId(3), N3 = fixedId(4), M = fixedId(5), M1 = fixedId(6), M2 = fixedId(7), FAR = fixedId(8), C = fixedId(9);

function seed() {
  const set = (el, key, value) => ({ op: 'set', el, key, value });
  return [
    { op: 'create', el: F, kind: 'frame' }, set(F, 'x', 0), set(F, 'y', 0), set(F, 'w', 600), set(F, 'h', 300), set(F, 'z', 'a0'),
    { op: 'insertText', el: F, field: 'title', pos: 0, text: 'Ideas' },
    ...noteOps(N1, 20, 60, 'Lake walk', 'yellow', 'a1'),
    { op: 'move', el: N1, parent: F, posKey: 'a0' },
    ...noteOps(N2, 300, 60, 'Swim', 'pink', 'a2'),
    { op: 'move', el: N2, parent: F, posKey: 'a1' },
    ...noteOps(N3, 0, 400, 'Sauna', 'green', 'a3'),
    { op: 'create', el: M, kind: 'mindmap' }, set(M, 'x', 700), set(M, 'y', 0), set(M, 'z', 'a4'),
    { op: 'insertText', el: M, field: 'text', pos: 0, text: 'Trip' },
    { op: 'create', el: M1, kind: 'mindmap' }, { op: 'move', el: M1, parent: M, posKey: 'a0' }, { op: 'insertText', el: M1, field: 'text', pos: 0, text: 'Food' },
    { op: 'create', el: M2, kind: 'mindmap' }, { op: 'move', el: M2, parent: M, posKey: 'a1' }, { op: 'insertText', el: M2, field: 'text', pos: 0, text: 'Travel' },
    ...noteOps(FAR, 6000, 4000, 'Far away', 'blue', 'a5'),
  ];
}

test('the board outline: nested lists with votes and comments, in step with the canvas, Tab through the elements; axe finds nothing serious', async () => {
  const b = await restBoard(node.url, 'Outline', { ownerName: 'Ada' });
  const { page, context } = await chrome.newPage({ viewport: { width: 1200, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  await edit(page, seed());
  await page.evaluate(async ([n1, n3]) => {
    const f = window.__corkboard.features;
    await f.votes.vote(n1, 2);
    f.comments.create('Bring towels @Ada', { target: n3, x: 0, y: 400 });
  }, [N1, N3]);
  await waitSettled(page);
  await page.waitForFunction(() => /7 elements|8 elements/.test(document.querySelector('.cb-outline h2')?.textContent ?? ''));
  // The votes and the comment reach the outline at its next idle update,
  // which may come after the one that counted the elements.
  await page.waitForFunction(([n1, n3]) => {
    const label = (id) => document.querySelector(`.cb-outline [data-el="${id}"]`)?.textContent ?? '';
    return /2 votes/.test(label(n1)) && /1 comment/.test(label(n3));
  }, [N1, N3]);

  const tree = await page.evaluate(() => {
    const walk = (ul) => [...ul.children].map((li) => {
      const b = li.querySelector(':scope > button');
      const sub = li.querySelector(':scope > ul');
      return b ? { label: b.textContent, kids: sub ? walk(sub) : [] } : { comment: li.textContent };
    });
    return walk(document.querySelector('.cb-outline > ul'));
  });
  const labels = tree.map((x) => x.label);
  assert.match(labels[0], /^Frame: Ideas, 2 elements inside$/);
  assert.deepEqual(tree[0].kids.map((k) => k.label), ['Note: Lake walk, 2 votes', 'Note: Swim']);
  const trip = tree.find((x) => /Mindmap node: Trip/.test(x.label));
  assert.ok(trip, JSON.stringify(labels));
  assert.match(trip.label, /2 subtopics/);
  assert.deepEqual(trip.kids.map((k) => k.label), ['Mindmap node: Food', 'Mindmap node: Travel']);
  const sauna = tree.find((x) => /Sauna/.test(x.label));
  assert.equal(sauna.label, 'Note: Sauna, 1 comment');
  assert.deepEqual(sauna.kids, [{ comment: 'Comment by Ada: Bring towels @Ada' }]);

  // In step: an edit shows; a burst of 60 changes is one update, not 60.
  await edit(page, [{ op: 'insertText', el: N2, field: 'text', pos: 4, text: ' at dawn' }]);
  await page.waitForFunction((id) => document.querySelector(`.cb-outline [data-el="${id}"]`)?.textContent === 'Note: Swim at dawn', N2);
  const before = await page.evaluate(() => window.__corkboard.outline.updates);
  await page.evaluate((id) => {
    for (let i = 0; i < 60; i++) window.__corkboard.app.edit([{ op: 'insertText', el: id, field: 'text', pos: 0, text: 'x' }]);
  }, N3);
  await page.waitForFunction((id) => document.querySelector(`.cb-outline [data-el="${id}"]`)?.textContent.startsWith('Note: ' + 'x'.repeat(60)), N3);
  const updates = (await page.evaluate(() => window.__corkboard.outline.updates)) - before;
  assert.ok(updates >= 1 && updates <= 2, `60 changes in a row cost ${updates} updates of the outline`);
  // A deleted element leaves the outline.
  await edit(page, [{ op: 'delete', el: M2 }]);
  await page.waitForFunction((id) => !document.querySelector(`.cb-outline [data-el="${id}"]`), M2);

  // Tab from the canvas: the first element, then the next; focus selects and brings into view.
  await page.focus('canvas.canvas');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.el), F);
  assert.deepEqual(await page.evaluate(() => [...window.__corkboard.features.host.selection()]), [F]);
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.el), N1);
  assert.deepEqual(await page.evaluate(() => [...window.__corkboard.features.host.selection()]), [N1]);
  // The focused label shows on screen for sighted keyboard users.
  const box = await page.locator(`.cb-outline [data-el="${N1}"]`).boundingBox();
  assert.ok(box && box.width > 50 && box.y > 0 && box.y < 800, `focused label at ${JSON.stringify(box)}`);
  // Far away: focusing it brings it into view.
  await page.focus(`.cb-outline [data-el="${FAR}"]`);
  const cam = await page.evaluate(() => window.__corkboard.features.host.camera());
  const w = 1200 / cam.zoom, h = 800 / cam.zoom;
  assert.ok(cam.x <= 6000 && cam.y <= 4000 && cam.x + w >= 6200 && cam.y + h >= 4200, `the far note is out of view: ${JSON.stringify(cam)}`);
  assert.deepEqual(await page.evaluate(() => [...window.__corkboard.features.host.selection()]), [FAR]);
  // Enter on the canvas after the outline: still the board's keys (no trap).
  await page.focus('canvas.canvas');

  const v = await axe(page);
  assert.deepEqual(v, [], 'axe on the board: ' + JSON.stringify(v, null, 1));
  assert.deepEqual(errors, []);
  await context.close();
});

test('a board of more elements than the outline lists is outlined by what is in view; a pan brings the rest', async () => {
  const b = await restBoard(node.url, 'Outline by view', { ownerName: 'Ada' });
  const { page, context } = await chrome.newPage({ viewport: { width: 1200, height: 800 } });
  // The outline lists 20 elements at most here (1,000 by default).
  await page.addInitScript(() => (globalThis.corkboardOutlineMax = 20));
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  // 300 notes, 100 a row, 300 apart.
  const ids = await seedGrid(page, 300);
  await waitSettled(page);
  const outlined = () =>
    page.evaluate(() => ({
      heading: document.querySelector('.cb-outline h2').textContent,
      updates: window.__corkboard.outline.updates,
      ids: [...document.querySelectorAll('.cb-outline [data-el]')].map((b) => b.dataset.el),
    }));
  const near = (o) => o.ids.map((id) => ids.indexOf(id));
  // The outline follows the view once it stays still: polled until what it lists holds.
  const until = async (ok) => {
    for (const end = Date.now() + 15000; ; ) {
      const o = await outlined();
      if (ok(o)) return o;
      if (Date.now() > end) assert.fail(`outline: ${o.heading}; listed ${near(o)}`);
      await page.waitForTimeout(100);
    }
  };
  // The view at the first row's start, 1:1: four notes wide, three rows.
  // (An update after the camera is set reads the new view.)
  let before = await page.evaluate(() => (window.__corkboard.features.host.setCamera({ x: -50, y: -50, zoom: 1 }), window.__corkboard.outline.updates));
  let o = await until((o) => o.updates > before && /in view, of 300/.test(o.heading) && o.ids.length > 0);
  // Any later update (the view's, once still) lists the same: the board and the view no longer change.
  assert.ok(o.ids.length > 0 && o.ids.length <= 20, `${o.ids.length} listed`);
  assert.match(o.heading, new RegExp(`Board outline: ${o.ids.length} elements in view, of 300`));
  assert.ok(near(o).every((i) => i % 100 < 5 && i < 300), `listed: ${near(o)}`);
  // In reading order: by row, then left to right.
  const order = near(o).map((i) => [Math.floor(i / 100), i % 100]);
  assert.deepEqual(order, [...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]));

  // The first note moved below the third row, still in view: it moves to
  // the end of the list, the others keep their items (a reorder in place).
  await page.evaluate(() => (window.__kept = [...document.querySelectorAll('.cb-outline li')].slice(1)));
  await page.evaluate((id) => window.__corkboard.app.edit([{ op: 'set', el: id, key: 'y', value: 650 }]), ids[0]);
  // Polled: the moved note last, and the other items the same nodes, in the same order.
  await page.waitForFunction((id) => {
    const lis = [...document.querySelectorAll('.cb-outline li')];
    return lis.at(-1)?.querySelector('[data-el]')?.dataset.el === id && lis.length === window.__kept.length + 1 && window.__kept.every((li, i) => li === lis[i]);
  }, ids[0]);

  // Panned to the middle of the rows: those notes, and none of the first ones.
  before = await page.evaluate(() => (window.__corkboard.features.host.setCamera({ x: 15000 - 50, y: -50, zoom: 1 }), window.__corkboard.outline.updates));
  o = await until((o) => o.updates > before && o.ids.length > 0);
  assert.ok(o.ids.length > 0 && o.ids.length <= 20);
  assert.ok(near(o).every((i) => i % 100 >= 50 && i % 100 < 55), `listed: ${near(o)}`);

  // Fitted, the whole board in view: the 20 nearest the centre, no more.
  await page.evaluate(() => window.__corkboard.app.fit());
  await page.waitForFunction(() => document.querySelectorAll('.cb-outline [data-el]').length === 20);
  o = await outlined();
  assert.match(o.heading, /20 elements in view, of 300/);
  assert.equal(await page.evaluate(() => document.querySelectorAll('.cb-outline li').length), 20);
  await context.close();
});

test('axe finds nothing serious on the home page, the Share dialog and the Notifications dialog', async () => {
  const ada = await signInAPI(node, 'ada.a11y@example.com');
  await fetch(node.url + '/v1/me', { method: 'PATCH', headers: { Authorization: `Session ${ada}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Ada' }) });
  const r = await fetch(node.url + '/v1/boards', { method: 'POST', headers: { Authorization: `Session ${ada}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'A11y' }) });
  const board = (await r.json()).board.id;
  const { page, context } = await chrome.newPage();
  await useSession(context, node, ada);
  await page.goto(node.url + '/');
  await page.waitForSelector('.account[data-state=signed-in]');
  await page.waitForSelector('.board-card .thumb img[src^="blob:"]');
  let v = await axe(page);
  assert.deepEqual(v, [], 'axe on the home page: ' + JSON.stringify(v, null, 1));

  // Signed out too (the sign-in form).
  const out = await chrome.newPage();
  await out.page.goto(node.url + '/');
  await out.page.waitForSelector('.account[data-state=signed-out]');
  v = await axe(out.page);
  assert.deepEqual(v, [], 'axe on the signed-out home page: ' + JSON.stringify(v, null, 1));
  await out.context.close();

  await page.goto(`${node.url}/b/${board}`);
  await waitLive(page);
  await page.click('.people .share.cb-share-btn');
  await page.waitForSelector('dialog.cb-share[open] .members li');
  v = await axe(page, 'dialog.cb-share');
  assert.deepEqual(v, [], 'axe on the Share dialog: ' + JSON.stringify(v, null, 1));
  await page.keyboard.press('Escape');
  await page.click('.cb-notify-btn');
  await page.waitForSelector('dialog.cb-notify[open]');
  v = await axe(page, 'dialog.cb-notify');
  assert.deepEqual(v, [], 'axe on the Notifications dialog: ' + JSON.stringify(v, null, 1));
  await context.close();
});
