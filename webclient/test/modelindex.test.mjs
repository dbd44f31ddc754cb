// The model's spatial index left unbuilt by a board loaded whole
// (src/model.ts, Board.upsert from empty and ensureIndex) against a board
// built the way it was before, one upsert per element, each indexed as it
// comes: random boards of notes, frames, mindmap trees and connectors, then
// random queries, hits and changes; every answer must be the same. In Node,
// the module bundled with esbuild. The seed is logged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'modelindex-'));
  const out = join(dir, 'model.mjs');
  await build({ entryPoints: [join(here, '../src/model.ts')], bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], outfile: out, logLevel: 'silent' });
  const m = await import(pathToFileURL(out).href);
  rmSync(dir, { recursive: true, force: true });
  return m;
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uuid = (n) => `01900000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;

/** A random board as the CRDT's JSON. */
function board(r, n) {
  const out = [];
  const span = 200 + r() * 20000;
  for (let i = 0; i < n; i++) {
    const id = uuid(i + 1);
    const k = r();
    const x = Math.round((r() - 0.5) * span),
      y = Math.round((r() - 0.5) * span);
    if (k < 0.1 && i > 0) {
      out.push({ id, kind: 'connector', props: { from: { el: uuid(1 + Math.floor(r() * i)), anchor: [0.5, 0.5] }, to: { x, y } } });
    } else if (k < 0.2) {
      const root = { id, kind: 'mindmap', props: { x, y, z: 'a' + i }, text: { text: 'Topic ' + i } };
      out.push(root);
      for (let c = 0; c < 3 && i + 1 < n; c++) {
        i++;
        out.push({ id: uuid(i + 1), kind: 'mindmap', parent: id, pos: 'a' + c, props: {}, text: { text: 'kid' } });
      }
    } else if (k < 0.23) {
      out.push({ id, kind: 'frame', props: { x, y, w: 5000 + r() * 40000, h: 5000, z: 'a' + i } });
    } else {
      out.push({ id, kind: 'note', deleted: r() < 0.05, props: { x, y, w: 200, h: 200, rot: r() < 0.1 ? 30 : 0, z: 'a' + i }, text: { text: 'n' } });
    }
  }
  return out;
}

const ids = (els) => els.map((e) => e.id);

test('a board loaded whole answers queries and hits as one indexed element by element', async () => {
  const { Board } = await load();
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const r = rng(seed);
  for (let round = 0; round < 20; round++) {
    const els = board(r, 50 + Math.floor(r() * 400));
    const bulk = new Board();
    bulk.upsert(els);
    const each = new Board();
    // Not from empty: the first upsert is one element, then every later one is indexed as it comes.
    for (const j of els) each.upsert([j]);
    // Filled apart in random slices, then adopted by a board that had other elements (Board.beginFill, adopt).
    const fill = new Board();
    fill.beginFill();
    for (let i = 0; i < els.length; ) {
      const k = 1 + Math.floor(r() * 60);
      fill.upsert(els.slice(i, i + k));
      i += k;
    }
    const filled = new Board();
    filled.upsert(board(r, 5).map((j) => ({ ...j, id: j.id.replace('01900000', '0190ffff') })));
    const told = [];
    filled.onChange((c) => told.push(c));
    filled.adopt(fill);
    assert.deepEqual(filled.all(), bulk.all(), `seed ${seed} round ${round}: adopted, every element as one upsert makes it`);
    assert.deepEqual(told.map((c) => c.reset), [true, false], `seed ${seed} round ${round}: a reset, then the elements`);
    assert.deepEqual([...told[1].ids].sort(), ids(els).sort(), `seed ${seed} round ${round}: every element told`);
    const rect = () => {
      const w = r() < 0.3 ? 1e6 : r() * 8000;
      return { x: (r() - 0.5) * 30000 - (w > 1e5 ? 5e5 : 0), y: (r() - 0.5) * 30000 - (w > 1e5 ? 5e5 : 0), w, h: w > 1e5 ? 1e6 : r() * 8000 };
    };
    const same = (what) => {
      for (let q = 0; q < 30; q++) {
        const box = rect();
        assert.deepEqual(ids(bulk.query(box)), ids(each.query(box)), `seed ${seed} round ${round} ${what}: query ${JSON.stringify(box)}`);
        assert.deepEqual(ids(filled.query(box)), ids(each.query(box)), `seed ${seed} round ${round} ${what}: adopted, query ${JSON.stringify(box)}`);
        assert.deepEqual(ids(bulk.query(box, false)).sort(), ids(each.query(box, false)).sort(), `seed ${seed} round ${round} ${what}: unsorted query`);
        const x = (r() - 0.5) * 20000,
          y = (r() - 0.5) * 20000;
        assert.equal(bulk.hit(x, y, 4)?.id, each.hit(x, y, 4)?.id, `seed ${seed} round ${round} ${what}: hit ${x},${y}`);
        assert.equal(filled.hit(x, y, 4)?.id, each.hit(x, y, 4)?.id, `seed ${seed} round ${round} ${what}: adopted, hit ${x},${y}`);
      }
      assert.deepEqual(filled.all(), bulk.all(), `seed ${seed} round ${round} ${what}: adopted, all`);
      assert.deepEqual(ids(bulk.all()), ids(each.all()), `seed ${seed} round ${round} ${what}: all`);
      assert.deepEqual(bulk.bounds(), each.bounds(), `seed ${seed} round ${round} ${what}: bounds`);
    };
    // Whole-board queries first (answered without the index), then the rest (which builds it).
    const whole = { x: -1e7, y: -1e7, w: 2e7, h: 2e7 };
    assert.deepEqual(ids(bulk.query(whole)), ids(each.query(whole)), `seed ${seed} round ${round}: whole board`);
    if (r() < 0.5) {
      // A change before the index is built: built first, then the change indexed.
      const j = { ...els[Math.floor(r() * els.length)] };
      j.props = { ...j.props, x: 123, y: 456 };
      bulk.upsert([j]);
      each.upsert([j]);
      filled.upsert([j]);
    }
    same('loaded');
    bulk.ensureIndex();
    same('indexed');
    for (let c = 0; c < 10; c++) {
      const j = { ...els[Math.floor(r() * els.length)] };
      j.props = { ...j.props, x: Math.round((r() - 0.5) * 20000), y: Math.round((r() - 0.5) * 20000) };
      if (r() < 0.2) j.deleted = !j.deleted;
      bulk.upsert([j]);
      each.upsert([j]);
      filled.upsert([j]);
    }
    same('changed');
  }
});

test('an index built in slices, with changes between the slices, answers as one indexed element by element', async () => {
  const { Board } = await load();
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const r = rng(seed);
  for (let round = 0; round < 12; round++) {
    const els = board(r, 300 + Math.floor(r() * 1500));
    const sliced = new Board();
    sliced.upsert(els);
    const each = new Board();
    for (const j of els) each.upsert([j]);
    const change = () => {
      const j = { ...els[Math.floor(r() * els.length)] };
      j.props = { ...j.props, x: Math.round((r() - 0.5) * 20000), y: Math.round((r() - 0.5) * 20000) };
      if (r() < 0.2) j.deleted = !j.deleted;
      const fresh = r() < 0.2 ? [{ id: uuid(100000 + round * 1000 + Math.floor(r() * 1000)), kind: 'note', props: { x: Math.round(r() * 9000), y: 0, w: 200, h: 200, z: 'b' } }] : [];
      for (const b of [sliced, each]) b.upsert([j, ...fresh]);
    };
    const same = (what) => {
      for (let q = 0; q < 20; q++) {
        const w = r() * 8000;
        const box = { x: (r() - 0.5) * 30000, y: (r() - 0.5) * 30000, w, h: r() * 8000 };
        assert.deepEqual(ids(sliced.query(box)), ids(each.query(box)), `seed ${seed} round ${round} ${what}: query ${JSON.stringify(box)}`);
        const x = (r() - 0.5) * 20000,
          y = (r() - 0.5) * 20000;
        assert.equal(sliced.hit(x, y, 4)?.id, each.hit(x, y, 4)?.id, `seed ${seed} round ${round} ${what}: hit ${x},${y}`);
      }
    };
    // Slices of no time at all: one group of 128 elements each; between
    // them, changes and queries (answered by reading every element).
    let pauses = 0;
    await sliced.indexInSlices(async () => {
      pauses++;
      if (r() < 0.5) change();
      if (r() < 0.3) same(`pause ${pauses}`);
      return 0; // no time: a slice ends after its first 128 elements
    });
    assert.ok(pauses >= Math.floor(els.length / 128) - 1, `seed ${seed} round ${round}: ${pauses} pauses for ${els.length} elements`);
    same('built');
    for (let c = 0; c < 10; c++) change();
    same('changed after');
  }
});
