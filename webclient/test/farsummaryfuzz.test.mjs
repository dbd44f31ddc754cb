// The page's decoder of the node's far-view summary (src/farsummary.ts,
// the 0x04 frame of docs/PROTOCOL.md) against random and corrupted input:
// it returns a summary within its bounds or throws, never hangs, and reads
// back what a summary says. In Node, the module bundled with esbuild; the
// node's own decoder is fuzzed in Go (server/farview FuzzDecode).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'farsummary-'));
  const out = join(dir, 'farsummary.mjs');
  await build({ entryPoints: [join(here, '../src/farsummary.ts')], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'silent' });
  const m = await import(pathToFileURL(out).href);
  rmSync(dir, { recursive: true, force: true });
  return m;
}

const uvarint = (out, n) => {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
};
const varint = (out, n) => uvarint(out, n < 0 ? -2 * n - 1 : 2 * n);

/** A summary as server/farview writes it. */
function encode(styles, items) {
  const out = [1];
  uvarint(out, styles.length);
  for (const s of styles) {
    uvarint(out, s.length);
    for (const ch of s) out.push(ch.charCodeAt(0));
  }
  uvarint(out, items.length);
  let px = 0,
    py = 0;
  for (const [op, style, x, y, w, h] of items) {
    uvarint(out, style * 4 + op);
    varint(out, x - px);
    varint(out, y - py);
    varint(out, w);
    varint(out, h);
    px = x;
    py = y;
  }
  return Uint8Array.from(out);
}

test('the far-view decoder: what a summary says, and errors for anything malformed', async () => {
  const { decodeFarSummary } = await load();
  const items = [
    [0, 0, 10, 20, 200, 100],
    [1, 1, -500, 40, 50, 60],
    [2, 1, 110, 120, 0, 480],
    [3, 2, 1000, 1000, 8000, 6000],
  ];
  const good = encode(['pink', '#1e1e1e', 'transparent'], items);
  const s = decodeFarSummary(good);
  assert.equal(s.count, 4);
  assert.deepEqual(s.styles, ['#f8bbd0', '#1e1e1e', 'transparent']);
  assert.deepEqual([...s.geom.slice(0, 8)], [10, 20, 200, 100, -500, 40, 50, 60]);
  assert.deepEqual(s.bounds, { x: -500, y: 20, w: 9500, h: 6980 });
  assert.equal(s.largest, 200, 'frames and lines do not count');

  for (let cut = 0; cut < good.length; cut++) assert.throws(() => decodeFarSummary(good.subarray(0, cut)), `cut at ${cut}`);
  assert.throws(() => decodeFarSummary(Uint8Array.from([...good, 0])), 'trailing byte');
  assert.throws(() => decodeFarSummary(encode(['red'], [])), 'a colour that is not the schema’s');
  assert.throws(() => decodeFarSummary(encode(['pink'], [[0, 1, 0, 0, 1, 1]])), 'style index out of range');
  assert.throws(() => decodeFarSummary(encode(['pink'], [[0, 0, 2e9, 0, 1, 1]])), 'coordinate out of range');

  const seed = Date.now();
  console.log('seed', seed);
  let r = seed >>> 0;
  const rand = () => ((r = (Math.imul(r, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  let decoded = 0;
  for (let k = 0; k < 20000; k++) {
    let b;
    if (k % 2) {
      b = Uint8Array.from(good);
      for (let f = 1 + Math.floor(rand() * 3); f > 0; f--) b[Math.floor(rand() * b.length)] ^= 1 + Math.floor(rand() * 255);
    } else {
      b = new Uint8Array(Math.floor(rand() * 64));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
      if (b.length) b[0] = 1;
    }
    let out;
    try {
      out = decodeFarSummary(b);
    } catch (e) {
      assert.ok(e instanceof Error);
      continue;
    }
    decoded++;
    assert.ok(out.count <= b.length / 5, 'at least 5 bytes an item');
    assert.equal(out.geom.length, out.count * 4);
    for (let i = 0; i < out.count; i++) {
      assert.ok(Math.floor(out.head[i] / 4) < out.styles.length, 'style in range');
      assert.ok(Math.abs(out.geom[i * 4]) <= 1e9 && Math.abs(out.geom[i * 4 + 1]) <= 1e9, 'coordinates in range');
    }
  }
  console.log('decoded', decoded, 'of 20000');
});
