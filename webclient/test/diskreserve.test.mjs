// The node's disk below its free-space reserve: the node refuses new
// changes with "unavailable" and the client keeps them and sends them
// again later, without a reconnect, once there is space. The disk is
// filled for real: the node keeps a reserve of what is free now less
// 256 MiB, and the test writes 512 MiB beside its data, then deletes it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startNode } from './lib.mjs';
import { newBoard, sdk, waitFor } from './sdklib.mjs';

const MiB = 1 << 20;
const open = [];
let node;
after(async () => {
  for (const b of open) b.close();
  await node?.stop();
});

test('a node whose disk is nearly full takes no changes; the client keeps them and sends them again once there is space', async () => {
  const fs = statfsSync(tmpdir()); // where the node's directory is made
  const free = Math.floor((fs.bavail * fs.bsize) / MiB);
  assert.ok(free > 1024, `the test needs 1 GiB free, has ${free} MiB`);
  node = await startNode({ args: ['--disk-reserve-mib', String(free - 256)] });

  const board = await newBoard(node.url);
  const a = await sdk.connect({ url: node.url, board: board.id, token: board.token, name: 'Ada' });
  const b = await sdk.connect({ url: node.url, board: board.id, token: board.editor, name: 'Bob' });
  open.push(a, b);
  await Promise.all([a.synced(), b.synced()]);
  const early = a.create('note', { props: { x: 0, y: 0 }, text: { text: 'before' } });
  await waitFor(() => b.get(early), 'b sees the first note');

  // Fill the disk past the reserve (bytes that do not compress).
  const fill = join(node.dir, 'fill');
  const chunk = randomBytes(MiB);
  const fd = openSync(fill, 'w');
  try {
    for (let i = 0; i < 512; i++) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  try {
    // The node reads its free space once a second: a new board says when it has.
    const create = () => fetch(node.url + '/v1/boards', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"name":"probe"}' });
    await waitFor(async () => (await create()).status === 503, 'the node refuses new boards once its disk is past the reserve');

    const late = a.create('note', { props: { x: 300, y: 0 }, text: { text: 'while full' } });
    await waitFor(() => /disk/.test(a.detail), () => `the client says why its change waits (detail ${JSON.stringify(a.detail)}, ${a.pending} pending)`);
    assert.ok(a.pending >= 1, 'the refused change is kept');
    assert.equal(a.status, 'synced', 'the connection stays');
    assert.equal(b.get(late), undefined, 'nobody else has it');

    rmSync(fill);
    // Sent again (10-11 s after the refusal) and taken, on the same connection.
    await waitFor(() => a.pending === 0, () => `${a.pending} pending after the space came back`, 40_000);
    await waitFor(() => b.get(late)?.text.text === 'while full', 'b gets the change sent again');
  } finally {
    rmSync(fill, { force: true });
  }
});
