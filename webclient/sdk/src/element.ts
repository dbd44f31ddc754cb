// <corkboard-board>: a live board in any page, without an iframe. A custom
// element with a shadow root holding a canvas, drawn by the web client's
// own renderer (src/render.ts) from the web client's board model
// (src/model.ts), over a board connected with the SDK's connect(). It pans
// (drag) and zooms (wheel, pinch), fits the board at first, and shows the
// peers' cursors. Editing is the host page's, through the element's
// `board` property (the SDK's Board); `readonly` refuses it and sends no
// presence. Images are drawn as placeholders.
//
// Rejected: the whole board page in the shadow root (its tools, menus and
// dialogs are written for a page of their own: global styles, document
// listeners, the address bar), and an iframe (what this element exists to
// avoid: no styling from the host, no API across it).
import { Board as Model } from '../../src/model';
import { Renderer, type Camera, type RemoteCursor } from '../../src/render';
import { connect, type Board } from './index';

const STYLE = `
:host { display: block; position: relative; width: 100%; height: 400px; overflow: hidden; contain: strict; touch-action: none; }
canvas { display: block; width: 100%; height: 100%; cursor: grab; }
canvas.panning { cursor: grabbing; }
.status { position: absolute; right: 8px; bottom: 6px; font: 12px system-ui, sans-serif; color: #555; background: #fffc; padding: 2px 6px; border-radius: 4px; pointer-events: none; }
`;

const ZOOM_MIN = 0.05;
const ZOOM_MAX = 4;

/** The <corkboard-board> element. Attributes: url, board, token, readonly, name. */
export class CorkboardBoardElement extends HTMLElement {
  static observedAttributes = ['url', 'board', 'token', 'readonly', 'name'];

  /** The connected board (the SDK's Board), once connected; null before and after. */
  board: Board | null = null;
  /** The elements as drawn (the web client's model). */
  readonly model = new Model();
  /** Resolves when the board is connected (or failed to). */
  ready: Promise<Board | null> = Promise.resolve(null);

  private canvas: HTMLCanvasElement;
  private status: HTMLElement;
  private renderer: Renderer;
  private cam: Camera = { x: 0, y: 0, zoom: 1 };
  private fitted = false;
  private queued = false;
  private generation = 0;
  private resizeObserver: ResizeObserver;
  private pointers = new Map<number, { x: number; y: number }>();

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.canvas = document.createElement('canvas');
    this.status = document.createElement('div');
    this.status.className = 'status';
    this.status.setAttribute('part', 'status');
    root.append(style, this.canvas, this.status);
    this.renderer = new Renderer(this.canvas);
    this.model.textSize = (t, fs, maxW) => this.renderer.textSize(t, fs, maxW);
    this.resizeObserver = new ResizeObserver(() => {
      this.renderer.resize();
      if (!this.fitted) this.fit();
      this.redraw();
    });
    this.bindInput();
  }

  connectedCallback(): void {
    this.resizeObserver.observe(this);
    this.restart();
  }

  disconnectedCallback(): void {
    this.resizeObserver.disconnect();
    this.stop();
  }

  attributeChangedCallback(_name: string, old: string | null, now: string | null): void {
    if (old !== now && this.isConnected) this.restart();
  }

  /** The view: board coordinates of the top-left corner, and the zoom. */
  get camera(): Camera {
    return { ...this.cam };
  }

  set camera(c: Camera) {
    this.cam = { x: c.x, y: c.y, zoom: Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, c.zoom)) };
    this.fitted = true;
    this.redraw();
  }

  /** Fits the whole board in the view. */
  fit(): void {
    const b = this.model.bounds();
    const W = this.renderer.width || this.clientWidth || 300;
    const H = this.renderer.height || this.clientHeight || 150;
    if (!b) this.cam = { x: -W / 2, y: -H / 2, zoom: 1 };
    else {
      const z = Math.min(1, Math.max(ZOOM_MIN, Math.min((W - 40) / b.w, (H - 40) / b.h)));
      this.cam = { x: b.x + b.w / 2 - W / 2 / z, y: b.y + b.h / 2 - H / 2 / z, zoom: z };
      this.fitted = true;
    }
    this.redraw();
  }

  private stop(): void {
    this.generation++;
    this.board?.close();
    this.board = null;
  }

  private restart(): void {
    this.stop();
    const gen = this.generation;
    const url = this.getAttribute('url') ?? location.origin;
    const boardId = this.getAttribute('board');
    this.model.clear();
    this.fitted = false;
    if (!boardId) {
      this.showStatus('no board');
      return;
    }
    this.showStatus('connecting');
    this.ready = connect({
      url: new URL(url, location.href).href,
      board: boardId,
      token: this.getAttribute('token') ?? undefined,
      name: this.getAttribute('name') ?? undefined,
      readOnly: this.hasAttribute('readonly'),
    }).then(
      (b) => {
        if (gen !== this.generation) {
          b.close();
          return null;
        }
        this.attach(b);
        return b;
      },
      (e: unknown) => {
        if (gen === this.generation) this.showStatus('failed: ' + (e instanceof Error ? e.message : String(e)));
        this.dispatchEvent(new CustomEvent('error', { detail: e }));
        return null;
      },
    );
  }

  private attach(b: Board): void {
    this.board = b;
    this.model.upsert(b.doc.elements());
    b.on('change', (c) => {
      if (c.ids === null) {
        this.model.clear();
        this.model.upsert(b.doc.elements());
      } else this.model.upsert(b.doc.elements(c.ids));
      if (!this.fitted) this.fit();
      this.redraw();
      this.dispatchEvent(new CustomEvent('change', { detail: c }));
    });
    b.on('status', (s) => {
      this.showStatus(s);
      this.dispatchEvent(new CustomEvent('status', { detail: s }));
    });
    b.on('presence', () => this.redraw());
    this.showStatus(b.status);
    this.fit();
    this.dispatchEvent(new CustomEvent('connect', { detail: b }));
  }

  private showStatus(s: string): void {
    this.status.textContent = s === 'synced' ? '' : s;
    this.status.hidden = s === 'synced';
    this.dataset.status = s;
  }

  private redraw(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.draw();
    });
  }

  private draw(): void {
    if (!this.renderer.width) this.renderer.resize();
    const cursors: RemoteCursor[] = [];
    const remoteSelection = new Map<string, string>();
    for (const p of this.board?.presence.peers ?? []) {
      const color = p.color || '#868e96';
      for (const id of p.data?.sel ?? []) remoteSelection.set(id, color);
      if (p.data?.c) cursors.push({ x: p.data.c.x, y: p.data.c.y, name: p.name, color });
    }
    this.renderer.draw(this.model, this.cam, { selection: new Set(), preview: new Map(), remoteSelection, cursors, handles: false });
  }

  private bindInput(): void {
    const c = this.canvas;
    let last: { x: number; y: number } | null = null;
    let pinch = 0;
    c.addEventListener('pointerdown', (e) => {
      c.setPointerCapture(e.pointerId);
      this.pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY });
      last = { x: e.offsetX, y: e.offsetY };
      c.classList.add('panning');
    });
    c.addEventListener('pointermove', (e) => {
      if (this.board && !this.hasAttribute('readonly') && this.board.status === 'synced') {
        this.board.presence.set({ c: { x: Math.round(this.cam.x + e.offsetX / this.cam.zoom), y: Math.round(this.cam.y + e.offsetY / this.cam.zoom) } });
      }
      if (!this.pointers.has(e.pointerId)) return;
      this.pointers.set(e.pointerId, { x: e.offsetX, y: e.offsetY });
      if (this.pointers.size === 2) {
        const [a, b] = [...this.pointers.values()];
        const d = Math.hypot(a.x - b.x, a.y - b.y);
        if (pinch) this.zoomAt((a.x + b.x) / 2, (a.y + b.y) / 2, d / pinch);
        pinch = d;
        return;
      }
      if (!last) return;
      this.cam = { ...this.cam, x: this.cam.x - (e.offsetX - last.x) / this.cam.zoom, y: this.cam.y - (e.offsetY - last.y) / this.cam.zoom };
      this.fitted = true;
      last = { x: e.offsetX, y: e.offsetY };
      this.redraw();
    });
    const up = (e: PointerEvent) => {
      this.pointers.delete(e.pointerId);
      pinch = 0;
      last = this.pointers.size ? { ...[...this.pointers.values()][0] } : null;
      if (!this.pointers.size) c.classList.remove('panning');
    };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
    c.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        if (e.ctrlKey || e.metaKey || Math.abs(e.deltaY) > Math.abs(e.deltaX)) this.zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015));
        else {
          this.cam = { ...this.cam, x: this.cam.x + e.deltaX / this.cam.zoom };
          this.redraw();
        }
      },
      { passive: false },
    );
  }

  private zoomAt(sx: number, sy: number, factor: number): void {
    const zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.cam.zoom * factor));
    const bx = this.cam.x + sx / this.cam.zoom;
    const by = this.cam.y + sy / this.cam.zoom;
    this.cam = { x: bx - sx / zoom, y: by - sy / zoom, zoom };
    this.fitted = true;
    this.redraw();
  }
}

if (typeof customElements !== 'undefined' && !customElements.get('corkboard-board')) customElements.define('corkboard-board', CorkboardBoardElement);

declare global {
  interface HTMLElementTagNameMap {
    'corkboard-board': CorkboardBoardElement;
  }
}

export * from './index';
