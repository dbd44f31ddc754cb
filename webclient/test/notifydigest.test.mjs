// The notification preferences dialog (src/notify.ts) in a real browser
// against a real node: with batched e-mails (each, mentions) a person may
// add a daily digest ("Also a daily digest", the `digest` flag) at an hour
// of their choice; the choice is stored and shown again, and dropped with
// the other modes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launch, startNode, waitLive } from './lib.mjs';
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

async function rest(method, path, session, body) {
  const r = await fetch(node.url + path, {
    method,
    headers: { Authorization: 'Session ' + session, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

test('notifications: "Also a daily digest" with each or mentions, stored with its hour, not offered otherwise', async () => {
  const maya = await signInAPI(node, 'maya@example.com');
  const { board } = await rest('POST', '/v1/boards', maya, { name: 'Weekly', access: 'members' });
  const { context, page: p } = await chrome.newPage();
  await useSession(context, node, maya);
  await p.goto(`${node.url}/b/${board.id}`);
  await waitLive(p);

  const shown = () =>
    p.evaluate(() => {
      const d = document.querySelector('dialog.cb-notify');
      const vis = (sel) => !d.querySelector(sel).closest('label').hidden;
      return { also: vis('input[name=digest]'), hour: vis('select[name=digestHour]'), checked: d.querySelector('input[name=digest]').checked };
    });
  await p.waitForSelector('.cb-notify-btn:not([hidden])');
  await p.click('.cb-notify-btn');
  await p.waitForFunction(() => document.querySelector('dialog.cb-notify[open] select[name=mode]')?.value === 'digest');
  assert.deepEqual(await shown(), { also: false, hour: true, checked: false }, 'the digest mode: its hour, no "also"');
  await p.selectOption('.cb-notify select[name=mode]', 'each');
  assert.deepEqual(await shown(), { also: true, hour: false, checked: false });
  await p.check('.cb-notify input[name=digest]');
  assert.deepEqual(await shown(), { also: true, hour: true, checked: true }, 'the digest asks its hour');
  await p.selectOption('.cb-notify select[name=digestHour]', '9');
  await p.click('.cb-notify button[type=submit]');
  await p.waitForFunction(() => document.querySelector('.cb-notify .note').textContent === 'Saved.');
  let prefs = (await rest('GET', `/v1/boards/${board.id}/notify`, maya)).notify;
  assert.equal(prefs.mode, 'each');
  assert.equal(prefs.digest, true);
  assert.equal(prefs.digestHour, 9);

  // Shown again as stored; mentions keeps the choice offered.
  await p.click('dialog.cb-notify .close');
  await p.click('.cb-notify-btn');
  await p.waitForFunction(() => document.querySelector('dialog.cb-notify[open] select[name=mode]')?.value === 'each' && document.querySelector('dialog.cb-notify input[name=digest]').checked);
  await p.selectOption('.cb-notify select[name=mode]', 'mentions');
  assert.deepEqual(await shown(), { also: true, hour: true, checked: true });

  // Off: no digest offered, none stored.
  await p.selectOption('.cb-notify select[name=mode]', 'off');
  assert.deepEqual((await shown()).also, false);
  await p.click('.cb-notify button[type=submit]');
  await p.waitForFunction(() => document.querySelector('.cb-notify .note').textContent === 'Saved.');
  prefs = (await rest('GET', `/v1/boards/${board.id}/notify`, maya)).notify;
  assert.equal(prefs.mode, 'off');
  assert.ok(!prefs.digest, 'no digest with off');
  await p.close();
});
