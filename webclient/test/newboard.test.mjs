// New boards from the home page (src/home.ts, src/account.ts) in a real
// browser against a real node: a board started from a template opens with
// the template's elements; a board's file, downloaded from its menu, opens
// on the home page as a new board of one's own with the same content.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { launch, startNode, state, storedToken, waitLive, waitSettled, waitState } from './lib.mjs';
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

test('templates: the create form offers them, a retro board opens with its three columns, none is an empty board', async () => {
  const { page } = await chrome.newPage();
  await page.goto(node.url + '/');
  const options = await page.$$eval('form.create select[name=template] option', (os) => os.map((o) => o.value));
  assert.deepEqual(options, ['', 'brainstorm', 'retro', 'swot', 'mindmap', 'kanban']);
  await page.fill('input[name=name]', 'Sprint 12 retro');
  await page.fill('input[name=owner]', 'Ada');
  await page.selectOption('select[name=template]', 'retro');
  await page.click('form.create button[type=submit]');
  await page.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(page);
  await waitState(page, (s) => ['Went well', 'To improve', 'Actions'].every((t) => s.elements.some((e) => e.kind === 'frame' && e.title === t)));
  const s = await state(page);
  assert.equal(s.elements.filter((e) => e.kind === 'note').length, 3, 'a prompt note in each column');
  assert.ok(s.elements.some((e) => e.kind === 'text' && e.text === 'Retrospective'), 'the heading');

  // A mindmap template: a root and three branches.
  await page.goto(node.url + '/');
  await page.fill('input[name=name]', 'Map');
  await page.selectOption('select[name=template]', 'mindmap');
  await page.click('form.create button[type=submit]');
  await page.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(page);
  await waitState(page, (s) => s.elements.filter((e) => e.kind === 'mindmap').length === 4);

  // No template: empty.
  await page.goto(node.url + '/');
  await page.fill('input[name=name]', 'Blank');
  await page.click('form.create button[type=submit]');
  await page.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(page);
  assert.equal((await state(page)).elements.length, 0);
  await page.close();
});

test('board file: downloaded from the menu under its name, opened on the home page as a new board of one\'s own', async () => {
  const b = await restBoard(node.url, 'Q3 plan', { ownerName: 'Ada' });
  const { page } = await chrome.newPage();
  await openBoard(page, node.url, b.id, b.tokens.editor, 'Ben');
  await edit(page, [...noteOps(fixedId(21), 0, 0, 'Hire two people'), ...noteOps(fixedId(22), 300, 0, 'Ship the API', 'green', 'a1')]);
  await waitSettled(page);
  await edit(page, [{ op: 'delete', el: fixedId(21) }]);
  await waitSettled(page);

  await page.click('.cb-boardfile-btn');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.cb-download-board')]);
  assert.equal(dl.suggestedFilename(), 'Q3 plan.corkboard.json');
  const path = await dl.path();
  const file = JSON.parse(await readFile(path, 'utf8'));
  assert.equal(file.format, 'corkboard.board');
  assert.equal(file.name, 'Q3 plan');
  assert.ok(file.changes.length >= 2, 'the whole history');

  // A file that is no board file: said on the home page, no board made.
  await page.goto(node.url + '/');
  let [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('.open-board-file')]);
  await chooser.setFiles({ name: 'notes.json', mimeType: 'application/json', buffer: Buffer.from('{"hello":"world"}') });
  await page.waitForSelector('.open-file .error:not([hidden])');
  assert.match(await page.textContent('.open-file .error'), /^Could not open notes\.json: /);
  assert.ok(new URL(page.url()).pathname === '/', 'still on the home page');

  [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.click('.open-board-file')]);
  await chooser.setFiles(path);
  await page.waitForURL(/\/b\/[0-9a-f-]{36}/);
  await waitLive(page);
  const id = /\/b\/([0-9a-f-]{36})/.exec(page.url())[1];
  assert.notEqual(id, b.id, 'a new board');
  await waitState(page, (s, ids) => s.elements.length === 1 && s.elements[0].id === ids[1] && s.elements[0].text === 'Ship the API', [fixedId(21), fixedId(22)]);
  assert.equal((await state(page)).role, 'owner', 'its opener owns it');
  assert.ok(await storedToken(page, id), 'the owner token kept in this browser');
  // The same history: the deleted note is in it, deleted.
  const r = await fetch(`${node.url}/v1/boards/${id}/state`, { headers: { Authorization: 'Bearer ' + (await storedToken(page, id)) } });
  const st = await r.json();
  assert.ok(st.elements.find((e) => e.id === fixedId(21))?.deleted, 'the deleted note came with the history');
  await page.close();
});
