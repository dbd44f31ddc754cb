// The mindmap layout of many trees in one flextree call (src/mindmap.ts,
// layoutMindmaps, which the model uses for every tree of a board) against
// the layout of each tree alone by flextree, as it was made before: random
// forests of trees of random shapes and node sizes; every box must be the
// same, to within rounding: flextree sums offsets from the root it lays
// out, so a tree placed among others can come out a unit in the last place
// off where it was alone (1e-12 of a board unit). The one-tree call must be
// exact. In Node, the module bundled with esbuild. The seed is logged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'mindmaplayout-'));
  const out = join(dir, 'mindmap.mjs');
  await build({
    stdin: { contents: "export * from './src/mindmap.ts'; export { flextree } from 'd3-flextree';", resolveDir: join(here, '..'), loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    outfile: out,
    logLevel: 'silent',
  });
  const m = await import(pathToFileURL(out).href);
  rmSync(dir, { recursive: true, force: true });
  return m;
}

/** One tree laid out alone, as src/mindmap.ts did before layoutMindmaps. */
function alone(flextree, m, root, children, size) {
  const seen = new Set();
  const build = (n, isRoot) => {
    seen.add(n.id);
    const [w, h] = size(n, isRoot);
    const kids = children(n)
      .filter((c) => !seen.has(c.id))
      .map((c) => build(c, false));
    return { el: n, size: [w, h], kids };
  };
  const data = build(root, true);
  const layout = flextree({ children: (d) => d.kids, nodeSize: (n) => [n.data.size[1] + m.SIBLING_GAP, n.data.size[0] + m.LEVEL_GAP], spacing: 0 });
  const tree = layout.hierarchy(data);
  layout(tree);
  const out = new Map();
  const rx = typeof root.props.x === 'number' ? root.props.x : 0;
  const ry = typeof root.props.y === 'number' ? root.props.y : 0;
  const rootMid = ry + data.size[1] / 2;
  tree.each((n) => {
    const [w, h] = n.data.size;
    out.set(n.data.el.id, { x: rx + n.y, y: rootMid + (n.x - tree.x) - h / 2, w, h, depth: n.depth });
  });
  return out;
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

test('layoutMindmaps lays out each tree of a forest as flextree does for the tree alone', async () => {
  const m = await load();
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  console.log(`seed ${seed}`);
  const r = rng(seed);
  for (let round = 0; round < 40; round++) {
    const kids = new Map();
    const roots = [];
    let next = 0;
    const node = (props = {}) => ({ id: 'n' + next++, props, text: {} });
    const grow = (p, depth) => {
      const n = depth > 4 ? 0 : Math.floor(r() * (depth === 0 ? 6 : 4));
      const list = [];
      for (let i = 0; i < n; i++) {
        const c = node();
        list.push(c);
        grow(c, depth + 1);
      }
      kids.set(p.id, list);
    };
    const trees = 1 + Math.floor(r() * 30);
    for (let i = 0; i < trees; i++) {
      const root = node(r() < 0.9 ? { x: Math.round((r() - 0.5) * 1e5), y: Math.round((r() - 0.5) * 1e5) } : {});
      roots.push(root);
      grow(root, 0);
    }
    // Sizes as the model makes them: whole numbers, some fractional.
    const sizes = new Map();
    const size = (n, isRoot) => {
      let s = sizes.get(n.id);
      if (!s) sizes.set(n.id, (s = [(isRoot ? 120 : 80) + Math.floor(r() * 200) + (r() < 0.2 ? 0.5 : 0), (isRoot ? 48 : 38) + Math.floor(r() * 60)]));
      return s;
    };
    const children = (n) => kids.get(n.id) ?? [];
    const all = m.layoutMindmaps(roots, children, size);
    let count = 0;
    for (const root of roots) {
      const want = alone(m.flextree, m, root, children, size);
      for (const [id, b] of want) {
        const got = all.get(id);
        assert.ok(got, `seed ${seed} round ${round}: node ${id} of tree ${root.id} not laid out`);
        for (const k of ['x', 'y', 'w', 'h', 'depth']) {
          assert.ok(Math.abs(got[k] - b[k]) <= 1e-9 * Math.max(1, Math.abs(b[k])), `seed ${seed} round ${round}: node ${id} of tree ${root.id}: ${k} ${got[k]}, alone ${b[k]}`);
        }
        count++;
      }
      assert.deepEqual(m.layoutMindmap(root, children, size), want, `seed ${seed} round ${round}: tree ${root.id} alone`);
    }
    assert.equal(all.size, count, `seed ${seed} round ${round}: nodes laid out`);
  }
});
