// Connectors: lines and arrows whose ends are either free points or bound
// to an element ({"el": id, "anchor": [ax, ay]}, docs/SCHEMA.md). A bound
// end is computed from the element's current box every time, so it follows
// the element wherever it moves, here or on any other replica; the
// connector's own x/y/w/h are only informative.
//
// An anchor of [0.5, 0.5] (the centre, what this client makes) is drawn
// from the element's edge rather than its centre: the line is clipped to
// the box on the side facing the other end. Any other anchor is a fixed
// point of the box. Rotation of the bound element is not taken into
// account for anchors (the unrotated box is used).
import type { Box, El } from './element';

export type Pt = [number, number];

/** One end of a connector, as stored. */
export type End = { el: string; anchor?: [number, number] } | { x: number; y: number };

export function parseEnd(v: unknown): End | null {
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  if (typeof o.el === 'string') {
    const a = Array.isArray(o.anchor) && o.anchor.length === 2 && o.anchor.every((n) => typeof n === 'number' && Number.isFinite(n)) ? (o.anchor as [number, number]) : undefined;
    return { el: o.el, anchor: a };
  }
  if (typeof o.x === 'number' && typeof o.y === 'number' && Number.isFinite(o.x) && Number.isFinite(o.y)) return { x: o.x, y: o.y };
  return null;
}

type Lookup = (id: string) => Box | undefined;

function centre(b: Box): Pt {
  return [b.x + b.w / 2, b.y + b.h / 2];
}

/** Where the segment from the box's centre towards p leaves the box. */
export function clipToBox(b: Box, p: Pt): Pt {
  const [cx, cy] = centre(b);
  const dx = p[0] - cx,
    dy = p[1] - cy;
  if (!dx && !dy) return [cx, cy];
  const tx = dx ? b.w / 2 / Math.abs(dx) : Infinity;
  const ty = dy ? b.h / 2 / Math.abs(dy) : Infinity;
  const t = Math.min(tx, ty, 1);
  return [cx + dx * t, cy + dy * t];
}

/** The raw point of an end: the anchor point, or the free point. */
function rawPoint(end: End, look: Lookup): { p: Pt; box?: Box; centred: boolean } | null {
  if ('el' in end) {
    const b = look(end.el);
    if (!b) return null;
    const a = end.anchor ?? [0.5, 0.5];
    const centred = Math.abs(a[0] - 0.5) < 1e-6 && Math.abs(a[1] - 0.5) < 1e-6;
    return { p: [b.x + a[0] * b.w, b.y + a[1] * b.h], box: b, centred };
  }
  return { p: [end.x, end.y], centred: false };
}

/**
 * The polyline of a connector in board units (two points for a straight
 * line, four for an elbow), or null when an end is missing (its element
 * deleted: the connector is then not drawn).
 */
export function connectorPath(e: { props: Record<string, unknown> }, look: Lookup, override?: (id: string) => Box | undefined): Pt[] | null {
  const l: Lookup = override ? (id) => override(id) ?? look(id) : look;
  const fe = parseEnd(e.props.from),
    te = parseEnd(e.props.to);
  if (!fe || !te) return null;
  const a = rawPoint(fe, l),
    b = rawPoint(te, l);
  if (!a || !b) return null;
  const route = e.props.route;
  if (route === 'elbow') {
    const ac = a.box ? centre(a.box) : a.p,
      bc = b.box ? centre(b.box) : b.p;
    const horizontal = Math.abs(bc[0] - ac[0]) >= Math.abs(bc[1] - ac[1]);
    const side = (r: typeof a, toward: Pt): Pt => {
      if (!r.box || !r.centred) return r.p;
      const [cx, cy] = centre(r.box);
      if (horizontal) return [toward[0] >= cx ? r.box.x + r.box.w : r.box.x, cy];
      return [cx, toward[1] >= cy ? r.box.y + r.box.h : r.box.y];
    };
    const p0 = side(a, bc),
      p3 = side(b, ac);
    if (horizontal) {
      const mx = (p0[0] + p3[0]) / 2;
      return [p0, [mx, p0[1]], [mx, p3[1]], p3];
    }
    const my = (p0[1] + p3[1]) / 2;
    return [p0, [p0[0], my], [p3[0], my], p3];
  }
  const p0 = a.box && a.centred ? clipToBox(a.box, b.box && b.centred ? centre(b.box) : b.p) : a.p;
  const p1 = b.box && b.centred ? clipToBox(b.box, a.box && a.centred ? centre(a.box) : a.p) : b.p;
  return [p0, p1];
}

/** The box around a connector's path (with room for arrowheads), or null. */
export function connectorBox(e: El, look: Lookup): Box | null {
  const pts = connectorPath(e, look);
  if (!pts) return null;
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (const [x, y] of pts) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  const pad = 12;
  const box = { x: x0 - pad, y: y0 - pad, w: x1 - x0 + 2 * pad, h: y1 - y0 + 2 * pad };
  // The label, drawn on a white band at its middle (render.ts: 14 units
  // high, as wide as its words), may reach past the line's box: the box
  // holds it, at 14 units a character (no glyph is wider), so that what
  // shows it is culled and drawn again with it.
  const label = typeof e.text?.label === 'string' ? e.text.label : '';
  if (label) {
    const mid = pts.length === 4 ? [(pts[1][0] + pts[2][0]) / 2, (pts[1][1] + pts[2][1]) / 2] : [(pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2];
    const half = (Math.min(label.length, 10_000) * 14 + 10) / 2 + 2;
    const lx0 = Math.min(box.x, mid[0] - half),
      ly0 = Math.min(box.y, mid[1] - 12),
      lx1 = Math.max(box.x + box.w, mid[0] + half),
      ly1 = Math.max(box.y + box.h, mid[1] + 12);
    return { x: lx0, y: ly0, w: lx1 - lx0, h: ly1 - ly0 };
  }
  return box;
}

/** The ids of the elements a connector's ends are bound to. */
export function boundIds(e: { props: Record<string, unknown> }): string[] {
  const out: string[] = [];
  for (const k of ['from', 'to']) {
    const end = parseEnd(e.props[k]);
    if (end && 'el' in end) out.push(end.el);
  }
  return out;
}

/**
 * The control points of a curved connector from a to b: it leaves and
 * arrives horizontally when the ends are further apart across than down,
 * else vertically.
 */
export function curveControls(a: Pt, b: Pt): [Pt, Pt] {
  if (Math.abs(b[0] - a[0]) >= Math.abs(b[1] - a[1])) {
    const mx = (a[0] + b[0]) / 2;
    return [
      [mx, a[1]],
      [mx, b[1]],
    ];
  }
  const my = (a[1] + b[1]) / 2;
  return [
    [a[0], my],
    [b[0], my],
  ];
}
