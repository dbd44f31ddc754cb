// tldraw on the benchmark board (bench/web/peers/run.mjs): "make" creates
// mix() through the editor's API and posts the store's document snapshot;
// "open" fetches that file and mounts the editor on it, as opening a saved
// board, and marks when it is on screen and takes input.
//
// Two settings differ from tldraw's defaults, or the board would not open
// whole: a page may hold 250,000 shapes (the default is 4,000), and the
// least zoom is 1 % (5 %), so that the whole board fits in view as it does
// in Corkboard's client.
import { Tldraw, b64Vecs, createShapeId, getSnapshot, toRichText } from 'tldraw';
import 'tldraw/tldraw.css';
import { getAssetUrlsByImport } from '@tldraw/assets/imports';
import { createRoot } from 'react-dom/client';
import { frames, mark, mix, params, save } from './mix.js';

mark('start');
const { mode, n, scene } = params();
const COLORS = { yellow: 'yellow', pink: 'light-red', blue: 'light-blue', green: 'light-green' };
const OPTIONS = { maxShapesPerPage: 250000 };
// Its fonts, icons and translations served with the page (by default they come from its CDN).
const ASSETS = getAssetUrlsByImport();
const CAMERA = { zoomSteps: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8] };

function build(editor, n) {
  const items = mix(n);
  const byId = new Map(items.map((it) => [it.id, it]));
  const sid = (id) => createShapeId(id);
  const shapes = [];
  const bindings = [];
  const arrow = (id, a, b, from, to) => {
    shapes.push({ id, type: 'arrow', x: a.x, y: a.y, props: { start: { x: 0, y: 0 }, end: { x: b.x - a.x, y: b.y - a.y } } });
    const bind = (toId, terminal) => bindings.push({ type: 'arrow', fromId: id, toId, props: { terminal, normalizedAnchor: { x: 0.5, y: 0.5 }, isExact: false, isPrecise: false } });
    if (from) bind(from, 'start');
    if (to) bind(to, 'end');
  };
  for (const it of items) {
    if (it.kind === 'note') shapes.push({ id: sid(it.id), type: 'note', x: it.x, y: it.y, props: { color: COLORS[it.color], richText: toRichText(it.text) } });
    else if (it.kind === 'shape') shapes.push({ id: sid(it.id), type: 'geo', x: it.x, y: it.y, props: { geo: it.shape, w: it.w, h: it.h, richText: toRichText(it.text) } });
    else if (it.kind === 'topic') {
      shapes.push({ id: sid(it.id), type: 'geo', x: it.x, y: it.y, props: { geo: 'rectangle', w: it.w, h: it.h, richText: toRichText(it.text) } });
      if (it.parent) {
        const p = byId.get(it.parent);
        arrow(sid(it.id + 'l'), { x: p.x + p.w, y: p.y + p.h / 2 }, { x: it.x, y: it.y + it.h / 2 }, sid(p.id), sid(it.id));
      }
    } else if (it.kind === 'connector') {
      const f = byId.get(it.from);
      arrow(sid(it.id), { x: f.x + f.w / 2, y: f.y + f.h / 2 }, it.to, sid(it.from), null);
    } else if (it.kind === 'stroke') {
      const path = b64Vecs.encodePoints(it.points.map(([x, y]) => ({ x, y, z: 0.5 })));
      shapes.push({ id: sid(it.id), type: 'draw', x: it.x, y: it.y, props: { segments: [{ type: 'free', path }], isComplete: true } });
    }
  }
  for (let i = 0; i < shapes.length; i += 2000) editor.run(() => editor.createShapes(shapes.slice(i, i + 2000)), { history: 'ignore' });
  for (let i = 0; i < bindings.length; i += 2000) editor.run(() => editor.createBindings(bindings.slice(i, i + 2000)), { history: 'ignore' });
  return editor.getCurrentPageShapeIds().size;
}

/** What the runner drives: fit, pan by screen pixels, count what is in view. */
function peer(editor, records) {
  return {
    records,
    zoom: () => editor.getZoomLevel(),
    fit() {
      editor.zoomToFit({ animation: { duration: 0 } });
    },
    /** At zoom z, centred on the board (as Corkboard's pan starts: its fitted view, zoomed about the middle). */
    zoomTo(z) {
      const b = editor.getCurrentPageBounds();
      const v = editor.getViewportScreenBounds();
      editor.setCamera({ x: v.w / (2 * z) - (b.x + b.w / 2), y: v.h / (2 * z) - (b.y + b.h / 2), z });
    },
    panBy(dx, dy) {
      const c = editor.getCamera();
      editor.setCamera({ x: c.x + dx / c.z, y: c.y + dy / c.z, z: c.z });
    },
    inView() {
      const v = editor.getViewportPageBounds();
      let k = 0;
      for (const id of editor.getCurrentPageShapeIds()) {
        const b = editor.getShapePageBounds(id);
        if (b && b.x < v.maxX && b.maxX > v.x && b.y < v.maxY && b.maxY > v.y) k++;
      }
      return k;
    },
  };
}

/** The editor, full page, with the settings above; props as Tldraw's. */
function Editor(props) {
  return (
    <div style={{ position: 'fixed', inset: 0 }}>
      <Tldraw options={OPTIONS} assetUrls={ASSETS} cameraOptions={CAMERA} {...props} />
    </div>
  );
}

async function main() {
  const root = createRoot(document.getElementById('root'));
  if (mode === 'make') {
    root.render(
      <Editor
        onMount={(editor) => {
          (async () => {
            const made = build(editor, n);
            await save(scene, JSON.stringify(getSnapshot(editor.store).document));
            window.__peerMade = made;
          })().catch((e) => (window.__peerError = String(e?.stack || e)));
        }}
      />,
    );
    return;
  }
  const r = await fetch('/scene/' + scene);
  const text = await r.text();
  mark('fetched');
  const doc = JSON.parse(text);
  mark('parsed');
  root.render(
    <Editor
      snapshot={{ document: doc }}
      onMount={(editor) => {
        mark('loaded');
        frames().then(() => {
          mark('interactive');
          window.__peer = peer(editor, editor.getCurrentPageShapeIds().size);
        });
      }}
    />,
  );
}
main().catch((e) => {
  window.__peerError = String(e?.stack || e);
});
