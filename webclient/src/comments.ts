// Comment threads (docs/SCHEMA.md, kind "comment"): a thread is a first
// comment, a child of the board, pinned to an element (`target`) or to a
// point (`x`, `y`); its replies are its children in position order. A pin
// on the canvas marks each open thread; a side panel lists the threads with
// their replies, a reply box, resolve/reopen, and @mention completion from
// the board's members (GET /v1/boards/{board}/members: names and ids,
// readable by whoever may comment) and the people present or seen here.
// A mention is highlighted for every reader whose page knows the name,
// which the members' listing makes everyone's page.
//
// Comments are made through FeatureContext.apply (LocalEdits, "annotate"), so commenters can write them
// (the node checks that a commenter touches nothing but comments). Each
// comment also carries `authorName`, a property the schema does not list
// (the CRDT keeps unknown properties): names are not in the ops otherwise,
// and a reader may never have met the author. The node checks `author`
// (the writer's user id), not `authorName`, which anyone who may comment
// can set to anyone's name: a comment is shown under the name this page
// knows for its `author` (a member's, a person present or seen here), and
// under its `authorName` only for an author this page knows no name of;
// that name is never kept as the author's (authorOf).
import { generateKeyBetween } from 'fractional-indexing';
import type { ElementJSON, LocalOp } from './crdt';
import type { FeatureContext } from './featurekit';
import { myName, uuidv7 } from './ids';
import { localGet, localKeys, localSet } from './store';
import { api } from './api';
import { t as tr, type Key } from './i18n';
import { en } from './i18n/en';

/** How long the members' listing is taken as current (ms): asked again when a comment is written after that. */
const MEMBERS_FRESH_MS = 60_000;

/** The board root's id (docs/SCHEMA.md): a thread's first comment has it as parent. */
const ROOT_ID = '00000000-0000-0000-0000-000000000000';

export interface Thread {
  id: string;
  first: ElementJSON;
  replies: ElementJSON[];
  resolved: boolean;
  target?: string;
  x: number;
  y: number;
}

interface ThreadView {
  root: HTMLElement;
  body: HTMLElement;
  reply: HTMLTextAreaElement;
  resolve: HTMLButtonElement;
  /** The thread's element, named in its header; a click goes there. */
  on: HTMLButtonElement;
}

/** The words of a thread's header, from the catalogue (src/i18n), read when shown. */
const ON = {
  element: (what: string) => tr('comments.on', { what }),
  get point() { return tr('comments.on.point'); },
  get gone() { return tr('comments.on.gone'); },
  get title() { return tr('comments.on.title'); },
  /** A kind's name with its article ("a note"), or undefined for a kind without one. */
  kind: (k: string): string | undefined => (`comments.kind.${k}` in en ? tr(`comments.kind.${k}` as Key) : undefined),
};

function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

export class Comments {
  readonly panel: HTMLElement;
  private list: HTMLElement;
  private composer: HTMLElement;
  private draft: HTMLTextAreaElement;
  private pending: { target?: string; x: number; y: number } | null = null;
  private views = new Map<string, ThreadView>();
  private pins = new Map<string, HTMLButtonElement>();
  private threads: Thread[] = [];
  private stale = true;
  private placing = false;
  private showResolved = false;
  private modeBtn: HTMLButtonElement;
  private suggest: HTMLElement;
  /** user id → name, of everyone seen on this board. */
  private people = new Map<string, string>();
  /** The thread last opened or pointed at: its element is outlined while the panel is open. */
  active: string | null = null;
  /** The outline of the active thread's element. */
  private mark: HTMLElement;

  constructor(private f: FeatureContext) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(localGet(localKeys.people(f.host.boardId)) ?? '{}'))) if (typeof v === 'string') this.people.set(k, v);
    } catch {
      /* none known */
    }
    this.mark = h('div', 'fx-target-mark');
    this.mark.hidden = true;
    f.layer.appendChild(this.mark);
    const panel = h('aside', 'panel fx-comments');
    panel.hidden = true;
    panel.setAttribute('aria-label', tr('comments.title'));
    const head = h('div', 'fx-head');
    head.append(h('strong', '', tr('comments.title')));
    const resolvedToggle = h('label', 'fx-small');
    const cb = h('input');
    cb.type = 'checkbox';
    cb.addEventListener('change', () => {
      this.showResolved = cb.checked;
      this.render();
    });
    resolvedToggle.append(cb, ' resolved');
    const close = h('button', 'fx-close', '×');
    close.title = tr('close');
    close.addEventListener('click', () => {
      panel.hidden = true;
      this.f.invalidate();
    });
    head.append(resolvedToggle, close);
    this.list = h('div', 'fx-threads');
    this.list.dataset.none = tr('comments.none');
    this.composer = h('div', 'fx-composer');
    this.composer.hidden = true;
    this.draft = h('textarea');
    this.draft.placeholder = tr('comments.draft');
    this.draft.rows = 3;
    const post = h('button', 'fx-post', tr('comments.post'));
    post.addEventListener('click', () => this.postDraft());
    const cancel = h('button', '', tr('comments.cancel'));
    cancel.addEventListener('click', () => {
      this.pending = null;
      this.composer.hidden = true;
    });
    this.draft.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) this.postDraft();
    });
    this.composer.append(this.draft, post, cancel);
    this.suggest = h('div', 'fx-suggest');
    this.suggest.hidden = true;
    panel.append(head, this.composer, this.list, this.suggest);
    f.menu.parentElement!.appendChild(panel);
    this.panel = panel;
    this.mentions(this.draft);

    this.modeBtn = f.button(tr('comments.mode'), tr('comments.mode.title'), () => this.setPlacing(!this.placing), 'fx-comment-btn comment-only');
    f.button(tr('comments.threads'), tr('comments.threads.title'), () => {
      panel.hidden = !panel.hidden;
      this.f.invalidate();
      this.render();
    }, 'fx-threads-btn');
    f.onChange((ids) => {
      if (ids.some((id) => f.commentIds.has(id))) this.stale = true;
    });
    // A click on the canvas while placing a comment is the comment's place,
    // not a selection: taken in the capture phase, before the board's own.
    const board = f.host.canvas.parentElement!;
    board.addEventListener(
      'pointerdown',
      (e) => {
        if (!this.placing || e.target !== f.host.canvas) return;
        e.stopPropagation();
        e.preventDefault();
        const r = f.host.canvas.getBoundingClientRect();
        const c = f.host.camera();
        const x = c.x + (e.clientX - r.left) / c.zoom;
        const y = c.y + (e.clientY - r.top) / c.zoom;
        const hit = f.host.board.hit(x, y, 2 / c.zoom);
        this.setPlacing(false);
        this.begin(hit ? { target: hit.id, x: Math.round(x), y: Math.round(y) } : { x: Math.round(x), y: Math.round(y) });
      },
      true,
    );
    addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      if (e.key === 'c' && !e.ctrlKey && !e.metaKey && !e.altKey) this.setPlacing(!this.placing);
      else if (e.key === 'Escape' && this.placing) this.setPlacing(false);
    });
  }

  private setPlacing(on: boolean): void {
    if (on && this.f.host.sync.role === 'viewer') {
      this.f.host.toast(tr('comments.viewersCannot'));
      return;
    }
    this.placing = on;
    this.modeBtn.classList.toggle('active', on);
    this.f.host.canvas.classList.toggle('fx-placing', on);
  }

  /** Opens the composer for a new thread at a place. */
  begin(at: { target?: string; x: number; y: number }): void {
    this.pending = at;
    this.composer.dataset.target = at.target ?? '';
    this.panel.hidden = false;
    this.composer.hidden = false;
    this.render();
    this.draft.focus();
  }

  private postDraft(): void {
    const text = this.draft.value.trim();
    if (!text || !this.pending) return;
    if (this.create(text, this.pending)) {
      this.draft.value = '';
      this.pending = null;
      this.composer.hidden = true;
    }
  }

  private authorOps(id: string): LocalOp[] {
    const me = this.f.userId;
    const name = this.f.host.sync.user?.name || myName();
    const ops: LocalOp[] = [{ op: 'set', el: id, key: 'authorName', value: name }];
    if (me) ops.push({ op: 'set', el: id, key: 'author', value: me });
    return ops;
  }

  /** Starts a thread pinned to an element or a point. Returns its id. */
  create(text: string, at: { target?: string; x: number; y: number }): string | null {
    const id = uuidv7();
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'comment' }];
    if (at.target) ops.push({ op: 'set', el: id, key: 'target', value: at.target });
    ops.push({ op: 'set', el: id, key: 'x', value: at.x }, { op: 'set', el: id, key: 'y', value: at.y });
    ops.push(...this.authorOps(id), { op: 'insertText', el: id, field: 'text', pos: 0, text });
    return this.f.apply(ops) ? id : null;
  }

  /** Adds a reply at the end of a thread. */
  reply(thread: string, text: string): string | null {
    const t = this.read().find((x) => x.id === thread);
    if (!t) return null;
    const last = t.replies.length ? t.replies[t.replies.length - 1].pos ?? null : null;
    let pos: string;
    try {
      pos = generateKeyBetween(last || null, null);
    } catch {
      pos = generateKeyBetween(null, null);
    }
    const id = uuidv7();
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'comment' }, { op: 'move', el: id, parent: thread, posKey: pos }, ...this.authorOps(id), { op: 'insertText', el: id, field: 'text', pos: 0, text }];
    return this.f.apply(ops) ? id : null;
  }

  setResolved(thread: string, resolved: boolean): boolean {
    return this.f.apply([{ op: 'set', el: thread, key: 'resolved', value: resolved }]) !== null;
  }

  /** The threads, oldest first (ids are time-ordered UUIDv7). */
  read(): Thread[] {
    if (!this.stale) return this.threads;
    const all = this.f.commentIds.size ? this.f.host.doc.elements([...this.f.commentIds]) : [];
    const live = all.filter((c) => !c.deleted);
    const byId = new Map(live.map((c) => [c.id, c]));
    const threads: Thread[] = [];
    const replies = new Map<string, ElementJSON[]>();
    for (const c of live) {
      const parent = c.parent && c.parent !== ROOT_ID ? c.parent : '';
      if (parent) {
        if (!byId.has(parent)) continue; // the thread was deleted
        let l = replies.get(parent);
        if (!l) replies.set(parent, (l = []));
        l.push(c);
      }
    }
    for (const c of live) {
      const parent = c.parent && c.parent !== ROOT_ID ? c.parent : '';
      if (parent) continue;
      const p = c.props ?? {};
      const rs = (replies.get(c.id) ?? []).sort((a, b) => ((a.pos ?? '') < (b.pos ?? '') ? -1 : (a.pos ?? '') > (b.pos ?? '') ? 1 : a.id < b.id ? -1 : 1));
      threads.push({
        id: c.id,
        first: c,
        replies: rs,
        resolved: p.resolved === true,
        target: typeof p.target === 'string' && p.target ? p.target : undefined,
        x: typeof p.x === 'number' ? p.x : 0,
        y: typeof p.y === 'number' ? p.y : 0,
      });
    }
    threads.sort((a, b) => (a.id < b.id ? -1 : 1));
    this.threads = threads;
    this.stale = false;
    return threads;
  }

  /** Where a thread's pin is, in board units. */
  private anchor(t: Thread): { x: number; y: number } | null {
    if (t.target) {
      const e = this.f.host.board.get(t.target);
      if (!e) return null; // the element is gone: listed, not pinned
      return { x: e.x + e.w, y: e.y };
    }
    return { x: t.x, y: t.y };
  }

  private membersAt = 0;
  private membersLoading: Promise<void> | null = null;

  /**
   * Reads the board's members into the people to mention (at most once a
   * minute); then redraws the panel, whose mentions may now be known.
   * Offline, or refused (a guest who may only view): those seen stay.
   */
  loadMembers(): Promise<void> {
    if (this.membersLoading || Date.now() - this.membersAt < MEMBERS_FRESH_MS) return this.membersLoading ?? Promise.resolve();
    this.membersAt = Date.now();
    const host = this.f.host;
    this.membersLoading = api<{ members: { user: string; name: string }[] }>('GET', `/v1/boards/${host.boardId}/members`, undefined, host.sync.record.token ?? host.token())
      .then((j) => {
        let added = false;
        for (const m of j.members ?? []) {
          if (typeof m.user === 'string' && typeof m.name === 'string' && m.name && this.people.get(m.user) !== m.name) {
            this.people.set(m.user, m.name);
            added = true;
          }
        }
        if (added) this.render();
      })
      .catch(() => {})
      .finally(() => (this.membersLoading = null));
    return this.membersLoading;
  }

  /** People to mention: the board's members, those present now, and those seen on this board before. */
  knownPeople(): string[] {
    void this.loadMembers();
    const s = this.f.host.sync;
    if (s.user) this.people.set(s.user.id, s.user.name || myName());
    for (const p of s.peers.values()) if (p.user && p.name) this.people.set(p.user, p.name);
    this.keepPeople();
    return [...new Set(this.people.values())].sort((a, b) => a.localeCompare(b));
  }

  /** Stores the people seen on this board, for later visits. */
  private keepPeople(): void {
    try {
      localSet(localKeys.people(this.f.host.boardId), JSON.stringify(Object.fromEntries(this.people)));
    } catch {
      /* storage full or denied */
    }
  }

  private mentions(ta: HTMLTextAreaElement): void {
    const update = () => {
      const before = ta.value.slice(0, ta.selectionStart);
      const m = /(^|\s)@([\p{L}\p{N}_.-]*)$/u.exec(before);
      if (!m) {
        this.suggest.hidden = true;
        return;
      }
      const q = m[2].toLowerCase();
      const names = this.knownPeople().filter((n) => n.toLowerCase().startsWith(q) || n.toLowerCase().includes(' ' + q));
      if (!names.length) {
        this.suggest.hidden = true;
        return;
      }
      this.suggest.innerHTML = '';
      for (const name of names.slice(0, 8)) {
        const b = h('button', 'fx-mention', name);
        b.addEventListener('mousedown', (e) => {
          e.preventDefault();
          const start = ta.selectionStart - m[2].length;
          ta.value = ta.value.slice(0, start) + name + ' ' + ta.value.slice(ta.selectionStart);
          ta.selectionStart = ta.selectionEnd = start + name.length + 1;
          this.suggest.hidden = true;
          ta.focus();
        });
        this.suggest.appendChild(b);
      }
      const r = ta.getBoundingClientRect();
      const pr = this.panel.getBoundingClientRect();
      this.suggest.style.top = `${r.bottom - pr.top + 2}px`;
      this.suggest.style.left = `${r.left - pr.left}px`;
      this.suggest.hidden = false;
    };
    ta.addEventListener('input', update);
    ta.addEventListener('blur', () => (this.suggest.hidden = true));
    // The members may arrive while one types: complete with them then.
    ta.addEventListener('focus', () => void this.loadMembers().then(() => document.activeElement === ta && update()));
  }

  /**
   * The name of a comment's author: the one this page knows for its
   * `author` (this person, a peer present, a member, someone seen here),
   * else the `authorName` it carries, else "someone".
   */
  authorOf(c: ElementJSON): string {
    const p = c.props ?? {};
    const known = typeof p.author === 'string' && p.author ? this.nameFor(p.author) : undefined;
    if (known) return known;
    if (typeof p.authorName === 'string' && p.authorName.trim()) return p.authorName;
    return tr('someone');
  }

  /** The name this page knows for a user id, if any (a peer's is kept: seen here). */
  private nameFor(user: string): string | undefined {
    const s = this.f.host.sync;
    if (s.user?.id === user) return s.user.name || myName();
    for (const p of s.peers.values()) {
      if (p.user === user && p.name) {
        if (this.people.get(user) !== p.name) {
          this.people.set(user, p.name);
          this.keepPeople();
        }
        return p.name;
      }
    }
    return this.people.get(user);
  }

  private message(c: ElementJSON): HTMLElement {
    const m = h('div', 'fx-msg');
    m.dataset.id = c.id;
    const who = h('div', 'fx-who', this.authorOf(c));
    const ms = parseInt(c.id.replace(/-/g, '').slice(0, 12), 16);
    if (Number.isFinite(ms)) who.title = new Date(ms).toLocaleString();
    const body = h('div', 'fx-text');
    // Text with @mentions highlighted; never HTML.
    const text = c.text?.text ?? '';
    const names = [...new Set(this.people.values())].sort((a, b) => b.length - a.length);
    let i = 0;
    while (i < text.length) {
      const at = text.indexOf('@', i);
      if (at < 0) break;
      const name = names.find((n) => text.startsWith(n, at + 1));
      if (!name) {
        body.append(text.slice(i, at + 1));
        i = at + 1;
        continue;
      }
      body.append(text.slice(i, at), h('span', 'fx-at', '@' + name));
      i = at + 1 + name.length;
    }
    body.append(text.slice(i));
    m.append(who, body);
    return m;
  }

  private view(t: Thread): ThreadView {
    let v = this.views.get(t.id);
    if (v) return v;
    const root = h('section', 'fx-thread');
    root.dataset.id = t.id;
    const body = h('div', 'fx-msgs');
    body.addEventListener('click', () => this.focusThread(t.id));
    const reply = h('textarea');
    reply.rows = 1;
    reply.placeholder = tr('comments.reply.placeholder');
    this.mentions(reply);
    const send = h('button', 'fx-send', tr('comments.reply'));
    const doReply = () => {
      const text = reply.value.trim();
      if (text && this.reply(t.id, text)) reply.value = '';
    };
    send.addEventListener('click', doReply);
    reply.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        doReply();
      }
    });
    const resolve = h('button', 'fx-resolve');
    resolve.addEventListener('click', () => {
      const cur = this.read().find((x) => x.id === t.id);
      if (cur) this.setResolved(t.id, !cur.resolved);
    });
    const row = h('div', 'fx-row');
    row.append(reply, send, resolve);
    const on = h('button', 'fx-on');
    on.title = ON.title;
    on.addEventListener('click', () => {
      this.setActive(t.id);
      this.focusThread(t.id);
    });
    root.addEventListener('pointerenter', () => this.setActive(t.id));
    root.append(on, body, row);
    v = { root, body, reply, resolve, on };
    this.views.set(t.id, v);
    return v;
  }

  /** Shows a thread's place on the board. */
  focusThread(id: string): void {
    const t = this.read().find((x) => x.id === id);
    if (!t) return;
    if (t.target && this.f.zoomTo(t.target)) return;
    const h2 = this.f.host;
    const c = h2.camera();
    const W = h2.renderer.width || innerWidth;
    const H = h2.renderer.height || innerHeight;
    h2.setCamera({ x: t.x - W / 2 / c.zoom, y: t.y - H / 2 / c.zoom, zoom: c.zoom });
  }

  /** Makes a thread the active one (its element outlined). */
  setActive(id: string | null): void {
    if (this.active === id) return;
    this.active = id;
    for (const [tid, v] of this.views) v.root.classList.toggle('fx-active', tid === id);
    this.f.invalidate();
  }

  /** What a thread's header says of its element: its text or title, else its kind. */
  private onLabel(t: Thread): { text: string; gone: boolean } {
    if (!t.target) return { text: ON.point, gone: false };
    const e = this.f.host.board.get(t.target);
    if (!e || e.deleted) return { text: ON.gone, gone: true };
    const words = (e.text.text || e.text.title || e.text.label || '').trim().split('\n')[0];
    const what = words ? `“${words.length > 60 ? words.slice(0, 59) + '…' : words}”` : (ON.kind(e.kind) ?? e.kind);
    return { text: ON.element(what), gone: false };
  }

  /** Opens the panel on a thread. */
  open(id: string): void {
    this.setActive(id);
    this.panel.hidden = false;
    this.render();
    const v = this.views.get(id);
    v?.root.scrollIntoView({ block: 'nearest' });
    v?.root.classList.add('fx-flash');
    setTimeout(() => v?.root.classList.remove('fx-flash'), 900);
  }

  /** Redraws the panel's list (keeping reply drafts and focus). */
  render(): void {
    if (this.panel.hidden) return;
    this.knownPeople(); // the names @mentions are highlighted by
    const threads = this.read().filter((t) => this.showResolved || !t.resolved);
    const keep = new Set<string>();
    let prev: HTMLElement | null = null;
    for (const t of threads) {
      const v = this.view(t);
      keep.add(t.id);
      v.body.innerHTML = '';
      v.body.append(this.message(t.first), ...t.replies.map((r) => this.message(r)));
      v.root.classList.toggle('resolved', t.resolved);
      v.root.classList.toggle('fx-active', t.id === this.active);
      const on = this.onLabel(t);
      v.on.textContent = on.text;
      v.on.disabled = on.gone;
      v.on.dataset.target = t.target ?? '';
      v.resolve.textContent = t.resolved ? tr('comments.reopen') : tr('comments.resolve');
      v.resolve.disabled = this.f.host.sync.role === 'viewer';
      v.reply.disabled = this.f.host.sync.role === 'viewer';
      const where: ChildNode | null = prev ? prev.nextSibling : this.list.firstChild;
      if (v.root !== where) this.list.insertBefore(v.root, where);
      prev = v.root;
    }
    for (const [id, v] of this.views) {
      if (!keep.has(id)) {
        v.root.remove();
        if (!this.read().some((t) => t.id === id)) this.views.delete(id);
      }
    }
    if (!threads.length && this.list.dataset.empty !== '1') this.list.dataset.empty = '1';
    else if (threads.length) delete this.list.dataset.empty;
  }

  /** Outlines the active thread's element while the panel is open (the pin's thread, visibly tied to it). */
  private markTarget(threads: Thread[]): void {
    const t = !this.panel.hidden && this.active ? threads.find((x) => x.id === this.active) : undefined;
    const e = t?.target ? this.f.host.board.get(t.target) : undefined;
    if (!e || e.deleted || e.hidden) {
      this.mark.hidden = true;
      return;
    }
    const a = this.f.toScreen(e.x, e.y);
    const b = this.f.toScreen(e.x + e.w, e.y + e.h);
    this.mark.style.left = `${a.x - 4}px`;
    this.mark.style.top = `${a.y - 4}px`;
    this.mark.style.width = `${b.x - a.x + 8}px`;
    this.mark.style.height = `${b.y - a.y + 8}px`;
    this.mark.dataset.target = e.id;
    this.mark.hidden = false;
  }

  /** Places the pins of the open threads (each frame the view or the board moved). */
  layout(): void {
    const wasStale = this.stale;
    const threads = this.read();
    if (wasStale) this.render();
    const live = new Set<string>();
    for (const t of threads) {
      if (t.resolved) continue;
      const a = this.anchor(t);
      if (!a) continue;
      live.add(t.id);
      let pin = this.pins.get(t.id);
      if (!pin) {
        pin = h('button', 'fx-pin');
        pin.dataset.id = t.id;
        const id = t.id;
        pin.addEventListener('pointerdown', (e) => e.stopPropagation());
        pin.addEventListener('click', (e) => {
          e.stopPropagation();
          this.open(id);
        });
        this.pins.set(t.id, pin);
        this.f.layer.appendChild(pin);
      }
      const n = 1 + t.replies.length;
      pin.textContent = String(n);
      pin.title = `${this.authorOf(t.first)}: ${(t.first.text?.text ?? '').slice(0, 80)}${n > 1 ? ` (+${n - 1})` : ''}`;
      const p = this.f.toScreen(a.x, a.y);
      pin.style.left = `${p.x}px`;
      pin.style.top = `${p.y}px`;
    }
    this.markTarget(threads);
    for (const [id, pin] of this.pins) {
      if (!live.has(id)) {
        pin.remove();
        this.pins.delete(id);
      }
    }
  }
}
