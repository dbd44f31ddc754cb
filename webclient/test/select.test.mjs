// geometry.ts' kthSmallest (the board outline picks the elements nearest
// the view's centre with it): against a sort, on random arrays with many
// ties, in Node, the module bundled with esbuild. The seed is logged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

test('kthSmallest is the k-th of the sorted array, for every k, ties and sizes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'select-'));
  try {
    const out = join(dir, 'geometry.mjs');
    await build({ entryPoints: [join(here, '../src/geometry.ts')], bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], outfile: out, logLevel: 'silent' });
    const { kthSmallest } = await import(pathToFileURL(out).href);
    const seed = Number(process.env.SEED ?? Date.now() % 1e9);
    console.log('seed', seed);
    let x = seed >>> 0 || 1;
    const rnd = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let round = 0; round < 300; round++) {
      const n = 1 + Math.floor(rnd() * (round < 200 ? 40 : 3000));
      const spread = rnd() < 0.5 ? 5 : 1e6; // few distinct values, or many
      const a = Float64Array.from({ length: n }, () => Math.floor(rnd() * spread));
      const sorted = Float64Array.from(a).sort();
      const ks = n <= 40 ? [...Array(n).keys()] : [0, n - 1, Math.floor(rnd() * n), Math.floor(n / 2)];
      for (const k of ks) assert.equal(kthSmallest(Float64Array.from(a), k), sorted[k], `seed ${seed} n ${n} k ${k}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
