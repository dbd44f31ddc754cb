// The node's far-view summary of a board (the 0x04 frame, docs/PROTOCOL.md;
// made by server/farview): every element as the box or line, and colour,
// that the far view (lod.ts drawBoxes) draws it with when it is a few
// pixels on screen. On a first visit of a big board the node sends it just
// before the snapshot, and the page draws it (BoardApp.farView) while the
// snapshot arrives and is loaded into the CRDT, which takes seconds on a
// board of 100,000 elements; the first frame from the CRDT replaces it.
//
// The page draws it only when every box in it would be drawn as a box by
// the far view anyway (under LOD_PX device pixels at the view: the fitted
// view of a big board), so that the picture is the far view's own, up to
// the summary's approximations (mindmap nodes laid out from estimated text
// sizes, frames without their title; server/farview); else it waits for
// the CRDT as before. While it is shown the page draws nothing else from
// the board, and the changes that come after it wait behind the snapshot
// (Sync holds the frames until the summary is on screen), so none is lost.
//
// Rejected: building the page's model (Board) from the summary (elements
// without their text or props would reach every feature that walks the
// board), and drawing it at any zoom (at a near view a note is its text).
import { cssColor, PALETTE } from './ids';
import type { Box } from './model';

/** Item kinds (server/farview). */
export const OP_FILL = 0;
export const OP_OUTLINE = 1;
export const OP_LINE = 2;
/** A frame: filled with its style (unless transparent) and outlined in grey, whatever its size. */
export const OP_FRAME = 3;

export interface FarSummary {
  styles: string[];
  /** Per item: op (low 2 bits) and style index (the rest). */
  head: Uint32Array;
  /** Per item: x, y, w, h (a line: x, y, dx, dy), board units. */
  geom: Float64Array;
  count: number;
  /** The box around every item; null when there is none. */
  bounds: Box | null;
  /** The largest side of a rectangle (lines and frames not counted), board units. */
  largest: number;
}

/** The largest summary this page decodes (the node's farview.MaxBytes). */
const MAX_BYTES = 8 << 20;
const MAX_STYLES = 4096;
const MAX_COORD = 1e9;
/** A frame's outline (render.ts). */
const FRAME_OUTLINE = '#adb5bd';

/** Decodes a summary (the frame's body, after the 0x04 tag); throws on any malformed input. */
export function decodeFarSummary(b: Uint8Array): FarSummary {
  if (b.length === 0 || b[0] !== 1) throw new Error('far view: unknown version');
  if (b.length > MAX_BYTES) throw new Error('far view: too large');
  let i = 1;
  const uvarint = (): number => {
    let v = 0,
      mul = 1;
    for (let k = 0; k < 8; k++) {
      if (i >= b.length) throw new Error('far view: truncated');
      const c = b[i++];
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
    throw new Error('far view: varint too long');
  };
  const varint = (): number => {
    const u = uvarint();
    return u % 2 ? -(u + 1) / 2 : u / 2;
  };
  const ns = uvarint();
  if (ns > MAX_STYLES) throw new Error('far view: too many styles');
  const styles: string[] = [];
  for (let k = 0; k < ns; k++) {
    const l = uvarint();
    if (l > 16 || i + l > b.length) throw new Error('far view: bad style');
    let s = '';
    for (let j = 0; j < l; j++) s += String.fromCharCode(b[i + j]);
    i += l;
    // A colour as the schema has them; drawn through cssColor like the far view's.
    if (!/^(#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?|transparent)$/.test(s) && !Object.hasOwn(PALETTE, s)) throw new Error('far view: bad colour');
    styles.push(cssColor(s, '#999999'));
  }
  const n = uvarint();
  if (n > (b.length - i) / 5) throw new Error('far view: bad item count');
  const head = new Uint32Array(n);
  const geom = new Float64Array(n * 4);
  let x = 0,
    y = 0,
    x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity,
    largest = 0;
  for (let k = 0; k < n; k++) {
    const h = uvarint();
    const op = h % 4,
      style = Math.floor(h / 4);
    if (style >= styles.length) throw new Error('far view: bad item');
    x += varint();
    y += varint();
    const w = varint(),
      hh = varint();
    if (Math.abs(x) > MAX_COORD || Math.abs(y) > MAX_COORD || Math.abs(w) > 2 * MAX_COORD || Math.abs(hh) > 2 * MAX_COORD) throw new Error('far view: out of range');
    head[k] = h;
    geom.set([x, y, w, hh], k * 4);
    const xa = Math.min(x, x + w),
      xb = Math.max(x, x + w),
      ya = Math.min(y, y + hh),
      yb = Math.max(y, y + hh);
    if (xa < x0) x0 = xa;
    if (ya < y0) y0 = ya;
    if (xb > x1) x1 = xb;
    if (yb > y1) y1 = yb;
    if ((op === OP_FILL || op === OP_OUTLINE) && Math.max(w, hh) > largest) largest = Math.max(w, hh);
  }
  if (i !== b.length) throw new Error('far view: trailing bytes');
  return { styles, head, geom, count: n, bounds: n ? { x: x0, y: y0, w: Math.max(1, x1 - x0), h: Math.max(1, y1 - y0) } : null, largest };
}

/**
 * Draws the summary's items in view into ctx, which has the board's
 * transform (scale: device pixels per board unit): one path per colour,
 * filled or stroked once, as drawBoxes does.
 */
export function drawFarSummary(ctx: CanvasRenderingContext2D, s: FarSummary, view: Box, scale: number): void {
  const fills = new Map<number, Path2D>();
  const lines = new Map<number, Path2D>();
  const path = (m: Map<number, Path2D>, k: number): Path2D => {
    let p = m.get(k);
    if (!p) m.set(k, (p = new Path2D()));
    return p;
  };
  const vx1 = view.x + view.w,
    vy1 = view.y + view.h;
  const g = s.geom;
  for (let k = 0; k < s.count; k++) {
    const x = g[k * 4],
      y = g[k * 4 + 1],
      w = g[k * 4 + 2],
      h = g[k * 4 + 3];
    if (Math.max(x, x + w) < view.x || Math.min(x, x + w) > vx1 || Math.max(y, y + h) < view.y || Math.min(y, y + h) > vy1) continue;
    const head = s.head[k];
    const op = head % 4,
      style = Math.floor(head / 4);
    if (op === OP_FILL) {
      if (s.styles[style] !== 'transparent') path(fills, style).rect(x, y, w, h);
    } else if (op === OP_OUTLINE) path(lines, style).rect(x, y, w, h);
    else if (op === OP_FRAME) {
      if (s.styles[style] !== 'transparent') path(fills, style).rect(x, y, w, h);
      path(lines, -1).rect(x, y, w, h);
    } else {
      const p = path(lines, style);
      p.moveTo(x, y);
      p.lineTo(x + w, y + h);
    }
  }
  for (const [style, p] of fills) {
    ctx.fillStyle = s.styles[style];
    ctx.fill(p);
  }
  ctx.lineWidth = 1 / scale;
  for (const [style, p] of lines) {
    ctx.strokeStyle = style < 0 ? FRAME_OUTLINE : s.styles[style];
    ctx.stroke(p);
  }
}
