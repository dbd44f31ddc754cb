// Canvas 2D rendering of the board: only what meets the viewport (through
// the Board's spatial index), text laid out once per content and size and
// cached, far-zoomed text drawn as grey bars, and big boards from far away
// drawn by lod.ts (tiny elements as boxes, the view from a cached bitmap).
//
// Images are drawn here like any other element (in z order, culled,
// rotated, resized), from decoded bitmaps that an ImageSource (images.ts)
// fetches and caches; until a bitmap is ready the renderer draws a
// placeholder. Rejected: <img> elements over the canvas, which sit above
// every element whatever its z and cover remote cursors; and the renderer
// fetching pictures itself, which would tie it to the node's API and the
// board's credentials (the export's offscreen renderer shares the source).
import type { Board, Box, El } from './model';
import { byZ, FRAME_TITLE } from './model';
import { cssColor } from './ids';
import { connectorPath, curveControls, type Pt } from './connectors';
import { nodeFontSize } from './mindmap';
import { strokePath } from './strokes';
import { CACHE_MIN, drawBoxes, FarView, FRAME_LABEL_PX, MAX_AREA, MAX_SIDE, tiny } from './lod';
import { drawFarSummary, type FarSummary } from './farsummary';

export interface Camera {
  /** Board coordinates of the screen's top-left corner. */
  x: number;
  y: number;
  zoom: number;
}

export interface RemoteCursor {
  x: number;
  y: number;
  name: string;
  color: string;
}

export interface Overlay {
  selection: Set<string>;
  /** The element whose text is being edited (its text is drawn by the textarea). */
  editing?: string;
  marquee?: Box;
  /** Boxes that override an element's own while it is dragged or resized (here or by a peer). */
  preview: Map<string, Preview>;
  /** Other people's selections, id → colour. */
  remoteSelection: Map<string, string>;
  cursors: RemoteCursor[];
  /** Show the resize handles of the selection. */
  handles: boolean;
  /** Show the rotation handle of the single selected element. */
  rotateHandle?: boolean;
  /** Where a dragged element would land: a mindmap node or a frame, outlined. */
  dropTarget?: string;
  /** A stroke being drawn: board points (x, y, p triples), its colour and width. */
  ink?: { points: number[]; color: string; width: number };
  /** A connector being drawn. */
  draft?: { from: Pt; to: Pt; target?: string };
  /** A shape being drawn (its tool's drag): its kind and box so far. */
  shapeDraft?: { shape: string; box: Box };
}

/** Traces a shape's outline (rectangle, ellipse, diamond) in box b. */
function shapePath(ctx: CanvasRenderingContext2D, shape: unknown, b: Box): void {
  ctx.beginPath();
  if (shape === 'ellipse') ctx.ellipse(b.x + b.w / 2, b.y + b.h / 2, b.w / 2, b.h / 2, 0, 0, Math.PI * 2);
  else if (shape === 'diamond') {
    ctx.moveTo(b.x + b.w / 2, b.y);
    ctx.lineTo(b.x + b.w, b.y + b.h / 2);
    ctx.lineTo(b.x + b.w / 2, b.y + b.h);
    ctx.lineTo(b.x, b.y + b.h / 2);
    ctx.closePath();
  } else ctx.rect(b.x, b.y, b.w, b.h);
}

/** What an image element shows: its decoded picture, 'loading' (a placeholder), or null (it cannot be shown). */
export type Picture = ImageBitmap | 'loading' | null;

/** Where the renderer gets image elements' pictures (images.ts). */
export interface ImageSource {
  /** The picture of an image element, now; starts loading it when needed (the source asks for a redraw when it arrives). */
  picture(e: El): Picture;
}

/** A box (and rotation) shown instead of an element's own. */
export type Preview = Box & { rot?: number };

/** Distance of the rotation handle above the selection, in screen pixels. */
export const ROTATE_PX = 26;

/** The box the selection handles go around: the element's own when one, else the union. */
export function selectionBox(board: Board, ids: Iterable<string>, preview?: Map<string, Preview>): (Box & { rot: number }) | null {
  let out: Box | null = null;
  let n = 0;
  let rot = 0;
  for (const id of ids) {
    const e = board.get(id);
    if (!e) continue;
    const b = preview?.get(id) ?? e;
    const r = (b as Preview).rot ?? e.rot;
    n++;
    rot = r;
    const a = aabbOf({ ...b, rot: r });
    out = out ? unionBox(out, a) : a;
    if (n === 1) out = { x: b.x, y: b.y, w: b.w, h: b.h };
  }
  if (!out) return null;
  return { ...out, rot: n === 1 ? rot : 0 };
}

function aabbOf(e: Preview): Box {
  const r = e.rot ? (e.rot * Math.PI) / 180 : 0;
  if (!r) return e;
  const c = Math.abs(Math.cos(r)),
    s = Math.abs(Math.sin(r));
  const w = e.w * c + e.h * s,
    h = e.w * s + e.h * c;
  return { x: e.x + e.w / 2 - w / 2, y: e.y + e.h / 2 - h / 2, w, h };
}

function unionBox(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x),
    y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}


/** Whether a board point is on the title drawn above a zoomed-out frame (a double-click there edits the title). */
export function onFrameLabel(e: El, x: number, y: number, zoom: number): boolean {
  if (e.kind !== 'frame' || !e.text.title || 16 * zoom >= FRAME_LABEL_PX) return false;
  const px = FRAME_LABEL_PX / zoom;
  return x >= e.x && x <= e.x + e.w && y < e.y && y >= e.y - px * 1.6;
}

/** The most of a text that is laid out (UTF-16 units); a longer one is cut there, with an ellipsis. */
export const MAX_LAYOUT_CHARS = 50_000;
/** The widest a text is wrapped at, in ems of its font: a wider box wraps as this wide. */
export const MAX_WRAP_EMS = 1000;
/** How many times a line is measured whole near the box's edge (wrap), unless it is short: EXACT_SHORT characters at most. */
const EXACT_PER_LINE = 4;
const EXACT_SHORT = 200;

/** The text as laid out: at most MAX_LAYOUT_CHARS, never half a surrogate pair. */
function laidOut(text: string): string {
  if (text.length <= MAX_LAYOUT_CHARS) return text;
  const end = /[\uD800-\uDBFF]/.test(text[MAX_LAYOUT_CHARS - 1]) ? MAX_LAYOUT_CHARS - 1 : MAX_LAYOUT_CHARS;
  return text.slice(0, end) + '…';
}

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif';
export const NOTE_PAD = 14;
const LINE = 1.25;
const SELECT = '#1c7ed6';
export const HANDLE_PX = 9;

export interface TextLayout {
  lines: string[];
  fontSize: number;
  lineHeight: number;
}

/** Where an element's text goes, and how it is aligned. */
export function textFrame(e: El): { box: Box; align: CanvasTextAlign; middle: boolean; fontSize: number; shrink: boolean; color: string } {
  if (e.kind === 'mindmap') {
    return { box: { x: e.x + 12, y: e.y + 8, w: Math.max(4, e.w - 24), h: Math.max(4, e.h - 16) }, align: 'center', middle: true, fontSize: nodeFontSize(e.depth === 0), shrink: false, color: '#1e1e1e' };
  }
  if (e.kind === 'frame') {
    return { box: { x: e.x + 10, y: e.y + 6, w: Math.max(4, e.w - 20), h: FRAME_TITLE - 10 }, align: 'left', middle: true, fontSize: 16, shrink: true, color: '#495057' };
  }
  const fs = typeof e.props.fontSize === 'number' && e.props.fontSize > 0 ? e.props.fontSize : e.kind === 'text' ? 24 : 20;
  if (e.kind === 'text') {
    const a = e.props.align;
    return {
      box: { x: e.x, y: e.y, w: e.w, h: e.h },
      align: a === 'center' || a === 'right' ? a : 'left',
      middle: false,
      fontSize: fs,
      shrink: false,
      color: cssColor(e.props.color, '#1e1e1e'),
    };
  }
  const pad = e.kind === 'shape' && e.props.shape === 'diamond' ? Math.min(e.w, e.h) / 5 : e.kind === 'shape' && e.props.shape === 'ellipse' ? Math.min(e.w, e.h) / 7 : NOTE_PAD;
  return {
    box: { x: e.x + pad, y: e.y + pad, w: Math.max(4, e.w - 2 * pad), h: Math.max(4, e.h - 2 * pad) },
    align: 'center',
    middle: true,
    fontSize: fs,
    shrink: true,
    color: '#1e1e1e',
  };
}

export class Renderer {
  private ctx: CanvasRenderingContext2D;
  private dpr = 1;
  width = 0;
  height = 0;
  private layouts = new Map<string, TextLayout>();
  private measure: CanvasRenderingContext2D;
  /** The pictures of image elements (set by images.ts; without one, images are placeholders). */
  images: ImageSource | null = null;
  /** The far view's cached bitmap (lod.ts); null: every frame drawn in full (an export). */
  far: FarView | null = new FarView();
  /** Tiny elements drawn as boxes (lod.ts); false: each in full (an export). */
  lod = true;
  /** Set while drawing when an image's picture was still loading. */
  private loading = false;
  /**
   * The words drawn on the canvas. English by default: the SDK's element
   * draws with them and has no catalogue; the board page sets them from
   * its own (board.ts). Rejected: importing src/i18n here, which would put
   * the page's catalogues in every SDK bundle.
   */
  words = { frame: 'Frame', imageUnavailable: 'Image unavailable', imageLoading: 'Loading image…' };

  constructor(private canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d', { alpha: false })!;
    this.measure = document.createElement('canvas').getContext('2d')!;
  }

  resize(): void {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.width = r.width;
    this.height = r.height;
    this.canvas.width = Math.round(r.width * this.dpr);
    this.canvas.height = Math.round(r.height * this.dpr);
  }

  /** Lays text out in a box: word wrap, and shrink to fit (notes, shapes). */
  layout(text: string, width: number, height: number, fontSize: number, shrink: boolean): TextLayout {
    text = laidOut(text);
    const key = `${fontSize}|${Math.round(width)}|${Math.round(height)}|${shrink ? 1 : 0}|${text}`;
    let l = this.layouts.get(key);
    if (l) return l;
    let fs = fontSize;
    for (;;) {
      const lines = this.wrap(text, width, fs);
      l = { lines, fontSize: fs, lineHeight: fs * LINE };
      if (!shrink || lines.length * fs * LINE <= height || fs <= fontSize * 0.3) break;
      fs = Math.max(fontSize * 0.3, fs * 0.85);
    }
    if (this.layouts.size > 4000) this.layouts.clear();
    this.layouts.set(key, l);
    return l;
  }

  /** Widths of short words and characters, per font (wrap). */
  private widths = new Map<string, Map<string, number>>();

  /**
   * Word wrap at width (at most MAX_WRAP_EMS), in time linear in the text:
   * each word (or, in a word wider than the box, each character) is
   * measured once, through a cache, and a line's width is the sum of its
   * pieces'. Within an em of the edge the line itself is measured instead
   * (kerning, shaping), at most EXACT_PER_LINE times a line unless it is
   * short, so the breaks are where measuring every candidate line put them. Measuring every
   * candidate line made a paragraph on one wide line cost its length
   * squared: a text element 1e8 wide of 4,096 words held a page for 50 s.
   */
  private wrap(text: string, width: number, fs: number): string[] {
    const m = this.measure;
    const font = `${fs}px ${FONT}`;
    m.font = font;
    let cache = this.widths.get(font);
    if (!cache) {
      if (this.widths.size >= 32) this.widths.clear();
      this.widths.set(font, (cache = new Map()));
    } else if (cache.size > 20_000) cache.clear();
    const widthOf = (s: string): number => {
      if (s.length > 64) return m.measureText(s).width; // measured once where it is, not kept
      let w = cache.get(s);
      if (w === undefined) cache.set(s, (w = m.measureText(s).width));
      return w;
    };
    width = Math.min(width, fs * MAX_WRAP_EMS);
    const slack = fs;
    // The width of base + add when it fits in width, else -1; baseW and
    // addW are their own widths; exact counts the line's measures.
    let exact = 0;
    const fit = (base: string, baseW: number, add: string, addW: number): number => {
      const est = baseW + addW;
      if (est <= width - slack) return est;
      if (est > width + slack || (exact >= EXACT_PER_LINE && base.length + add.length > EXACT_SHORT)) return est <= width ? est : -1;
      exact++;
      const w = m.measureText(base + add).width;
      return w <= width ? w : -1;
    };
    const out: string[] = [];
    for (const para of text.split('\n')) {
      const words = para.split(/(\s+)/);
      let line = '';
      let lineW = 0;
      exact = 0;
      for (const w of words) {
        if (!w) continue;
        const ww = widthOf(w);
        const cand = line ? fit(line, lineW, w, ww) : ww;
        if (cand >= 0 || !line) {
          if (!line && ww > width && !/^\s+$/.test(w)) {
            // A word wider than the box: break it by characters.
            let part = '';
            let partW = 0;
            for (const ch of w) {
              const cw = widthOf(ch);
              const next = part ? fit(part, partW, ch, cw) : cw;
              if (next < 0) {
                out.push(part);
                exact = 0;
                part = ch;
                partW = cw;
              } else {
                part += ch;
                partW = next;
              }
            }
            line = part;
            lineW = partW;
          } else {
            line += w;
            lineW = cand >= 0 ? cand : ww;
          }
        } else {
          out.push(line.trimEnd());
          exact = 0;
          if (/^\s+$/.test(w)) {
            line = '';
            lineW = 0;
          } else {
            line = w;
            lineW = ww;
          }
        }
      }
      out.push(line.trimEnd());
    }
    return out;
  }

  /** The text layout of an element as drawn (the editor matches it). */
  elementLayout(e: El): TextLayout {
    const f = textFrame(e);
    return this.layout(e.text[textField(e)] ?? '', f.box.w, f.box.h, f.fontSize, f.shrink);
  }

  /** The size of text wrapped at maxW (mindmap nodes size themselves by it). */
  textSize(text: string, fontSize: number, maxW: number): { w: number; h: number } {
    const lines = this.wrap(laidOut(text), maxW, fontSize);
    this.measure.font = `${fontSize}px ${FONT}`;
    let w = 0;
    for (const l of lines) w = Math.max(w, this.measure.measureText(l).width);
    return { w, h: Math.max(1, lines.length) * fontSize * LINE };
  }

  /**
   * Draws the node's far-view summary (farsummary.ts) on the background and
   * grid, in place of a board not loaded yet. The first frame at a zoom
   * draws it straight onto the canvas (the page's first frame: no bitmap
   * to make first); a second frame at that zoom (a pan while the board
   * loads) draws the whole summary into a bitmap when it fits one (lod.ts's
   * bounds), and the frames after blit it: 100,000 boxes take 0.1-0.2 s to
   * draw.
   */
  drawSummary(s: FarSummary, cam: Camera): void {
    const ctx = this.ctx;
    const { dpr } = this;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#f7f7f5';
    ctx.fillRect(0, 0, this.width, this.height);
    this.grid(cam);
    const k = dpr * cam.zoom;
    const b = s.bounds;
    // The bitmap's origin is a whole pixel of the canvas away from the board's, a pixel before the bounds.
    const ox = b ? Math.floor((b.x - cam.x) * k) - 1 : 0,
      oy = b ? Math.floor((b.y - cam.y) * k) - 1 : 0;
    const W = b ? Math.ceil((b.x + b.w - cam.x) * k) + 1 - ox : 0,
      H = b ? Math.ceil((b.y + b.h - cam.y) * k) + 1 - oy : 0;
    const shot = this.summaryShot;
    const same = !!shot && shot.s === s && shot.zoom === cam.zoom && shot.dpr === dpr;
    if (!b || W > MAX_SIDE || H > MAX_SIDE || W * H > MAX_AREA || !shot || !same) {
      // Straight onto the canvas; a next frame at this zoom makes the bitmap.
      if (b && !same) {
        this.dropSummaryShot();
        this.summaryShot = { s, zoom: cam.zoom, dpr, canvas: null, bx: 0, by: 0 };
      }
      ctx.setTransform(k, 0, 0, k, -cam.x * k, -cam.y * k);
      drawFarSummary(ctx, s, { x: cam.x, y: cam.y, w: this.width / cam.zoom, h: this.height / cam.zoom }, k);
      return;
    }
    if (!shot.canvas) {
      // Where the board's origin falls in the bitmap, in its pixels (bx, by): fixed per bitmap, so a pan moves it whole.
      const canvas = document.createElement('canvas');
      canvas.width = W;
      canvas.height = H;
      const c = canvas.getContext('2d')!;
      shot.bx = -cam.x * k - ox;
      shot.by = -cam.y * k - oy;
      c.setTransform(k, 0, 0, k, shot.bx, shot.by);
      drawFarSummary(c, s, { x: b.x - 1 / k, y: b.y - 1 / k, w: b.w + 2 / k, h: b.h + 2 / k }, k);
      shot.canvas = canvas;
      this.summaryBuilds++;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(shot.canvas, Math.round(-cam.x * k - shot.bx), Math.round(-cam.y * k - shot.by));
  }

  /**
   * The summary's bitmap (drawSummary): the summary, zoom and pixel ratio
   * of the last frame; its bitmap once a second frame at them made it
   * (null: the last was drawn straight), where the board's origin is in it.
   */
  private summaryShot: { s: FarSummary; zoom: number; dpr: number; canvas: HTMLCanvasElement | null; bx: number; by: number } | null = null;
  /** Summary bitmaps drawn (tests). */
  summaryBuilds = 0;

  /** Lets the summary's bitmap go, its memory at once (up to 48 MB). */
  private dropSummaryShot(): void {
    if (this.summaryShot?.canvas) this.summaryShot.canvas.width = this.summaryShot.canvas.height = 0;
    this.summaryShot = null;
  }

  draw(board: Board, cam: Camera, ov: Overlay): void {
    const ctx = this.ctx;
    const { dpr } = this;
    if (this.summaryShot) this.dropSummaryShot(); // the board is drawn: the summary's bitmap is done with
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#f7f7f5';
    ctx.fillRect(0, 0, this.width, this.height);
    this.grid(cam);

    const view: Box = { x: cam.x, y: cam.y, w: this.width / cam.zoom, h: this.height / cam.zoom };
    // The far view's bitmap (lod.ts), when nothing is dragged or edited.
    const still = !!this.far && !ov.preview.size && !ov.editing;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    // A changed board: only where it changed drawn again into the bitmap, when the far view knows where.
    if (still) this.far!.patch(board, (c, els, count) => this.content(c, board, els, this.far!.zoom, ov, count));
    let cached = still && this.far!.blit(ctx, board, view, cam.zoom, dpr);
    if (!cached) {
      // Elements being dragged are looked up around where they were too.
      const visible = board.query(view, false); // content sorts what it draws in full
      const seen = new Set(visible.map((e) => e.id));
      for (const id of ov.preview.keys()) {
        const e = board.get(id);
        if (e && !seen.has(id)) visible.push(e);
      }
      if (still && visible.length >= CACHE_MIN) {
        this.far!.build(board, view, cam.zoom, dpr, (c, els, count) => this.content(c, board, els, cam.zoom, ov, count));
        cached = this.far!.blit(ctx, board, view, cam.zoom, dpr);
      }
      ctx.setTransform(dpr * cam.zoom, 0, 0, dpr * cam.zoom, -cam.x * cam.zoom * dpr, -cam.y * cam.zoom * dpr);
      if (!cached) this.content(ctx, board, visible, cam.zoom, ov);
    }
    ctx.setTransform(dpr * cam.zoom, 0, 0, dpr * cam.zoom, -cam.x * cam.zoom * dpr, -cam.y * cam.zoom * dpr);
    if (ov.ink && ov.ink.points.length >= 3) {
      ctx.fillStyle = cssColor(ov.ink.color, '#1e1e1e');
      ctx.fill(strokePath(ov.ink.points, ov.ink.width, false));
    }
    if (ov.draft) {
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = 2 / cam.zoom;
      ctx.setLineDash([6 / cam.zoom, 4 / cam.zoom]);
      ctx.beginPath();
      ctx.moveTo(...ov.draft.from);
      ctx.lineTo(...ov.draft.to);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // Overlays, in screen pixels.
    const sx = (x: number) => (x - cam.x) * cam.zoom;
    const sy = (y: number) => (y - cam.y) * cam.zoom;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const outline = (id: string, color: string, dashed: boolean) => {
      const e = board.get(id);
      if (!e) return;
      const b = ov.preview.get(id) ?? e;
      const rot = (b as Preview).rot ?? e.rot;
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed ? [6, 4] : []);
      ctx.save();
      if (rot) {
        const cx = sx(b.x + b.w / 2),
          cy = sy(b.y + b.h / 2);
        ctx.translate(cx, cy);
        ctx.rotate((rot * Math.PI) / 180);
        ctx.translate(-cx, -cy);
      }
      if (e.kind === 'connector') {
        const pts = connectorPath(e, (i) => board.get(i), (i) => ov.preview.get(i));
        if (pts) {
          ctx.beginPath();
          ctx.moveTo(sx(pts[0][0]), sy(pts[0][1]));
          if (e.props.route === 'curve' && pts.length === 2) {
            const [c1, c2] = curveControls(pts[0], pts[1]);
            ctx.bezierCurveTo(sx(c1[0]), sy(c1[1]), sx(c2[0]), sy(c2[1]), sx(pts[1][0]), sy(pts[1][1]));
          } else for (const p of pts.slice(1)) ctx.lineTo(sx(p[0]), sy(p[1]));
          ctx.globalAlpha = 0.5;
          ctx.lineWidth = 6;
          ctx.stroke();
          ctx.globalAlpha = 1;
        }
      } else ctx.strokeRect(sx(b.x) - 2, sy(b.y) - 2, b.w * cam.zoom + 4, b.h * cam.zoom + 4);
      ctx.restore();
      ctx.setLineDash([]);
    };
    for (const [id, color] of ov.remoteSelection) if (!ov.selection.has(id)) outline(id, color, true);
    for (const id of ov.selection) outline(id, SELECT, false);
    if (ov.dropTarget) outline(ov.dropTarget, '#2f9e44', false);
    const sel = ov.handles || ov.rotateHandle ? selectionBox(board, ov.selection, ov.preview) : null;
    if (sel && ov.handles && ov.selection.size > 1) {
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = 1;
      ctx.setLineDash([4, 3]);
      ctx.strokeRect(sx(sel.x) - 4, sy(sel.y) - 4, sel.w * cam.zoom + 8, sel.h * cam.zoom + 8);
      ctx.setLineDash([]);
    }
    if (sel) {
      ctx.save();
      const cx = sx(sel.x + sel.w / 2),
        cy = sy(sel.y + sel.h / 2);
      ctx.translate(cx, cy);
      ctx.rotate((sel.rot * Math.PI) / 180);
      ctx.translate(-cx, -cy);
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = 1.5;
      if (ov.handles) {
        for (const [hx, hy] of corners(sel)) {
          ctx.fillRect(sx(hx) - HANDLE_PX / 2, sy(hy) - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
          ctx.strokeRect(sx(hx) - HANDLE_PX / 2, sy(hy) - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
        }
      }
      if (ov.rotateHandle) {
        const top = sy(sel.y) - ROTATE_PX;
        ctx.beginPath();
        ctx.moveTo(cx, sy(sel.y) - 2);
        ctx.lineTo(cx, top);
        ctx.stroke();
        ctx.beginPath();
        ctx.arc(cx, top, HANDLE_PX / 2 + 1, 0, Math.PI * 2);
        ctx.fill();
        ctx.stroke();
      }
      ctx.restore();
    }
    if (ov.marquee) {
      const m = ov.marquee;
      ctx.fillStyle = 'rgba(28,126,214,0.08)';
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = 1;
      ctx.fillRect(sx(m.x), sy(m.y), m.w * cam.zoom, m.h * cam.zoom);
      ctx.strokeRect(sx(m.x), sy(m.y), m.w * cam.zoom, m.h * cam.zoom);
    }
    if (ov.shapeDraft) {
      const b = ov.shapeDraft.box;
      shapePath(ctx, ov.shapeDraft.shape, { x: sx(b.x), y: sy(b.y), w: b.w * cam.zoom, h: b.h * cam.zoom });
      ctx.fillStyle = 'rgba(255,255,255,0.85)';
      ctx.fill();
      ctx.strokeStyle = '#1e1e1e';
      ctx.lineWidth = 2;
      ctx.stroke();
    }
    for (const c of ov.cursors) this.cursor(sx(c.x), sy(c.y), c.name, c.color);
  }

  /**
   * Draws elements (in draw order) into ctx, which has the board's
   * transform: frames first (they hold the rest), then mindmap edges, then
   * the rest, each in z order; tiny ones as boxes (lod.ts). Returns whether
   * an image's picture was still loading.
   */
  private content(ctx: CanvasRenderingContext2D, board: Board, visible: El[], zoom: number, ov: Overlay, count = visible.length): boolean {
    const own = this.ctx;
    this.ctx = ctx;
    this.loading = false;
    try {
      // Fewer details when many are drawn (count: of the whole drawing, when this is part of one: FarView.patch).
      const many = count > 400;
      const boxOf = (id: string): Box | undefined => {
        const e = board.get(id);
        if (!e) return undefined;
        return ov.preview.get(id) ?? e;
      };
      const scale = zoom * this.dpr;
      const small = this.lod ? visible.filter((e) => tiny(e, scale) && !ov.preview.has(e.id)) : [];
      // In z order (visible may come in none: Board.query); the tiny ones are drawn by colour.
      const full = (small.length ? visible.filter((e) => !tiny(e, scale) || ov.preview.has(e.id)) : visible.slice()).sort(byZ);
      for (const e of full) if (e.kind === 'frame') this.element(withPreview(e, ov), zoom, many, ov.editing === e.id, boxOf);
      if (small.length) drawBoxes(ctx, small, scale, boxOf);
      this.edges(board, visible, boxOf, zoom);
      for (const e of full) if (e.kind !== 'frame') this.element(withPreview(e, ov), zoom, many, ov.editing === e.id, boxOf);
      return this.loading;
    } finally {
      this.ctx = own;
    }
  }

  private grid(cam: Camera): void {
    const ctx = this.ctx;
    let step = 32;
    while (step * cam.zoom < 14) step *= 4;
    const px = step * cam.zoom;
    const ox = -((cam.x * cam.zoom) % px);
    const oy = -((cam.y * cam.zoom) % px);
    ctx.beginPath();
    for (let x = ox; x < this.width; x += px) {
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, this.height);
    }
    for (let y = oy; y < this.height; y += px) {
      ctx.moveTo(0, Math.round(y) + 0.5);
      ctx.lineTo(this.width, Math.round(y) + 0.5);
    }
    ctx.strokeStyle = '#e6e6e2';
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  /** Mindmap edges: from each visible node to its parent (and to children out of view). */
  private edges(board: Board, visible: El[], boxOf: (id: string) => Box | undefined, zoom: number): void {
    const ctx = this.ctx;
    const drawn = new Set<string>();
    ctx.beginPath();
    const edge = (parent: Box, child: Box) => {
      const x0 = parent.x + parent.w,
        y0 = parent.y + parent.h / 2;
      const x1 = child.x,
        y1 = child.y + child.h / 2;
      const mx = (x0 + x1) / 2;
      ctx.moveTo(x0, y0);
      ctx.bezierCurveTo(mx, y0, mx, y1, x1, y1);
    };
    for (const e of visible) {
      if (e.kind !== 'mindmap') continue;
      const me = boxOf(e.id) ?? e;
      if (e.parent && !drawn.has(e.id)) {
        const p = board.get(e.parent);
        if (p?.kind === 'mindmap') {
          edge(boxOf(p.id) ?? p, me);
          drawn.add(e.id);
        }
      }
      for (const c of board.children(e.id)) {
        if (c.kind !== 'mindmap' || c.hidden || drawn.has(c.id)) continue;
        edge(me, boxOf(c.id) ?? c);
        drawn.add(c.id);
      }
    }
    ctx.strokeStyle = '#74c0fc';
    ctx.lineWidth = Math.max(2, 1 / zoom);
    ctx.stroke();
  }

  private element(e: El, zoom: number, many: boolean, editing: boolean, boxOf: (id: string) => Box | undefined): void {
    const ctx = this.ctx;
    if (e.rot && e.kind !== 'connector' && e.kind !== 'mindmap') {
      ctx.save();
      const cx = e.x + e.w / 2,
        cy = e.y + e.h / 2;
      ctx.translate(cx, cy);
      ctx.rotate((e.rot * Math.PI) / 180);
      ctx.translate(-cx, -cy);
      this.body(e, zoom, many, editing, boxOf);
      ctx.restore();
      return;
    }
    this.body(e, zoom, many, editing, boxOf);
  }

  private body(e: El, zoom: number, many: boolean, editing: boolean, boxOf: (id: string) => Box | undefined): void {
    const ctx = this.ctx;
    switch (e.kind) {
      case 'note': {
        if (!many) {
          ctx.fillStyle = 'rgba(0,0,0,0.10)';
          ctx.fillRect(e.x + 1, e.y + 3, e.w, e.h);
        }
        ctx.fillStyle = cssColor(e.props.color, 'yellow');
        ctx.fillRect(e.x, e.y, e.w, e.h);
        break;
      }
      case 'shape': {
        shapePath(ctx, e.props.shape, e);
        const fill = cssColor(e.props.fill, 'transparent');
        if (fill !== 'transparent') {
          ctx.fillStyle = fill;
          ctx.fill();
        }
        const sw = typeof e.props.strokeWidth === 'number' ? e.props.strokeWidth : 2;
        if (sw > 0) {
          ctx.strokeStyle = cssColor(e.props.stroke, '#1e1e1e');
          ctx.lineWidth = Math.max(sw, 1 / zoom);
          ctx.lineJoin = 'round';
          ctx.stroke();
        }
        break;
      }
      case 'text':
        break;
      case 'stroke':
        this.stroke(e);
        return;
      case 'mindmap': {
        const root = e.depth === 0;
        ctx.fillStyle = cssColor(e.props.color, '#e7f5ff');
        roundRect(ctx, e.x, e.y, e.w, e.h, Math.min(12, e.h / 2));
        ctx.fill();
        ctx.strokeStyle = root ? '#1971c2' : '#74c0fc';
        ctx.lineWidth = Math.max(root ? 2.5 : 1.5, 1 / zoom);
        ctx.stroke();
        if (e.props.collapsed === true) {
          // A badge: this node's subtopics are hidden.
          const r = 9;
          ctx.beginPath();
          ctx.arc(e.x + e.w + r + 2, e.y + e.h / 2, r, 0, Math.PI * 2);
          ctx.fillStyle = '#1971c2';
          ctx.fill();
          ctx.fillStyle = '#fff';
          ctx.font = `bold 11px ${FONT}`;
          ctx.textAlign = 'center';
          ctx.textBaseline = 'middle';
          ctx.fillText('+', e.x + e.w + r + 2, e.y + e.h / 2 + 0.5);
        }
        break;
      }
      case 'frame': {
        const fill = cssColor(e.props.fill, 'transparent');
        ctx.fillStyle = fill === 'transparent' ? 'rgba(255,255,255,0.55)' : fill;
        ctx.fillRect(e.x, e.y, e.w, e.h);
        ctx.strokeStyle = '#adb5bd';
        ctx.lineWidth = Math.max(1.5, 1 / zoom);
        ctx.strokeRect(e.x, e.y, e.w, e.h);
        ctx.fillStyle = 'rgba(0,0,0,0.04)';
        ctx.fillRect(e.x, e.y, e.w, Math.min(FRAME_TITLE, e.h));
        if (editing) return;
        const title = e.text.title || this.words.frame;
        const f = textFrame(e);
        if (f.fontSize * zoom < FRAME_LABEL_PX) {
          // Zoomed out, where the title band's words are too small to
          // read: the title above the frame, at a size read on screen.
          if (!e.text.title || e.w * zoom < 24) return;
          const px = FRAME_LABEL_PX / zoom;
          ctx.font = `600 ${px}px ${FONT}`;
          ctx.fillStyle = '#495057';
          ctx.textAlign = 'left';
          ctx.textBaseline = 'bottom';
          ctx.save();
          ctx.beginPath();
          ctx.rect(e.x, e.y - px * 1.6, e.w, px * 1.6);
          ctx.clip();
          ctx.fillText(title.split('\n')[0], e.x, e.y - px * 0.3);
          ctx.restore();
          return;
        }
        ctx.font = `600 ${f.fontSize}px ${FONT}`;
        ctx.fillStyle = e.text.title ? f.color : '#adb5bd';
        ctx.textAlign = 'left';
        ctx.textBaseline = 'middle';
        ctx.save();
        ctx.beginPath();
        ctx.rect(e.x, e.y, e.w, FRAME_TITLE);
        ctx.clip();
        ctx.fillText(title.split('\n')[0], f.box.x, f.box.y + f.box.h / 2);
        ctx.restore();
        return;
      }
      case 'connector':
        this.connector(e, zoom, boxOf);
        return;
      case 'image':
        this.image(e, zoom);
        return;
      default: {
        // A kind this client does not draw (a newer client's): a labelled
        // placeholder, so nothing is hidden.
        ctx.setLineDash([6 / zoom, 4 / zoom]);
        ctx.strokeStyle = '#999';
        ctx.lineWidth = 1 / zoom;
        ctx.strokeRect(e.x, e.y, e.w, e.h);
        ctx.setLineDash([]);
        ctx.fillStyle = '#888';
        ctx.font = `${12 / zoom}px ${FONT}`;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'top';
        const label = e.text.title ?? e.text.text ?? e.text.label ?? '';
        ctx.fillText(`${e.kind}${label ? ': ' + label.slice(0, 40) : ''}`, e.x + 4 / zoom, e.y + 4 / zoom);
        return;
      }
    }
    if (editing) return;
    const text = e.text.text;
    if (!text) return;
    const f = textFrame(e);
    if (f.fontSize * zoom < 1.5) return; // not even a smudge
    if (f.fontSize * zoom < 3 || (many && f.fontSize * zoom < 5)) {
      // Too small to read: grey bars where the lines go.
      ctx.fillStyle = 'rgba(0,0,0,0.18)';
      const n = Math.min(4, Math.ceil(text.length / 16));
      const lh = Math.min(f.box.h / 5, f.fontSize * LINE);
      const top = f.middle ? f.box.y + (f.box.h - n * lh) / 2 : f.box.y;
      for (let i = 0; i < n; i++) ctx.fillRect(f.box.x + f.box.w * 0.1, top + i * lh + lh * 0.25, f.box.w * (i === n - 1 ? 0.5 : 0.8), lh * 0.5);
      return;
    }
    const l = this.layout(text, f.box.w, f.box.h, f.fontSize, f.shrink);
    ctx.font = `${l.fontSize}px ${FONT}`;
    ctx.fillStyle = f.color;
    ctx.textAlign = f.align;
    ctx.textBaseline = 'middle';
    const total = l.lines.length * l.lineHeight;
    let y = f.middle ? f.box.y + (f.box.h - total) / 2 : f.box.y;
    const x = f.align === 'center' ? f.box.x + f.box.w / 2 : f.align === 'right' ? f.box.x + f.box.w : f.box.x;
    ctx.save();
    ctx.beginPath();
    ctx.rect(e.x, e.y, e.w, e.h);
    ctx.clip();
    // Only the lines in the element's box: the clip hides the rest.
    const first = Math.max(0, Math.floor((e.y - y) / l.lineHeight));
    const last = Math.min(l.lines.length, Math.ceil((e.y + e.h - y) / l.lineHeight));
    for (let i = first; i < last; i++) ctx.fillText(l.lines[i], x, y + i * l.lineHeight + l.lineHeight / 2);
    ctx.restore();
  }

  /** An image element: its picture stretched to the box, or a placeholder while it loads (or when it cannot be shown). */
  private image(e: El, zoom: number): void {
    const ctx = this.ctx;
    const pic = this.images ? this.images.picture(e) : 'loading';
    if (pic === 'loading') this.loading = true;
    // A closed bitmap (let go by its source) has no size: drawImage would throw.
    if (pic && pic !== 'loading' && pic.width) {
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(pic, e.x, e.y, e.w, e.h);
      return;
    }
    ctx.fillStyle = '#eceeef';
    ctx.fillRect(e.x, e.y, e.w, e.h);
    ctx.strokeStyle = '#adb5bd';
    ctx.lineWidth = 1 / zoom;
    if (pic === null) ctx.setLineDash([6 / zoom, 4 / zoom]);
    ctx.strokeRect(e.x, e.y, e.w, e.h);
    ctx.setLineDash([]);
    if (12 * zoom < 6) return;
    const alt = typeof e.props.alt === 'string' ? e.props.alt : '';
    const label = pic === null ? this.words.imageUnavailable : this.words.imageLoading;
    ctx.save();
    ctx.beginPath();
    ctx.rect(e.x, e.y, e.w, e.h);
    ctx.clip();
    ctx.fillStyle = '#868e96';
    ctx.font = `12px ${FONT}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(alt ? `${label} (${alt.slice(0, 60)})` : label, e.x + e.w / 2, e.y + e.h / 2);
    ctx.restore();
  }

  private strokes = new WeakMap<object, Path2D>();

  private stroke(e: El): void {
    const pts = e.props.points;
    if (!Array.isArray(pts) || pts.length < 3) return;
    const ctx = this.ctx;
    const width = typeof e.props.width === 'number' && e.props.width > 0 ? e.props.width : 4;
    let path = this.strokes.get(pts);
    if (!path) {
      path = strokePath(pts as number[], width);
      this.strokes.set(pts, path);
    }
    // A preview box (a resize in progress) scales the stored points.
    const w0 = typeof e.props.w === 'number' && e.props.w > 0 ? e.props.w : e.w;
    const h0 = typeof e.props.h === 'number' && e.props.h > 0 ? e.props.h : e.h;
    ctx.save();
    ctx.translate(e.x, e.y);
    ctx.scale(e.w / w0, e.h / h0);
    ctx.fillStyle = cssColor(e.props.color, '#1e1e1e');
    ctx.fill(path);
    ctx.restore();
  }

  private connector(e: El, zoom: number, boxOf: (id: string) => Box | undefined): void {
    const pts = connectorPath(e, boxOf);
    if (!pts) return;
    const ctx = this.ctx;
    const color = cssColor(e.props.stroke, '#1e1e1e');
    const width = typeof e.props.width === 'number' && e.props.width > 0 ? e.props.width : 2;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = Math.max(width, 1 / zoom);
    ctx.lineJoin = 'round';
    ctx.lineCap = 'round';
    const head = 8 + width * 2;
    const endArrow = e.props.endArrow !== false;
    const startArrow = e.props.startArrow === true;
    // Stop the line short of an arrowhead so its tip stays sharp.
    const line = pts.map((p) => [...p] as Pt);
    const shorten = (a: Pt, b: Pt) => {
      const d = Math.hypot(b[0] - a[0], b[1] - a[1]);
      if (d > head) {
        b[0] -= ((b[0] - a[0]) / d) * head * 0.8;
        b[1] -= ((b[1] - a[1]) / d) * head * 0.8;
      }
    };
    // A curve leaves and reaches its ends horizontally (the tangents of
    // its control points), and its arrowheads point that way.
    const curve = e.props.route === 'curve' && pts.length === 2;
    const [c1, c2] = curveControls(pts[0], pts[pts.length - 1]);
    const tailOf = (tip: Pt, control: Pt, other: Pt): Pt => (curve && Math.hypot(control[0] - tip[0], control[1] - tip[1]) > 1 ? control : other);
    const endTail = tailOf(pts[pts.length - 1], c2, pts[pts.length - 2]);
    const startTail = tailOf(pts[0], c1, pts[1]);
    if (endArrow) shorten(endTail, line[line.length - 1]);
    if (startArrow) shorten(startTail, line[0]);
    ctx.beginPath();
    ctx.moveTo(...line[0]);
    if (curve) ctx.bezierCurveTo(c1[0], c1[1], c2[0], c2[1], line[1][0], line[1][1]);
    else for (const p of line.slice(1)) ctx.lineTo(...p);
    ctx.stroke();
    const arrow = (from: Pt, tip: Pt) => {
      const ang = Math.atan2(tip[1] - from[1], tip[0] - from[0]);
      ctx.beginPath();
      ctx.moveTo(...tip);
      ctx.lineTo(tip[0] - head * Math.cos(ang - 0.45), tip[1] - head * Math.sin(ang - 0.45));
      ctx.lineTo(tip[0] - head * Math.cos(ang + 0.45), tip[1] - head * Math.sin(ang + 0.45));
      ctx.closePath();
      ctx.fill();
    };
    if (endArrow) arrow(endTail, pts[pts.length - 1]);
    if (startArrow) arrow(startTail, pts[0]);
    const label = e.text.label;
    if (label && 14 * zoom >= 3) {
      const mid = pts.length === 4 ? [(pts[1][0] + pts[2][0]) / 2, (pts[1][1] + pts[2][1]) / 2] : [(pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2];
      ctx.font = `14px ${FONT}`;
      const w = ctx.measureText(label).width + 10;
      ctx.fillStyle = '#fff';
      ctx.fillRect(mid[0] - w / 2, mid[1] - 10, w, 20);
      ctx.fillStyle = color;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(label, mid[0], mid[1]);
    }
  }

  private cursor(x: number, y: number, name: string, color: string): void {
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x, y + 17);
    ctx.lineTo(x + 4.5, y + 13);
    ctx.lineTo(x + 8, y + 20);
    ctx.lineTo(x + 10.5, y + 19);
    ctx.lineTo(x + 7, y + 12);
    ctx.lineTo(x + 12.5, y + 12);
    ctx.closePath();
    ctx.fillStyle = color;
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.2;
    ctx.stroke();
    ctx.font = `12px ${FONT}`;
    const w = ctx.measureText(name).width + 10;
    ctx.fillStyle = color;
    roundRect(ctx, x + 12, y + 18, w, 18, 4);
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(name, x + 17, y + 27);
  }
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/** An element with its preview box (and rotation) applied. */
function withPreview(e: El, ov: Overlay): El {
  const p = ov.preview.get(e.id);
  return p ? { ...e, ...p } : e;
}

/** The text field an element's in-place editor works on. */
export function textField(e: El): string {
  return e.kind === 'frame' ? 'title' : e.kind === 'connector' ? 'label' : 'text';
}

/** The four corners of a box: nw, ne, se, sw. */
export function corners(b: Box): [number, number][] {
  return [
    [b.x, b.y],
    [b.x + b.w, b.y],
    [b.x + b.w, b.y + b.h],
    [b.x, b.y + b.h],
  ];
}
