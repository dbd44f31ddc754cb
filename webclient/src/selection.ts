// What is selected on the board page: the set of ids (with a change event,
// coalesced to one per task, for those that follow it: features.ts), the
// handles the selection offers (resize corners, the rotation handle) and
// the context bar above it (colours, mindmap and connector actions,
// delete).
import type { CameraView } from './camera';
import type { LocalOp } from './crdt';
import { h, icon } from './dom';
import { turn, union } from './geometry';
import { PALETTE } from './ids';
import { t as tr, type Key } from './i18n';
import { en } from './i18n/en';
import type { Board, Box, El } from './model';
import { corners, HANDLE_PX, ROTATE_PX, selectionBox } from './render';

/** Kinds whose box is their own (resize handles); kinds that turn (the rotation handle). */
const RESIZABLE = new Set(['note', 'shape', 'text', 'stroke', 'image', 'frame']);
const ROTATABLE = new Set(['note', 'shape', 'text', 'stroke', 'image']);

export class Selection {
  private set = new Set<string>();
  private listeners: (() => void)[] = [];
  private queued = false;

  /** The selected ids: read it, change it through the methods (they tell the listeners). */
  get ids(): Set<string> {
    return this.set;
  }
  get size(): number {
    return this.set.size;
  }
  has(id: string): boolean {
    return this.set.has(id);
  }
  /** The only selected id, if exactly one is selected. */
  single(): string | undefined {
    return this.set.size === 1 ? [...this.set][0] : undefined;
  }

  replace(ids: Iterable<string>): void {
    this.set = new Set(ids);
    this.changed();
  }
  add(id: string): void {
    this.set.add(id);
    this.changed();
  }
  delete(id: string): void {
    if (this.set.delete(id)) this.changed();
  }
  clear(): void {
    this.set.clear();
    this.changed();
  }

  /** Calls fn after the selection changed (once for the changes of one task). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private changed(): void {
    if (this.queued || !this.listeners.length) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      for (const fn of this.listeners) fn();
    });
  }
}

/** Where the selection's handles are, and which is under a point. */
export class Handles {
  constructor(
    private board: Board,
    private sel: Selection,
    private camera: CameraView,
    private canEdit: () => boolean,
  ) {}

  /** Whether the selection can be resized with handles (every element has a box of its own). */
  resizable(): boolean {
    if (!this.sel.size || !this.canEdit()) return false;
    for (const id of this.sel.ids) {
      const e = this.board.get(id);
      if (!e || !RESIZABLE.has(e.kind)) return false;
    }
    return true;
  }

  /** The single selected element that can be rotated, if any. */
  rotatable(): El | null {
    const id = this.sel.single();
    if (id === undefined || !this.canEdit()) return null;
    const e = this.board.get(id);
    return e && ROTATABLE.has(e.kind) ? e : null;
  }

  /** Whether the rotation handle is under the canvas point. */
  rotateHandleAt(sx: number, sy: number): boolean {
    const e = this.rotatable();
    if (!e) return false;
    const cam = this.camera.cam;
    const cx = e.x + e.w / 2,
      cy = e.y + e.h / 2;
    // The handle sits above the top edge's middle, turned with the element.
    const r = (e.rot * Math.PI) / 180;
    const dist = e.h / 2 + ROTATE_PX / cam.zoom;
    const hx = cx + Math.sin(r) * dist,
      hy = cy - Math.cos(r) * dist;
    return Math.hypot(sx - (hx - cam.x) * cam.zoom, sy - (hy - cam.y) * cam.zoom) <= HANDLE_PX;
  }

  /** Which corner handle of the selection is under the canvas point, if any (-1: none). */
  handleAt(sx: number, sy: number): number {
    if (!this.resizable()) return -1;
    const e = selectionBox(this.board, this.sel.ids);
    if (!e) return -1;
    const cam = this.camera.cam;
    const cs = corners(e).map(([x, y]) => turn(x, y, e.x + e.w / 2, e.y + e.h / 2, e.rot));
    for (let i = 0; i < 4; i++) {
      const hx = (cs[i][0] - cam.x) * cam.zoom;
      const hy = (cs[i][1] - cam.y) * cam.zoom;
      if (Math.abs(sx - hx) <= HANDLE_PX && Math.abs(sy - hy) <= HANDLE_PX) return i;
    }
    return -1;
  }
}

/** The actions the context bar offers. */
export interface ContextActions {
  setColor(color: string): void;
  toggleCollapse(ids: string[]): void;
  addChild(id: string): void;
  edit(ops: LocalOp[]): void;
  deleteSelection(): void;
  /** Note ↔ mindmap node (convert.ts): the button for an element, or null. */
  convertible?(id: string): { text: string; title: string } | null;
  convert?(id: string): void;
  /** Whether a gesture is under way (the bar hides meanwhile). */
  busy(): boolean;
}

/** The bar above the selection. */
export class ContextBar {
  constructor(
    private el: HTMLElement,
    private board: Board,
    private sel: Selection,
    private camera: CameraView,
    private handles: Handles,
    private act: ContextActions,
  ) {}

  hide(): void {
    this.el.hidden = true;
  }

  /** Shows the bar for the selection now (hidden when nothing is selected or during a gesture). */
  show(): void {
    const c = this.el;
    const sel = [...this.sel.ids].map((id) => this.board.get(id)).filter((e): e is El => !!e);
    if (!sel.length || this.act.busy()) {
      c.hidden = true;
      return;
    }
    c.hidden = false;
    c.innerHTML = '';
    if (sel.some((e) => ['note', 'shape', 'mindmap', 'frame'].includes(e.kind))) {
      for (const name of Object.keys(PALETTE)) {
        const said = `colour.${name}` in en ? tr(`colour.${name}` as Key) : name;
        const b = h('button', { class: 'swatch', title: said, 'aria-label': tr('sel.colour', { name: said }), 'data-color': name, style: `background:${PALETTE[name]}` });
        b.addEventListener('click', () => this.act.setColor(name));
        c.appendChild(b);
      }
    }
    const parents = sel.filter((e) => e.kind === 'mindmap' && this.board.children(e.id).some((k) => k.kind === 'mindmap'));
    if (parents.length) {
      const collapsed = parents.every((e) => e.props.collapsed === true);
      const b = h('button', { class: 'text', title: tr('sel.collapse.title'), 'data-action': 'collapse' }, collapsed ? tr('sel.expand') : tr('sel.collapse'));
      b.addEventListener('click', () => this.act.toggleCollapse(parents.map((e) => e.id)));
      c.appendChild(b);
    }
    if (sel.length === 1 && sel[0].kind === 'mindmap') {
      const b = h('button', { class: 'text', title: tr('sel.subtopic.title'), 'data-action': 'child' }, tr('sel.subtopic'));
      b.addEventListener('click', () => this.act.addChild(sel[0].id));
      c.appendChild(b);
    }
    const conv = sel.length === 1 ? this.act.convertible?.(sel[0].id) : null;
    if (conv) {
      const b = h('button', { class: 'text', title: conv.title, 'data-action': 'convert' }, conv.text);
      b.addEventListener('click', () => this.act.convert?.(sel[0].id));
      c.appendChild(b);
    }
    const conns = sel.filter((e) => e.kind === 'connector');
    if (conns.length) {
      // Straight → elbow → curve → straight.
      const routes = ['straight', 'elbow', 'curve'];
      const route = routes.includes(conns[0].props.route as string) ? (conns[0].props.route as string) : 'straight';
      const next = routes[(routes.indexOf(route) + 1) % routes.length];
      const b = h('button', { class: 'text', title: tr('sel.route.title'), 'data-action': 'route' }, tr(`sel.route.${next}` as Key));
      b.addEventListener('click', () => this.act.edit(conns.map((e) => ({ op: 'set', el: e.id, key: 'route', value: next }) as LocalOp)));
      c.appendChild(b);
      const arrows = conns[0].props.startArrow === true;
      const a = h('button', { class: 'text', title: tr('sel.arrows.title'), 'data-action': 'arrows' }, arrows ? '→' : '↔');
      a.addEventListener('click', () => this.act.edit(conns.map((e) => ({ op: 'set', el: e.id, key: 'startArrow', value: !arrows }) as LocalOp)));
      c.appendChild(a);
    }
    const del = h('button', { class: 'del', title: tr('sel.delete.title'), 'aria-label': tr('sel.delete') });
    del.appendChild(icon('<path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"/>'));
    del.addEventListener('click', () => this.act.deleteSelection());
    c.appendChild(del);
    // Above the selection, centred.
    const b = sel.reduce<Box>((acc, e) => union(acc, e), { x: sel[0].x, y: sel[0].y, w: sel[0].w, h: sel[0].h });
    const cam = this.camera.cam;
    const x = (b.x + b.w / 2 - cam.x) * cam.zoom;
    const y = (b.y - cam.y) * cam.zoom;
    c.style.left = `${Math.max(8, x)}px`;
    c.style.top = `${Math.max(64, y - (this.handles.rotatable() ? 56 + ROTATE_PX + 10 : 56))}px`; // clear of the rotation handle
  }
}
