// Touch and small screens. Pinch-zoom and two-finger pan are the canvas's
// own (pointer.ts, from pointer events); this adds the long press: a
// finger held still on the canvas for LONG_MS opens a menu of what one can
// do there (the context menu a right click would give): on an element,
// select it and offer to edit its text, comment, vote on a note, or
// delete it; elsewhere, comment at that point. The gesture the finger
// began (a drag, a selection box) is cancelled as the menu opens.
//
// The phone layout itself is CSS (touch.css): the toolbars become
// scrolling strips at the bottom, side panels and dialogs become sheets.
//
// Rejected: the browser's own `contextmenu` event for the long press
// (Chromium on Android sends it, iOS Safari does not, and the canvas
// prevents it for the mouse's right button), and a Hammer-style gesture
// library (a dependency for one timer).
import { t } from './i18n';
import { h } from './dom';
import type { FeatureHost } from './featurekit';
import './touch.css';

/** How long a finger stays down, still, before the menu opens (ms). */
export const LONG_MS = 500;
/** How far (CSS px) it may wander meanwhile. */
const SLOP = 10;

/** What the menu calls (features.ts gives them). */
export interface TouchActions {
  readonly host: FeatureHost;
  comment(at: { target?: string; x: number; y: number }): void;
  vote(id: string): void;
}

export class LongPress {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private start: { id: number; x: number; y: number } | null = null;
  private touches = 0;
  private menu: HTMLElement | null = null;

  constructor(private a: TouchActions) {
    const cv = a.host.canvas;
    cv.addEventListener('pointerdown', (e) => this.down(e));
    cv.addEventListener('pointermove', (e) => {
      if (this.start && e.pointerId === this.start.id && Math.hypot(e.clientX - this.start.x, e.clientY - this.start.y) > SLOP) this.cancel();
    });
    const up = (e: PointerEvent) => {
      if (e.pointerType === 'touch') this.touches = Math.max(0, this.touches - 1);
      if (this.start && e.pointerId === this.start.id) this.cancel();
    };
    cv.addEventListener('pointerup', up);
    cv.addEventListener('pointercancel', up);
    document.addEventListener('pointerdown', (e) => {
      if (this.menu && !this.menu.contains(e.target as Node)) this.close();
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
  }

  private down(e: PointerEvent): void {
    if (e.pointerType !== 'touch') return;
    this.touches++;
    this.cancel();
    if (this.touches > 1) return; // two fingers: a pinch
    this.start = { id: e.pointerId, x: e.clientX, y: e.clientY };
    this.timer = setTimeout(() => this.fire(e.pointerId, e.clientX, e.clientY), LONG_MS);
  }

  /** Whether a long press is being timed (a finger down, still). */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.start = null;
  }

  private fire(pointerId: number, cx: number, cy: number): void {
    this.start = null;
    const host = this.a.host;
    const cv = host.canvas;
    // End what the finger began (a drag, a selection box) where it is.
    cv.dispatchEvent(new PointerEvent('pointercancel', { pointerId, pointerType: 'touch', bubbles: true, clientX: cx, clientY: cy }));
    const r = cv.getBoundingClientRect();
    const cam = host.camera();
    const p = { x: cam.x + (cx - r.left) / cam.zoom, y: cam.y + (cy - r.top) / cam.zoom };
    const el = host.board.hit(p.x, p.y, 4 / cam.zoom);
    if (el) host.select([el.id]);
    navigator.vibrate?.(10);
    this.open(cx, cy, el?.id, el?.kind, p);
  }

  /** The menu at a point (a sheet at the bottom on a phone: touch.css). */
  private open(cx: number, cy: number, id: string | undefined, kind: string | undefined, p: { x: number; y: number }): void {
    this.close();
    const host = this.a.host;
    const items: [string, string, () => void][] = [];
    if (id && host.canEdit() && ['note', 'shape', 'text', 'mindmap', 'frame'].includes(kind ?? '')) {
      items.push(['edit', t('touch.edit'), () => host.canvas.dispatchEvent(new MouseEvent('dblclick', { bubbles: true, clientX: cx, clientY: cy }))]);
    }
    items.push(['comment', id ? t('touch.comment') : t('touch.commentHere'), () => this.a.comment({ target: id, x: p.x, y: p.y })]);
    if (id && kind === 'note') items.push(['vote', t('touch.vote'), () => this.a.vote(id)]);
    if (id && host.canEdit()) items.push(['delete', t('touch.delete'), () => host.edit([{ op: 'delete', el: id }])]);
    const menu = h('div', { class: 'cb-touch-menu panel', role: 'menu', 'aria-label': id ? t('touch.menu.element') : t('touch.menu.board') });
    for (const [action, label, run] of items) {
      const b = h('button', { type: 'button', role: 'menuitem', 'data-action': action }, label);
      b.addEventListener('click', () => {
        this.close();
        run();
      });
      menu.append(b);
    }
    const root = host.root.querySelector('.board') ?? host.root;
    root.append(menu);
    const r = menu.getBoundingClientRect();
    menu.style.left = `${Math.max(8, Math.min(innerWidth - r.width - 8, cx - r.width / 2))}px`;
    menu.style.top = `${Math.max(8, Math.min(innerHeight - r.height - 8, cy - r.height - 16))}px`;
    this.menu = menu;
    menu.querySelector('button')?.focus({ preventScroll: true });
  }

  close(): void {
    this.menu?.remove();
    this.menu = null;
  }
}
