// The canvas as drawn: a board seeded deterministically (fixed ids,
// positions, colours, texts, through the page's own edit path), rendered at
// a fixed viewport and device pixel ratio with a fixed camera, compared
// with webclient/test/golden/board.png by a tolerant pixel diff.
//
// Fonts are the platform's default sans-serif: a pixel counts as different
// only beyond a per-channel tolerance, and up to MAX_DIFF of the pixels may
// differ (anti-aliasing, hinting). The test checks its own sensitivity too:
// the same board less one small element must differ by more than that.
//
// After an intended change of the drawing, rewrite the golden file with
//   CORKBOARD_UPDATE_GOLDEN=1 make test-web
// and look at it before committing it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { launch, startNode, waitSettled } from './lib.mjs';
import { comparePNG, edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden', 'board.png');
const TOLERANCE = 48; // per channel, of 255
// Of the pixels (416 of 800×520): a missing line of text changes more.
const MAX_DIFF = 0.001;

let node;
let chrome;

before(async () => {
  node = await startNode();
  chrome = await launch();
});

after(async () => {
  await chrome?.close();
  await node?.stop();
});

function seed() {
  const shape = (n, kind, x, y, w, h, fill, text, z) => {
    const id = fixedId(n);
    const set = (key, value) => ({ op: 'set', el: id, key, value });
    return [{ op: 'create', el: id, kind: 'shape' }, set('shape', kind), set('x', x), set('y', y), set('w', w), set('h', h), set('fill', fill), set('stroke', '#1e1e1e'), set('z', z), { op: 'insertText', el: id, field: 'text', pos: 0, text }];
  };
  const textId = fixedId(106);
  return [
    ...noteOps(fixedId(101), 20, 20, 'Ship the beta', 'yellow', 'a0'),
    ...noteOps(fixedId(102), 260, 20, 'Write the docs\nand the tests', 'pink', 'a1'),
    ...noteOps(fixedId(103), 500, 20, 'Ask users', 'green', 'a2'),
    ...shape(104, 'rectangle', 20, 280, 220, 130, '#ffffff', 'Plan', 'a3'),
    ...shape(105, 'ellipse', 280, 280, 200, 130, '#b3e5fc', 'Build', 'a4'),
    { op: 'create', el: textId, kind: 'text' },
    { op: 'set', el: textId, key: 'x', value: 520 },
    { op: 'set', el: textId, key: 'y', value: 320 },
    { op: 'set', el: textId, key: 'w', value: 220 },
    { op: 'set', el: textId, key: 'h', value: 34 },
    { op: 'set', el: textId, key: 'z', value: 'a5' },
    { op: 'insertText', el: textId, field: 'text', pos: 0, text: 'Week 12' },
  ];
}

/** The canvas's pixels as a PNG, once drawn with the fixed camera. */
async function shot(page) {
  const url = await page.evaluate(async () => {
    const cb = window.__corkboard;
    cb.features.host.select([]);
    cb.features.host.setCamera({ x: 0, y: 0, zoom: 1 });
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return document.querySelector('canvas.canvas').toDataURL('image/png');
  });
  return Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
}

test('the board renders as the golden image', async () => {
  const { page, context } = await chrome.newPage({ viewport: { width: 800, height: 520 }, deviceScaleFactor: 1 });
  const b = await restBoard(node.url, 'Screenshot', { ownerName: 'Ada' });
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  await edit(page, seed());
  await waitSettled(page);
  const png = await shot(page);

  if (process.env.CORKBOARD_UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) {
    if (process.env.CORKBOARD_UPDATE_GOLDEN !== '1') assert.fail(`no golden image at ${GOLDEN}: run with CORKBOARD_UPDATE_GOLDEN=1 to write it`);
    mkdirSync(dirname(GOLDEN), { recursive: true });
    writeFileSync(GOLDEN, png);
    console.log('wrote', GOLDEN);
  }
  const golden = readFileSync(GOLDEN);
  const r = await comparePNG(page, png, golden, TOLERANCE);
  assert.deepEqual(r.a, r.b, 'same size as the golden image');
  assert.deepEqual(r.a, [800, 520]);
  assert.ok(r.diff / r.total <= MAX_DIFF, `${r.diff} of ${r.total} pixels differ from the golden image (at most ${Math.floor(MAX_DIFF * r.total)})`);

  // The comparison would see a missing element: the smallest one (the
  // text "Week 12") deleted must break it.
  await edit(page, [{ op: 'delete', el: fixedId(106) }]);
  const without = await shot(page);
  const r2 = await comparePNG(page, without, golden, TOLERANCE);
  assert.ok(r2.diff / r2.total > MAX_DIFF, `a missing text changes only ${r2.diff} pixels: the comparison would not see it`);
  await context.close();
});
