// Export (src/export.ts) and images (src/images.ts) in a real browser
// against a real node: the SVG holds the notes' texts, the PNG decodes at
// the size asked for with the notes' colours where they are, the selection
// exports alone, JSON lists the elements, the menu downloads; an uploaded
// picture becomes an image element drawn on the canvas in z order (under a
// note above it, over a note below it), in the PNG and embedded in the SVG;
// past the memory budget, pictures out of view are let go and come back.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateKeyBetween } from 'fractional-indexing';
import { launch, startNode, state, waitSettled, waitState } from './lib.mjs';
import { edit, fixedId, noteOps, openBoard, restBoard } from './fx.mjs';

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

test('export: SVG with the texts, PNG of the right size, selection, JSON, download', async () => {
  const { page } = await chrome.newPage();
  const b = await restBoard(node.url, 'Ideas');
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const n1 = fixedId(1);
  const n2 = fixedId(2);
  await edit(page, [...noteOps(n1, 0, 0, 'Alpha idea', 'yellow', 'a0'), ...noteOps(n2, 300, 100, 'Beta <b> & co', 'blue', 'a1')]);
  await waitSettled(page);

  const svg = await page.evaluate(() => window.__corkboard.features.exporter.svg());
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('>Alpha idea<'), 'the first note text is in the SVG');
  assert.ok(svg.includes('Beta &lt;b&gt; &amp; co'), 'the second note text is in the SVG, escaped');
  assert.ok(svg.includes(`data-id="${n1}"`) && svg.includes(`data-id="${n2}"`));
  // The browser parses it as SVG (no XML errors).
  const parsed = await page.evaluate((s) => {
    const d = new DOMParser().parseFromString(s, 'image/svg+xml');
    return { err: d.querySelector('parsererror')?.textContent ?? null, texts: [...d.querySelectorAll('text')].map((t) => t.textContent) };
  }, svg);
  assert.equal(parsed.err, null);
  assert.ok(parsed.texts.includes('Alpha idea'));

  // PNG: the notes span x 0..500, y 0..300; a 24-unit margin; scale 2.
  const png = await page.evaluate(async () => {
    const r = await window.__corkboard.features.exporter.png({ scale: 2 });
    const bmp = await createImageBitmap(r.blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    const at = (x, y) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
    // Board point (x, y) is pixel ((x + 24) * 2, (y + 24) * 2).
    return { type: r.blob.type, w: bmp.width, h: bmp.height, rw: r.width, rh: r.height, note1: at(48 + 20, 48 + 380), note2: at((300 + 24 + 100) * 2, (100 + 24 + 190) * 2), empty: at((24 + 250) * 2, (24 + 280) * 2) };
  });
  assert.equal(png.type, 'image/png');
  assert.deepEqual([png.w, png.h], [(500 + 48) * 2, (300 + 48) * 2]);
  assert.deepEqual([png.rw, png.rh], [png.w, png.h]);
  assert.deepEqual(png.note1, [0xff, 0xf1, 0x76], 'yellow where the first note is');
  assert.deepEqual(png.note2, [0xb3, 0xe5, 0xfc], 'blue where the second note is');
  assert.notDeepEqual(png.empty, [0xff, 0xf1, 0x76]);

  // The selection alone.
  await page.evaluate((id) => window.__corkboard.features.host.select([id]), n2);
  const selSvg = await page.evaluate(() => window.__corkboard.features.exporter.svg({ ids: [...window.__corkboard.features.host.selection()] }));
  assert.ok(selSvg.includes('Beta') && !selSvg.includes('Alpha'), 'only the selected note');
  const selPng = await page.evaluate(async (id) => {
    const r = await window.__corkboard.features.exporter.png({ ids: [id], scale: 1 });
    return [r.width, r.height];
  }, n2);
  assert.deepEqual(selPng, [248, 248]);

  // JSON: the doc's elements, with their text.
  const json = JSON.parse(await page.evaluate(() => window.__corkboard.features.exporter.json()));
  assert.equal(json.board, b.id);
  const byId = Object.fromEntries(json.elements.map((e) => [e.id, e]));
  assert.equal(byId[n1].text.text, 'Alpha idea');
  assert.equal(byId[n2].props.color, 'blue');

  // The menu: Export → SVG downloads a file (of the selection, which is set).
  await page.click('.fx-export-btn');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.fx-export button[data-export="svg"]')]);
  assert.match(dl.suggestedFilename(), /^Ideas \(selection\)\.svg$/);
  const path = await dl.path();
  const { readFileSync } = await import('node:fs');
  const body = readFileSync(path, 'utf8');
  assert.ok(body.includes('Beta') && !body.includes('Alpha'));
  await page.context().close();
});

test('export: frames, connectors and mindmaps in the SVG', async () => {
  const { page, context } = await chrome.newPage();
  const b = await restBoard(node.url, 'Shapes');
  await openBoard(page, node.url, b.id, b.token, 'Ada');
  const [n1, n2, c, fr, m1, m2] = [fixedId(51), fixedId(52), fixedId(53), fixedId(54), fixedId(55), fixedId(56)];
  const set = (el, key, value) => ({ op: 'set', el, key, value });
  await edit(page, [
    { op: 'create', el: fr, kind: 'frame' }, set(fr, 'x', -40), set(fr, 'y', -60), set(fr, 'w', 700), set(fr, 'h', 400), set(fr, 'z', 'Zz'),
    { op: 'insertText', el: fr, field: 'title', pos: 0, text: 'Sprint 3' },
    ...noteOps(n1, 0, 0, 'From here', 'yellow', 'a0'),
    ...noteOps(n2, 400, 0, 'To there', 'blue', 'a1'),
    { op: 'create', el: c, kind: 'connector' }, set(c, 'from', { el: n1 }), set(c, 'to', { el: n2 }), set(c, 'z', 'a2'),
    { op: 'insertText', el: c, field: 'label', pos: 0, text: 'leads to' },
    { op: 'create', el: m1, kind: 'mindmap' }, set(m1, 'x', 0), set(m1, 'y', 500), set(m1, 'z', 'a3'),
    { op: 'insertText', el: m1, field: 'text', pos: 0, text: 'Goals' },
    { op: 'create', el: m2, kind: 'mindmap' }, { op: 'move', el: m2, parent: m1, posKey: 'a0' },
    { op: 'insertText', el: m2, field: 'text', pos: 0, text: 'Grow' },
  ]);
  await waitSettled(page);
  const svg = await page.evaluate(() => window.__corkboard.features.exporter.svg());
  const d = await page.evaluate((s) => {
    const doc = new DOMParser().parseFromString(s, 'image/svg+xml');
    return {
      err: doc.querySelector('parsererror')?.textContent ?? null,
      order: [...doc.querySelectorAll('svg > g[data-id]')].map((x) => x.getAttribute('data-id')),
    };
  }, svg);
  assert.equal(d.err, null);
  assert.equal(d.order[0], fr, 'the frame first, under the rest');
  assert.ok(svg.includes('>Sprint 3<'), 'the frame title');
  const conn = svg.slice(svg.indexOf(`<g data-id="${c}">`));
  assert.match(conn, /^<g data-id="[^"]+"><path d="M[\d.-]+ [\d.-]+L[\d.-]+ [\d.-]+"/, 'the connector line');
  assert.ok(conn.split('</g>')[0].includes('>leads to<'), 'the connector label');
  // The straight line runs between the notes' facing sides (x 200 → 400, minus the arrowhead).
  const [, x0, y0, x1] = /M([\d.-]+) ([\d.-]+)L([\d.-]+)/.exec(conn).map(Number);
  assert.deepEqual([x0, y0], [200, 100]);
  assert.ok(x1 > 380 && x1 < 400, `line end ${x1}`);
  assert.ok(svg.includes('>Goals<') && svg.includes('>Grow<'), 'the mindmap nodes with their text');
  assert.match(svg, /<path d="M[^"]*C[^"]*" fill="none" stroke="#74c0fc"/, 'the mindmap edge');
  await context.close();
});

test('images: upload, drop, paste; drawn on the canvas in z order, a placeholder while loading, in the exports; viewers cannot upload', async () => {
  const { page } = await chrome.newPage();
  const b = await restBoard(node.url, 'Pictures');
  await openBoard(page, node.url, b.id, b.tokens.editor, 'Eve');
  const id = await page.evaluate(async () => {
    const c = new OffscreenCanvas(60, 40);
    const ctx = c.getContext('2d');
    ctx.fillStyle = '#e03131';
    ctx.fillRect(0, 0, 60, 40);
    const blob = await c.convertToBlob({ type: 'image/png' });
    return window.__corkboard.features.images.upload(new File([blob], 'red.png', { type: 'image/png' }), { x: 100, y: 100 });
  });
  assert.ok(id, 'an image element was made');
  const s = await waitState(page, (s, id) => s.elements.some((e) => e.id === id), id);
  const el = s.elements.find((e) => e.id === id);
  assert.equal(el.kind, 'image');
  assert.deepEqual([el.x, el.y, el.w, el.h], [70, 80, 60, 40]);
  const [j] = await page.evaluate((id) => window.__corkboard.doc.elements([id]), id);
  assert.match(j.props.blob, /^[0-9a-f]{64}$/);
  assert.equal(j.props.alt, 'red.png');
  // Shown: drawn by the canvas renderer (red where the picture is), not as an <img> over it.
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 }));
  await page.waitForFunction(() => {
    const c = document.querySelector('canvas.canvas');
    const d = devicePixelRatio;
    const p = c.getContext('2d').getImageData(Math.round(100 * d), Math.round(100 * d), 1, 1).data;
    return p[0] === 0xe0 && p[1] === 0x31 && p[2] === 0x31;
  });
  assert.equal(await page.locator('.fx-layer img').count(), 0, 'no picture over the canvas');
  // The blob is on the node, readable with the board's token.
  const r = await fetch(`${node.url}/v1/boards/${b.id}/blobs/${j.props.blob}?token=${b.tokens.viewer}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/png');
  // The SVG export embeds the picture.
  const svg = await page.evaluate(() => window.__corkboard.features.exporter.svg());
  assert.match(svg, /<image [^>]*href="data:image\/png;base64,/);
  // The PNG export draws it: red where the image is.
  const px = await page.evaluate(async () => {
    const r = await window.__corkboard.features.exporter.png({ scale: 1 });
    const bmp = await createImageBitmap(r.blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    return [...ctx.getImageData(24 + 30, 24 + 20, 1, 1).data.slice(0, 3)];
  });
  assert.deepEqual(px, [0xe0, 0x31, 0x31]);

  // Z order: a note below the picture (a lower z) and one above it (a
  // higher z). The canvas, the PNG and the SVG draw picture over the
  // first and under the second.
  const under = fixedId(101);
  const over = fixedId(102);
  await edit(page, [...noteOps(under, 40, 70, 'under', 'blue', generateKeyBetween(null, j.props.z)), ...noteOps(over, 100, 90, 'over', 'yellow', generateKeyBetween(j.props.z, null))]);
  await waitSettled(page);
  // Board (80, 85): the picture only (over the lower note); (120, 110): the upper note over the picture.
  const yellow = [0xff, 0xf1, 0x76];
  const red = [0xe0, 0x31, 0x31];
  const onCanvas = await page.evaluate(
    () =>
      new Promise((res) =>
        requestAnimationFrame(() =>
          requestAnimationFrame(() => {
            const ctx = document.querySelector('canvas.canvas').getContext('2d');
            const at = (x, y) => [...ctx.getImageData(Math.round(x * devicePixelRatio), Math.round(y * devicePixelRatio), 1, 1).data.slice(0, 3)];
            res({ img: at(80, 85), note: at(120, 110) });
          }),
        ),
      ),
  );
  assert.deepEqual(onCanvas, { img: red, note: yellow }, 'on the canvas: the picture over the lower note, under the upper one');
  const inPNG = await page.evaluate(async () => {
    const r = await window.__corkboard.features.exporter.png({ scale: 1 });
    const bmp = await createImageBitmap(r.blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    // The export's origin: the elements' bounds (40, 70) less its 24-unit margin.
    const at = (x, y) => [...ctx.getImageData(x - 16, y - 46, 1, 1).data.slice(0, 3)];
    return { img: at(80, 85), note: at(120, 110) };
  });
  assert.deepEqual(inPNG, { img: red, note: yellow }, 'in the PNG too');
  const svg2 = await page.evaluate(() => window.__corkboard.features.exporter.svg());
  const order = [under, id, over].map((x) => svg2.indexOf(`<g data-id="${x}"`));
  assert.ok(order.every((i) => i > 0), 'all three in the SVG');
  assert.ok(order[0] < order[1] && order[1] < order[2], 'in the SVG, in z order: lower note, picture, upper note');
  assert.match(svg2.slice(order[1], order[2]), /<image [^>]*href="data:image\/png;base64,/);
  // Rotated a quarter turn about its centre (100, 100), it covers (95, 75), the lower note's before.
  await page.evaluate(() => window.__corkboard.features.host.select([]));
  const atRotated = () =>
    page.evaluate(
      () =>
        new Promise((res) =>
          requestAnimationFrame(() =>
            requestAnimationFrame(() => {
              const ctx = document.querySelector('canvas.canvas').getContext('2d');
              res([...ctx.getImageData(Math.round(95 * devicePixelRatio), Math.round(75 * devicePixelRatio), 1, 1).data.slice(0, 3)]);
            }),
          ),
        ),
    );
  assert.deepEqual(await atRotated(), [0xb3, 0xe5, 0xfc], 'the lower note there, unrotated');
  await edit(page, [{ op: 'set', el: id, key: 'rot', value: 90 }]);
  assert.deepEqual(await atRotated(), red, 'the picture there, rotated');
  await edit(page, [{ op: 'set', el: id, key: 'rot', value: 0 }]);

  // Dropped on the canvas: placed where it was dropped. Pasted: at the view's centre.
  const before = (await state(page)).elements.length;
  await page.evaluate(async () => {
    const c = new OffscreenCanvas(20, 10);
    c.getContext('2d').fillRect(0, 0, 20, 10);
    const file = new File([await c.convertToBlob({ type: 'image/png' })], 'dropped.png', { type: 'image/png' });
    const cb = window.__corkboard;
    cb.features.host.setCamera({ x: 0, y: 0, zoom: 1 });
    const r = document.querySelector('canvas.canvas').getBoundingClientRect();
    const dt = new DataTransfer();
    dt.items.add(file);
    document.querySelector('canvas.canvas').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, clientX: r.left + 500, clientY: r.top + 300, bubbles: true, cancelable: true }));
    const dt2 = new DataTransfer();
    dt2.items.add(new File([file], 'pasted.png', { type: 'image/png' }));
    document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt2, bubbles: true, cancelable: true }));
  });
  const s2 = await waitState(page, (s, n) => s.elements.length === n + 2, before);
  const added = await page.evaluate((ids) => window.__corkboard.doc.elements(ids), s2.elements.map((e) => e.id));
  const dropped = added.find((e) => e.props?.alt === 'dropped.png');
  const pasted = added.find((e) => e.props?.alt === 'pasted.png');
  assert.ok(dropped && pasted, 'both made');
  assert.deepEqual([dropped.props.x, dropped.props.y, dropped.props.w, dropped.props.h], [490, 295, 20, 10]);
  assert.equal(pasted.props.blob, dropped.props.blob, 'the same bytes: one blob');
  await page.context().close();

  // A viewer gets no upload: the client says so and the node would refuse.
  const v = await chrome.newPage();
  // Its page fetches the picture with its own token and draws it; while
  // the bytes are on their way (held here), a placeholder stands there.
  let release;
  const held = new Promise((r) => (release = r));
  await v.page.route('**/blobs/*', async (route) => {
    await held;
    await route.continue();
  });
  await openBoard(v.page, node.url, b.id, b.tokens.viewer, 'Vic');
  await v.page.evaluate(() => window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 }));
  const pixelIs = (rgb) =>
    v.page.waitForFunction((rgb) => {
      const ctx = document.querySelector('canvas.canvas').getContext('2d');
      const p = ctx.getImageData(Math.round(80 * devicePixelRatio), Math.round(85 * devicePixelRatio), 1, 1).data;
      return p[0] === rgb[0] && p[1] === rgb[1] && p[2] === rgb[2];
    }, rgb);
  await pixelIs([0xec, 0xee, 0xef]);
  release();
  await pixelIs(red);
  const made = await v.page.evaluate(async () => {
    const c = new OffscreenCanvas(4, 4);
    c.getContext('2d').fillRect(0, 0, 4, 4);
    const blob = await c.convertToBlob({ type: 'image/png' });
    return window.__corkboard.features.images.upload(new File([blob], 'x.png', { type: 'image/png' }));
  });
  assert.equal(made, null);
  assert.equal(await v.page.isVisible('.fx-image-btn'), false, 'no image button for a viewer');
  await v.context.close();
});

test('images: past the memory budget, pictures out of view are let go and fetched again when seen', async () => {
  const { context, page } = await chrome.newPage();
  const b = await restBoard(node.url, 'Many pictures');
  await openBoard(page, node.url, b.id, b.tokens.editor, 'Eve');
  const upload = (color, at) =>
    page.evaluate(
      async ({ color, at }) => {
        const c = new OffscreenCanvas(60, 40);
        const ctx = c.getContext('2d');
        ctx.fillStyle = color;
        ctx.fillRect(0, 0, 60, 40);
        const f = new File([await c.convertToBlob({ type: 'image/png' })], color + '.png', { type: 'image/png' });
        return window.__corkboard.features.images.upload(f, at);
      },
      { color, at },
    );
  const blobOf = (id) => page.evaluate((id) => window.__corkboard.doc.elements([id])[0].props.blob, id);
  const decoded = () => page.evaluate(() => window.__corkboard.features.images.decoded().sort());
  const redAt = (x, y) =>
    page.waitForFunction(
      ({ x, y }) => {
        const p = document.querySelector('canvas.canvas').getContext('2d').getImageData(Math.round(x * devicePixelRatio), Math.round(y * devicePixelRatio), 1, 1).data;
        return p[0] === 0xe0 && p[1] === 0x31 && p[2] === 0x31;
      },
      { x, y },
    );
  // Room for one 60×40 picture, not two.
  await page.evaluate(() => {
    window.__corkboard.features.images.maxPixels = 3000;
    window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 });
  });
  const a = await upload('#e03131', { x: 100, y: 100 });
  const blobA = await blobOf(a);
  await redAt(100, 100);
  assert.deepEqual(await decoded(), [blobA]);
  // Far away, a second picture: the first, out of view, is let go.
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: 5000, y: 5000, zoom: 1 }));
  const g = await upload('#2f9e44', { x: 5300, y: 5200 });
  const blobG = await blobOf(g);
  await page.waitForFunction((g) => {
    const d = window.__corkboard.features.images.decoded();
    return d.length === 1 && d[0] === g;
  }, blobG);
  // Back: the first is fetched and drawn again, and the second let go.
  await page.evaluate(() => window.__corkboard.features.host.setCamera({ x: 0, y: 0, zoom: 1 }));
  await redAt(100, 100);
  await page.waitForFunction((a) => {
    const d = window.__corkboard.features.images.decoded();
    return d.length === 1 && d[0] === a;
  }, blobA);
  // An export still draws both.
  const px = await page.evaluate(async () => {
    const r = await window.__corkboard.features.exporter.png({ scale: 1 });
    const bmp = await createImageBitmap(r.blob);
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const ctx = c.getContext('2d');
    ctx.drawImage(bmp, 0, 0);
    // The export's origin: the first picture's corner (70, 80) less the 24-unit margin.
    const at = (x, y) => [...ctx.getImageData(x - 46, y - 56, 1, 1).data.slice(0, 3)];
    return { a: at(100, 100), g: at(5300, 5200) };
  });
  assert.deepEqual(px, { a: [0xe0, 0x31, 0x31], g: [0x2f, 0x9e, 0x44] });
  await context.close();
});
