// Box geometry of the board page's gestures: unions and containment,
// turning points about a centre, and resizing (plain and rotated boxes).
import { intersects, type Box } from './model';
import { corners } from './render';

/** The box holding both boxes (model.ts's: the board model needs it too, and imports nothing of this file). */
export { union } from './model';

export function contains(outer: Box, b: Box): boolean {
  return intersects(outer, b) && b.x >= outer.x && b.y >= outer.y && b.x + b.w <= outer.x + outer.w && b.y + b.h <= outer.y + outer.h;
}

export function roundBox(b: Box): Box {
  return { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.w), h: Math.round(b.h) };
}

/** A point turned by deg degrees (clockwise on screen) about (cx, cy). */
export function turn(x: number, y: number, cx: number, cy: number, deg: number): [number, number] {
  if (!deg) return [x, y];
  const r = (deg * Math.PI) / 180;
  const dx = x - cx,
    dy = y - cy;
  return [cx + dx * Math.cos(r) - dy * Math.sin(r), cy + dx * Math.sin(r) + dy * Math.cos(r)];
}

/** The boxes of a resize in progress: every element scaled with the selection's box. */
export function resized(d: { orig: Box; box: Box; origs: Map<string, Box> }): Map<string, Box> {
  const o = d.orig,
    b = d.box;
  const sx = o.w ? b.w / o.w : 1,
    sy = o.h ? b.h / o.h : 1;
  const out = new Map<string, Box>();
  for (const [id, e] of d.origs) out.set(id, { x: b.x + (e.x - o.x) * sx, y: b.y + (e.y - o.y) * sy, w: Math.max(1, e.w * sx), h: Math.max(1, e.h * sy) });
  return out;
}

/**
 * Resizing a rotated element by corner c: the pointer is read in the
 * element's own (unrotated) frame, and the new box is shifted so that the
 * opposite corner stays where it is on screen (rotation is about the
 * centre, which moves with the size).
 */
export function resizeRotated(o: Box, rot: number, c: number, px: number, py: number, min: number): Box {
  const [lx, ly] = turn(px, py, o.x + o.w / 2, o.y + o.h / 2, -rot);
  const b = resizeBox(o, c, lx, ly, min);
  const opp = (c + 2) % 4;
  const [ax, ay] = corners(o)[opp];
  const [bx, by] = corners(b)[opp];
  const a = turn(ax, ay, o.x + o.w / 2, o.y + o.h / 2, rot);
  const n = turn(bx, by, b.x + b.w / 2, b.y + b.h / 2, rot);
  return { x: b.x + a[0] - n[0], y: b.y + a[1] - n[1], w: b.w, h: b.h };
}

/** The box after dragging corner c (nw, ne, se, sw) to (px, py), at least min wide and high. */
export function resizeBox(o: Box, c: number, px: number, py: number, min: number): Box {
  let x0 = o.x,
    y0 = o.y,
    x1 = o.x + o.w,
    y1 = o.y + o.h;
  if (c === 0 || c === 3) x0 = Math.min(px, x1 - min);
  else x1 = Math.max(px, x0 + min);
  if (c === 0 || c === 1) y0 = Math.min(py, y1 - min);
  else y1 = Math.max(py, y0 + min);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

/** The k-th smallest of a (0-based), reordering a: Hoare's selection, linear on average. */
export function kthSmallest(a: Float64Array, k: number): number {
  let lo = 0,
    hi = a.length - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo,
      j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}
