// The board as a document for screen readers and the keyboard: an outline
// in the DOM, next to the canvas, of what the canvas draws. Frames list
// the elements inside them, mindmap nodes their subtopics (nested lists),
// each element is a button named by its kind and text, with its votes and
// its comment threads (the comments as a list under it). Tab from the
// canvas walks the elements in reading order (top to bottom, left to
// right, frames before what they hold); focusing one selects it on the
// canvas and brings it into view. The outline is out of sight (the
// canvas shows the same) but never out of reach: it is not display:none.
//
// In step with the canvas without costing it frames: the board's changes
// mark the outline stale, and it is brought up to date at most every
// REFRESH_MS (longer on big boards), when the page is idle: off the
// drawing path. The update is a diff: an element's
// item is kept (and its focus with it) while it exists; only labels that
// changed are rewritten and only lists whose order changed are
// reordered. A board of thousands of notes costs one pass over them per
// REFRESH_MS while it changes, nothing while it does not.
//
// A board of more than MAX_ITEMS elements is outlined by what is in view:
// the elements the view meets (at most MAX_ITEMS, those nearest its
// centre), in reading order, in one list, and the heading says how many of
// the board's; panning or zooming brings the outline up to date like a
// change does. Its DOM is bounded so: 100,000 elements made 100,000 list
// items, whose style and layout froze the page for 5 s after each load
// (and a reorder that searched the wanted items for each item, 76 s).
//
// Rejected: ARIA on the canvas alone (one label cannot carry a board),
// an aria-live region reading out changes (noisy on a busy board; the
// "since your last visit" view already says what changed), and a
// role="tree" widget (arrow-key handling of our own for what nested
// lists of buttons give every screen reader for free).
import { t, type Key } from './i18n';
import { h } from './dom';
import { kthSmallest } from './geometry';
import './outline.css';
import type { El } from './element';
import type { Box } from './model';
import type { FeatureHost } from './featurekit';
import type { ElementJSON } from './crdt';

/** What the outline reads: the page, the votes' tallies and the comments' authors (features.ts gives them). */
export interface OutlineSource {
  readonly host: FeatureHost;
  readonly votes: { tally(id: string): { total: number } };
  readonly comments: { authorOf(c: ElementJSON): string };
}

const REFRESH_MS = 400;

/** The most elements the outline lists; a bigger board is outlined by what is in view. */
const MAX_ITEMS = 1000;

/** Outlined by view, how long the view stays still before the outline follows it. */
const VIEW_SETTLE_MS = 300;

/** MAX_ITEMS, or the page's globalThis.corkboardOutlineMax (browser tests outline small boards by view). */
function maxItems(): number {
  const m = (globalThis as { corkboardOutlineMax?: unknown }).corkboardOutlineMax;
  return typeof m === 'number' && m >= 1 ? m : MAX_ITEMS;
}

const KIND: Record<string, Key> = {
  note: 'outline.kind.note',
  shape: 'outline.kind.shape',
  text: 'outline.kind.text',
  frame: 'outline.kind.frame',
  mindmap: 'outline.kind.mindmap',
  stroke: 'outline.kind.stroke',
  connector: 'outline.kind.connector',
  image: 'outline.kind.image',
};

interface Item {
  li: HTMLLIElement;
  button: HTMLButtonElement;
  /** The nested list (children, comments), made when needed. */
  kids: HTMLUListElement | null;
  label: string;
}

interface Thread {
  target: string;
  lines: string[];
}

export class Outline {
  readonly nav: HTMLElement;
  private list: HTMLUListElement;
  private heading: HTMLElement;
  private items = new Map<string, Item>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private last = 0;
  /** How many times the outline was brought up to date (tests, benchmarks). */
  updates = 0;
  /** The board has more than maxItems elements: the outline lists what is in view. */
  byView = false;
  private viewTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private f: OutlineSource) {
    this.heading = h('h2', { id: 'cb-outline-h' }, t('outline.title', { n: 0 }));
    this.list = h('ul', {});
    this.nav = h('nav', { class: 'cb-outline', 'aria-labelledby': 'cb-outline-h' }, this.heading, this.list);
    f.host.canvas.after(this.nav);
    f.host.board.onChange(() => this.stale());
    f.host.onView(() => {
      // Outlined by view: brought up to date once the view stays still
      // (VIEW_SETTLE_MS), not during a pan (an update reads what is in view).
      if (!this.byView) return;
      clearTimeout(this.viewTimer);
      this.viewTimer = setTimeout(() => this.stale(), VIEW_SETTLE_MS);
    });
    this.nav.addEventListener('focusin', (ev) => {
      const id = (ev.target as HTMLElement).dataset?.el;
      if (id) this.show(id);
    });
    this.nav.addEventListener('click', (ev) => {
      const id = (ev.target as HTMLElement).dataset?.el;
      if (id) this.show(id);
    });
    this.stale();
  }

  /**
   * The board changed (or, outlined by view, the view did): bring the
   * outline up to date soon, at most every REFRESH_MS (longer for big
   * boards: a millisecond per 10 elements; 1 s by view), and when the page
   * is idle (after the frame being drawn, not before it).
   */
  stale(): void {
    if (this.timer !== undefined) return;
    // By view, an update costs up to maxItems items, whatever the board.
    const every = this.byView ? 2.5 * REFRESH_MS : Math.max(REFRESH_MS, this.f.host.board.els.size / 10);
    const wait = Math.max(0, this.last + every - performance.now());
    this.timer = setTimeout(() => {
      const run = () => {
        this.timer = undefined;
        this.last = performance.now();
        this.update();
      };
      if ('requestIdleCallback' in window) requestIdleCallback(run, { timeout: 1000 });
      else run();
    }, wait);
  }

  /** Selects an element and brings it into view (when it is not in view already). */
  private show(id: string): void {
    const host = this.f.host;
    const e = host.board.get(id);
    if (!e) return;
    host.select([id]);
    const cam = host.camera();
    const v = this.view();
    const inView = e.x >= v.x && e.y >= v.y && e.x + e.w <= v.x + v.w && e.y + e.h <= v.y + v.h;
    if (!inView) host.setCamera({ ...cam, x: e.x + e.w / 2 - v.w / 2, y: e.y + e.h / 2 - v.h / 2 });
    host.redraw();
  }

  /** Comment threads by the element they are pinned to: "Ana: text" lines, replies after. */
  private threads(): Map<string, Thread> {
    const ids = [...this.f.host.board.comments];
    const out = new Map<string, Thread>();
    if (!ids.length) return out;
    const byId = new Map(this.f.host.doc.elements(ids).map((j) => [j.id, j]));
    for (const j of byId.values()) {
      if (j.deleted) continue;
      const text = (j.text?.text ?? '').trim();
      const who = this.f.comments.authorOf(j);
      const root = j.parent && byId.get(j.parent) ? byId.get(j.parent)! : j;
      const target = String((root.props ?? {}).target ?? '');
      if (!target) continue;
      let thread = out.get(target);
      if (!thread) out.set(target, (thread = { target, lines: [] }));
      const line = t(root === j ? 'outline.comment' : 'outline.reply', { who, text });
      if (root === j) thread.lines.unshift(line);
      else thread.lines.push(line);
    }
    return out;
  }

  private label(e: El, kids: number, threads: Thread | undefined): string {
    const kind = e.kind === 'shape' && typeof e.props.shape === 'string' ? t('outline.kind.shapeOf', { shape: e.props.shape }) : Object.hasOwn(KIND, e.kind) ? t(KIND[e.kind]) : e.kind;
    const raw = (e.kind === 'frame' ? e.text.title : e.kind === 'connector' ? e.text.label : e.text.text) ?? (e.kind === 'image' ? String(e.props.alt ?? '') : '');
    const text = raw.replace(/\s+/g, ' ').trim();
    const parts = [text ? t('outline.withText', { kind, text: text.length > 200 ? text.slice(0, 199) + '…' : text }) : kind];
    if (e.kind === 'note') {
      const tally = this.f.votes.tally(e.id);
      if (tally.total) parts.push(t('outline.votes', { n: tally.total }));
    }
    if (kids) parts.push(t(e.kind === 'mindmap' ? 'outline.subtopics' : 'outline.inside', { n: kids }));
    if (threads?.lines.length) parts.push(t('outline.comments', { n: threads.lines.length }));
    return parts.join(t('outline.sep'));
  }

  /** Brings the outline up to date with the board (the diff of the file comment). */
  update(): void {
    this.updates++;
    const board = this.f.host.board;
    const threads = this.threads();
    const seen = new Set<string>();
    let count = 0;
    const order = (els: El[]) =>
      els.filter((e) => e.kind !== 'connector' || e.text.label).sort((a, b) => (a.kind === 'mindmap' && b.kind === 'mindmap' && a.parent === b.parent && a.parent ? 0 : a.y - b.y || a.x - b.x));
    const fill = (ul: HTMLUListElement, els: El[], depth: number) => {
      const want: HTMLLIElement[] = [];
      for (const e of order(els)) {
        if (e.hidden || seen.has(e.id)) continue;
        seen.add(e.id);
        count++;
        const kids = depth < 32 && (e.kind === 'frame' || e.kind === 'mindmap') ? board.children(e.id) : [];
        const th = threads.get(e.id);
        let it = this.items.get(e.id);
        if (!it) {
          const button = h('button', { type: 'button', class: 'cb-outline-el', 'data-el': e.id, 'data-kind': e.kind });
          it = { li: h('li', {}, button), button, kids: null, label: '' };
          this.items.set(e.id, it);
        }
        const label = this.label(e, kids.length, th);
        if (label !== it.label) it.button.textContent = it.label = label;
        if (kids.length || th?.lines.length) {
          if (!it.kids) it.li.append((it.kids = h('ul', {})));
          fill(it.kids, kids, depth + 1);
          const old = it.kids.querySelectorAll(':scope > li.cb-outline-comment');
          const lines = th?.lines ?? [];
          if (old.length !== lines.length || [...old].some((li, i) => li.textContent !== lines[i])) {
            old.forEach((li) => li.remove());
            for (const l of lines) it.kids.append(h('li', { class: 'cb-outline-comment' }, l));
          }
        } else if (it.kids) {
          it.kids.remove();
          it.kids = null;
        }
        want.push(it.li);
      }
      // Reorder only when the order changed (moving the focused item would
      // blur it), in one pass: items already in place stay. Linear in the
      // list (a board of 100,000 elements has one of 100,000): no search of
      // the wanted items per item, and no index into the live children
      // (each insertBefore makes the next one walk the list again).
      const now = [...ul.children].filter((c) => !c.classList.contains('cb-outline-comment'));
      if (now.length !== want.length || now.some((c, i) => c !== want[i])) {
        const comments = [...ul.querySelectorAll(':scope > li.cb-outline-comment')];
        const wanted = new Set<Element>(want);
        for (const c of now) if (!wanted.has(c)) c.remove();
        let at = ul.firstElementChild;
        for (const li of want) {
          while (at && at !== li && !wanted.has(at)) at = at.nextElementSibling; // a comment: skipped
          if (at === li) at = at.nextElementSibling;
          else ul.insertBefore(li, at);
        }
        for (const c of comments) ul.append(c);
      }
    };
    const total = board.size;
    const max = maxItems();
    this.byView = total > max;
    if (!this.byView) fill(this.list, board.children(undefined), 0);
    else fill(this.list, this.inView(max), 32); // one list: no nesting
    for (const [id, it] of this.items) {
      if (!seen.has(id)) {
        it.li.remove();
        this.items.delete(id);
      }
    }
    this.heading.textContent = this.byView ? t('outline.inView', { n: count, total }) : t('outline.title', { n: count });
  }

  /** The view, in board units. */
  private view(): Box {
    const { renderer, camera } = this.f.host;
    const cam = camera();
    return { x: cam.x, y: cam.y, w: renderer.width / cam.zoom, h: renderer.height / cam.zoom };
  }

  /** The elements the view meets, at most max: those nearest its centre. */
  private inView(max: number): El[] {
    const v = this.view();
    const els = this.f.host.board.query(v, false).filter((e) => !e.hidden && (e.kind !== 'connector' || e.text.label));
    if (els.length <= max) return els;
    // The max nearest the centre, without sorting them all (a fitted view
    // of 100,000 elements): the max-th distance found by selection.
    const cx = v.x + v.w / 2,
      cy = v.y + v.h / 2;
    const d = new Float64Array(els.length);
    els.forEach((e, i) => (d[i] = (e.x + e.w / 2 - cx) ** 2 + (e.y + e.h / 2 - cy) ** 2));
    const cut = kthSmallest(Float64Array.from(d), max - 1);
    const out: El[] = [];
    for (let i = 0; i < els.length; i++) if (d[i] < cut) out.push(els[i]);
    for (let i = 0; i < els.length && out.length < max; i++) if (d[i] === cut) out.push(els[i]);
    return out;
  }
}

/** Puts the outline next to the board's canvas. */
export function installOutline(f: OutlineSource): Outline {
  const o = new Outline(f);
  const dbg = (window as unknown as { __corkboard?: Record<string, unknown> }).__corkboard;
  if (dbg) dbg.outline = o;
  return o;
}
