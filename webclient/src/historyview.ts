// A past version of the board drawn on the canvas, read-only, while the
// History panel (history.ts) previews it: a second Board (model.ts) filled
// from GET /history/state, drawn by a second Renderer (render.ts, with its
// own far view, lod.ts) on a canvas laid over the live one, through the
// live camera, so that the past is seen exactly where and as the board is
// drawn, and panning or zooming it moves the live view along.
//
// Read-only by construction: the past canvas covers the live one (pointer
// input reaches only it: a drag pans, the wheel zooms, a click selects an
// element of the past for "Restore this element"); everything else of the
// board page is made inert (no focus, no clicks), and the keyboard,
// clipboard and drop events are caught before the page's own listeners
// while the view is shown. The live board is untouched: remote changes keep
// arriving into it (and its features) under the cover, and are what one
// sees again on "Back to live".
//
// The elements the previewed change touched are outlined (the renderer's
// dashed outline of other people's selections, in one colour) and tagged
// with their author's name; those it deleted, which the past board no
// longer holds, are drawn as a dashed ghost of their box where they were
// (the past state keeps a deleted element's properties).
//
// Rejected: handing the past Board to the page's own renderer and draw loop
// (board.ts would have to know of history, and every frame it draws for
// live changes, cursors and drags would have to be told which board to
// draw); the page's read-only switch (setReadOnly) for the preview: it is
// the deadline's and the embed's too, and whatever they set meanwhile
// would have to be undone exactly on leaving.
import { ZOOM_MAX, ZOOM_MIN } from './camera';
import type { ElementJSON } from './crdt';
import { h } from './dom';
import type { FeatureHost } from './featurekit';
import { t as tr } from './i18n';
import { Board, toEl, type Box } from './model';
import { Renderer, type Camera, type Overlay, type Picture } from './render';

/** The outline of the elements a previewed change touched. */
export const CHANGED_COLOUR = '#e8590c';

/** Tags naming the author, at most (a change's touched ids are at most 20 anyway). */
const MAX_TAGS = 20;

/** What the view tells the History panel. */
export interface PastViewHooks {
  /** The arrow keys: one entry older (-1) or newer (+1). */
  step(d: -1 | 1): void;
  /** Back to live: the banner's button, Escape. */
  leave(): void;
  /** A click on the past canvas: the element under it, or undefined (empty space). */
  picked(id: string | undefined): void;
}

export class PastView {
  /** The board as it was (tests read it: window.__corkboard.history.view.board). */
  readonly board = new Board();
  readonly el: HTMLElement;
  readonly canvas: HTMLCanvasElement;
  private renderer: Renderer;
  private bannerText: HTMLElement;
  private tags: HTMLElement;
  /** Shown now. */
  active = false;
  /** The log position shown (-1: none yet). */
  seq = -1;
  /** The ids the shown change touched (outlined). */
  changed: string[] = [];
  /** The author's name, for the tags. */
  private author = '';
  /** The boxes of the elements the shown change deleted (ghosts). */
  private gone: (Box & { id: string })[] = [];
  /** The element picked in the past (undefined: none). */
  selected: string | undefined;
  private inert: HTMLElement[] = [];
  private queued = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private drag: { x: number; y: number; cam: Camera; moved: boolean; id: number } | null = null;

  constructor(
    private host: FeatureHost,
    private hooks: PastViewHooks,
  ) {
    this.canvas = h('canvas', { class: 'cb-past-canvas', tabindex: '-1', 'aria-label': tr('history.canvas') });
    const back = h('button', { type: 'button', class: 'back' }, tr('history.backToLive'));
    back.addEventListener('click', () => this.hooks.leave());
    this.bannerText = h('span', { class: 'what' });
    this.tags = h('div', { class: 'cb-past-tags', 'aria-hidden': 'true' });
    this.el = h('div', { class: 'cb-pastview' }, this.canvas, this.tags, h('div', { class: 'cb-past-banner', role: 'status' }, this.bannerText, back));
    this.renderer = new Renderer(this.canvas);
    this.renderer.words = { frame: tr('render.frame'), imageUnavailable: tr('render.imageUnavailable'), imageLoading: tr('render.imageLoading') };
    if (this.renderer.far) this.renderer.far.redraw = () => this.redraw();
    // The page's pictures (images.ts), asked again while one is loading:
    // their arrival redraws the live canvas only.
    this.renderer.images = {
      picture: (e): Picture => {
        const p = this.host.renderer.images?.picture(e) ?? null;
        if (p === 'loading') this.redrawSoon();
        return p;
      },
    };
    this.board.textSize = (t, fs, maxW) => this.renderer.textSize(t, fs, maxW);
    this.bind();
    host.onView(() => this.redraw());
  }

  /** Covers the live board (read-only from now on) until leave(). */
  enter(): void {
    if (this.active) return;
    this.active = true;
    this.seq = -1;
    this.selected = undefined;
    this.changed = [];
    this.board.clear();
    const boardEl = (this.host.root.querySelector('.board') as HTMLElement | null) ?? this.host.root;
    this.inert = [...boardEl.children].filter((c): c is HTMLElement => c instanceof HTMLElement && !c.inert && !c.classList.contains('toast'));
    for (const c of this.inert) c.inert = true;
    boardEl.classList.add('cb-past-on');
    boardEl.appendChild(this.el);
    this.say(tr('loading'));
    for (const type of ['keydown', 'paste', 'cut', 'copy', 'drop', 'dragover'] as const) addEventListener(type, this.guard, true);
    this.redraw();
  }

  /** Back to live: the cover off, the page as it was (with what arrived meanwhile). */
  leave(): void {
    if (!this.active) return;
    this.active = false;
    for (const type of ['keydown', 'paste', 'cut', 'copy', 'drop', 'dragover'] as const) removeEventListener(type, this.guard, true);
    for (const c of this.inert) c.inert = false;
    this.inert = [];
    this.el.parentElement?.classList.remove('cb-past-on');
    this.el.remove();
    this.drag = null;
    this.board.clear();
    this.seq = -1;
    this.host.redraw();
    // The keyboard back on the board (the panel that had it is closed).
    this.host.canvas.focus({ preventScroll: true });
  }

  /** Shows the board as it was after entry seq: its elements (GET /history/state), the ids the entry touched, its author, the banner's words. */
  show(seq: number, elements: ElementJSON[], changed: string[], author: string, banner: string): void {
    if (!this.active) return;
    this.board.clear();
    this.board.upsert(elements);
    this.seq = seq;
    this.changed = changed;
    this.author = author;
    const touched = new Set(changed);
    this.gone = elements
      .filter((j) => j.deleted && touched.has(j.id) && typeof j.props?.x === 'number' && typeof j.props?.y === 'number')
      .map((j) => {
        const e = toEl(j);
        return { id: e.id, x: e.x, y: e.y, w: e.w, h: e.h };
      });
    if (this.selected && !this.board.get(this.selected) && !this.ghost(this.selected)) this.selected = undefined;
    this.say(banner);
    this.el.dataset.seq = String(seq);
    this.redraw();
  }

  /** The banner's words (the version shown, or that one is loading). */
  say(text: string): void {
    this.bannerText.textContent = text;
  }

  /** Picks an element of the past (outlined as selected); undefined: none. */
  select(id: string | undefined): void {
    this.selected = id && (this.board.get(id) || this.ghost(id)) ? id : undefined;
    this.redraw();
  }

  /** The box of an element the shown change deleted (a ghost), if id is one. */
  ghost(id: string): Box | undefined {
    return this.gone.find((g) => g.id === id);
  }

  /** Centres the view on an element of the past, keeping the zoom unless it does not fit. */
  reveal(id: string): void {
    const e = this.board.get(id) ?? this.ghost(id);
    if (!e) return;
    const c = this.host.camera();
    const W = this.renderer.width || innerWidth;
    const H = this.renderer.height || innerHeight;
    const zoom = Math.max(ZOOM_MIN, Math.min(c.zoom, (W * 0.6) / e.w, (H * 0.6) / e.h));
    const sx = (e.x - c.x) * c.zoom,
      sy = (e.y - c.y) * c.zoom;
    if (zoom === c.zoom && sx >= 0 && sy >= 0 && sx + e.w * c.zoom <= W && sy + e.h * c.zoom <= H) return; // in view already
    this.host.setCamera({ x: e.x + e.w / 2 - W / 2 / zoom, y: e.y + e.h / 2 - H / 2 / zoom, zoom });
  }

  /** Asks for a frame (once, however often asked). */
  redraw(): void {
    if (!this.active || this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      if (this.active) this.draw();
    });
  }

  private redrawSoon(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.redraw();
    }, 250);
  }

  private draw(): void {
    const r = this.canvas.getBoundingClientRect();
    if (r.width !== this.renderer.width || r.height !== this.renderer.height) this.renderer.resize();
    const remote = new Map<string, string>();
    for (const id of this.changed) if (this.board.get(id)) remote.set(id, CHANGED_COLOUR);
    const ov: Overlay = {
      selection: new Set(this.selected ? [this.selected] : []),
      preview: new Map(),
      remoteSelection: remote,
      cursors: [],
      handles: false,
    };
    const cam = this.host.camera();
    this.renderer.draw(this.board, cam, ov);
    // The author's name on each element the change touched.
    // The author's name on each element the change touched; a ghost where each one it deleted was.
    const marks: { id: string; box: Box; gone: boolean }[] = [...remote.keys()].map((id) => ({ id, box: this.board.get(id)!, gone: false }));
    for (const g of this.gone) marks.push({ id: g.id, box: g, gone: true });
    const shown = marks.slice(0, MAX_TAGS);
    while (this.tags.children.length > shown.length) this.tags.lastElementChild!.remove();
    while (this.tags.children.length < shown.length) this.tags.append(h('div', {}, h('span', { class: 'cb-past-tag' })));
    shown.forEach((m, i) => {
      const mark = this.tags.children[i] as HTMLElement;
      mark.className = m.gone ? (m.id === this.selected ? 'cb-past-mark cb-past-ghost picked' : 'cb-past-mark cb-past-ghost') : 'cb-past-mark';
      mark.dataset.id = m.id;
      mark.style.left = `${Math.round((m.box.x - cam.x) * cam.zoom)}px`;
      mark.style.top = `${Math.round((m.box.y - cam.y) * cam.zoom)}px`;
      mark.style.width = `${Math.round(m.box.w * cam.zoom)}px`;
      mark.style.height = `${Math.round(m.box.h * cam.zoom)}px`;
      mark.firstElementChild!.textContent = m.gone ? tr('history.deletedBy', { who: this.author }) : this.author;
    });
  }

  /**
   * While shown: the keyboard, clipboard and drops stop here, before the
   * page's listeners (shortcuts.ts, images.ts, boardfile.ts…), so that
   * nothing edits the live board; the arrows step through the versions,
   * Escape goes back to live. A focused field (the panel's slider) keeps
   * its own keys.
   */
  private guard = (e: Event): void => {
    if (!this.active) return;
    e.stopPropagation();
    if (e.type !== 'keydown') {
      e.preventDefault();
      return;
    }
    const k = e as KeyboardEvent;
    const t = k.target as HTMLElement | null;
    const field = !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    if (k.key === 'Escape') {
      k.preventDefault();
      this.hooks.leave();
      return;
    }
    if (field || k.ctrlKey || k.metaKey || k.altKey) return;
    if (k.key === 'ArrowLeft' || k.key === 'ArrowDown') {
      k.preventDefault();
      this.hooks.step(-1);
    } else if (k.key === 'ArrowRight' || k.key === 'ArrowUp') {
      k.preventDefault();
      this.hooks.step(1);
    }
  };

  /** The past canvas's pointer: a drag pans, a click picks, the wheel zooms (as on the live canvas, pointer.ts). */
  private bind(): void {
    const cv = this.canvas;
    const local = (e: MouseEvent) => {
      const r = cv.getBoundingClientRect();
      return { sx: e.clientX - r.left, sy: e.clientY - r.top };
    };
    cv.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 && e.button !== 1) return;
      cv.setPointerCapture(e.pointerId);
      this.drag = { x: e.clientX, y: e.clientY, cam: { ...this.host.camera() }, moved: false, id: e.pointerId };
    });
    cv.addEventListener('pointermove', (e) => {
      const d = this.drag;
      if (!d || d.id !== e.pointerId) return;
      const dx = e.clientX - d.x,
        dy = e.clientY - d.y;
      if (!d.moved && Math.hypot(dx, dy) < 4) return;
      d.moved = true;
      cv.classList.add('grabbing');
      this.host.setCamera({ ...d.cam, x: d.cam.x - dx / d.cam.zoom, y: d.cam.y - dy / d.cam.zoom });
    });
    const up = (e: PointerEvent) => {
      const d = this.drag;
      if (!d || d.id !== e.pointerId) return;
      this.drag = null;
      cv.classList.remove('grabbing');
      if (d.moved || e.type === 'pointercancel') return;
      const { sx, sy } = local(e);
      const c = this.host.camera();
      const x = c.x + sx / c.zoom,
        y = c.y + sy / c.zoom;
      const hit = this.board.hit(x, y, 4 / c.zoom);
      // Nothing of the past there: a ghost (what the change deleted) can be picked, to restore it.
      const g = hit ? undefined : this.gone.find((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h);
      this.hooks.picked(hit?.id ?? g?.id);
    };
    cv.addEventListener('pointerup', up);
    cv.addEventListener('pointercancel', up);
    cv.addEventListener('contextmenu', (e) => e.preventDefault());
    cv.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const { sx, sy } = local(e);
        const c = this.host.camera();
        const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.renderer.height : 1;
        const dx = e.deltaX * unit,
          dy = e.deltaY * unit;
        const mouseWheel = e.deltaMode !== 0 || (e.deltaX === 0 && Number.isInteger(e.deltaY) && Math.abs(e.deltaY) >= 50);
        const zoomBy = (f: number) => {
          const z = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, c.zoom * f));
          const bx = c.x + sx / c.zoom,
            by = c.y + sy / c.zoom;
          this.host.setCamera({ x: bx - sx / z, y: by - sy / z, zoom: z });
        };
        const pan = (px: number, py: number) => this.host.setCamera({ ...c, x: c.x - px / c.zoom, y: c.y - py / c.zoom });
        if (e.ctrlKey || e.metaKey) zoomBy(Math.exp(-dy * 0.01));
        else if (mouseWheel && !e.shiftKey) zoomBy(Math.exp(-dy * 0.0015));
        else if (mouseWheel) pan(-dy, 0);
        else pan(-dx, -dy);
      },
      { passive: false },
    );
  }
}
