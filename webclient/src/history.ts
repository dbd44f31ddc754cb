// The board's history (docs/API.md, "History"): the op log's timeline
// (GET /history, newest first, 50 entries a page, "Older changes" for the next), each entry with its time,
// its author's name when the page knows it (the board's members, the people
// present, oneself) and how many ops it made; a preview of the board as it
// was after an entry (GET /history/state?seq=), and, for editors and the
// owner, "Restore this version" (POST /restore {seq}), confirmed first,
// which the node makes into one new change that merges like any edit.
//
// The preview is a read-only outline in the dialog (a sketch of the boxes
// and a list of the elements with their text), not the canvas. Rejected:
// swapping the live board's elements for the past ones while previewing
// (every feature and peer would see elements come and go, and an edit made
// meanwhile would have to be refused or lost); a second Board and renderer
// for the past state (a copy of the page's drawing stack for a glance).
import { language, t as tr } from './i18n';
import type { BoardAccess } from './boardaccess';
import { h } from './dom';

/** One entry of GET /history. */
export interface HistoryEntry {
  seq: number;
  accepted: number;
  author?: string;
  replica: string;
  ops: number;
  elements: string[];
}

/** An element of GET /state (docs/API.md). */
interface StateElement {
  id: string;
  kind: string;
  deleted?: boolean;
  parent?: string;
  props?: Record<string, unknown>;
  text?: Record<string, string>;
}

const SVG = 'http://www.w3.org/2000/svg';

/** Entries a page of the timeline (the node gives at most 200). */
export const PAGE = 50;

/** The fill of a named colour in the sketch (anything else: as given, or grey). */
const COLOURS: Record<string, string> = { yellow: '#fff176', blue: '#b3e5fc', green: '#c8e6c9', pink: '#f8bbd0', orange: '#ffe0b2', purple: '#e1bee7', red: '#ffcdd2', grey: '#e9ecef', gray: '#e9ecef', white: '#ffffff' };

export class HistoryDialog {
  readonly dialog: HTMLDialogElement;
  private list: HTMLUListElement;
  private more: HTMLButtonElement;
  private preview: HTMLElement;
  private msg: HTMLElement;
  private next: number | undefined;
  private names = new Map<string, string>();

  constructor(private a: BoardAccess) {
    const close = h('button', { type: 'button', class: 'close', 'aria-label': tr('close') }, '×');
    this.list = h('ul', { class: 'timeline' });
    this.more = h('button', { type: 'button', class: 'more', hidden: '' }, tr('history.older'));
    this.preview = h('section', { class: 'preview', hidden: '' });
    this.msg = h('p', { class: 'note', role: 'status' });
    this.dialog = h(
      'dialog',
      { class: 'cb-dialog cb-history', 'aria-label': tr('history') },
      h('header', {}, h('h2', {}, tr('history')), close),
      h('p', { class: 'hint' }, tr('history.hint')),
      this.msg,
      this.list,
      this.more,
      this.preview,
    );
    close.addEventListener('click', () => this.dialog.close());
    this.more.addEventListener('click', () => void this.load(this.next));
    document.body.appendChild(this.dialog);
  }

  /** Whether the person may restore: an editor or the owner, the board open. */
  private get canRestore(): boolean {
    const r = this.a.role;
    return (r === 'editor' || r === 'owner') && !this.a.closed && this.a.f.host.canEdit();
  }

  /** Follows the role (restore buttons) while open. */
  update(): void {
    for (const b of this.dialog.querySelectorAll<HTMLElement>('.restore')) b.hidden = !this.canRestore;
  }

  /** Opens the dialog on the newest page of the timeline. */
  async open(): Promise<void> {
    this.list.replaceChildren();
    this.preview.hidden = true;
    this.preview.replaceChildren();
    this.say('');
    if (!this.dialog.open) this.dialog.showModal();
    await this.learnNames();
    await this.load();
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
    if (!author) return 'the node';
    const n = this.names.get(author);
    if (n) return n;
    if (author.startsWith('link-')) return 'someone with a link';
    return author;
  }

  /** Loads a page of the timeline (before: the older page's cursor). */
  private async load(before?: number): Promise<void> {
    this.more.hidden = true;
    try {
      const q = `?limit=${PAGE}` + (before !== undefined ? `&before=${before}` : '');
      const j = await this.a.call<{ entries: HistoryEntry[]; next?: number; trimmed?: boolean }>('GET', '/history' + q);
      for (const e of j.entries) this.list.append(this.row(e));
      if (!this.list.children.length) this.list.append(h('li', { class: 'empty' }, tr('history.none')));
      this.next = j.next;
      this.more.hidden = j.next === undefined;
      if (j.trimmed && j.next === undefined) this.list.append(h('li', { class: 'empty' }, tr('history.trimmed')));
    } catch (e) {
      this.say(tr('history.failed', { error: (e as Error).message }), true);
    }
  }

  private row(e: HistoryEntry): HTMLLIElement {
    const preview = h('button', { type: 'button', class: 'show' }, tr('history.preview'));
    preview.addEventListener('click', () => void this.show(e));
    return h(
      'li',
      { 'data-seq': String(e.seq) },
      h('time', { datetime: new Date(e.accepted).toISOString() }, new Date(e.accepted).toLocaleString()),
      h('span', { class: 'author' }, this.who(e.author)),
      h('span', { class: 'ops' }, tr('history.ops', { n: e.ops })),
      preview,
    );
  }

  /** Shows the board as it was after entry e, with the restore button. */
  private async show(e: HistoryEntry): Promise<void> {
    for (const li of this.list.querySelectorAll('li')) li.classList.toggle('active', li.dataset.seq === String(e.seq));
    const p = this.preview;
    p.hidden = false;
    p.dataset.seq = String(e.seq);
    p.replaceChildren(h('p', { class: 'hint' }, tr('loading')));
    let els: StateElement[];
    try {
      const j = await this.a.call<{ elements: StateElement[] }>('GET', `/history/state?seq=${e.seq}`);
      els = j.elements.filter((x) => !x.deleted && x.kind !== 'comment');
    } catch (err) {
      p.replaceChildren(h('p', { class: 'error' }, tr('history.versionFailed', { error: (err as Error).message })));
      return;
    }
    if (p.dataset.seq !== String(e.seq)) return; // another preview was asked for meanwhile
    const when = new Date(e.accepted).toLocaleString();
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
    const ul = h('ul', { class: 'elements' });
    for (const x of els.slice(0, 200)) {
      const text = Object.values(x.text ?? {}).find((t) => t.trim()) ?? '';
      ul.append(h('li', { 'data-id': x.id }, h('span', { class: 'kind' }, x.kind), h('span', { class: 'text' }, text)));
    }
    if (els.length > 200) ul.append(h('li', { class: 'empty' }, tr('history.more', { n: els.length - 200 })));
    if (!els.length) ul.append(h('li', { class: 'empty' }, tr('history.empty')));
    p.replaceChildren(h('h3', {}, tr('history.at', { when, n: els.length })), sketch(els), ul, h('div', { class: 'row' }, restore), confirmRow);
  }

  /** Restores entry e's version (the whole board), and says what was skipped. */
  private async restore(e: HistoryEntry, yes: HTMLButtonElement): Promise<void> {
    yes.disabled = true;
    try {
      const r = await this.a.call<{ elements: string[]; skipped?: { type: string; reason: string }[] }>('POST', '/restore', { seq: e.seq });
      const skipped = r.skipped ?? [];
      this.a.f.host.toast(tr(skipped.length ? 'history.restored.skipped' : 'history.restored', { when: new Date(e.accepted).toLocaleString(language()), skipped: skipped.length }));
      if (skipped.length) {
        const ul = h('ul', { class: 'skipped' });
        for (const s of skipped.slice(0, 8)) ul.append(h('li', {}, h('b', {}, s.type || 'element'), ': ' + s.reason));
        if (skipped.length > 8) ul.append(h('li', { class: 'empty' }, tr('history.more', { n: skipped.length - 8 })));
        this.preview.append(h('h3', {}, tr('history.notRestored')), ul);
        this.say(tr('history.partly'));
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

/** A small sketch of the elements' boxes (those with a position of their own). */
function sketch(els: StateElement[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'sketch');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', tr('history.sketch'));
  const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
  const boxes = els
    .filter((x) => typeof x.props?.x === 'number' && typeof x.props?.y === 'number')
    .map((x) => ({ x: num(x.props!.x, 0), y: num(x.props!.y, 0), w: Math.max(8, num(x.props!.w, 160)), h: Math.max(8, num(x.props!.h, 40)), kind: x.kind, color: String(x.props!.color ?? '') }));
  if (!boxes.length) {
    svg.setAttribute('viewBox', '0 0 100 30');
    return svg;
  }
  const x0 = Math.min(...boxes.map((b) => b.x)) - 20;
  const y0 = Math.min(...boxes.map((b) => b.y)) - 20;
  const x1 = Math.max(...boxes.map((b) => b.x + b.w)) + 20;
  const y1 = Math.max(...boxes.map((b) => b.y + b.h)) + 20;
  svg.setAttribute('viewBox', `${x0} ${y0} ${x1 - x0} ${y1 - y0}`);
  // Frames first, under the rest.
  boxes.sort((a, b) => Number(b.kind === 'frame') - Number(a.kind === 'frame'));
  for (const b of boxes) {
    const r = document.createElementNS(SVG, 'rect');
    for (const [k, v] of Object.entries({ x: b.x, y: b.y, width: b.w, height: b.h, rx: b.kind === 'note' ? 4 : 2 })) r.setAttribute(k, String(v));
    r.setAttribute('fill', b.kind === 'frame' ? 'none' : (COLOURS[b.color] ?? (/^#[0-9a-f]{3,8}$/i.test(b.color) ? b.color : '#e9ecef')));
    r.setAttribute('stroke', '#868e96');
    r.setAttribute('vector-effect', 'non-scaling-stroke');
    svg.appendChild(r);
  }
  return svg;
}
