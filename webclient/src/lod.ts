// Drawing big boards from far away: level of detail and a cached bitmap.
//
// Level of detail. An element whose larger side is under LOD_PX device
// pixels is drawn as its box alone (a note: a rectangle of its colour; a
// shape: its fill, or its outline; a stroke: its bounding box; a connector:
// a straight line between its ends; text: a grey bar), and every such box
// of one colour goes into one path, filled or stroked once. At that size
// text, arrowheads, shadows and round corners are not visible anyway, and
// one path per colour costs a fraction of a canvas call per element. The
// price: tiny elements are drawn before the full-size ones and by colour,
// not in z order among themselves; at under LOD_PX pixels an overlap is
// not something one sees.
//
// The far view's bitmap. With more than CACHE_MIN elements on screen,
// the content (not the grid, nor the overlays: selection, cursors, ink,
// which change every frame and are drawn over it) is drawn once into an
// offscreen canvas covering the view and a margin around it (all of the
// board when it fits), at the current zoom, and every later frame is one
// drawImage at the camera's offset. Panning costs nothing until the view
// leaves the bitmap. When the board changes, only where it changed is
// drawn again into the bitmap (FarView.patch: each area the change names,
// BoardChange.dirty, cleared and its elements drawn again, clipped to it);
// the bitmap is drawn again whole when a change could be anywhere (a
// reload), the zoom or pixel ratio changes, a picture it was waiting for
// may have arrived, or the view left it. While zooming, the last bitmap
// is drawn scaled and drawn anew at most every SETTLE_MS, and once the
// zoom stops (blurred or cut at the edges for that moment). While elements are dragged
// or a text edited the bitmap is not used (it would show them where they
// were), and the frame is drawn directly.
//
// Rejected: tiles at fixed zoom levels (an LRU of 512-pixel tiles, as map
// viewers do), which pan into new regions without a whole redraw but at
// any zoom between levels either blur or redraw, and need a tile scheduler
// to spread the work across frames; for a board whose far view is all of
// it on screen, one bitmap of the view and its margin is redrawn only when
// something changed. And a WebGL renderer: the same far view at a lower
// cost per element, but a second renderer to keep in step with this one
// for every kind and style, and no gain at normal zoom where the canvas
// draws a few dozen elements.
import type { Board, BoardChange, Box, El } from './model';
import { connectorPath } from './connectors';
import { cssColor } from './ids';

/** The screen size (px) of a frame's title drawn above it when zoomed out (and under which the band's title is not drawn): render.ts. */
export const FRAME_LABEL_PX = 12;
/** Elements whose larger side is under this many device pixels are drawn as boxes. */
export const LOD_PX = 10;
/** From this many elements in view, the content is drawn from the cached bitmap. */
export const CACHE_MIN = 1500;
/** The bitmap's largest side, and area, in device pixels. */
export const MAX_SIDE = 4096;
export const MAX_AREA = 12 * 1024 * 1024;
/** How often a bitmap missing pictures (still loading) is drawn again, ms. */
const RETRY_MS = 300;
/**
 * While zooming, the last bitmap is drawn scaled for this long (ms) before
 * it is drawn again at the new zoom: a zoom gesture redraws the content at
 * most this often, and once more when it stops.
 */
const SETTLE_MS = 120;

/** Whether an element is small enough on screen (scale: device pixels per board unit) to be drawn as its box. */
export function tiny(e: El, scale: number): boolean {
  return e.kind !== 'frame' && Math.max(e.w, e.h) * scale < LOD_PX;
}

/**
 * Draws the boxes of tiny elements (see the file comment), batched by
 * colour; ctx has the board's transform. boxOf gives the box an element
 * is drawn at (a connector's ends follow it).
 */
export function drawBoxes(ctx: CanvasRenderingContext2D, els: El[], scale: number, boxOf: (id: string) => Box | undefined): void {
  const fills = new Map<string, Path2D>();
  const lines = new Map<string, Path2D>();
  const path = (m: Map<string, Path2D>, style: string): Path2D => {
    let p = m.get(style);
    if (!p) m.set(style, (p = new Path2D()));
    return p;
  };
  for (const e of els) {
    switch (e.kind) {
      case 'note':
        path(fills, cssColor(e.props.color, 'yellow')).rect(e.x, e.y, e.w, e.h);
        break;
      case 'shape': {
        const fill = cssColor(e.props.fill, 'transparent');
        if (fill !== 'transparent') path(fills, fill).rect(e.x, e.y, e.w, e.h);
        else path(lines, cssColor(e.props.stroke, '#1e1e1e')).rect(e.x, e.y, e.w, e.h);
        break;
      }
      case 'mindmap':
        path(fills, cssColor(e.props.color, '#e7f5ff')).rect(e.x, e.y, e.w, e.h);
        path(lines, '#74c0fc').rect(e.x, e.y, e.w, e.h);
        break;
      case 'stroke':
        path(lines, cssColor(e.props.color, '#1e1e1e')).rect(e.x, e.y, e.w, e.h);
        break;
      case 'connector': {
        const pts = connectorPath(e, boxOf);
        if (!pts) break;
        const p = path(lines, cssColor(e.props.stroke, '#1e1e1e'));
        p.moveTo(pts[0][0], pts[0][1]);
        p.lineTo(pts[pts.length - 1][0], pts[pts.length - 1][1]);
        break;
      }
      case 'text':
        if (e.text.text) path(fills, 'rgba(0,0,0,0.18)').rect(e.x, e.y + e.h / 4, e.w, e.h / 2);
        break;
      case 'image':
        path(fills, '#ced4da').rect(e.x, e.y, e.w, e.h);
        break;
      default:
        path(lines, '#999').rect(e.x, e.y, e.w, e.h);
    }
  }
  for (const [style, p] of fills) {
    ctx.fillStyle = style;
    ctx.fill(p);
  }
  ctx.lineWidth = 1 / scale; // one device pixel
  for (const [style, p] of lines) {
    ctx.strokeStyle = style;
    ctx.stroke(p);
  }
}

/** What the bitmap shows: the board's version, the scale, and the board region. */
interface Shot {
  version: number;
  zoom: number;
  dpr: number;
  region: Box;
  /** When it was drawn, and whether it waited for pictures. */
  at: number;
  missing: boolean;
  /** How many elements it was drawn from (the renderer draws fewer details past a few hundred). */
  count: number;
}

/** The most changed areas patched into the bitmap in one frame; past it, it is drawn again whole. */
const MAX_PATCHES = 64;

/**
 * The far view's cached bitmap (see the file comment). The renderer asks
 * blit() first; when it answers false and the view holds at least
 * CACHE_MIN elements, build() draws the bitmap with the renderer's own
 * drawing (paint) and blits it.
 */
export class FarView {
  private canvas: HTMLCanvasElement | null = null;
  private shot: Shot | null = null;
  /** Bitmaps drawn (for tests and the benchmark). */
  builds = 0;
  /** Changed areas drawn again into the bitmap (for tests and the benchmark). */
  patches = 0;
  /**
   * The board's changes since the shot (Board.onChange: changed), as the
   * areas where what is drawn changed, and the board version they reach;
   * null: a change that could be anywhere.
   */
  private dirty: Box[] | null = [];
  private dirtyTo = -1;
  /** Asks for a frame (the page's redraw): after a zoom settles, to draw the bitmap at the new zoom. */
  redraw: (() => void) | null = null;
  private settle: ReturnType<typeof setTimeout> | undefined;

  /** The zoom the bitmap is drawn at (0: none). */
  get zoom(): number {
    return this.shot?.zoom ?? 0;
  }

  /** Takes a change of the board (Board.onChange), at its version after it. */
  changed(c: BoardChange, version: number): void {
    if (this.dirty && c.dirty && this.dirty.length + c.dirty.length <= MAX_PATCHES) this.dirty.push(...c.dirty);
    else this.dirty = null;
    this.dirtyTo = version;
  }

  /**
   * Brings the bitmap up to the board's version by drawing again only
   * where the changes since it were (a note moved or edited by someone far
   * away in a fitted view of 100,000 elements drew them all again, 0.1-0.3
   * s a change): each area cleared and the elements there drawn again in
   * order, clipped to it. paint is build's, with how many elements the
   * bitmap was drawn from (the same details). False when it cannot: no
   * bitmap, a change that could be anywhere, or one it did not see.
   */
  patch(board: Board, paint: (ctx: CanvasRenderingContext2D, els: El[], count: number) => boolean): boolean {
    const s = this.shot;
    if (!s || !this.canvas || s.version === board.version) return false;
    if (!this.dirty || this.dirtyTo !== board.version) return false;
    const k = s.zoom * s.dpr;
    const r = s.region;
    const ctx = this.canvas.getContext('2d')!;
    // A margin for what is drawn past a box: a shadow, a stroke's width,
    // a collapsed node's badge (20 units right), anti-aliasing.
    const pad = Math.max(24, 3 / k);
    // A frame's title zoomed out is drawn above it, in a band of this height
    // (render.ts): the area is drawn again that far up (a changed frame's
    // title), and the frames that far below it are drawn again too (their
    // titles, cleared with the area).
    const band = (1.6 * FRAME_LABEL_PX) / s.zoom;
    let missing = false;
    // Each area in the bitmap's whole pixels, and the board area they cover.
    const areas: { px: [number, number, number, number]; area: Box }[] = [];
    for (const d of this.dirty) {
      const x0 = Math.max(r.x, d.x - pad),
        y0 = Math.max(r.y, d.y - pad - band),
        x1 = Math.min(r.x + r.w, d.x + d.w + pad),
        y1 = Math.min(r.y + r.h, d.y + d.h + pad);
      if (x1 <= x0 || y1 <= y0) continue;
      const px0 = Math.floor((x0 - r.x) * k),
        py0 = Math.floor((y0 - r.y) * k),
        px1 = Math.ceil((x1 - r.x) * k),
        py1 = Math.ceil((y1 - r.y) * k);
      areas.push({ px: [px0, py0, px1, py1], area: { x: r.x + px0 / k, y: r.y + py0 / k, w: (px1 - px0) / k, h: (py1 - py0) / k } });
    }
    const edges = board.edgesAcross(areas.map((a) => a.area));
    for (let i = 0; i < areas.length; i++) {
      const {
        px: [px0, py0, px1, py1],
        area,
      } = areas[i];
      ctx.save();
      try {
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.beginPath();
        ctx.rect(px0, py0, px1 - px0, py1 - py0);
        ctx.clip();
        ctx.clearRect(px0, py0, px1 - px0, py1 - py0);
        ctx.setTransform(k, 0, 0, k, -r.x * k, -r.y * k);
        // The elements there (and frames whose titles reach into it), and
        // the mindmap nodes whose edges cross it.
        const els = board.query(area, false);
        const seen = new Set(els.map((e) => e.id));
        for (const e of board.query({ ...area, h: area.h + band }, false)) if (e.kind === 'frame' && !seen.has(e.id)) (els.push(e), seen.add(e.id));
        for (const e of edges[i]) if (!seen.has(e.id)) els.push(e);
        if (paint(ctx, els, s.count)) missing = true;
      } finally {
        ctx.restore();
      }
      this.patches++;
    }
    s.version = board.version;
    if (missing && !s.missing) {
      s.missing = true;
      s.at = performance.now();
    }
    this.dirty = [];
    return true;
  }

  /** Draws the bitmap at the camera's offset, if it is still good for this view; ctx has no transform. */
  blit(ctx: CanvasRenderingContext2D, board: Board, view: Box, zoom: number, dpr: number): boolean {
    const s = this.shot;
    if (!s || !this.canvas || s.version !== board.version || s.dpr !== dpr) return false;
    const now = performance.now();
    if (s.missing && now - s.at > RETRY_MS) return false;
    // Another zoom: the last bitmap scaled, for a moment (SETTLE_MS), when a frame will come to draw it anew.
    if (s.zoom !== zoom && (!this.redraw || now - s.at > SETTLE_MS)) return false;
    const r = s.region;
    if (view.x < r.x || view.y < r.y || view.x + view.w > r.x + r.w || view.y + view.h > r.y + r.h) {
      // Left the bitmap, unless the board is all in it (nothing out there).
      const b = board.bounds();
      if (!b || b.x < r.x || b.y < r.y || b.x + b.w > r.x + r.w || b.y + b.h > r.y + r.h) return false;
    }
    if (s.zoom === zoom) {
      ctx.drawImage(this.canvas, Math.round((r.x - view.x) * zoom * dpr), Math.round((r.y - view.y) * zoom * dpr));
      return true;
    }
    const k = zoom * dpr;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.canvas, (r.x - view.x) * k, (r.y - view.y) * k, r.w * k, r.h * k);
    clearTimeout(this.settle);
    this.settle = setTimeout(() => this.redraw?.(), SETTLE_MS - (now - s.at) + 5);
    return true;
  }

  /**
   * Draws the bitmap for this view: the view and half a view around it
   * (as far as the board reaches), at most MAX_SIDE pixels a side. paint
   * draws a list of elements (in draw order) into a context with the
   * board's transform set and returns whether a picture was missing.
   */
  build(board: Board, view: Box, zoom: number, dpr: number, paint: (ctx: CanvasRenderingContext2D, els: El[], count: number) => boolean): void {
    const s = zoom * dpr;
    let mx = view.w / 2,
      my = view.h / 2;
    const fit = () => (view.w + 2 * mx) * s <= MAX_SIDE && (view.h + 2 * my) * s <= MAX_SIDE && (view.w + 2 * mx) * (view.h + 2 * my) * s * s <= MAX_AREA;
    while (!fit() && (mx > 1 || my > 1)) {
      mx /= 2;
      my /= 2;
    }
    if (!fit()) mx = my = 0;
    let region: Box = { x: view.x - mx, y: view.y - my, w: view.w + 2 * mx, h: view.h + 2 * my };
    const b = board.bounds();
    if (b) {
      // No further than the board (plus a pixel), but all of the view.
      const x0 = Math.min(view.x, Math.max(region.x, b.x - 1 / s)),
        y0 = Math.min(view.y, Math.max(region.y, b.y - 1 / s));
      const x1 = Math.max(view.x + view.w, Math.min(region.x + region.w, b.x + b.w + 1 / s)),
        y1 = Math.max(view.y + view.h, Math.min(region.y + region.h, b.y + b.h + 1 / s));
      region = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
    }
    const W = Math.max(1, Math.ceil(region.w * s)),
      H = Math.max(1, Math.ceil(region.h * s));
    if (!this.canvas) this.canvas = document.createElement('canvas');
    if (this.canvas.width !== W || this.canvas.height !== H) {
      this.canvas.width = W;
      this.canvas.height = H;
    }
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.setTransform(s, 0, 0, s, -region.x * s, -region.y * s);
    const els = board.query(region, false);
    const missing = paint(ctx, els, els.length);
    this.shot = { version: board.version, zoom, dpr, region, at: performance.now(), missing, count: els.length };
    this.dirty = [];
    this.dirtyTo = board.version;
    this.builds++;
  }

  /** Lets the bitmap go (its memory). */
  drop(): void {
    this.shot = null;
    if (this.canvas) this.canvas.width = this.canvas.height = 0;
    this.canvas = null;
  }
}
