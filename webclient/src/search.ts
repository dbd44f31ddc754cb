// Search over the board's text: notes, mindmap nodes, shapes, text, frame
// titles, connector labels and comment threads. The text is drawn on a
// canvas, so the browser's own Ctrl+F finds nothing: Ctrl/Cmd+F opens this
// box instead while the board has the focus (in a text field, or with the
// focus elsewhere on the page, the browser keeps its own). Enter and
// Shift+Enter go to the next and previous hit: the view centres on it and
// selects it (a comment hit opens its thread too).
// Rejected: a hidden DOM copy of the text for the browser's find (its hits
// cannot move the canvas' camera, and it would double every element).
import type { Comments } from './comments';
import type { FeatureContext } from './featurekit';
import { t } from './i18n';

/** What search uses of the features (features.ts gives itself). */
export type SearchHost = FeatureContext & { readonly comments: Pick<Comments, 'read' | 'focusThread' | 'open'> };
import './canvasplus.css';

/** The words of search, from the catalogue (src/i18n), read when shown. */
const T = {
  get placeholder() { return t('search.placeholder'); },
  get label() { return t('search.label'); },
  get none() { return t('search.none'); },
  count: (i: number, n: number) => t('search.count', { i, n }),
  get prev() { return t('search.prev'); },
  get next() { return t('search.next'); },
  get close() { return t('search.close'); },
};

/** One hit: an element, or a comment thread (jumped to through its thread). */
export interface Hit {
  id: string;
  kind: string;
  /** The thread, for a comment hit. */
  thread?: string;
  text: string;
}

export class BoardSearch {
  readonly box: HTMLElement;
  readonly input: HTMLInputElement;
  private countEl: HTMLElement;
  hits: Hit[] = [];
  index = -1;

  constructor(private f: SearchHost) {
    const mk = <K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, text = '') => {
      const e = document.createElement(tag);
      e.className = cls;
      if (text) e.textContent = text;
      return e;
    };
    this.box = mk('div', 'panel cb-search');
    this.box.setAttribute('role', 'search');
    this.box.hidden = true;
    this.input = mk('input', 'cb-search-input');
    this.input.type = 'search';
    this.input.placeholder = T.placeholder;
    this.input.setAttribute('aria-label', T.label);
    this.countEl = mk('span', 'cb-search-count');
    this.countEl.setAttribute('aria-live', 'polite');
    const btn = (text: string, title: string, fn: () => void) => {
      const b = mk('button', '', text);
      b.type = 'button';
      b.title = title;
      b.setAttribute('aria-label', title);
      b.addEventListener('click', fn);
      return b;
    };
    this.box.append(this.input, this.countEl, btn('↑', T.prev, () => this.step(-1)), btn('↓', T.next, () => this.step(1)), btn('×', T.close, () => this.close()));
    (f.host.root.querySelector('.board') ?? f.host.root).appendChild(this.box);
    this.input.addEventListener('input', () => this.run());
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        this.step(e.shiftKey ? -1 : 1);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        this.close();
      }
      e.stopPropagation(); // the board's shortcuts are not for this box
    });
    // Capture: before the board's own shortcuts.
    addEventListener(
      'keydown',
      (e) => {
        if (!(e.key === 'f' || e.key === 'F') || !(e.ctrlKey || e.metaKey) || e.altKey) return;
        if (!this.boardHasFocus()) return;
        e.preventDefault();
        e.stopPropagation();
        this.open();
      },
      true,
    );
    f.onChange(() => {
      if (!this.box.hidden && this.input.value) this.run(false);
    });
  }

  /** Whether the focus is on the board (not in a text field or another part of the page). */
  private boardHasFocus(): boolean {
    const a = document.activeElement as HTMLElement | null;
    if (!a || a === document.body || a === document.documentElement) return true;
    if (a === this.input) return true;
    if (a.tagName === 'INPUT' || a.tagName === 'TEXTAREA' || a.tagName === 'SELECT' || a.isContentEditable) return false;
    return !!a.closest('.board') || a === this.f.host.canvas;
  }

  open(): void {
    this.box.hidden = false;
    this.input.focus();
    this.input.select();
    if (this.input.value) this.run();
  }

  close(): void {
    this.box.hidden = true;
    this.f.host.canvas.focus?.();
  }

  /** Finds the hits of the box's text; jump: go to the first. */
  run(jump = true): void {
    const q = this.input.value.trim().toLocaleLowerCase();
    const before = this.hits[this.index];
    this.hits = q ? this.find(q) : [];
    if (!jump && before) this.index = this.hits.findIndex((x) => x.id === before.id && x.thread === before.thread);
    else this.index = -1;
    if (jump && this.hits.length) this.step(1);
    else this.showCount();
  }

  /** Every hit of q (lowercase), in reading order: top to bottom, left to right; then comments. */
  find(q: string): Hit[] {
    const board = this.f.host.board;
    const out: Hit[] = [];
    const els = board
      .all()
      .filter((e) => !e.deleted && !e.hidden)
      .sort((a, b) => a.y - b.y || a.x - b.x);
    for (const e of els) {
      const text = [e.text.text, e.text.title, e.text.label].filter(Boolean).join('\n');
      if (text && text.toLocaleLowerCase().includes(q)) out.push({ id: e.id, kind: e.kind, text });
    }
    for (const t of this.f.comments.read()) {
      const msgs = [t.first, ...t.replies];
      const m = msgs.find((c) => (c.text?.text ?? '').toLocaleLowerCase().includes(q));
      if (m) out.push({ id: t.target ?? t.id, kind: 'comment', thread: t.id, text: m.text?.text ?? '' });
    }
    return out;
  }

  /** Goes to the next (1) or previous (-1) hit. */
  step(d: 1 | -1): void {
    if (!this.hits.length) {
      this.showCount();
      return;
    }
    this.index = (this.index + d + this.hits.length) % this.hits.length;
    const hit = this.hits[this.index];
    if (hit.thread) {
      this.f.comments.focusThread(hit.thread);
      this.f.comments.open(hit.thread);
    } else this.f.zoomTo(hit.id);
    this.showCount();
    this.input.focus();
  }

  private showCount(): void {
    const n = this.hits.length;
    this.countEl.textContent = !this.input.value.trim() ? '' : n ? T.count(this.index + 1, n) : T.none;
    this.box.dataset.hits = String(n);
    this.box.dataset.index = String(this.index);
  }
}
