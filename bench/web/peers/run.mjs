// The peer editors on the web benchmark's board (bench/README.md, "Huge
// boards", "Beside the peers"): Excalidraw and tldraw, each in a page of
// its own (src/, bundled by build.mjs), in the same headless Chromium and
// viewport as bench/web/bench.mjs, on the same content (src/mix.js).
//
// For each editor and board size: the scene is made once through the
// editor's own API and kept as a file (BENCH_PEERS_DIR, default
// bench/web/peers/scenes); then COLD cold opens, each a fresh browser
// context fetching that file from a local HTTP server and mounting the
// editor on it (navigation → the editor holds every element and has drawn
// two frames: "interactive"; nothing is drawn before it), with the page's
// longest task during the load and in the second after; the JS heap after
// a GC; and pans at zoom 1 and fitted (the editor's least zoom if the board
// does not fit), 300 frames or PAN_SECONDS, whichever comes first.
//
// Prints RESULT web_peer_* lines. BENCH_ELEMENTS as bench.mjs; BENCH_PEERS
// (default "excalidraw tldraw") picks the editors.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../../../webclient/test/lib.mjs';
import { f1, installPan, pct, result } from '../report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const scenes = resolve(process.env.BENCH_PEERS_DIR || join(here, 'scenes'));
const N = Number(process.env.BENCH_ELEMENTS ?? 5000);
const COLD = Math.max(1, Number(process.env.BENCH_COLD ?? 3));
const PEERS = (process.env.BENCH_PEERS || 'excalidraw tldraw').split(/\s+/).filter(Boolean);
const PAN_SECONDS = Number(process.env.BENCH_PEER_PAN_SECONDS ?? 30);
// How long one open or one scene's making may take before the editor is given up on.
const LIMIT_MS = Number(process.env.BENCH_PEER_LIMIT_S ?? 300) * 1000;
// Making the scene is done once per size and kept: it may take longer (tldraw's API, shape by shape).
const MAKE_LIMIT_MS = Number(process.env.BENCH_PEER_MAKE_LIMIT_S ?? 1200) * 1000;
const PAINT_ONLY = process.env.BENCH_ONLY === 'paint';


mkdirSync(scenes, { recursive: true });
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.woff2': 'font/woff2', '.json': 'application/json' };
/** A file under dir for a request's path, or null: outside it, not a file. */
function under(dir, path) {
  const file = join(dir, normalize(path).replace(/^(\.\.[/\\])+/, ''));
  return file.startsWith(dir + '/') ? file : null;
}
const server = createServer((req, res) => {
  try {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path.startsWith('/scene/')) {
      const file = under(scenes, path.slice(7));
      if (file && req.method === 'POST') {
        const parts = [];
        req.on('data', (c) => parts.push(c));
        req.on('end', () => {
          try {
            writeFileSync(file, Buffer.concat(parts));
            res.end('ok');
          } catch (e) {
            res.writeHead(500).end(String(e));
          }
        });
        return;
      }
      if (!file || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(file));
      return;
    }
    const file = under(dist, path);
    if (!file || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream' }).end(readFileSync(file));
  } catch {
    res.writeHead(400).end(); // a malformed path
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

/** Waits for fn in the page, or for the page's own error, up to LIMIT_MS. */
async function waitFor(page, fn, limit = LIMIT_MS) {
  await page.waitForFunction(`(${fn})() || window.__peerError`, null, { timeout: limit, polling: 100 });
  const err = await page.evaluate(() => window.__peerError);
  if (err) throw new Error(err);
}

async function makeScene(chrome, peer, file) {
  if (existsSync(join(scenes, file))) return;
  const t0 = Date.now();
  const v = await chrome.newPage();
  try {
    await v.page.goto(`${base}/${peer}.html?mode=make&n=${N}&scene=${file}`, { waitUntil: 'commit' });
    await waitFor(v.page, () => window.__peerMade, MAKE_LIMIT_MS);
    const made = await v.page.evaluate(() => window.__peerMade);
    result('web_peer_scene', { peer, elements: N, records: made, seconds: ((Date.now() - t0) / 1000).toFixed(1) });
  } finally {
    await v.context.close();
  }
}

async function open(page, url) {
  await page.addInitScript(() => {
    window.__benchLong = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__benchLong.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url, { waitUntil: 'commit' });
  await waitFor(page, () => performance.getEntriesByName('peer:interactive').length > 0);
  await page.waitForFunction(() => performance.now() > performance.getEntriesByName('peer:interactive')[0].startTime + 1000, null, { timeout: 60000, polling: 100 });
  return page.evaluate(() => {
    const at = (n) => performance.getEntriesByName('peer:' + n)[0]?.startTime ?? NaN;
    const live = at('interactive');
    const longest = (from, to) => Math.max(0, ...window.__benchLong.filter(([t, d]) => t + d > from && t < to).map(([t, d]) => Math.min(t + d, to) - Math.max(t, from)));
    const after = Math.max(0, ...window.__benchLong.filter(([t, d]) => t + d > live && t < live + 1000).map(([t, d]) => t + d - Math.max(t, live)));
    return { fetched: at('fetched'), parsed: at('parsed'), loaded: at('loaded'), interactive: live, freeze: longest(0, live), after, records: window.__peer.records };
  });
}

async function memory(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return (usedSize / 1048576).toFixed(1);
}

/** As bench.mjs pan(): rAF deltas while panning by a few pixels a frame; at most PAN_SECONDS. */
async function pan(page, zoom) {
  await installPan(page);
  return page.evaluate(
    async ([zoom, seconds]) => {
      const p = window.__peer;
      if (zoom === 'fit') p.fit();
      else p.zoomTo(zoom);
      await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
      const inView = p.inView();
      const deltas = await window.__benchPan((i) => p.panBy(zoom === 'fit' ? 3 : 12, i % 120 < 60 ? 4 : -4), 300, seconds * 1000);
      return { deltas, inView, inViewEnd: p.inView(), zoom: p.zoom() };
    },
    [zoom, PAN_SECONDS],
  );
}

const chrome = await launch();
try {
  for (const peer of PEERS) {
    // Named by what made it (the content's loop, the page, the editors' versions): a change makes it anew.
    const made = createHash('sha256');
    for (const f of ['src/mix.js', `src/${peer}.jsx`, 'package-lock.json']) made.update(readFileSync(join(here, f)));
    const file = `${peer}-${N}-${made.digest('hex').slice(0, 10)}.json`;
    try {
      await makeScene(chrome, peer, file);
    } catch (e) {
      result('web_peer_first_paint', { peer, elements: N, error: JSON.stringify(String(e.message).split('\n')[0].slice(0, 120)) });
      continue;
    }
    const runs = [];
    let v;
    for (let i = 0; i < COLD; i++) {
      if (v) await v.context.close();
      v = await chrome.newPage();
      try {
        runs.push(await open(v.page, `${base}/${peer}.html?n=${N}&scene=${file}`));
      } catch (e) {
        result('web_peer_first_paint', { peer, elements: N, run: i, error: JSON.stringify(String(e.message).split('\n')[0].slice(0, 120)) });
        break;
      }
      const r = runs.at(-1);
      result('web_peer_first_paint_steps', { peer, run: 'cold' + i, fetched_ms: f1(r.fetched), parsed_ms: f1(r.parsed), loaded_ms: f1(r.loaded), interactive_ms: f1(r.interactive), longest_task_ms: f1(r.freeze), longest_task_after_ms: f1(r.after) });
    }
    if (runs.length === COLD) {
      const live = runs.map((r) => r.interactive);
      result('web_peer_first_paint', {
        peer,
        elements: N,
        records: runs[0].records,
        bytes: readFileSync(join(scenes, file)).length,
        cold_interactive_ms_median: f1(pct(live, 50)),
        cold_interactive_ms_min: f1(Math.min(...live)),
        cold_interactive_ms_max: f1(Math.max(...live)),
        // Nothing is drawn before interactive: the longest task of the whole load.
        cold_longest_task_ms_median: f1(pct(runs.map((r) => r.freeze), 50)),
        cold_longest_task_after_ms_median: f1(pct(runs.map((r) => r.after), 50)),
        js_heap_mb: await memory(v.page),
        load1: loadavg()[0].toFixed(1),
      });
      if (!PAINT_ONLY)
        for (const zoom of [1, 'fit']) {
          const { deltas, inView, inViewEnd, zoom: z } = await pan(v.page, zoom);
          const fps = 1000 / (deltas.reduce((a, b) => a + b, 0) / deltas.length);
          result('web_peer_pan', {
            peer,
            zoom,
            at_zoom: z.toFixed(3),
            in_view: inView,
            in_view_end: inViewEnd,
            frames: deltas.length,
            frame_p50_ms: f1(pct(deltas, 50)),
            frame_p95_ms: f1(pct(deltas, 95)),
            frame_max_ms: f1(Math.max(...deltas)),
            fps: f1(fps),
          });
        }
    }
    if (v) await v.context.close();
  }
} finally {
  await chrome.close();
  server.close();
}
