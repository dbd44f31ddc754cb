// A client past its day's bytes of changes: the node refuses the batch as
// rate_limited and says when the day ends (retryAfter). The client keeps
// the changes, says why they wait, and does not send them again before
// then. It sent them again every second or two, for up to a day: each
// time the node read the batch and refused it.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startNode } from './lib.mjs';
import { newBoard, sdk, waitFor } from './sdklib.mjs';

const open = [];
let node;
after(async () => {
  for (const b of open) b.close();
  await node?.stop();
});

/** How many changes the node refused as rate_limited (its metrics). */
async function refusals() {
  const text = await (await fetch(node.url + '/metrics')).text();
  const m = /^corkboard_changes_rejected_total\{reason="rate_limited"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test('a batch past the day’s bytes of changes waits for the day’s end, kept, and is not sent again before', async () => {
  node = await startNode({ args: ['--change-mib-per-day', '1'] });
  const board = await newBoard(node.url);
  const a = await sdk.connect({ url: node.url, board: board.id, token: board.editor, name: 'Ada' });
  open.push(a);
  await a.synced();

  // Notes of 60 KB (an insert holds at most 64 KiB) until the day's
  // mebibyte is spent.
  const big = (i) => `${i} `.padEnd(60_000, 'x');
  let made = 0;
  for (; made < 30 && !/bytes of changes/.test(a.detail); made++) {
    a.create('note', { props: { x: made * 300, y: 0 }, text: { text: big(made) } });
    await waitFor(() => a.pending === 0 || /bytes of changes/.test(a.detail), () => `note ${made}: ${a.pending} pending, detail ${JSON.stringify(a.detail)}`);
  }
  assert.match(a.detail, /bytes of changes/, `the client says why its changes wait (after ${made} notes)`);
  assert.ok(made >= 16 && made <= 18, `${made} notes of 60 KB sent within a day's MiB, then one refused`);
  const kept = a.pending;
  assert.ok(kept >= 1, 'the refused note is kept');
  assert.equal(a.status, 'synced', 'the connection stays');

  // A new edit does not send the refused batch again, nor itself ahead
  // of it; nothing is sent before the day ends.
  const before = await refusals();
  assert.ok(before >= 1, `the node counted the refusal (${before})`);
  a.create('note', { props: { x: 0, y: 300 }, text: { text: 'later' } });
  // Long enough for the old client's resends (every 1-2 s) to show.
  await new Promise((r) => setTimeout(r, 5000));
  assert.equal(await refusals(), before, 'no batch was sent again in 5 s');
  assert.ok(a.pending > kept, `both notes are kept (${a.pending} pending, ${kept} before the second)`);
  assert.equal(a.status, 'synced');
});
