// The benchmark board's content, as neutral items, for the peer editors'
// pages: the same loop as bench/web/bench.mjs seeds a Corkboard board with
// (a grid 260 apart of 200 × 200 items: notes, shapes, strokes, connectors
// from the item before, and every 50th a mindmap topic with three children),
// so that both sides draw the same board. Each page turns the items into its
// editor's own records.

const WORDS = ['idea', 'ship', 'test', 'plan', 'vote', 'user', 'design', 'later', 'now', 'maybe'];

/** The items of a board of n elements; ids are "e<index>". */
export function mix(n) {
  const cols = Math.ceil(Math.sqrt(n));
  const items = [];
  let made = 0;
  let prev = null;
  while (made < n) {
    const id = 'e' + made;
    const col = made % cols,
      row = Math.floor(made / cols);
    const x = col * 260,
      y = row * 260;
    const kind = made % 50 === 0 ? 'mindmap' : made % 25 === 1 && prev ? 'connector' : made % 40 === 2 ? 'stroke' : made % 5 === 3 ? 'shape' : 'note';
    if (kind === 'connector') items.push({ kind, id, from: prev, to: { x: x + 100, y: y + 100 } });
    else if (kind === 'stroke') {
      const points = [];
      for (let i = 0; i < 40; i++) points.push([10 + i * 4.5, 100 + Math.sin(i / 4) * 60]);
      items.push({ kind, id, x, y, w: 200, h: 200, points });
    } else if (kind === 'mindmap') {
      // The topic, and its children to its right (Corkboard lays them out; the peers get them placed).
      items.push({ kind: 'topic', id, x, y, w: 120, h: 40, text: 'Topic ' + made });
      for (let c = 0; c < 3; c++) {
        made++;
        items.push({ kind: 'topic', id: 'e' + made, parent: id, x: x + 150, y: y - 50 + c * 50, w: 80, h: 36, text: WORDS[c] });
      }
    } else {
      const text = `${WORDS[made % 10]} ${WORDS[(made * 7) % 10]} #${made}`;
      if (kind === 'shape') items.push({ kind, id, x, y, w: 200, h: 200, shape: ['rectangle', 'ellipse', 'diamond'][made % 3], text });
      else items.push({ kind, id, x, y, w: 200, h: 200, color: ['yellow', 'pink', 'blue', 'green'][made % 4], text });
    }
    made++;
    prev = id;
  }
  return items;
}

/** Marks the page's milestones for the runner (bench/web/peers.mjs). */
export function mark(name) {
  performance.mark('peer:' + name);
}

/** Resolves after two animation frames: whatever was committed before is on screen. */
export function frames() {
  return new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
}

/** The query's parameters: mode "make" (build the scene, post it) or "open" (load it), n. */
export function params() {
  const q = new URLSearchParams(location.search);
  return { mode: q.get('mode') || 'open', n: Number(q.get('n') || 5000), scene: q.get('scene') };
}

/** Posts the made scene for the runner to keep. */
export async function save(name, text) {
  const r = await fetch('/scene/' + name, { method: 'POST', body: text });
  if (!r.ok) throw new Error('saving the scene: ' + r.status);
}

// An uncaught error in the page (a render, an effect) ends the run with it, not with the runner's time limit.
addEventListener('error', (e) => (window.__peerError ??= String(e.error?.stack || e.message)));
addEventListener('unhandledrejection', (e) => (window.__peerError ??= String(e.reason?.stack || e.reason)));
