// The minimap: the whole board small, in a corner, with the view's
// rectangle; a click or a drag on it moves the view there. Hidden on small
// screens (CSS) and by a menu button (kept per browser).
//
// The elements are drawn into an offscreen layer, covering the board's
// content, only when the board changed; a move of the view copies that
// layer (scaled, when the view went past the content and the map shows
// more than the board) and draws the rectangle: panning a board of
// thousands of elements does not redraw them in the minimap each frame,
// nor when the view leaves the area shown (it drew all 100,000 elements of
// a big board again every half second of a pan past its edge: a frame of
// 115 ms each time), and a stream of changes repaints the layer at most
// every LAYER_MS, and then only where the board changed (BoardChange.dirty).
// Rejected: drawing the minimap with the board's Renderer at a tiny zoom
// (text layout and images for pixels nobody reads); painting the layer
// for the area shown, board and view (what it did).
import { contains, union } from './geometry';
import { cssColor } from './ids';
import { t } from './i18n';
import { byZ, type Box, type El } from './model';
import type { FeatureContext } from './featurekit';
import { localGet, localSet } from './store';
import './canvasplus.css';

/** The words of the minimap, from the catalogue (src/i18n), read when shown. */
const T = {
  get label() { return t('minimap.label'); },
  get toggle() { return t('minimap.toggle'); },
  get toggleTitle() { return t('minimap.toggle.title'); },
};

const W = 200;
const H = 140;
const PREF = 'cb.minimap';
/** The shortest time between two paints of the elements' layer (ms). */
const LAYER_MS = 250;

export class Minimap {
  readonly canvas: HTMLCanvasElement;
  /** The board area the minimap shows (board units). */
  world: Box = { x: 0, y: 0, w: 1, h: 1 };
  private layer: HTMLCanvasElement;
  /** The board area the layer shows, fitted in it as world is in the map. */
  private layerWorld: Box = { x: 0, y: 0, w: 1, h: 1 };
  private layerStale = true;
  /**
   * Where the board changed since the layer was painted (BoardChange.dirty):
   * only there is it painted again, while those areas lie in the layer's
   * world; null: anywhere (paint it whole).
   */
  private dirty: Box[] | null = null;
  private queued = false;
  private dragging = false;
  private paintedAt = 0;
  private later: ReturnType<typeof setTimeout> | undefined;
  readonly toggle: HTMLButtonElement;

  constructor(private f: FeatureContext) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'cb-minimap';
    this.canvas.setAttribute('aria-label', T.label);
    this.canvas.setAttribute('role', 'img');
    this.canvas.title = T.label;
    this.layer = document.createElement('canvas');
    const dpr = Math.min(2, devicePixelRatio || 1);
    for (const c of [this.canvas, this.layer]) {
      c.width = W * dpr;
      c.height = H * dpr;
    }
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    (f.host.root.querySelector('.board') ?? f.host.root).appendChild(this.canvas);
    this.canvas.hidden = localGet(PREF) === 'off';
    this.toggle = f.button(T.toggle, T.toggleTitle, () => {
      this.canvas.hidden = !this.canvas.hidden;
      localSet(PREF, this.canvas.hidden ? 'off' : 'on');
      this.toggle.setAttribute('aria-pressed', String(!this.canvas.hidden));
      this.queue();
    }, 'cb-minimap-btn');
    this.toggle.setAttribute('aria-pressed', String(!this.canvas.hidden));
    const at = (e: PointerEvent) => {
      const r = this.canvas.getBoundingClientRect();
      this.moveTo(this.toBoard(e.clientX - r.left, e.clientY - r.top));
    };
    this.canvas.addEventListener('pointerdown', (e) => {
      e.stopPropagation();
      e.preventDefault();
      this.dragging = true;
      this.canvas.setPointerCapture?.(e.pointerId);
      at(e);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (this.dragging) at(e);
    });
    const end = () => (this.dragging = false);
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
    this.canvas.addEventListener('wheel', (e) => e.preventDefault(), { passive: false });
    f.host.board.onChange((c) => {
      if (this.dirty && c.dirty && this.dirty.length + c.dirty.length <= 256) this.dirty.push(...c.dirty);
      else this.dirty = null;
    });
    f.onChange(() => {
      this.layerStale = true;
      const wait = this.paintedAt + LAYER_MS - performance.now();
      if (wait <= 0) this.queue();
      else
        this.later ??= setTimeout(() => {
          this.later = undefined;
          this.queue();
        }, wait);
    });
    f.host.onView(() => this.queue());
    this.queue();
  }

  /** The view now, in board units. */
  view(): Box {
    const h = this.f.host;
    const c = h.camera();
    return { x: c.x, y: c.y, w: (h.renderer.width || innerWidth) / c.zoom, h: (h.renderer.height || innerHeight) / c.zoom };
  }

  /** Minimap pixels (CSS) → board point. */
  toBoard(mx: number, my: number): { x: number; y: number } {
    const s = this.scale();
    const ox = (W - this.world.w * s) / 2;
    const oy = (H - this.world.h * s) / 2;
    return { x: this.world.x + (mx - ox) / s, y: this.world.y + (my - oy) / s };
  }

  /** Board point → minimap pixels (CSS). */
  toMini(x: number, y: number): { x: number; y: number } {
    const s = this.scale();
    return { x: (W - this.world.w * s) / 2 + (x - this.world.x) * s, y: (H - this.world.h * s) / 2 + (y - this.world.y) * s };
  }

  private scale(w: Box = this.world): number {
    return Math.min(W / w.w, H / w.h);
  }

  /** Centres the view on a board point. */
  moveTo(p: { x: number; y: number }): void {
    const v = this.view();
    this.f.host.setCamera({ ...this.f.host.camera(), x: p.x - v.w / 2, y: p.y - v.h / 2 });
  }

  private queue(): void {
    if (this.queued || this.canvas.hidden) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    if (this.canvas.hidden || !this.canvas.getClientRects().length) return;
    const v = this.view();
    const padded = (w: Box) => {
      const pad = Math.max(w.w, w.h) * 0.08;
      return { x: w.x - pad, y: w.y - pad, w: w.w + 2 * pad, h: w.h + 2 * pad };
    };
    const b = this.f.host.board.bounds();
    if (this.layerStale) {
      const lw = this.layerWorld;
      if (this.dirty && this.paintedAt && this.dirty.every((d) => contains(lw, d))) this.paintAreas(this.dirty);
      else {
        this.layerWorld = padded(b ?? v);
        this.paintLayer();
      }
      this.dirty = [];
      this.layerStale = false;
      this.paintedAt = performance.now();
      this.world = padded(b ? union(b, v) : v);
    } else if (!contains(this.world, v)) this.world = padded(b ? union(b, v) : v);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    const dpr = this.canvas.width / W;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    // The layer's world, where it was painted (as toMini places it in a map
    // of that world), to where it is in this map.
    const lw = this.layerWorld;
    const ls = this.scale(lw);
    const src = { x: ((W - lw.w * ls) / 2) * dpr, y: ((H - lw.h * ls) / 2) * dpr, w: lw.w * ls * dpr, h: lw.h * ls * dpr };
    const at = this.toMini(lw.x, lw.y);
    const k = this.scale() / ls;
    ctx.drawImage(this.layer, src.x, src.y, src.w, src.h, at.x * dpr, at.y * dpr, src.w * k, src.h * k);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const a = this.toMini(v.x, v.y);
    const s = this.scale();
    ctx.fillStyle = 'rgba(34,139,230,0.10)';
    ctx.fillRect(a.x, a.y, v.w * s, v.h * s);
    ctx.strokeStyle = '#228be6';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(a.x, a.y, v.w * s, v.h * s);
    this.canvas.dataset.view = [a.x, a.y, v.w * s, v.h * s].map((n) => Math.round(n)).join(',');
  }

  /** The elements, small. */
  private paintLayer(): void {
    const ctx = this.layer.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.layer.width, this.layer.height);
    this.canvas.dataset.elements = String(this.paintElements(ctx, this.f.host.board.all()));
  }

  /**
   * The layer painted again only where the board changed (the areas, in
   * board units, all in the layer's world): each cleared and the elements
   * there painted again in order, clipped to it. A stream of changes on a
   * board of 100,000 elements painted them all at most every LAYER_MS: 0.12
   * s of every 0.25 s while someone edited.
   */
  private paintAreas(areas: Box[]): void {
    const ctx = this.layer.getContext('2d');
    if (!ctx) return;
    const dpr = this.layer.width / W;
    const lw = this.layerWorld;
    const s = this.scale(lw) * dpr;
    const ox = ((W - lw.w * this.scale(lw)) / 2) * dpr - lw.x * s,
      oy = ((H - lw.h * this.scale(lw)) / 2) * dpr - lw.y * s;
    const board = this.f.host.board;
    for (const a of areas) {
      // Whole layer pixels, a pixel more (an element is at least one wide), and the board area they cover.
      const px0 = Math.floor(ox + a.x * s) - 1,
        py0 = Math.floor(oy + a.y * s) - 1,
        px1 = Math.ceil(ox + (a.x + a.w) * s) + 1,
        py1 = Math.ceil(oy + (a.y + a.h) * s) + 1;
      const area: Box = { x: (px0 - ox) / s, y: (py0 - oy) / s, w: (px1 - px0) / s, h: (py1 - py0) / s };
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.beginPath();
      ctx.rect(px0, py0, px1 - px0, py1 - py0);
      ctx.clip();
      ctx.clearRect(px0, py0, px1 - px0, py1 - py0);
      // Elements are drawn at least a CSS pixel wide, past their box: those that near too.
      const m = (dpr + 1) / s;
      const near: Box = { x: area.x - m, y: area.y - m, w: area.w + 2 * m, h: area.h + 2 * m };
      this.paintElements(ctx, board.query(near, false).sort(byZ));
      ctx.restore();
    }
    let n = 0;
    for (const e of board.els.values()) if (drawn(e) && e.kind !== 'frame') n++;
    this.canvas.dataset.elements = String(n);
  }

  /** Paints elements (in z order) into the layer's context; how many it drew. */
  private paintElements(ctx: CanvasRenderingContext2D, els: Iterable<El>): number {
    const dpr = this.layer.width / W;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const lw = this.layerWorld;
    const s = this.scale(lw);
    const ox = (W - lw.w * s) / 2 - lw.x * s,
      oy = (H - lw.h * s) / 2 - lw.y * s;
    let n = 0;
    for (const e of els) {
      if (!drawn(e)) continue;
      const p = { x: ox + e.x * s, y: oy + e.y * s };
      const w = Math.max(1, e.w * s);
      const h = Math.max(1, e.h * s);
      if (e.kind === 'frame') {
        ctx.strokeStyle = '#adb5bd';
        ctx.lineWidth = 1;
        ctx.strokeRect(p.x, p.y, w, h);
        continue;
      }
      ctx.fillStyle = e.kind === 'note' ? cssColor(e.props.color, 'yellow') : e.kind === 'mindmap' ? '#a5d8ff' : '#ced4da';
      ctx.fillRect(p.x, p.y, w, h);
      n++;
    }
    return n;
  }
}

/** Whether the minimap draws an element. */
function drawn(e: El): boolean {
  return !e.deleted && !e.hidden && e.kind !== 'connector' && e.kind !== 'comment';
}
