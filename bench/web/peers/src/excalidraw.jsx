// Excalidraw on the benchmark board (bench/web/peers/run.mjs): "make" turns
// mix() into an Excalidraw scene through its own converter and posts it;
// "open" fetches that scene file and mounts the editor on it, as opening a
// saved board, and marks when it is on screen and takes input.
import { Excalidraw, convertToExcalidrawElements, restoreElements, serializeAsJSON } from '@excalidraw/excalidraw';
import '@excalidraw/excalidraw/index.css';
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { frames, mark, mix, params, save } from './mix.js';

mark('start');
const { mode, n, scene } = params();
const COLORS = { yellow: '#ffec99', pink: '#fcc2d7', blue: '#a5d8ff', green: '#b2f2bb' };

function build(n) {
  const items = mix(n);
  const byId = new Map(items.map((it) => [it.id, it]));
  const skeletons = [];
  const strokes = [];
  const centre = (it) => ({ x: it.x + it.w / 2, y: it.y + it.h / 2 });
  for (const it of items) {
    if (it.kind === 'note') skeletons.push({ type: 'rectangle', id: it.id, x: it.x, y: it.y, width: it.w, height: it.h, backgroundColor: COLORS[it.color], fillStyle: 'solid', label: { text: it.text } });
    else if (it.kind === 'shape') skeletons.push({ type: it.shape, id: it.id, x: it.x, y: it.y, width: it.w, height: it.h, label: { text: it.text } });
    else if (it.kind === 'topic') {
      skeletons.push({ type: 'rectangle', id: it.id, x: it.x, y: it.y, width: it.w, height: it.h, roundness: { type: 3 }, label: { text: it.text } });
      if (it.parent) {
        const p = byId.get(it.parent);
        const a = { x: p.x + p.w, y: p.y + p.h / 2 };
        skeletons.push({ type: 'arrow', x: a.x, y: a.y, width: it.x - a.x, height: it.y + it.h / 2 - a.y, start: { id: p.id }, end: { id: it.id }, endArrowhead: null });
      }
    } else if (it.kind === 'connector') {
      const c = centre(byId.get(it.from));
      skeletons.push({ type: 'arrow', x: c.x, y: c.y, width: it.to.x - c.x, height: it.to.y - c.y, start: { id: it.from } });
    } else if (it.kind === 'stroke') {
      const pts = it.points.map(([x, y]) => [x, y]);
      strokes.push({ type: 'freedraw', id: it.id, x: it.x, y: it.y, width: it.w, height: it.h, points: pts, pressures: [], simulatePressure: true, strokeColor: '#1e1e1e', backgroundColor: 'transparent' });
    }
  }
  const elements = [...convertToExcalidrawElements(skeletons, { regenerateIds: false }), ...restoreElements(strokes, null)];
  return serializeAsJSON(elements, { viewBackgroundColor: '#ffffff' }, {}, 'local');
}

function App({ initial, expected }) {
  const [api, setApi] = useState(null);
  useEffect(() => {
    if (!api) return;
    let done = false;
    const check = async () => {
      if (done) return;
      if (api.getSceneElements().length < expected) return void requestAnimationFrame(check);
      done = true;
      mark('loaded');
      await frames();
      mark('interactive');
      window.__peer = peer(api, expected);
    };
    check();
  }, [api]);
  return (
    <div style={{ position: 'fixed', inset: 0 }}>
      <Excalidraw initialData={initial} excalidrawAPI={setApi} />
    </div>
  );
}

/** An element's box in scene coordinates: a line's is its points' (its width is their extent, from x either way). */
function box(e) {
  if (!e.points?.length) return [e.x, e.y, e.x + e.width, e.y + e.height];
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const [px, py] of e.points) {
    x0 = Math.min(x0, px);
    y0 = Math.min(y0, py);
    x1 = Math.max(x1, px);
    y1 = Math.max(y1, py);
  }
  return [e.x + x0, e.y + y0, e.x + x1, e.y + y1];
}

/** What the runner drives: fit, pan by screen pixels, count what is in view. */
function peer(api, records) {
  const st = () => api.getAppState();
  const bounds = () => {
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -Infinity,
      y1 = -Infinity;
    for (const e of api.getSceneElements()) {
      const b = box(e);
      x0 = Math.min(x0, b[0]);
      y0 = Math.min(y0, b[1]);
      x1 = Math.max(x1, b[2]);
      y1 = Math.max(y1, b[3]);
    }
    return [x0, y0, x1, y1];
  };
  const centre = (z) => {
    const [x0, y0, x1, y1] = bounds();
    const s = st();
    api.updateScene({ appState: { zoom: { value: z }, scrollX: s.width / (2 * z) - (x0 + x1) / 2, scrollY: s.height / (2 * z) - (y0 + y1) / 2 } });
  };
  return {
    records,
    zoom: () => st().zoom.value,
    // Centred on the board at the zoom that fits it, or Excalidraw's least
    // (10 %): its own scrollToContent misplaces a board that cannot fit.
    fit() {
      const [x0, y0, x1, y1] = bounds();
      const s = st();
      centre(Math.max(0.1, Math.min(1, 0.95 * Math.min(s.width / (x1 - x0), s.height / (y1 - y0)))));
    },
    /** At zoom z, centred on the board (as Corkboard's pan starts: its fitted view, zoomed about the middle). */
    zoomTo(z) {
      centre(z);
    },
    /** As Corkboard's panBy: the board moves by (dx, dy) screen pixels. */
    panBy(dx, dy) {
      const s = st();
      api.updateScene({ appState: { scrollX: s.scrollX + dx / s.zoom.value, scrollY: s.scrollY + dy / s.zoom.value } });
    },
    inView() {
      const s = st();
      const z = s.zoom.value;
      const x0 = -s.scrollX,
        y0 = -s.scrollY,
        x1 = x0 + s.width / z,
        y1 = y0 + s.height / z;
      let k = 0;
      for (const e of api.getSceneElements()) {
        const b = box(e);
        if (b[0] < x1 && b[2] > x0 && b[1] < y1 && b[3] > y0) k++;
      }
      return k;
    },
  };
}

async function main() {
  window.EXCALIDRAW_ASSET_PATH = '/';
  const root = createRoot(document.getElementById('root'));
  if (mode === 'make') {
    // The converter measures labels in the page, so the scene is made here.
    const text = build(n);
    await save(scene, text);
    window.__peerMade = JSON.parse(text).elements.length;
    return;
  }
  const r = await fetch('/scene/' + scene);
  const text = await r.text();
  mark('fetched');
  const data = JSON.parse(text);
  mark('parsed');
  root.render(<App initial={{ elements: data.elements, appState: data.appState, scrollToContent: false }} expected={data.elements.length} />);
}
main().catch((e) => {
  window.__peerError = String(e?.stack || e);
});
