// What the node serves from a board's content never runs as a script of
// the node's origin (docs/SECURITY.md, "Every answer says nosniff"). The
// app's CSP runs the scripts of the node's own origin ('self'), and the
// node serves text that anyone can write: the summary of a board as plain
// text (GET /summary?format=txt) is its name, its ideas and who took
// part. A board named `window.__ran=document.domain/*` whose one
// participant is named `*///` made a summary that is a valid script, and
// without `X-Content-Type-Options: nosniff` the browser ran a text/plain
// answer as one: any markup put into a page of the node (a <script> of
// the node's own origin passes 'self') ran the script whoever wrote it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode } from './lib.mjs';
import { person, sessionCall } from './mail.mjs';

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

test("a board's text served by the node does not run as a script of the node", async () => {
  const s = await person(node, 'mallory@example.com', '*///');
  const j = await sessionCall(node, s, 'POST', '/v1/boards', { name: 'window.__ran=document.domain/*' }, 201);
  const id = j.board.id;
  // Something that is no idea (a connector), so that the participant's name ends the file.
  await sessionCall(node, s, 'POST', `/v1/boards/${id}/elements`, { kind: 'connector' }, 201);
  const r = await fetch(`${node.url}/v1/boards/${id}/summary?format=txt`);
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.ok(text.startsWith('window.__ran=document.domain/*') && /\*\/\/\/: 1 change/.test(text), 'the summary is the script:\n' + text);

  const { page } = await chrome.newPage();
  await page.goto(node.url + '/');
  assert.match((await page.evaluate(() => document.contentType)) ?? '', /html/);
  // A <script> of the node's own origin, as markup injected into one of
  // its pages would make: the CSP lets it load ('self').
  const loaded = await page.evaluate(
    (src) =>
      new Promise((resolve) => {
        const el = document.createElement('script');
        el.src = src;
        el.onload = () => resolve('load');
        el.onerror = () => resolve('error');
        document.head.append(el);
      }),
    `/v1/boards/${id}/summary?format=txt`,
  );
  const ran = await page.evaluate(() => window.__ran ?? null);
  assert.equal(ran, null, `the board's summary ran as a script of the node (${loaded})`);
  assert.equal(loaded, 'error', 'the browser refuses the text as a script');
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff', 'the summary says nosniff');
});
