// Board settings pushed by the node (the "settings" frame, docs/PROTOCOL.md)
// and the facilitation timer (timer.ts): a deadline or a vote reaches
// connected pages at once, not at their next poll; the timer an editor
// starts counts down the same on every page, from the node's clock.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode } from './lib.mjs';
import { openBoard, restBoard } from './fx.mjs';

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

async function rest(method, path, token, body) {
  const r = await fetch(node.url + path, {
    method,
    headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// The pages poll the board's metadata every 10 s: within 4 s, only the
// settings frame can have told them.
const PUSHED = { timeout: 4000 };

test('a deadline and a vote reach a connected page at once, with the countdown', async () => {
  const b = await restBoard(node.url, 'Pushed', { ownerName: 'Ada' });
  const { context, page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.tokens.editor, 'Cleo');
  // Its first metadata read is done: what follows can only come pushed.
  await page.waitForFunction(() => window.__corkboard.access?.view);
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: Date.now() + 3_600_000 });
  await page.waitForSelector('.topbar .fx-deadline:not([hidden])', PUSHED);
  assert.match(await page.textContent('.fx-deadline'), /^Closes in (59:\d\d|1:00:00)$/);
  await rest('POST', `/v1/boards/${b.id}/voting`, b.token, { dots: 3 });
  await page.waitForSelector('.cb-voting[data-state=open]:not([hidden])', PUSHED);
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: 0 });
  await page.waitForSelector('.topbar .fx-deadline', { state: 'hidden', ...PUSHED });
  await context.close();
});

test('the facilitation timer: an editor runs it, everyone sees the same countdown from the node clock', async () => {
  const b = await restBoard(node.url, 'Timer', { ownerName: 'Ada' });
  const { context: ec, page: ed } = await chrome.newPage();
  await openBoard(ed, node.url, b.id, b.tokens.editor, 'Eve');
  // Vic's clock is two minutes fast: her countdown must still match the node's.
  const { context: vc, page: vic } = await chrome.newPage();
  await vic.addInitScript(() => {
    const real = Date.now.bind(Date);
    Date.now = () => real() + 120_000;
  });
  await openBoard(vic, node.url, b.id, b.tokens.viewer, 'Vic');
  await vic.waitForFunction(() => window.__corkboard.sync.role === 'viewer');
  assert.equal(await vic.isVisible('.fx-timer-btn'), false, 'a viewer cannot run the timer');

  await ed.waitForSelector('.fx-timer-btn:not([hidden])');
  await ed.click('.fx-timer-btn');
  await ed.fill('.fx-timer-panel input', '5');
  await ed.click('.fx-timer-panel button.start');
  await ed.waitForSelector('.fx-timer[data-state=running]');
  await vic.waitForSelector('.fx-timer[data-state=running]', PUSHED);
  const left = (p) => p.evaluate(() => Number(document.querySelector('.fx-timer').dataset.left));
  const [a, v] = [await left(ed), await left(vic)];
  assert.ok(a > 280 && a <= 300, `editor: ${a} s left`);
  assert.ok(Math.abs(a - v) <= 3, `the same countdown on both pages (node clock): ${a} vs ${v}`);
  assert.match(await vic.textContent('.fx-timer'), /^⏱ [45]:\d\d$/);

  await ed.click('.fx-timer-panel button.pause');
  await vic.waitForSelector('.fx-timer[data-state=paused]', PUSHED);
  const paused = await left(vic);
  assert.ok(Math.abs(paused - (await left(ed))) <= 1);
  await ed.click('.fx-timer-panel button.pause'); // now "Resume"
  await vic.waitForSelector('.fx-timer[data-state=running]', PUSHED);
  await ed.click('.fx-timer-panel button.reset');
  await vic.waitForSelector('.fx-timer', { state: 'hidden', ...PUSHED });
  // A page opened later sees a running timer too (the board's metadata).
  // The deadline's countdown is in the node's time too.
  await rest('PATCH', `/v1/boards/${b.id}`, b.token, { deadline: Date.now() + 3_600_000 });
  await vic.waitForSelector('.topbar .fx-deadline:not([hidden])', PUSHED);
  assert.match(await vic.textContent('.fx-deadline'), /^Closes in (59:\d\d|1:00:00)$/);
  await rest('POST', `/v1/boards/${b.id}/timer`, b.token, { action: 'start', seconds: 60 });
  const { context: lc, page: late } = await chrome.newPage();
  await openBoard(late, node.url, b.id, b.tokens.viewer, 'Lou');
  await late.waitForSelector('.fx-timer[data-state=running]');
  assert.ok((await left(late)) <= 60);
  await Promise.all([ec.close(), vc.close(), lc.close()]);
});
