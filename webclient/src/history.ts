// The board's history (docs/API.md, "History"): the op log's timeline
// (GET /history, newest first, 50 entries a page, "Older changes" for the
// next), each entry with its time, its author's name when the page knows it
// (the board's members, the people present, oneself) and how many ops it
// made, in a panel at the side of the board. Choosing an entry shows the
// board as it was after it ON THE CANVAS (historyview.ts), read-only, with
// a banner saying whose version of when it is and "Back to live"; the
// elements the entry touched are outlined and tagged with its author. The
// slider, the Older/Newer buttons and the arrow keys scrub through the
// entries, and the canvas follows.
//
// For editors and the owner: "Restore this element" for an element picked
// on the past canvas (or in the panel's list; an element the entry deleted,
// drawn as a dashed ghost, comes back as it was just before the entry),
// and "Restore this version"
// (the whole board, confirmed first): POST /restore {seq, elements?}, which
// the node makes into one new change that merges like anyone's edit; the
// page goes back to live, where the change arrives like a remote one.
//
// Past states are the node's (GET /history/state?seq=), kept here for the
// last few entries seen, and asked one at a time: while one is on its way,
// only the newest wish waits (the node allows 60 a minute).
//
// Rejected: a sketch of the past boxes in the panel (what this replaced:
// nothing like the board people know, no text, no connectors); swapping
// the live board's elements for the past ones while previewing (every
// feature and peer would see elements come and go, and an edit made
// meanwhile would have to be refused or lost); replaying the op log in the
// page (the board's file) for instant scrubbing (the whole history
// downloaded for a glance at a version, on boards of any size). A second
// Board and Renderer are what it costs to draw the past with the real
// drawing code, read-only and apart from the live board: both classes
// already stand alone (the export draws with a Renderer of its own).
// Restoring stays the node's (one place for its rules: comments left to
// their authors, the author of an element kept) rather than ops computed
// here; the price is that Ctrl+Z does not take a restore back (the change
// is not this page's): restoring the version before it does.
import { language, t as tr } from './i18n';
import type { BoardAccess } from './boardaccess';
import type { ElementJSON } from './crdt';
import { h } from './dom';
import type { Key } from './i18n';
import { en } from './i18n/en';
import { PastView } from './historyview';
import './history.css';

/** One entry of GET /history. */
export interface HistoryEntry {
  seq: number;
  accepted: number;
  author?: string;
  replica: string;
  ops: number;
  elements: string[];
}

/** Entries a page of the timeline (the node gives at most 200). */
export const PAGE = 50;

/** Past states kept in the page, at most, and their elements in all (a big board's states are big). */
const KEEP = 24;
const KEEP_ELEMENTS = 200_000;

/** Elements listed in the panel, at most. */
const LISTED = 200;

export class HistoryDialog {
  readonly dialog: HTMLDialogElement;
  /** The past board on the canvas. */
  readonly view: PastView;
  private list: HTMLUListElement;
  private more: HTMLButtonElement;
  private preview: HTMLElement;
  private msg: HTMLElement;
  private scrub: HTMLInputElement;
  private olderBtn: HTMLButtonElement;
  private newerBtn: HTMLButtonElement;
  private pos: HTMLElement;
  private next: number | undefined;
  private names = new Map<string, string>();
  /** The timeline as loaded, newest first. */
  private entries: HistoryEntry[] = [];
  /** The entry shown (an index of entries; -1: none). */
  private at = -1;
  /** Past states by log position, the most recently used last. */
  private states = new Map<number, ElementJSON[]>();
  private fetching = false;
  /** The entry to show once the state on its way arrives. */
  private wanted: HistoryEntry | null = null;
  private loadingMore: Promise<void> | null = null;
  private newerTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private a: BoardAccess) {
    const close = h('button', { type: 'button', class: 'close', 'aria-label': tr('history.close'), title: tr('history.close') }, '×');
    this.list = h('ul', { class: 'timeline' });
    this.more = h('button', { type: 'button', class: 'more', hidden: '' }, tr('history.older'));
    this.preview = h('section', { class: 'preview', hidden: '' });
    this.msg = h('p', { class: 'note', role: 'status', hidden: '' });
    this.olderBtn = h('button', { type: 'button', class: 'older', title: tr('history.olderOne'), 'aria-label': tr('history.olderOne') }, '‹');
    this.newerBtn = h('button', { type: 'button', class: 'newer', title: tr('history.newerOne'), 'aria-label': tr('history.newerOne') }, '›');
    this.scrub = h('input', { type: 'range', class: 'scrubber', min: '0', max: '0', step: '1', value: '0', 'aria-label': tr('history.scrub') });
    this.pos = h('span', { class: 'pos' });
    this.dialog = h(
      'dialog',
      { class: 'cb-dialog cb-history cb-side', 'aria-label': tr('history') },
      h('header', {}, h('h2', {}, tr('history')), close),
      h('p', { class: 'hint' }, tr('history.hint')),
      h('div', { class: 'scrub' }, this.olderBtn, this.scrub, this.newerBtn, this.pos),
      this.msg,
      // What scrolls: the controls above stay in view.
      h('div', { class: 'body' }, this.preview, h('h3', {}, tr('history.changes')), this.list, this.more),
    );
    this.view = new PastView(a.f.host, {
      step: (d) => void this.step(d),
      leave: () => this.dialog.close(),
      picked: (id) => this.pick(id),
    });
    close.addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => this.closed());
    this.more.addEventListener('click', () => void this.loadMore());
    this.olderBtn.addEventListener('click', () => void this.step(-1));
    this.newerBtn.addEventListener('click', () => void this.step(1));
    // The slider runs oldest (left) to newest (right) over what is loaded.
    this.scrub.addEventListener('input', () => this.choose(this.entries.length - 1 - Number(this.scrub.value)));
    document.body.appendChild(this.dialog);
    // Changes made by others while the panel is open join the timeline (a moment later, once).
    a.f.host.board.onChange(() => {
      if (!this.dialog.open || this.newerTimer) return;
      this.newerTimer = setTimeout(() => {
        this.newerTimer = undefined;
        void this.loadNewer();
      }, 800);
    });
    const dbg = (window as unknown as { __corkboard?: Record<string, unknown> }).__corkboard;
    if (dbg) dbg.history = this;
  }

  /** Whether the person may restore: an editor or the owner, the board open. */
  private get canRestore(): boolean {
    const r = this.a.role;
    return (r === 'editor' || r === 'owner') && !this.a.closed && this.a.f.host.canEdit() && !this.a.f.closed;
  }

  /** Follows the role (restore buttons) while open. */
  update(): void {
    for (const b of this.dialog.querySelectorAll<HTMLElement>('.restore, .restore-element')) b.hidden = !this.canRestore;
  }

  /** Opens the panel on the newest page of the timeline, the canvas showing the newest entry's version. */
  async open(): Promise<void> {
    this.list.replaceChildren();
    this.entries = [];
    this.at = -1;
    this.wanted = null;
    this.preview.hidden = true;
    this.preview.replaceChildren();
    this.say('');
    this.controls();
    // Beside the board, not over it: the canvas is what one looks at.
    if (!this.dialog.open) this.dialog.show();
    this.view.enter();
    await this.learnNames();
    await this.load();
    if (this.entries.length && this.at < 0 && this.dialog.open) this.choose(0);
    else if (!this.entries.length) this.view.say(tr('history.none'));
  }

  /** The panel closed (×, Back to live, Escape): the live board again. */
  private closed(): void {
    this.view.leave();
    this.wanted = null;
  }

  /** Names of the authors: the board's members, the people present, oneself. */
  private async learnNames(): Promise<void> {
    const you = this.a.view?.you;
    if (you?.name) this.names.set(you.id, you.name);
    for (const p of this.a.f.host.sync.peers.values()) if (p.name) this.names.set(p.user, p.name);
    try {
      const { members } = await this.a.call<{ members: { user: string; name?: string; email?: string }[] }>('GET', '/members');
      for (const m of members) if (m.name || m.email) this.names.set(m.user, m.name || m.email!);
    } catch {
      /* a viewer may not list them: ids it is */
    }
  }

  private who(author?: string): string {
    if (!author) return tr('history.byNode');
    const n = this.names.get(author);
    if (n) return n;
    if (author.startsWith('link-')) return tr('history.byLink');
    return author;
  }

  /** Loads a page of the timeline (before: the older page's cursor). */
  private async load(before?: number): Promise<void> {
    this.more.hidden = true;
    try {
      const q = `?limit=${PAGE}` + (before !== undefined ? `&before=${before}` : '');
      const j = await this.a.call<{ entries: HistoryEntry[]; next?: number; trimmed?: boolean }>('GET', '/history' + q);
      for (const e of j.entries) {
        this.entries.push(e);
        this.list.append(this.row(e));
      }
      if (!this.list.children.length) this.list.append(h('li', { class: 'empty' }, tr('history.none')));
      this.next = j.next;
      this.more.hidden = j.next === undefined;
      if (j.trimmed && j.next === undefined) this.list.append(h('li', { class: 'empty' }, tr('history.trimmed')));
    } catch (e) {
      this.say(tr('history.failed', { error: (e as Error).message }), true);
    }
    this.controls();
  }

  /** Puts the entries newer than the newest listed at the top (the one shown stays shown). */
  private async loadNewer(): Promise<void> {
    const top = this.entries[0]?.seq;
    if (!this.dialog.open || top === undefined) return;
    let j: { entries: HistoryEntry[] };
    try {
      j = await this.a.call<{ entries: HistoryEntry[] }>('GET', `/history?limit=${PAGE}`);
    } catch {
      return; // the next change tries again
    }
    const fresh = j.entries.filter((e) => e.seq > (this.entries[0]?.seq ?? top));
    if (!fresh.length || !this.dialog.open) return;
    this.entries.unshift(...fresh);
    this.list.prepend(...fresh.map((e) => this.row(e)));
    if (this.at >= 0) this.at += fresh.length;
    this.controls();
  }

  /** The next older page (once at a time). */
  private loadMore(): Promise<void> {
    if (this.next === undefined) return Promise.resolve();
    this.loadingMore ??= this.load(this.next).finally(() => (this.loadingMore = null));
    return this.loadingMore;
  }

  private row(e: HistoryEntry): HTMLLIElement {
    const preview = h('button', { type: 'button', class: 'show' }, tr('history.preview'));
    const li = h(
      'li',
      { 'data-seq': String(e.seq) },
      h('time', { datetime: new Date(e.accepted).toISOString() }, new Date(e.accepted).toLocaleString(language())),
      h('span', { class: 'author' }, this.who(e.author)),
      h('span', { class: 'ops' }, tr('history.ops', { n: e.ops })),
      preview,
    );
    // The whole row shows its version (the button is there for the keyboard).
    li.addEventListener('click', () => this.choose(this.entries.indexOf(e)));
    return li;
  }

  /** The slider, the buttons and "3 of 12" for what is loaded and shown. */
  private controls(): void {
    const n = this.entries.length;
    this.scrub.max = String(Math.max(0, n - 1));
    this.scrub.disabled = n < 2;
    if (this.at >= 0) this.scrub.value = String(n - 1 - this.at);
    this.olderBtn.disabled = this.at < 0 || (this.at >= n - 1 && this.next === undefined);
    this.newerBtn.disabled = this.at <= 0;
    this.pos.textContent = this.at >= 0 ? tr('history.position', { i: n - this.at, n: n + (this.next !== undefined ? '+' : '') }) : '';
  }

  /** One entry older (-1) or newer (+1); past the oldest loaded, the next page first. */
  private async step(d: -1 | 1): Promise<void> {
    if (this.at < 0) return;
    let i = this.at - d;
    if (i >= this.entries.length && this.next !== undefined) await this.loadMore();
    i = Math.max(0, Math.min(this.entries.length - 1, i));
    if (i !== this.at) this.choose(i);
  }

  /** Shows entry i (an index of entries) on the canvas and in the panel. */
  private choose(i: number): void {
    const e = this.entries[i];
    if (!e || !this.dialog.open) return;
    this.at = i;
    this.controls();
    for (const li of this.list.querySelectorAll<HTMLElement>('li[data-seq]')) {
      const on = li.dataset.seq === String(e.seq);
      li.classList.toggle('active', on);
      if (on) li.scrollIntoView({ block: 'nearest' });
    }
    this.wanted = e;
    if (this.states.has(e.seq)) this.showState(e);
    else {
      this.view.say(tr('history.loadingVersion', { when: this.when(e) }));
      void this.fetchWanted();
    }
  }

  /** Asks the node for the wanted entry's state, one at a time. */
  private async fetchWanted(): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      for (let e = this.wanted; e && !this.states.has(e.seq); e = this.wanted) {
        try {
          const j = await this.a.call<{ elements: ElementJSON[] }>('GET', `/history/state?seq=${e.seq}`);
          this.keep(e.seq, j.elements);
        } catch (err) {
          // Said when it is still the one wanted; else on to the one wanted now.
          if (this.wanted === e) {
            this.view.say(tr('history.versionFailed', { error: (err as Error).message }));
            this.preview.hidden = false;
            this.preview.dataset.seq = String(e.seq);
            this.preview.replaceChildren(h('p', { class: 'error' }, tr('history.versionFailed', { error: (err as Error).message })));
            this.wanted = null;
          }
        }
      }
    } finally {
      this.fetching = false;
    }
    if (this.wanted && this.states.has(this.wanted.seq)) this.showState(this.wanted);
  }

  private keep(seq: number, els: ElementJSON[]): void {
    this.states.delete(seq);
    this.states.set(seq, els);
    let total = 0;
    for (const s of this.states.values()) total += s.length;
    while (this.states.size > 1 && (this.states.size > KEEP || total > KEEP_ELEMENTS)) {
      const [oldest, gone] = this.states.entries().next().value!;
      this.states.delete(oldest);
      total -= gone.length;
    }
  }

  private when(e: HistoryEntry): string {
    return new Date(e.accepted).toLocaleString(language());
  }

  /** Draws entry e's state (known) and fills the panel's preview. */
  private showState(e: HistoryEntry): void {
    if (!this.dialog.open) return;
    const all = this.states.get(e.seq)!;
    this.keep(e.seq, all);
    const byId = new Map(all.map((x) => [x.id, x]));
    const who = this.who(e.author);
    const when = this.when(e);
    this.view.show(e.seq, all, e.elements, who, tr('history.viewing', { when, who }));
    const els = all.filter((x) => !x.deleted && x.kind !== 'comment');
    const p = this.preview;
    p.hidden = false;
    p.dataset.seq = String(e.seq);

    // Who changed what: the elements the entry touched, by name.
    const changed = h('p', { class: 'changed' }, h('b', {}, tr('history.changedBy', { who })), ' ');
    const touched = e.elements.map((id) => byId.get(id)).filter((x): x is ElementJSON => !!x);
    touched.forEach((x, i) => {
      if (i) changed.append(', ');
      if (x.deleted || x.kind === 'comment') changed.append(h('span', { class: 'gone', 'data-id': x.id }, x.deleted ? tr('history.deletedName', { name: this.name(x) }) : this.name(x)));
      else {
        const b = h('button', { type: 'button', class: 'link', 'data-id': x.id }, this.name(x));
        b.addEventListener('click', () => this.pick(x.id, true));
        changed.append(b);
      }
    });
    if (!touched.length) changed.append(tr('history.changedNothing'));

    // The element picked, and its restore.
    const selected = h('div', { class: 'row selected', hidden: '' }, h('span', { class: 'what' }), h('button', { type: 'button', class: 'restore-element' }, tr('history.restoreElement')));
    selected.querySelector('.restore-element')!.addEventListener('click', (ev) => void this.restoreElement(e, ev.currentTarget as HTMLButtonElement));

    const restore = h('button', { type: 'button', class: 'restore' }, tr('history.restoreThis'));
    restore.hidden = !this.canRestore;
    const confirmRow = h('div', { class: 'row confirm', hidden: '' }, h('span', {}, tr('history.confirm', { when })));
    const yes = h('button', { type: 'button', class: 'yes' }, tr('history.restore'));
    const no = h('button', { type: 'button', class: 'no' }, tr('cancel'));
    confirmRow.append(yes, no);
    restore.addEventListener('click', () => {
      confirmRow.hidden = false;
      restore.hidden = true;
    });
    no.addEventListener('click', () => {
      confirmRow.hidden = true;
      restore.hidden = !this.canRestore;
    });
    yes.addEventListener('click', () => void this.restore(e, yes));

    const ul = h('ul', { class: 'elements', 'aria-label': tr('history.elements') });
    const hit = new Set(e.elements);
    for (const x of els.slice(0, LISTED)) {
      const text = Object.values(x.text ?? {}).find((t) => t.trim()) ?? '';
      const li = h('li', { 'data-id': x.id, tabindex: '0' }, h('span', { class: 'kind' }, this.kindName(x.kind)), h('span', { class: 'text' }, text));
      if (hit.has(x.id)) li.classList.add('changed');
      li.addEventListener('click', () => this.pick(x.id, true));
      li.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          this.pick(x.id, true);
        }
      });
      ul.append(li);
    }
    if (els.length > LISTED) ul.append(h('li', { class: 'empty' }, tr('history.more', { n: els.length - LISTED })));
    if (!els.length) ul.append(h('li', { class: 'empty' }, tr('history.empty')));
    p.replaceChildren(h('h3', {}, tr('history.at', { when, n: els.length })), changed, selected, h('div', { class: 'row' }, restore), confirmRow, ul);
    this.showPicked();
  }

  /** An element's name in the panel: its text, or its kind. */
  private name(x: ElementJSON): string {
    const text = Object.values(x.text ?? {})
      .find((t) => t.trim())
      ?.trim()
      .replace(/\s+/g, ' ');
    if (text) return `“${text.length > 40 ? text.slice(0, 39) + '…' : text}”`;
    const k = `kind.${x.kind}` as Key;
    return k in en ? tr(k, { n: 1 }) : x.kind;
  }

  private kindName(kind: string): string {
    const k = `outline.kind.${kind}` as Key;
    return k in en ? tr(k) : kind;
  }

  /** An element of the past picked (on the canvas or in the list; reveal: brought into view). */
  private pick(id: string | undefined, reveal = false): void {
    this.view.select(id);
    if (reveal && id) this.view.reveal(id);
    this.showPicked();
  }

  /** The panel's "selected" row and list mark follow the picked element. */
  private showPicked(): void {
    const id = this.view.selected;
    for (const li of this.preview.querySelectorAll<HTMLElement>('.elements li[data-id]')) li.classList.toggle('selected', li.dataset.id === id);
    const row = this.preview.querySelector<HTMLElement>('.selected');
    if (!row) return;
    const x = id ? this.states.get(this.view.seq)?.find((y) => y.id === id) : undefined;
    row.hidden = !x;
    if (!x) return;
    row.querySelector('.what')!.textContent = tr('history.selected', { name: this.name(x) });
    (row.querySelector('.restore-element') as HTMLElement).hidden = !this.canRestore;
  }

  /** Restores the picked element as it was after entry e, then back to live with it selected. */
  private async restoreElement(e: HistoryEntry, btn: HTMLButtonElement): Promise<void> {
    const id = this.view.selected;
    const x = id ? this.states.get(e.seq)?.find((y) => y.id === id) : undefined;
    if (!id || !x) return;
    btn.disabled = true;
    try {
      // A ghost (the entry deleted it) comes back as it was just before the entry.
      const seq = x.deleted ? e.seq - 1 : e.seq;
      const r = await this.a.call<{ elements: string[]; skipped?: { type: string; reason: string }[] }>('POST', '/restore', { seq, elements: [id] });
      const skipped = r.skipped ?? [];
      if (skipped.length) {
        this.say(tr('history.elementNotRestored', { name: this.name(x), why: skipped[0].reason }), true);
        btn.disabled = false;
        return;
      }
      this.dialog.close();
      this.a.f.host.toast(tr('history.elementRestored', { name: this.name(x), when: this.when(e) }));
      this.selectLive(id);
    } catch (err) {
      this.say(tr('history.restoreFailed', { error: (err as Error).message }), true);
      btn.disabled = false;
    }
  }

  /** Selects an element on the live board once it is there (the restore arrives like a remote change). */
  private selectLive(id: string): void {
    const host = this.a.f.host;
    const done = () => {
      if (!host.board.get(id)) return false;
      host.select([id]);
      return true;
    };
    if (done()) return;
    const off = host.board.onChange(() => {
      if (done()) off();
    });
    setTimeout(off, 10_000);
  }

  /** Restores entry e's version (the whole board), and says what was skipped. */
  private async restore(e: HistoryEntry, yes: HTMLButtonElement): Promise<void> {
    yes.disabled = true;
    try {
      const r = await this.a.call<{ elements: string[]; skipped?: { type: string; reason: string }[] }>('POST', '/restore', { seq: e.seq });
      const skipped = r.skipped ?? [];
      this.a.f.host.toast(tr(skipped.length ? 'history.restored.skipped' : 'history.restored', { when: this.when(e), skipped: skipped.length }));
      if (skipped.length) {
        const ul = h('ul', { class: 'skipped' });
        for (const s of skipped.slice(0, 8)) ul.append(h('li', {}, h('b', {}, s.type || 'element'), ': ' + s.reason));
        if (skipped.length > 8) ul.append(h('li', { class: 'empty' }, tr('history.more', { n: skipped.length - 8 })));
        this.preview.append(h('h3', {}, tr('history.notRestored')), ul);
        this.say(tr('history.partly'));
        yes.closest('.confirm')?.setAttribute('hidden', '');
      } else {
        this.dialog.close();
      }
    } catch (err) {
      this.say(tr('history.restoreFailed', { error: (err as Error).message }), true);
      yes.disabled = false;
    }
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.hidden = !text;
    this.msg.classList.toggle('error', error);
  }
}
