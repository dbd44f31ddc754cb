// Browser benchmarks of the web client (bench/README.md, "Web client"):
// a node of our own, a board seeded with 5,000 elements through the
// client's own WebSocket path, and headless Chromium measuring
//
//   - first paint: navigation start → the first frame with elements drawn
//     (the client's performance.mark "corkboard:first-paint"), cold (a
//     fresh browser profile: no IndexedDB copy, the board comes from the
//     node) and warm (a reload: the stored snapshot);
//   - frame times while panning: requestAnimationFrame deltas (p50, p95,
//     max, fps) and the time the client spends drawing each frame, at
//     zoom 1 and zoomed out so that every element is on screen;
//   - what is shipped: the brotli-compressed sizes of the built assets;
//   - local op → remote screen: one page moves a note, the other draws it
//     (same machine, same clock), 120 samples.
//
// Prints RESULT lines. Run by `make benchweb` (bench/web/run.sh), which
// builds the client and the node; CORKBOARD_BIN and CHROMIUM as for the
// browser tests.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBoard, launch, startNode, waitLive, waitSettled } from '../../webclient/test/lib.mjs';
import { f1, installPan, pct, result } from './report.mjs';

const N = Number(process.env.BENCH_ELEMENTS ?? 5000);
// Larger boards are seeded through the node's REST batch endpoint (seedREST).
const SEED_REST_ABOVE = Number(process.env.BENCH_SEED_REST_ABOVE ?? 20000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 120);
// BENCH_COLD: how many cold loads (each in a fresh profile); BENCH_ONLY=paint
// stops after the first-paint figures (quicker, for work on the start path).
const COLD = Math.max(1, Number(process.env.BENCH_COLD ?? 3));
const PAINT_ONLY = process.env.BENCH_ONLY === 'paint';
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '../../webclient/dist');

/** How long after interactive the page's long tasks are watched, ms. */
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS) || 1000;

/** Seeds the board open in page with n elements, in changes of 100, through the client (wasm + outbox + WebSocket). */
async function seed(page, n) {
  await page.evaluate(async (n) => {
    const app = window.__corkboard.app;
    const uuid = () => crypto.randomUUID();
    const per = 100;
    const cols = Math.ceil(Math.sqrt(n));
    const words = ['idea', 'ship', 'test', 'plan', 'vote', 'user', 'design', 'later', 'now', 'maybe'];
    let z = 0;
    // Fractional-index keys in order (a fraction may not end in 0).
    const key = () => 'a0' + String(z++).padStart(6, '0') + 'V';
    let made = 0;
    let prev = null;
    while (made < n) {
      const ops = [];
      for (let k = 0; k < per && made < n; k++, made++) {
        const id = uuid();
        const col = made % cols,
          row = Math.floor(made / cols);
        const x = col * 260,
          y = row * 260;
        const set = (key, value) => ops.push({ op: 'set', el: id, key, value });
        const kind = made % 50 === 0 ? 'mindmap' : made % 25 === 1 && prev ? 'connector' : made % 40 === 2 ? 'stroke' : made % 5 === 3 ? 'shape' : 'note';
        ops.push({ op: 'create', el: id, kind });
        if (kind === 'connector') {
          set('from', { el: prev, anchor: [0.5, 0.5] });
          set('to', { x: x + 100, y: y + 100 });
        } else if (kind === 'stroke') {
          const pts = [];
          for (let i = 0; i < 40; i++) pts.push(10 + i * 4.5, 100 + Math.sin(i / 4) * 60, 0.5);
          for (const [k, v] of [['x', x], ['y', y], ['w', 200], ['h', 200], ['points', pts]]) set(k, v);
        } else if (kind === 'mindmap') {
          set('x', x);
          set('y', y);
          ops.push({ op: 'insertText', el: id, field: 'text', pos: 0, text: 'Topic ' + made });
          for (let c = 0; c < 3; c++) {
            const cid = uuid();
            ops.push({ op: 'create', el: cid, kind: 'mindmap' }, { op: 'move', el: cid, parent: id, posKey: 'a' + c });
            ops.push({ op: 'insertText', el: cid, field: 'text', pos: 0, text: words[c] });
            made++;
          }
        } else {
          for (const [k, v] of [['x', x], ['y', y], ['w', 200], ['h', 200]]) set(k, v);
          if (kind === 'shape') set('shape', ['rectangle', 'ellipse', 'diamond'][made % 3]);
          else set('color', ['yellow', 'pink', 'blue', 'green'][made % 4]);
          ops.push({ op: 'insertText', el: id, field: 'text', pos: 0, text: `${words[made % 10]} ${words[(made * 7) % 10]} #${made}` });
        }
        if (kind !== 'connector') set('z', key());
        prev = id;
      }
      if (!app.edit(ops)) throw new Error('seeding edit refused');
      // Let the outbox drain now and then (the node's rate limit is 2000 changes/s; this is far below).
      if (made % 1000 < per) await new Promise((r) => setTimeout(r, 50));
    }
  }, n);
  await waitSettled(page, 120000);
}

/**
 * Seeds the same content as seed() through the node's REST batch endpoint
 * (POST /v1/boards/{b}/changes, 1,000 actions a call, docs/API.md): for
 * BENCH_ELEMENTS past SEED_REST_ABOVE, where the client's path (a change of
 * 100 elements at a time, each re-read by the seeding page) takes minutes.
 * The board then opens cold from the node like any other.
 */
async function seedREST(base, board, token, n) {
  const cols = Math.ceil(Math.sqrt(n));
  const words = ['idea', 'ship', 'test', 'plan', 'vote', 'user', 'design', 'later', 'now', 'maybe'];
  let z = 0;
  const key = () => 'a0' + String(z++).padStart(6, '0') + 'V';
  let made = 0;
  let prev = null;
  let actions = [];
  const flush = async () => {
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(`${base}/v1/boards/${board}/changes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ actions }),
      });
      if (r.ok) break;
      // 429: over the write API's rate (20 calls a second), or the board's
      // whole-board reads (each call copies the board: seconds apart on a
      // big one, docs/API.md); wait as told and retry.
      if (r.status !== 429 || attempt > 50) throw new Error(`seeding: ${r.status} ${await r.text()}`);
      await new Promise((res) => setTimeout(res, Math.max(200, 1000 * Number(r.headers.get('retry-after') || 0))));
    }
    actions = [];
  };
  while (made < n) {
    const id = crypto.randomUUID();
    const col = made % cols,
      row = Math.floor(made / cols);
    const x = col * 260,
      y = row * 260;
    const kind = made % 50 === 0 ? 'mindmap' : made % 25 === 1 && prev ? 'connector' : made % 40 === 2 ? 'stroke' : made % 5 === 3 ? 'shape' : 'note';
    const props = {};
    let text;
    if (kind === 'connector') {
      props.from = { el: prev, anchor: [0.5, 0.5] };
      props.to = { x: x + 100, y: y + 100 };
    } else if (kind === 'stroke') {
      const pts = [];
      for (let i = 0; i < 40; i++) pts.push(10 + i * 4.5, 100 + Math.sin(i / 4) * 60, 0.5);
      Object.assign(props, { x, y, w: 200, h: 200, points: pts });
    } else if (kind === 'mindmap') {
      Object.assign(props, { x, y });
      text = 'Topic ' + made;
    } else {
      Object.assign(props, { x, y, w: 200, h: 200 });
      if (kind === 'shape') props.shape = ['rectangle', 'ellipse', 'diamond'][made % 3];
      else props.color = ['yellow', 'pink', 'blue', 'green'][made % 4];
      text = `${words[made % 10]} ${words[(made * 7) % 10]} #${made}`;
    }
    if (kind !== 'connector') props.z = key();
    actions.push({ op: 'create', element: id, kind, props, ...(text ? { text } : {}) });
    if (kind === 'mindmap') {
      for (let c = 0; c < 3; c++) {
        actions.push({ op: 'create', kind: 'mindmap', parent: id, pos: 'a' + c, text: words[c] });
        made++;
      }
    }
    made++;
    prev = id;
    if (actions.length >= 996) await flush();
  }
  if (actions.length) await flush();
}

/**
 * Records the page's wasm linear memory (the Go heap of the CRDT) as
 * window.__wasmMemory when it is instantiated, for memory(): the client
 * does not expose it, and the JS heap does not count it.
 */
async function watchWasmMemory(page) {
  await page.addInitScript(() => {
    const grab = (r) => {
      const inst = r instanceof WebAssembly.Instance ? r : r?.instance;
      if (inst?.exports?.mem) window.__wasmMemory = inst.exports.mem;
      return r;
    };
    const inst = WebAssembly.instantiate,
      stream = WebAssembly.instantiateStreaming;
    WebAssembly.instantiate = (...a) => inst.apply(WebAssembly, a).then(grab);
    if (stream) WebAssembly.instantiateStreaming = (...a) => stream.apply(WebAssembly, a).then(grab);
  });
}

/** What a page holds: the JS heap after a GC (CDP) and the wasm linear memory, MB. */
async function memory(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  const wasm = await page.evaluate(() => window.__wasmMemory?.buffer.byteLength ?? 0);
  return { js_heap_mb: (usedSize / 1048576).toFixed(1), wasm_mb: (wasm / 1048576).toFixed(1) };
}

/**
 * BENCH_PROFILE=1: the CPU profile (CDP Profiler, 200 µs sampling) of what
 * f does in the page, printed as the top functions by self time.
 */
async function profiled(page, name, f) {
  if (!process.env.BENCH_PROFILE) return f();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  const out = await f();
  const { profile } = await cdp.send('Profiler.stop');
  await cdp.detach();
  const dt = new Map();
  const times = profile.timeDeltas;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (times[i] ?? 0) / 1000));
  for (const [id, ms] of self) {
    const cf = byId.get(id).callFrame;
    const k = `${cf.functionName || '(anon)'}@${cf.url.replace(/^.*\//, '')}:${cf.lineNumber + 1}:${cf.columnNumber + 1}`;
    dt.set(k, (dt.get(k) ?? 0) + ms);
  }
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  // By kind: the CRDT's wasm (its functions are unnamed in the stripped build), the page's JS, GC, idle.
  const kinds = { wasm: 0, js: 0, gc: 0, idle: 0, other: 0 };
  for (const [k, v] of dt) kinds[k.includes('.wasm:') ? 'wasm' : k.startsWith('(garbage') ? 'gc' : k.startsWith('(idle)') ? 'idle' : /\.js:/.test(k) ? 'js' : 'other'] += v;
  const top = [...dt].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.log(`PROFILE ${name} total_ms=${total.toFixed(0)} ` + Object.entries(kinds).map(([k, v]) => `${k}_ms=${v.toFixed(0)}`).join(' '));
  console.log(`PROFILE ${name} top ` + top.map(([k, v]) => `${k}=${v.toFixed(0)}`).join(' '));
  return out;
}

/**
 * First paint of the board in a page: ms from navigation start to the
 * client's mark "first-paint" (the first frame with elements: on a first
 * visit of a big board, drawn from the node's far-view summary,
 * webclient/src/farsummary.ts), and to "interactive" (the first frame drawn
 * from the board loaded into the CRDT: editable; the same frame when no
 * summary came first). far: whether the first frame was the summary's.
 */
async function firstPaint(page, url) {
  // The page's long tasks (over 50 ms: it draws no frame and takes no input
  // meanwhile), to find how long it froze while loading. Not frames counted
  // by a loop of requestAnimationFrame: it would keep the page busy drawing
  // and take the idle time the page loads a big board in (webclient/src/steps.ts).
  await page.addInitScript(() => {
    if (window.__benchLong) return; // registered again by each call on this page
    window.__benchLong = [];
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) window.__benchLong.push([e.startTime, e.duration]);
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName('corkboard:interactive').length > 0, null, { timeout: 60000, polling: 50 });
  // The second after interactive, for the page's work after its first frame (the spatial index).
  await page.waitForFunction((ms) => performance.now() > performance.getEntriesByName('corkboard:interactive')[0].startTime + ms, SETTLE_MS, { timeout: 60000, polling: 100 });
  return page.evaluate(() => {
    const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
    const nav = performance.getEntriesByType('navigation')[0];
    // The longest task from the first frame to interactive (the page frozen,
    // loading), and in the second after it; under 50 ms counts as none.
    const paint = at('corkboard:first-paint'),
      live = at('corkboard:interactive');
    const longest = (from, to) => Math.max(0, ...window.__benchLong.filter(([t, d]) => t + d > from && t < to).map(([t, d]) => Math.min(t + d, to) - Math.max(t, from)));
    const freeze = longest(paint, live);
    // Whole, not clipped to the second: a task that starts in it may last far longer
    // (the board outline's first update of a 100,000-element board took 76 s).
    const settle = Math.max(0, ...window.__benchLong.filter(([t, d]) => t + d > live && t < live + 1000).map(([t, d]) => t + d - Math.max(t, live)));
    const loadingTasks = window.__benchLong.filter(([t, d]) => t + d > paint && t < live).length;
    return {
      paint,
      interactive: live,
      freeze,
      settle,
      loadingTasks,
      // The long tasks from the first frame on, [start, duration] (BENCH_TRACE=1 prints them).
      tasks: [...window.__benchLong.filter(([t, d]) => t + d > paint).map(([t, d]) => `${t.toFixed(0)}+${d.toFixed(0)}`), `now=${performance.now().toFixed(0)}`],
      far: performance.getEntriesByName('corkboard:far-view-in').length > 0,
      // Where the time went: the page, the wasm, the stored copy, the node's answer.
      steps: { html: nav?.responseEnd, wasm: at('corkboard:wasm-ready'), stored: at('corkboard:stored-loaded'), remote: at('corkboard:first-remote') },
      // Every mark of the client's (BENCH_TRACE=1 prints them), and when the wasm and the board chunk were fetched.
      marks: Object.fromEntries([
        ...performance.getEntriesByType('mark').filter((m) => m.name.startsWith('corkboard:')).map((m) => [m.name.slice(10), m.startTime]),
        // Each save (the page's own time in it, in the name).
        ...performance.getEntriesByName('corkboard:persist').map((m, i) => [`save${i}-${m.detail.mode}-${Math.round(m.detail.encodeMs)}ms`, m.startTime]),
      ]),
      fetches: Object.fromEntries(
        performance
          .getEntriesByType('resource')
          .filter((r) => /\.(wasm|js)$/.test(r.name))
          .map((r) => [r.name.replace(/^.*\/([a-z_]+)[^/]*\.(\w+)$/, '$1.$2'), `${r.startTime.toFixed(0)}-${r.responseEnd.toFixed(0)}`]),
      ),
      elements: window.__corkboard.board.all().length,
    };
  });
}

/**
 * A cold open panned by a few pixels at every frame from the first frame
 * (the far-view summary) until interactive: the frames' deltas (ms), and
 * when the two marks came.
 */
async function panWhileLoading(page, url) {
  await page.addInitScript(() => {
    window.__loadPan = [];
    const tick = (t) => {
      if (performance.getEntriesByName('corkboard:interactive').length) return;
      if (performance.getEntriesByName('corkboard:first-paint').length && window.__corkboard?.app) {
        window.__loadPan.push(t);
        window.__corkboard.app.panBy(3, 1);
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.goto(url);
  await page.waitForFunction(() => performance.getEntriesByName('corkboard:interactive').length > 0, null, { timeout: 60000, polling: 100 });
  return page.evaluate(() => {
    const t = window.__loadPan;
    const at = (n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN;
    return { deltas: t.slice(1).map((x, i) => x - t[i]), paint: at('corkboard:first-paint'), interactive: at('corkboard:interactive') };
  });
}

/** Pans for a number of frames; returns rAF deltas and the client's draw time per frame (ms). */
async function pan(page, frames, zoom) {
  await installPan(page);
  return page.evaluate(
    async ([frames, zoom]) => {
      const app = window.__corkboard.app;
      const r = app.renderer;
      const inner = r.draw.bind(r);
      const draws = [];
      r.draw = (...a) => {
        const t = performance.now();
        inner(...a);
        draws.push(performance.now() - t);
      };
      if (zoom === 'fit') app.fit();
      else app.zoomAt(r.width / 2, r.height / 2, zoom / app.cam.zoom);
      await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
      draws.length = 0;
      const c = app.cam;
      const inView = window.__corkboard.board.query({ x: c.x, y: c.y, w: r.width / c.zoom, h: r.height / c.zoom }).length;
      const deltas = await window.__benchPan((i) => app.panBy(zoom === 'fit' ? 3 : 12, i % 120 < 60 ? 4 : -4), frames, Infinity);
      r.draw = inner;
      return { deltas, draws, inView };
    },
    [frames, zoom],
  );
}

/** Local op in a → drawn in b, SAMPLES times; ms. */
async function latency(a, b) {
  const target = await a.evaluate(() => window.__corkboard.board.all().find((e) => e.kind === 'note').id);
  await b.evaluate((id) => {
    // Every frame b draws, note when the note's x reached a value not seen yet.
    window.__seen = new Map();
    const board = window.__corkboard.board;
    const tick = () => {
      const e = board.els.get(id);
      if (e && !window.__seen.has(e.x)) window.__seen.set(e.x, performance.timeOrigin + performance.now());
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, target);
  const out = [];
  for (let i = 0; i < SAMPLES; i++) {
    const x = 100000 + i;
    const t0 = await a.evaluate(
      ([id, x]) => {
        const t = performance.timeOrigin + performance.now();
        window.__corkboard.app.edit([{ op: 'set', el: id, key: 'x', value: x }]);
        return t;
      },
      [target, x],
    );
    await b.waitForFunction((x) => window.__seen.has(x), x, { timeout: 10000, polling: 5 });
    const t1 = await b.evaluate((x) => window.__seen.get(x), x);
    out.push(t1 - t0);
  }
  return out;
}

function shipped() {
  const assets = join(dist, 'assets');
  let total = 0;
  const parts = {};
  for (const f of readdirSync(assets)) {
    if (!f.endsWith('.br') || f.startsWith('home-')) continue;
    const size = statSync(join(assets, f)).size;
    total += size;
    const kind = f.replace(/-[\w-]+\.(\w+)\.br$/, '.$1');
    parts[kind] = (parts[kind] ?? 0) + size;
  }
  return { total, parts };
}

// BENCH_DATA_DIR: the node's data directory, kept between runs; a board
// seeded there with BENCH_ELEMENTS elements (bench-<n>.json: its id and
// token) is opened again instead of seeded anew (seeding 100,000 elements
// takes minutes), so two builds can be compared on the same board.
const DATA_DIR = process.env.BENCH_DATA_DIR;
if (DATA_DIR) mkdirSync(DATA_DIR, { recursive: true });
const seeded = DATA_DIR && join(DATA_DIR, `bench-${N}.json`);
const node = await startNode(DATA_DIR ? { dir: DATA_DIR } : {});
const chrome = await launch();
try {
  const s = shipped();
  result('web_shipped_brotli', { bytes: s.total, MB: (s.total / 1048576).toFixed(3), ...Object.fromEntries(Object.entries(s.parts).map(([k, v]) => [k, v])) });

  const seeder = await chrome.newPage();
  const reuse = seeded && existsSync(seeded);
  const { id, token } = reuse ? JSON.parse(readFileSync(seeded, 'utf8')) : await createBoard(seeder.page, node.url, 'Bench', 'Bench');
  const t0 = Date.now();
  if (reuse) {
    // The seeding page open on the board, as after seeding (the node's room open).
    await seeder.page.goto(`${node.url}/b/${id}?token=${token}`);
    await seeder.page.waitForFunction((n) => window.__corkboard?.board.all().length >= n, N, { timeout: 300000, polling: 500 });
    await waitLive(seeder.page);
  } else if (N > SEED_REST_ABOVE) {
    await seedREST(node.url, id, token, N);
    await seeder.page.waitForFunction((n) => window.__corkboard.board.all().length >= n, N, { timeout: 300000, polling: 500 });
  } else await seed(seeder.page, N);
  const count = await seeder.page.evaluate(() => window.__corkboard.board.all().length);
  result('web_seed', { elements: count, seconds: ((Date.now() - t0) / 1000).toFixed(1), ...(reuse ? { reused: DATA_DIR } : {}) });
  if (seeded && !reuse) writeFileSync(seeded, JSON.stringify({ id, token }));
  const url = `${node.url}/b/${id}?token=${token}`;

  // Cold: a fresh profile, the board from the node. COLD runs, each a new context.
  const cold = [];
  const coldLive = [];
  const coldFreeze = [];
  const coldSettle = [];
  for (let i = 0; i < COLD; i++) {
    const v = await chrome.newPage();
    await watchWasmMemory(v.page);
    const fp = i === 0 ? await profiled(v.page, 'cold_open', () => firstPaint(v.page, url)) : await firstPaint(v.page, url);
    cold.push(fp.paint);
    coldLive.push(fp.interactive);
    coldFreeze.push(fp.freeze);
    coldSettle.push(fp.settle);
    result('web_first_paint_steps', { run: 'cold' + i, ...Object.fromEntries(Object.entries(fp.steps).map(([k, v]) => [k + '_ms', f1(v)])), paint_ms: f1(fp.paint), from: fp.far ? 'far_view_summary' : 'board', interactive_ms: f1(fp.interactive), longest_task_ms: f1(fp.freeze), long_tasks: fp.loadingTasks, longest_task_after_ms: f1(fp.settle) });
    if (process.env.BENCH_TRACE) {
      console.log('TRACE marks ' + Object.entries(fp.marks).sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k}=${f1(v)}`).join(' '));
      console.log('TRACE fetches ' + Object.entries(fp.fetches).map(([k, v]) => `${k}=${v}`).join(' '));
      console.log('TRACE long_tasks ' + fp.tasks.join(' '));
    }
    if (i < COLD - 1) await v.context.close();
    else {
      await waitLive(v.page);
      result('web_memory', { elements: fp.elements, ...(await memory(v.page)) });
      if (process.env.BENCH_TRACE) {
        // What each step of taking in the node's snapshot costs, on this page.
        const c = await v.page.evaluate(async () => {
          const { doc, board } = window.__corkboard;
          const t = (f) => {
            const t0 = performance.now();
            const r = f();
            return [performance.now() - t0, r];
          };
          const [, packed] = t(() => doc.snapshot());
          const [, raw] = t(() => doc.snapshot(true));
          const [packedMs] = t(() => doc.loadSnapshot(packed));
          const [rawMs] = t(() => doc.loadSnapshot(raw));
          // The same load in slices (webclient/src/steps.ts): wall time, the time in the steps, their number.
          const sliced = {};
          if (doc.loadSnapshotStep) {
            for (const budget of [256 << 10, 1 << 20, 4 << 20]) {
              const t0 = performance.now();
              let busy = 0,
                steps = 0,
                first = packed;
              const each = [];
              for (;;) {
                const s0 = performance.now();
                const done = doc.loadSnapshotStep(first, budget);
                each.push([performance.now() - s0, steps]);
                busy += performance.now() - s0;
                steps++;
                first = undefined;
                if (done) break;
                await new Promise((r) => {
                  const c = new MessageChannel();
                  c.port1.onmessage = () => r();
                  c.port2.postMessage(0);
                });
              }
              sliced[`sliced_${budget >> 10}k_wall_ms`] = performance.now() - t0;
              sliced[`sliced_${budget >> 10}k_busy_ms`] = busy;
              sliced[`sliced_${budget >> 10}k_steps`] = steps;
              sliced[`sliced_${budget >> 10}k_longest`] = each
                .sort((a, b) => b[0] - a[0])
                .slice(0, 4)
                .map(([ms, i]) => `${ms.toFixed(0)}@${i}`)
                .join('/');
            }
          }
          const [elementsMs, els] = t(() => doc.elements());
          const [jsonMs, text] = t(() => JSON.stringify(els));
          const [parseMs] = t(() => JSON.parse(text));
          board.clear();
          const [upsertMs] = t(() => board.upsert(els));
          return { packed_kb: packed.length >> 10, raw_kb: raw.length >> 10, load_packed_ms: packedMs, load_raw_ms: rawMs, ...sliced, elements_ms: elementsMs, json_kb: text.length >> 10, parse_ms: parseMs, upsert_ms: upsertMs };
        });
        console.log('TRACE costs ' + Object.entries(c).map(([k, v]) => `${k}=${typeof v === 'number' ? f1(v) : v}`).join(' '));
      }
      // Saving the board in the browser (webclient/src/store.ts, "parts"):
      // the page's own time in the first save after the cold open (the
      // node's snapshot stored as it came) and in a save after an edit
      // (the change appended), against encoding the doc, which every save
      // did before.
      const saves = await v.page.evaluate(async () => {
        const { app, doc, sync } = window.__corkboard;
        // Saves from the node's snapshot on (one may come before it, of the doc still empty).
        const loaded = performance.getEntriesByName('corkboard:snapshot-loaded')[0]?.startTime ?? 0;
        const done = () => performance.getEntriesByName('corkboard:persist').filter((e) => e.startTime >= loaded);
        const wait = async (n) => {
          const until = performance.now() + 10000;
          while (done().length <= n && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
          return done()[n]?.detail;
        };
        const first = await wait(0);
        if (!first) return null; // a client without the measure (an older build)
        const el = crypto.randomUUID();
        app.edit([{ op: 'create', el, kind: 'note' }, { op: 'set', el, key: 'x', value: -600 }, { op: 'set', el, key: 'y', value: -600 }, { op: 'set', el, key: 'w', value: 200 }, { op: 'set', el, key: 'h', value: 200 }, { op: 'insertText', el, field: 'text', pos: 0, text: 'saved' }]);
        const n = done().length;
        void sync.persistNow();
        const edit = await wait(n);
        const t0 = performance.now();
        const snap = doc.snapshot();
        return { first, edit, encodeMs: performance.now() - t0, encodeBytes: snap.length };
      });
      if (saves) {
        result('web_save', {
          elements: fp.elements,
          first_mode: saves.first.mode,
          first_ms: f1(saves.first.encodeMs),
          edit_mode: saves.edit.mode,
          edit_ms: f1(saves.edit.encodeMs),
          encode_doc_ms: f1(saves.encodeMs),
          encode_doc_kb: saves.encodeBytes >> 10,
        });
      }
      // Warm: a reload, the board from IndexedDB.
      await v.page.evaluate(() => window.__corkboard.sync.persistNow?.());
      const warm = [];
      const warmLive = [];
      for (let j = 0; j < 3; j++) {
        const w = await firstPaint(v.page, url);
        if (process.env.BENCH_TRACE) console.log(`TRACE warm${j} marks ` + Object.entries(w.marks).sort((a, b) => a[1] - b[1]).map(([k, v]) => `${k}=${f1(v)}`).join(' '));
        warm.push(w.paint);
        warmLive.push(w.interactive);
      }
      // first frame (cold_ms_*: from the far-view summary when fp.far) and interactive (the CRDT loaded, the board drawn from it).
      result('web_first_paint', {
        elements: fp.elements,
        first_frame: fp.far ? 'far_view_summary' : 'board',
        cold_ms_median: f1(pct(cold, 50)),
        cold_ms_min: f1(Math.min(...cold)),
        cold_ms_max: f1(Math.max(...cold)),
        cold_interactive_ms_median: f1(pct(coldLive, 50)),
        cold_interactive_ms_max: f1(Math.max(...coldLive)),
        // The page's longest task between the first frame and interactive (no frame, no input).
        cold_longest_task_ms_median: f1(pct(coldFreeze, 50)),
        // ... and in the second after interactive.
        cold_longest_task_after_ms_median: f1(pct(coldSettle, 50)),
        warm_ms_median: f1(pct(warm, 50)),
        warm_ms_max: f1(Math.max(...warm)),
        warm_interactive_ms_median: f1(pct(warmLive, 50)),
        load1: loadavg()[0].toFixed(1),
      });
      if (fp.far) {
        // One more cold open, panned at every frame from the far-view
        // summary's first frame to interactive: what a person who pans
        // while the board loads gets.
        const p = await chrome.newPage();
        const l = await panWhileLoading(p.page, url);
        await p.context.close();
        const fps = l.deltas.length ? (1000 * l.deltas.length) / l.deltas.reduce((a, b) => a + b, 0) : NaN;
        result('web_pan_loading', { frames: l.deltas.length, fps: f1(fps), frame_p50_ms: f1(pct(l.deltas, 50)), frame_p95_ms: f1(pct(l.deltas, 95)), frame_max_ms: f1(Math.max(0, ...l.deltas)), first_frame_ms: f1(l.paint), interactive_ms: f1(l.interactive) });
      }
      if (PAINT_ONLY) {
        await v.context.close();
        break;
      }
      await waitLive(v.page);
      for (const zoom of [1, 'fit']) {
        const { deltas, draws, inView } = await profiled(v.page, 'pan_' + zoom, () => pan(v.page, 300, zoom));
        const fps = 1000 / (deltas.reduce((a, b) => a + b, 0) / deltas.length);
        result('web_pan', {
          zoom,
          in_view: inView,
          frames: deltas.length,
          frame_p50_ms: f1(pct(deltas, 50)),
          frame_p95_ms: f1(pct(deltas, 95)),
          frame_max_ms: f1(Math.max(...deltas)),
          fps: f1(fps),
          draw_p50_ms: f1(pct(draws, 50)),
          draw_p95_ms: f1(pct(draws, 95)),
        });
        // The long frames: where in the pan (frame index) and how long.
        if (process.env.BENCH_TRACE) console.log(`TRACE pan_${zoom} long_frames ` + deltas.flatMap((d, i) => (d > 20 ? [`${i}:${f1(d)}`] : [])).join(' '));
      }
      // Zooming in and out by 5 % a frame, fitted: every step draws the far
      // view again (its bitmap is per zoom), the worst case of lod.ts.
      const zoomDraws = await profiled(v.page, 'zoom', () => v.page.evaluate(async () => {
        const app = window.__corkboard.app;
        const r = app.renderer;
        const inner = r.draw.bind(r);
        const draws = [];
        r.draw = (...a) => {
          const t = performance.now();
          inner(...a);
          draws.push(performance.now() - t);
        };
        app.fit();
        for (let i = 0; i < 40; i++) {
          app.zoomAt(r.width / 2, r.height / 2, i % 20 < 10 ? 1.05 : 1 / 1.05);
          await new Promise((res) => requestAnimationFrame(res));
        }
        r.draw = inner;
        return draws;
      }));
      result('web_zoom', { frames: zoomDraws.length, draw_p50_ms: f1(pct(zoomDraws, 50)), draw_p95_ms: f1(pct(zoomDraws, 95)), draw_max_ms: f1(Math.max(...zoomDraws)) });
      // What re-reading one changed element costs the model: a note (only
      // the connectors bound to it are re-derived) and a mindmap node (every
      // layout and connector is).
      const model = await v.page.evaluate(() => {
        const { doc, board } = window.__corkboard;
        const all = board.all();
        const time = (id) => {
          const ts = [];
          for (let i = 0; i < 30; i++) {
            const t = performance.now();
            board.upsert(doc.elements([id]));
            ts.push(performance.now() - t);
          }
          return ts.sort((a, b) => a - b)[15];
        };
        return { note: time(all.find((e) => e.kind === 'note').id), mindmap: time(all.find((e) => e.kind === 'mindmap').id), structural: all.filter((e) => e.kind === 'mindmap' || e.kind === 'connector' || e.parent).length };
      });
      result('web_model_update', { structural: model.structural, note_ms: f1(model.note), mindmap_ms: f1(model.mindmap) });
      // Local op → remote screen, the viewer page against the seeder page.
      const lat = await profiled(v.page, 'op_to_screen', () => latency(seeder.page, v.page));
      result('web_op_to_screen', { samples: lat.length, p50_ms: f1(pct(lat, 50)), p95_ms: f1(pct(lat, 95)), max_ms: f1(Math.max(...lat)) });
      await v.context.close();
    }
  }
  await seeder.context.close();
} finally {
  await chrome.close();
  await node.stop();
}
