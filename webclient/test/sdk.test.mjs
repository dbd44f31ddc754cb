// @corkboard/client in Node against a real node (the built binary, through
// test/lib.mjs): two SDK clients converge on concurrent edits; one loses
// its network, both edit, it comes back and nothing is lost; undo and
// redo; presence seen by the other client; change events with their origin.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startNode } from './lib.mjs';
import { docState, newBoard, proxy, sdk, waitFor } from './sdklib.mjs';

let node;
const open = [];
before(async () => {
  node = await startNode();
});
after(async () => {
  for (const b of open) b.close();
  await node?.stop();
});

async function client(opts) {
  const b = await sdk.connect(opts);
  open.push(b);
  return b;
}

/** Two clients of a new board (the owner and an editor), both synced. */
async function pair(url = node.url, urlB = url) {
  const board = await newBoard(node.url);
  const a = await client({ url, board: board.id, token: board.token, name: 'Ada' });
  const b = await client({ url: urlB, board: board.id, token: board.editor, name: 'Bob' });
  await Promise.all([a.synced(), b.synced()]);
  assert.equal(a.status, 'synced');
  assert.equal(b.status, 'synced');
  return { board, a, b };
}

const texts = (b) => [...b.elements.values()].map((e) => e.text?.text ?? '').sort();

test('two SDK clients converge on concurrent edits', async () => {
  const { a, b } = await pair();
  const shared = a.create('note', { props: { x: 0, y: 0, color: 'yellow' }, text: { text: 'shared' } });
  await waitFor(() => b.get(shared), 'b sees the shared note');
  // Concurrent: both edit before either hears of the other's change.
  const fromA = a.create('note', { props: { x: 300, y: 0 }, text: { text: 'from A' } });
  const fromB = b.create('note', { props: { x: 0, y: 300 }, text: { text: 'from B' } });
  a.update(shared, { props: { color: 'blue' }, text: { text: 'shared, said A' } });
  b.update(shared, { props: { w: 320 }, text: { text: 'B: shared' } });
  await Promise.all([a.synced(), b.synced()]);
  await waitFor(() => docState(a) === docState(b), () => `no convergence:\n${docState(a)}\n${docState(b)}`);
  for (const c of [a, b]) {
    assert.equal(c.get(fromA).text.text, 'from A');
    assert.equal(c.get(fromB).text.text, 'from B');
    const s = c.get(shared);
    assert.equal(s.props.color, 'blue');
    assert.equal(s.props.w, 320);
    // Both text edits survive (a text CRDT merges them, neither replaces the other).
    assert.match(s.text.text, /said A/);
    assert.match(s.text.text, /B: /);
  }
});

test('a client offline keeps its changes in the outbox and sends them when it is back; nothing is lost', async () => {
  const net = await proxy(node.url);
  try {
    const { a, b } = await pair(net.url, node.url);
    const shared = b.create('note', { props: { x: 0, y: 0 }, text: { text: 'before' } });
    const gone = b.create('shape', { props: { shape: 'rect', x: 500, y: 0 } });
    await waitFor(() => a.get(shared) && a.get(gone), 'a sees b\'s elements');

    const statuses = [];
    a.on('status', (s) => statuses.push(s));
    net.cut();
    await waitFor(() => a.status === 'offline', () => `a is ${a.status}`);

    // Both edit while a is offline.
    const offline = a.transact(() => [1, 2, 3].map((i) => a.create('note', { props: { x: i * 220, y: 400 }, text: { text: `offline ${i}` } })));
    a.update(shared, { text: { text: 'before, and A offline' } });
    a.delete(gone);
    const online = b.create('note', { props: { x: 0, y: 800 }, text: { text: 'B meanwhile' } });
    b.update(shared, { props: { color: 'pink' } });
    assert.ok(a.pending >= 3, `a keeps its unacked changes (pending ${a.pending})`);
    await b.synced();
    assert.equal(b.get(offline[0]), undefined, 'b cannot see what a made offline');

    net.restore();
    a.reconnect();
    await waitFor(() => a.status === 'synced' && a.pending === 0, () => `a is ${a.status}, ${a.pending} pending`);
    await waitFor(() => docState(a) === docState(b), () => `no convergence:\n${docState(a)}\n${docState(b)}`);
    for (const c of [a, b]) {
      for (const [i, id] of offline.entries()) assert.equal(c.get(id)?.text.text, `offline ${i + 1}`);
      assert.equal(c.get(online)?.text.text, 'B meanwhile');
      assert.equal(c.get(shared).text.text, 'before, and A offline');
      assert.equal(c.get(shared).props.color, 'pink');
      assert.equal(c.get(gone), undefined);
    }
    assert.deepEqual(statuses.slice(0, 1), ['offline']);
    assert.equal(statuses.at(-1), 'synced');
  } finally {
    await net.close();
  }
});

test('undo and redo are one transaction at a time, and reach the other client', async () => {
  const { a, b } = await pair();
  const [n1, n2] = a.transact(() => [a.create('note', { props: { x: 0, y: 0 }, text: { text: 'one' } }), a.create('note', { props: { x: 300, y: 0 }, text: { text: 'two' } })]);
  await waitFor(() => b.get(n1) && b.get(n2), 'b sees the notes');
  assert.equal(a.undo(), true); // both notes at once: they were one transaction
  assert.equal(a.get(n1), undefined);
  assert.equal(a.get(n2), undefined);
  await waitFor(() => !b.get(n1) && !b.get(n2), 'b sees both notes undone');
  assert.equal(a.canUndo, false);
  assert.equal(a.undo(), false);
  assert.equal(a.redo(), true);
  await waitFor(() => b.get(n1)?.text.text === 'one' && b.get(n2)?.text.text === 'two', 'b sees them redone');
  assert.equal(a.canRedo, false);

  // A text edit and a property, undone and redone.
  a.update(n1, { text: { text: 'one, edited' }, props: { color: 'green' } });
  await waitFor(() => b.get(n1)?.text.text === 'one, edited');
  assert.equal(a.undo(), true);
  await waitFor(() => b.get(n1)?.text.text === 'one' && b.get(n1)?.props?.color !== 'green', () => JSON.stringify(b.get(n1)));
  assert.equal(a.redo(), true);
  await waitFor(() => b.get(n1)?.text.text === 'one, edited' && b.get(n1)?.props?.color === 'green', () => JSON.stringify(b.get(n1)));
  assert.equal(a.canRedo, false);
  // Only one's own changes are undone: b's edit stays when a undoes.
  b.update(n2, { text: { text: 'two by B' } });
  await waitFor(() => a.get(n2)?.text.text === 'two by B');
  assert.equal(a.undo(), true);
  await Promise.all([a.synced(), b.synced()]);
  await waitFor(() => docState(a) === docState(b), () => `no convergence:\n${docState(a)}\n${docState(b)}`);
  assert.equal(b.get(n1).text.text, 'one');
  assert.equal(b.get(n2).text.text, 'two by B');
});

test('presence set by one client is seen by the other, with who it is', async () => {
  const { a, b } = await pair();
  const seen = waitFor(() => b.presence.peers.find((p) => p.session === a.presence.session && p.data?.c?.x === 12), () => JSON.stringify(b.presence.peers));
  let events = 0;
  b.on('presence', () => events++);
  a.presence.set({ c: { x: 12, y: 34 }, sel: [] });
  const peer = await seen;
  assert.equal(peer.data.c.y, 34);
  assert.equal(peer.name, a.user.name); // the name the node knows the owner's token by
  assert.equal(peer.replica, a.replica);
  assert.ok(events > 0);
  // Presence is free-form JSON: a string an app sets reaches the other
  // client as it is (the board page's checks keep only the shapes it reads
  // of objects, and dropped any data that was not an object).
  a.presence.set('typing');
  await waitFor(() => b.presence.peers.find((p) => p.session === a.presence.session && p.data === 'typing'), () => JSON.stringify(b.presence.peers));
  // Leaving is seen too.
  a.close();
  await waitFor(() => !b.presence.peers.some((p) => p.session === peer.session), 'b sees a leave');
  assert.equal(a.status, 'closed');
});

test('change events say whether a change is local or remote; typed reads by kind', async () => {
  const { a, b } = await pair();
  const la = [];
  const lb = [];
  a.on('change', (c) => la.push(c));
  b.on('change', (c) => lb.push(c));
  const id = a.create('shape', { props: { shape: 'ellipse', x: 10, y: 20, w: 100, h: 50 }, text: { text: 'label' } });
  assert.deepEqual(la, [{ ids: [id], origin: 'local' }]);
  await waitFor(() => lb.some((c) => c.origin === 'remote' && c.ids?.includes(id)), () => JSON.stringify(lb));
  assert.ok(!lb.some((c) => c.origin === 'local'));
  const shapes = b.list('shape');
  assert.equal(shapes.length, 1);
  assert.equal(shapes[0].props.shape, 'ellipse');
  assert.equal(b.text(id), 'label');
  // What the node would refuse is refused here, before anything is sent.
  assert.throws(() => a.create('note', { props: { color: 12 } }), /refuse/);
  assert.equal(a.pending, 0);
});

test('a read-only client refuses changes; a viewer token too', async () => {
  const board = await newBoard(node.url);
  const ro = await client({ url: node.url, board: board.id, token: board.token, readOnly: true });
  await ro.synced();
  assert.throws(() => ro.create('note'), /read-only/);
  const viewer = await client({ url: node.url, board: board.id, token: board.viewer });
  await viewer.synced();
  assert.equal(viewer.role, 'viewer');
  assert.throws(() => viewer.create('note'), /viewer/);
  assert.equal(ro.pending + viewer.pending, 0);
});

test('a token the node refuses: the client stops, says why, and synced() rejects', async () => {
  const board = await newBoard(node.url);
  const b = await client({ url: node.url, board: board.id, token: 'not-a-token' });
  const statuses = [];
  b.on('status', (s) => statuses.push(s));
  await assert.rejects(b.synced(), /disconnected: .+/);
  assert.equal(b.status, 'closed');
  assert.equal(statuses.at(-1), 'closed');
  assert.ok(b.detail.length > 0, 'the reason is said');
  // Bad options are refused before anything is tried.
  await assert.rejects(sdk.connect({ url: 'ftp://x', board: board.id }), /url/);
  await assert.rejects(sdk.connect({ url: node.url, board: 'nope' }), /board id/);
});

test('a store of one’s own without docParts gets the doc whole in the record at each save', async () => {
  const board = await newBoard(node.url);
  // The Persistence the SDK's docs describe, before docParts: in memory here.
  const saved = [];
  const box = new Map();
  const store = {
    durable: false,
    async getBoard() {},
    async putBoard() {},
    async listBoards() {
      return [];
    },
    async listReplicas() {
      return [];
    },
    async putReplica() {},
    async deleteReplica() {},
    async outbox() {
      return [...box.values()];
    },
    async addOutbox(e) {
      box.set(e.start, e);
    },
    async persist(r, acked, doc) {
      saved.push({ snapshot: r.snapshot, doc });
      for (const s of acked) box.delete(s);
    },
    async getVisit() {},
    async putVisit() {},
  };
  const a = await client({ url: node.url, board: board.id, token: board.token, name: 'Ada', store });
  await a.synced();
  a.create('note', { props: { x: 0, y: 0 }, text: { text: 'kept whole' } });
  await waitFor(() => a.pending === 0, () => `pending ${a.pending}`);
  await a.sync.persistNow();
  const last = saved.at(-1);
  assert.ok(last.snapshot instanceof Uint8Array && last.snapshot.length > 0, 'the doc in the record');
  assert.equal(last.doc, undefined, 'no parts for a store without docParts');
  assert.equal(box.size, 0, 'the acked change left the outbox');
});
