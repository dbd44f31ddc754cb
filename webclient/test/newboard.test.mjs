// New boards from the home page (src/home.ts, src/account.ts) in a real
// browser against a real node: a board started from a template opens with
// the template's elements.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, state, waitLive, waitState } from './lib.mjs';

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
