// An independent decoder of the snapshot format, written from
// docs/PROTOCOL.md section 5.6 alone (no import of the client's code, no
// wasm): it decodes crdt/testdata/spec-snapshot.bin (and the DEFLATE form
// spec-snapshot-z.bin) and checks that it yields the board of
// spec-snapshot.json. When it fails, the document left something out or
// got it wrong: fix the document. Needs no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

const testdata = new URL('../../crdt/testdata/', import.meta.url);
const utf8 = new TextDecoder('utf-8', { fatal: true });

// ---- primitives (5.6, "Primitives") ----

class Reader {
  constructor(b) { this.b = b; this.off = 0; }
  left() { return this.b.length - this.off; }
  byte() {
    if (this.off >= this.b.length) throw new Error('unexpected end');
    return this.b[this.off++];
  }
  bytes(n) {
    if (n < 0 || n > this.left()) throw new Error(`length ${n} exceeds input`);
    const s = this.b.subarray(this.off, this.off + n);
    this.off += n;
    return s;
  }
  // uvarint as a BigInt: minimal LEB128.
  big() {
    let v = 0n, shift = 0n, n = 0, x;
    do {
      x = this.byte();
      n++;
      v |= BigInt(x & 0x7f) << shift;
      shift += 7n;
      if (n > 10) throw new Error('uvarint too long');
    } while (x & 0x80);
    if (n > 1 && x === 0) throw new Error('non-minimal uvarint');
    return v;
  }
  // uvarint as a Number (counts, lengths, indices).
  uv() {
    const v = this.big();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('uvarint too large');
    return Number(v);
  }
  // zigzag varint, as a Number.
  sv() {
    const u = this.big();
    const v = (u & 1n) ? -((u >> 1n) + 1n) : (u >> 1n);
    return Number(v);
  }
  u64() {
    const s = this.bytes(8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(s[i]);
    return v;
  }
  id() { return uuid(this.bytes(16)); }
  string() { return utf8.decode(this.bytes(this.uv())); }
  // value: 5.4's table.
  value() {
    const tag = this.byte();
    switch (tag) {
      case 0: return null;
      case 1: return false;
      case 2: return true;
      case 3: return new DataView(Uint8Array.from(this.bytes(8)).buffer).getFloat64(0, true);
      case 4: return this.sv();
      case 5: {
        const scale = this.byte();
        if (scale < 1 || scale > 15) throw new Error(`decimal scale ${scale}`);
        return this.sv() / 10 ** scale;
      }
      case 6: return this.string();
      case 7: return JSON.parse(this.string());
    }
    throw new Error(`value tag ${tag}`);
  }
}

const hex = (v) => v.toString(16).padStart(16, '0');

function uuid(b) {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const ROOT = '00000000-0000-0000-0000-000000000000';

// bytewise comparison of UTF-8 strings (5.6: "compare bytes").
const cmpBytes = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

// ---- header ----

function body(snapshot) {
  assert.equal(snapshot[0], 0x53, "'S'");
  if (snapshot[1] === 1) return inflateRawSync(snapshot.subarray(2));
  if (snapshot[1] === 2) return snapshot.subarray(2);
  throw new Error(`format ${snapshot[1]}`);
}

// ---- text state (5.6, "Text state") ----

function decodeText(r) {
  const R = r.uv();
  const table = [];
  for (let i = 0; i < R; i++) table.push(r.u64());
  const N = r.uv();
  if (N === 0) {
    assert.equal(R, 0, 'no runs, no replicas');
    return { runs: [], text: '' };
  }
  const names = ['rep', 'len', 'left', 'leftCtr', 'ctr', 'right', 'rightCtr', 'deleted'];
  const col = {};
  for (const name of names) {
    if (name === 'rep' && R === 1) continue;
    col[name] = new Reader(r.bytes(r.uv()));
  }
  const content = [...utf8.decode(r.bytes(r.uv()))]; // code points
  const expect = table.map(() => 1n);
  const runs = [];
  let groupLeft = col.deleted.uv(), deleted = false, off = 0;
  for (let i = 0; i < N; i++) {
    const k = R === 1 ? 0 : col.rep.uv();
    const rep = table[k];
    const n = col.len.uv();
    assert.ok(n >= 1);
    let left = null;
    const t = col.left.uv();
    if (t === 0) left = null;
    else if (t % 2 === 0) {
      const p = runs[i - t / 2];
      left = { rep: p.rep, ctr: p.ctr + BigInt(p.n) - 1n };
    } else {
      const j = (t - 1) / 2;
      left = { rep: table[j], ctr: expect[j] + BigInt(col.leftCtr.sv()) };
    }
    const prediction = left && left.rep === rep ? left.ctr + 1n : expect[k];
    const c = prediction + BigInt(col.ctr.sv());
    expect[k] = c + BigInt(n);
    let right = null, rightRun = -1;
    const u = col.right.uv();
    if (u === 0) right = null;
    else if (u % 2 === 0) rightRun = i + u / 2;
    else right = { rep: table[(u - 1) / 2], ctr: c + BigInt(col.rightCtr.sv()) };
    while (groupLeft === 0) {
      groupLeft = col.deleted.uv();
      assert.ok(groupLeft > 0, 'only the first group may be empty');
      deleted = !deleted;
    }
    groupLeft--;
    let chars = '';
    if (!deleted) {
      assert.ok(off + n <= content.length, 'content too short');
      chars = content.slice(off, off + n).join('');
      off += n;
    }
    runs.push({ rep, ctr: c, n, left, right, rightRun, deleted, chars });
  }
  assert.equal(groupLeft, 0);
  assert.equal(off, content.length, 'content used up');
  for (const name of Object.keys(col)) assert.equal(col[name].left(), 0, `column ${name} used up`);
  for (const run of runs) {
    if (run.rightRun >= 0) {
      const q = runs[run.rightRun];
      run.right = { rep: q.rep, ctr: q.ctr };
    }
  }
  // Every origin names a character of this text, left ones before their
  // run and right ones after it.
  const at = (o) => runs.findIndex((q) => q.rep === o.rep && o.ctr >= q.ctr && o.ctr < q.ctr + BigInt(q.n));
  runs.forEach((run, i) => {
    if (run.left) assert.ok(at(run.left) >= 0 && at(run.left) < i, 'left origin before its run');
    if (run.right) assert.ok(at(run.right) > i, 'right origin after its run');
  });
  return { runs, text: runs.map((q) => q.chars).join('') };
}

// ---- change (5.4), for held changes ----

function decodeChange(b) {
  const r = new Reader(b);
  assert.equal(r.byte(), 1, 'change format');
  const c = { replica: hex(r.u64()), start: r.uv(), time: r.big(), ops: [] };
  const nops = r.uv();
  const opid = () => {
    const tag = r.byte();
    if (tag === 0) return null;
    if (tag === 1) return `${r.uv()}@${c.replica}`;
    if (tag === 2) { const rep = hex(r.u64()); return `${r.uv()}@${rep}`; }
    throw new Error(`op id tag ${tag}`);
  };
  let el = null;
  for (let i = 0; i < nops; i++) {
    const h = r.byte();
    assert.equal(h & 0xc0, 0);
    if (!(h & 0x10)) el = r.id();
    const op = { type: h & 0x0f, el };
    switch (op.type) {
      case 1: op.kind = r.string(); break;
      case 2: op.key = r.string(); op.value = r.value(); break;
      case 3: op.deleted = !!(h & 0x20); break;
      case 4: op.field = r.string(); op.left = opid(); op.right = opid(); op.text = r.string(); break;
      case 5: op.field = r.string(); op.target = opid(); op.count = r.uv(); break;
      case 6: op.parent = r.id(); op.pos = r.string(); break;
      case 7: op.key = r.string(); op.voter = r.string(); op.value = r.value(); break;
      default: throw new Error(`op type ${op.type}`);
    }
    c.ops.push(op);
  }
  assert.equal(r.left(), 0, 'change: trailing bytes');
  return c;
}

// ---- body (5.6, "Body") ----

function decodeBody(b) {
  const r = new Reader(b);
  const vv = {};
  const nvv = r.uv();
  for (let i = 0; i < nvv; i++) vv[hex(r.u64())] = r.uv();
  const clock = r.big();
  const replicas = [];
  for (let i = r.uv(); i > 0; i--) replicas.push(r.u64());
  const keys = [];
  for (let i = r.uv(); i > 0; i--) keys.push(r.string());
  for (let i = 1; i < keys.length; i++) assert.ok(cmpBytes(keys[i - 1], keys[i]) < 0, 'keys ascending');
  const key = () => {
    const i = r.uv();
    assert.ok(i < keys.length);
    return keys[i];
  };
  const stamp = () => {
    const delta = r.big();
    const i = r.uv();
    assert.ok(delta < clock && i < replicas.length);
    return { ts: clock - delta, replica: replicas[i] };
  };
  const elements = [];
  for (let n = r.uv(); n > 0; n--) {
    const e = { id: r.id(), kind: key(), kindStamp: stamp(), props: {}, votes: [], texts: {} };
    const flags = r.byte();
    assert.ok(flags === 0 || flags === 1 || flags === 3, `flags ${flags}`);
    if (flags & 1) e.delStamp = stamp();
    e.deleted = flags === 3;
    for (let np = r.uv(); np > 0; np--) {
      const k = key();
      e.props[k] = { value: r.value(), stamp: stamp() };
    }
    for (let nv = r.uv(); nv > 0; nv--) {
      const k = key();
      const voter = r.string();
      e.votes.push({ key: k, voter, value: r.value(), stamp: stamp() });
    }
    for (let nt = r.uv(); nt > 0; nt--) {
      const k = key();
      e.texts[k] = decodeText(r);
    }
    elements.push(e);
  }
  const moves = [];
  let ts = 0n;
  for (let n = r.uv(); n > 0; n--) {
    ts += r.big();
    moves.push({ ts, replica: r.u64(), node: r.id(), parent: r.id(), pos: r.string() });
  }
  const held = [];
  for (let n = r.uv(); n > 0; n--) held.push(decodeChange(r.bytes(r.uv())));
  assert.equal(r.left(), 0, 'nothing after held');
  return { vv, clock, replicas, keys, elements, moves, held };
}

// ---- the tree (5.6, "The tree") ----

function buildTree(elements, moves) {
  const place = new Map(elements.map((e) => [e.id, { parent: ROOT, pos: '', moved: false }]));
  const parentOf = (id) => (id === ROOT ? null : place.get(id).parent);
  const depth = (id) => {
    let d = 0;
    for (let cur = id; cur !== ROOT; cur = parentOf(cur)) d++;
    return d;
  };
  const height = (id) => {
    let h = 0;
    for (const [kid, p] of place) if (p.parent === id) h = Math.max(h, 1 + height(kid));
    return h;
  };
  let skipped = 0;
  for (const m of moves) {
    let cycle = false;
    for (let cur = m.parent; cur !== ROOT; cur = parentOf(cur)) {
      if (cur === m.node) { cycle = true; break; }
    }
    if (cycle || depth(m.parent) + 1 + height(m.node) > 64) {
      skipped++;
      continue;
    }
    Object.assign(place.get(m.node), { parent: m.parent, pos: m.pos, moved: true });
  }
  return { place, skipped };
}

// ---- the JSON view (5.6, "After decoding") ----

const counts = (v) => !(v === null || v === false || v === 0 || v === '');

function jsonView(snap) {
  const { place } = buildTree(snap.elements, snap.moves);
  return {
    version: snap.vv,
    elements: snap.elements.map((e) => {
      const out = { id: e.id, kind: e.kind };
      if (e.deleted) out.deleted = true;
      const p = place.get(e.id);
      if (p.parent !== ROOT) out.parent = p.parent;
      if (p.pos !== '') out.pos = p.pos;
      if (Object.keys(e.props).length) {
        out.props = Object.fromEntries(Object.entries(e.props).map(([k, r]) => [k, r.value]));
      }
      if (Object.keys(e.texts).length) {
        out.text = Object.fromEntries(Object.entries(e.texts).map(([k, t]) => [k, t.text]));
      }
      for (const v of e.votes) {
        if (!counts(v.value)) continue;
        out.votes ??= {};
        out.votes[v.key] ??= {};
        out.votes[v.key][v.voter] = v.value;
      }
      return out;
    }),
  };
}

const raw = readFileSync(new URL('spec-snapshot.bin', testdata));
const flat = readFileSync(new URL('spec-snapshot-z.bin', testdata));
const want = JSON.parse(readFileSync(new URL('spec-snapshot.json', testdata), 'utf8'));

test('both snapshot forms hold the same body', () => {
  assert.equal(raw[1], 2);
  assert.equal(flat[1], 1);
  assert.deepEqual(body(flat), body(raw));
});

test('the decoded snapshot is the board of its JSON view', () => {
  const snap = decodeBody(body(raw));
  assert.deepEqual(jsonView(snap), want);
});

test('the parts the JSON view does not show', () => {
  const snap = decodeBody(body(raw));
  // Ordering rules.
  const ids = snap.elements.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort());
  for (let i = 1; i < snap.moves.length; i++) {
    const a = snap.moves[i - 1], b = snap.moves[i];
    assert.ok(a.ts < b.ts || (a.ts === b.ts && a.replica < b.replica), 'moves ascending by stamp');
  }
  // The replica table is the replicas of the element stamps.
  const used = new Set();
  for (const e of snap.elements) {
    for (const s of [e.kindStamp, e.delStamp, ...Object.values(e.props).map((p) => p.stamp), ...e.votes.map((v) => v.stamp)]) {
      if (s) used.add(s.replica);
    }
  }
  assert.deepEqual([...used].sort((a, b) => (a < b ? -1 : 1)), snap.replicas);
  // Every stamp is at most the clock, which is the largest.
  const all = snap.elements.flatMap((e) => [e.kindStamp.ts, ...Object.values(e.props).map((p) => p.stamp.ts)]);
  assert.ok(all.every((t) => t <= snap.clock));
  // The later of two writes of one property wins: B's colour.
  const note = snap.elements.find((e) => e.id.endsWith('6a7b'));
  assert.equal(note.props.color.stamp.replica, 0xb2n);
  // The restored element's tombstone was written (flags 1), the other never.
  const restored = snap.elements.find((e) => e.id.endsWith('6a02'));
  assert.ok(restored.delStamp && !restored.deleted);
  // A withdrawn vote is kept in the snapshot.
  assert.deepEqual(note.votes.map((v) => [v.key, v.voter, v.value]),
    [['react', 'user-a', '👍'], ['vote', 'user-a', 0], ['vote', 'user-b', 1]]);
  // Deleted characters stay, with their ids: the note's text has runs of
  // both replicas, some deleted.
  const runs = note.texts.text.runs;
  assert.ok(runs.some((q) => q.deleted) && runs.some((q) => q.rep === 0xb2n));
  // An explicit left origin (inside a run): the mindmap node's "abX",
  // where A's "X" was typed after "a" while B typed "b" after it.
  const node = snap.elements.find((e) => e.id.endsWith('6a12')).texts.text.runs;
  assert.deepEqual(node.map((q) => [q.rep, q.ctr, q.n, q.left && `${q.left.ctr}@${hex(q.left.rep)}`, q.chars]),
    [[0xb2n, 1n, 2, null, 'ab'], [0x3f9a1c0d5e7b2468n, node[1].ctr, 1, '1@00000000000000b2', 'X']]);
  // Two moves were skipped: one of the concurrent moves that made a cycle,
  // and the one that would have put a node deeper than 64 levels (the
  // move before it reached exactly 64, which is allowed).
  assert.equal(buildTree(snap.elements, snap.moves).skipped, 2);
  // The held change: the third replica's second change.
  assert.equal(snap.held.length, 1);
  assert.equal(snap.held[0].replica, '0c0ffee000000001');
  assert.equal(snap.held[0].start, 2);
  assert.deepEqual(snap.held[0].ops.map((o) => [o.type, o.key, o.value]), [[2, 'h', 240.5]]);
  assert.equal(snap.vv['0c0ffee000000001'], undefined, 'held changes are not in the version vector');
});
