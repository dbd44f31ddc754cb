// The board page: an infinite canvas over the board's CRDT, kept in sync
// with the node by Sync, stored in IndexedDB, drawn by Renderer.
import { generateKeyBetween } from 'fractional-indexing';
import { CrdtDoc, loadCRDT, type LocalOp } from './crdt';
import { PALETTE, myColor, myName, setMyName, uuidv7 } from './ids';
import { Board, intersects, type Box, type El } from './model';
import { Renderer, corners, HANDLE_PX, type Camera, type Overlay, type RemoteCursor } from './render';
import { claimNew, claimReplica, sweepReplicas } from './replica';
import { openStore, type BoardRecord } from './store';
import { Sync, type Peer, type PresenceData } from './sync';
import { TextEditor } from './textedit';

type Tool = 'select' | 'hand' | 'note' | 'rectangle' | 'ellipse' | 'diamond' | 'text';

const TOOLS: { tool: Tool; label: string; key: string; icon: string }[] = [
  { tool: 'select', label: 'Select', key: 'v', icon: '<path d="M5 3l14 8-6 1.5L10 19z"/>' },
  { tool: 'hand', label: 'Pan', key: 'h', icon: '<path d="M8 11V5a1.5 1.5 0 013 0v5m0-1V3.5a1.5 1.5 0 013 0V10m0-4.5a1.5 1.5 0 013 0V12m0-3.5a1.5 1.5 0 013 0V15a6 6 0 01-6 6h-1.5a6 6 0 01-5-2.7L4 14a1.6 1.6 0 012.6-1.8L8 14"/>' },
  { tool: 'note', label: 'Sticky note', key: 'n', icon: '<path d="M4 4h16v11l-5 5H4z M15 20v-5h5"/>' },
  { tool: 'rectangle', label: 'Rectangle', key: 'r', icon: '<rect x="4" y="6" width="16" height="12" rx="1"/>' },
  { tool: 'ellipse', label: 'Ellipse', key: 'o', icon: '<ellipse cx="12" cy="12" rx="8.5" ry="6.5"/>' },
  { tool: 'diamond', label: 'Diamond', key: 'd', icon: '<path d="M12 3l9 9-9 9-9-9z"/>' },
  { tool: 'text', label: 'Text', key: 't', icon: '<path d="M5 6V4h14v2M12 4v16M9 20h6"/>' },
];

const ZOOM_MIN = 0.05;
const ZOOM_MAX = 4;

type Drag =
  | { kind: 'pan'; sx: number; sy: number; cx: number; cy: number }
  | { kind: 'move'; sx: number; sy: number; ids: string[]; orig: Map<string, Box>; dx: number; dy: number; moved: boolean }
  | { kind: 'resize'; id: string; corner: number; orig: Box; box: Box }
  | { kind: 'marquee'; sx: number; sy: number; base: Set<string>; box: Box };

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

function icon(path: string): SVGSVGElement {
  const s = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('aria-hidden', 'true');
  s.innerHTML = path;
  return s;
}

/** Starts the board page in root. */
export async function startBoard(root: HTMLElement, boardId: string): Promise<void> {
  const params = new URLSearchParams(location.search);
  root.innerHTML = '';
  const ui = buildUI(root);
  ui.status.textContent = 'Loading…';

  const [store] = await Promise.all([openStore(), loadCRDT()]);
  let rec: BoardRecord = (await store.getBoard(boardId)) ?? { id: boardId, lastOpened: Date.now() };
  const urlToken = params.get('token') ?? undefined;
  if (urlToken) rec.token = urlToken;
  rec.lastOpened = Date.now();
  void store.putBoard(rec);

  // The board's name and our role, when the node can be reached; offline,
  // the stored copy is all there is, and that is fine.
  void fetch(`/v1/boards/${boardId}`, { headers: rec.token ? { Authorization: 'Bearer ' + rec.token } : {} })
    .then(async (r) => {
      if (r.ok) {
        const j = await r.json();
        rec = { ...rec, name: j.board.name };
        ui.name.textContent = j.board.name;
        document.title = `${j.board.name} · Corkboard`;
        void store.putBoard(rec);
      } else if (r.status === 404 || r.status === 400) {
        fatal(root, 'There is no such board on this server.');
      } else if (r.status === 401) {
        const j = await r.json().catch(() => null);
        fatal(root, `This board needs a valid link (${j?.error?.message ?? 'unauthorized'}).`);
      }
    })
    .catch(() => {});
  if (rec.name) {
    ui.name.textContent = rec.name;
    document.title = `${rec.name} · Corkboard`;
  }

  const claim = await claimReplica(store, boardId, rec.token);
  if (!claim.rec.token && rec.token) claim.rec.token = rec.token;
  const doc = new CrdtDoc();
  const board = new Board();
  const renderer = new Renderer(ui.canvas);
  const app = new BoardApp(root, ui, boardId, rec, doc, board, renderer);
  const sync = new Sync({
    board: boardId,
    name: myName(),
    color: myColor(),
    store,
    doc,
    claim,
    newClaim: () => claimNew(store, boardId, rec.token),
    events: {
      beforeRemote: () => app.editor.commit(),
      remote: (ids) => app.remote(ids),
      state: () => app.showState(),
      peers: () => app.peersChanged(),
      notice: (m, err) => app.toast(m, err),
    },
  });
  app.sync = sync;
  await sync.load();
  board.upsert(doc.elements());
  app.start();
  sync.start();
  void sweepReplicas(store, boardId, claim.rec.replica);
  registerServiceWorker();
}

function fatal(root: HTMLElement, msg: string): void {
  const box = h('div', { class: 'fatal' }, h('h1', {}, 'Corkboard'), h('p', {}, msg), h('p', {}, h('a', { href: '/' }, 'Create a board')));
  root.querySelector('.fatal')?.remove();
  root.appendChild(box);
}

function registerServiceWorker(): void {
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('/sw.js').catch((e) => console.warn('corkboard: no offline shell', e));
  }
}

interface UI {
  canvas: HTMLCanvasElement;
  layer: HTMLElement;
  name: HTMLElement;
  status: HTMLElement;
  retry: HTMLButtonElement;
  tools: Map<Tool, HTMLButtonElement>;
  people: HTMLElement;
  share: HTMLButtonElement;
  context: HTMLElement;
  zoom: HTMLElement;
  undo: HTMLButtonElement;
  redo: HTMLButtonElement;
  toast: HTMLElement;
}

function buildUI(root: HTMLElement): UI {
  const canvas = h('canvas', { class: 'canvas', tabindex: '0', 'aria-label': 'Board' });
  const layer = h('div', { class: 'layer' });
  const name = h('span', { class: 'board-name' }, 'Board');
  const status = h('span', { class: 'conn', 'data-state': 'connecting', role: 'status' });
  const retry = h('button', { class: 'retry', hidden: '' }, 'Retry');
  const top = h('div', { class: 'panel topbar' }, h('a', { class: 'logo', href: '/', title: 'Home' }, 'Corkboard'), name, status, retry);
  const tools = new Map<Tool, HTMLButtonElement>();
  const bar = h('div', { class: 'panel toolbar', role: 'toolbar' });
  for (const t of TOOLS) {
    const b = h('button', { 'data-tool': t.tool, title: `${t.label} (${t.key.toUpperCase()})`, 'aria-label': t.label });
    b.appendChild(icon(t.icon));
    bar.appendChild(b);
    tools.set(t.tool, b);
  }
  const people = h('div', { class: 'avatars' });
  const share = h('button', { class: 'share' }, 'Share');
  const right = h('div', { class: 'panel people' }, people, share);
  const context = h('div', { class: 'panel context', hidden: '' });
  const zoom = h('div', { class: 'panel zoom' });
  const undo = h('button', { title: 'Undo (Ctrl+Z)', 'aria-label': 'Undo' });
  undo.appendChild(icon('<path d="M9 14L4 9l5-5M4 9h10a6 6 0 010 12h-3"/>'));
  const redo = h('button', { title: 'Redo (Ctrl+Shift+Z)', 'aria-label': 'Redo' });
  redo.appendChild(icon('<path d="M15 14l5-5-5-5M20 9H10a6 6 0 000 12h3"/>'));
  const history = h('div', { class: 'panel history' }, undo, redo);
  const toast = h('div', { class: 'toast', hidden: '', role: 'alert' });
  root.append(h('div', { class: 'board' }, canvas, layer, top, bar, right, context, zoom, history, toast));
  return { canvas, layer, name, status, retry, tools, people, share, context, zoom, undo, redo, toast };
}

class BoardApp {
  sync!: Sync;
  readonly editor: TextEditor;
  private cam: Camera = { x: -200, y: -150, zoom: 1 };
  private tool: Tool = 'select';
  private selection = new Set<string>();
  private drag: Drag | null = null;
  private pointers = new Map<number, { x: number; y: number }>();
  private pinch: { dist: number; cx: number; cy: number } | null = null;
  private space = false;
  private cursor: { x: number; y: number } | null = null;
  private noteColor = 'yellow';
  private drawQueued = false;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  /** Peers' drags that ended, shown until their change arrives. */
  private ghosts = new Map<string, { box: Box; base: Box; until: number }>();
  private remoteDrag = new Map<string, Map<string, Box>>();

  constructor(
    private root: HTMLElement,
    private ui: UI,
    private boardId: string,
    private rec: BoardRecord,
    private doc: CrdtDoc,
    private board: Board,
    private renderer: Renderer,
  ) {
    this.editor = new TextEditor(ui.layer, {
      renderer,
      element: (id) => this.board.get(id),
      text: (id, field) => this.doc.text(id, field),
      edit: (ops) => this.edit(ops, true) !== null,
      camera: () => this.cam,
      changed: () => this.redraw(),
      history: (redo) => this.history(redo),
    });
  }

  start(): void {
    this.bind();
    const saved = localStorage.getItem('cb.cam.' + this.boardId);
    if (saved) {
      try {
        const c = JSON.parse(saved);
        if ([c.x, c.y, c.zoom].every(Number.isFinite)) this.cam = c;
      } catch {
        /* ignore */
      }
    } else {
      this.renderer.resize();
      this.fit();
    }
    this.setTool('select');
    this.onResize();
    this.showState();
    this.peersChanged();
    (window as unknown as { __corkboard: unknown }).__corkboard = {
      doc: this.doc,
      board: this.board,
      sync: this.sync,
      app: this,
      camera: () => ({ ...this.cam }),
      /** A summary for tests and debugging. */
      state: () => ({
        state: this.sync.state,
        replica: this.sync.replica,
        unacked: this.sync.unacked,
        role: this.sync.role,
        peers: [...this.sync.peers.values()].map((p) => p.name),
        elements: [...this.board.els.values()].filter((e) => !e.deleted).map((e) => ({ id: e.id, kind: e.kind, x: e.x, y: e.y, w: e.w, h: e.h, text: e.text.text ?? '', color: e.props.color })),
      }),
      /** Board coordinates → page (CSS) pixels. */
      toScreen: (x: number, y: number) => {
        const r = this.ui.canvas.getBoundingClientRect();
        return { x: r.left + (x - this.cam.x) * this.cam.zoom, y: r.top + (y - this.cam.y) * this.cam.zoom };
      },
    };
  }

  // ---- state from the doc ----

  /** Re-reads elements from the doc after a change. */
  private refresh(ids: string[]): void {
    if (!ids.length) return;
    this.board.upsert(this.doc.elements(ids));
    for (const id of ids) if (!this.board.get(id)) this.selection.delete(id);
    this.redraw();
  }

  remote(ids: string[] | null): void {
    if (ids === null) {
      this.board.clear();
      this.board.upsert(this.doc.elements());
      for (const id of [...this.selection]) if (!this.board.get(id)) this.selection.delete(id);
      this.redraw();
    } else this.refresh(ids);
    if (this.editor.open && (ids === null || ids.includes(this.editor.id!))) this.editor.refresh();
    this.showContext();
    this.showState();
  }

  get canEdit(): boolean {
    const r = this.sync?.role;
    return r !== 'viewer' && r !== 'commenter';
  }

  /**
   * Applies ops as one local change: at once to the doc and the screen,
   * into the outbox, and out to the node. fromEditor: the text editor's own
   * commit (anything else commits pending typing first).
   */
  edit(ops: LocalOp[], fromEditor = false): string[] | null {
    if (!this.canEdit) {
      this.toast('You can only view this board.');
      return null;
    }
    if (!this.sync.canWrite) {
      this.toast('Catching up with the server before your next edit…');
      return null;
    }
    if (!fromEditor) this.editor.commit();
    let c;
    try {
      c = this.doc.edit(ops);
    } catch (e) {
      console.error('corkboard: edit failed', e, ops);
      this.toast('That edit could not be made: ' + (e as Error).message, true);
      return null;
    }
    if (!c) return [];
    if (c.error) console.warn('corkboard: edit partly failed:', c.error);
    this.sync.commit(c);
    this.refresh(c.ids);
    this.showContext();
    return c.ids;
  }

  history(redo: boolean): void {
    if (!this.canEdit || !this.sync.canWrite) return;
    this.editor.commit();
    const c = redo ? this.doc.redo() : this.doc.undo();
    if (!c) return;
    this.sync.commit(c);
    this.refresh(c.ids);
    if (this.editor.open && c.ids.includes(this.editor.id!)) this.editor.refresh();
    this.showContext();
  }

  // ---- making things ----

  private topZ(): string {
    let z: string;
    try {
      z = generateKeyBetween(this.board.maxZ, null);
    } catch {
      z = generateKeyBetween(null, null); // a key we cannot read: start afresh
    }
    this.board.maxZ = z;
    return z;
  }

  private author(id: string): LocalOp[] {
    const user = this.sync.user?.id;
    return user ? [{ op: 'set', el: id, key: 'author', value: user }] : [];
  }

  createAt(tool: Tool, x: number, y: number): string | null {
    const id = uuidv7();
    const set = (key: string, value: unknown): LocalOp => ({ op: 'set', el: id, key, value });
    let ops: LocalOp[];
    if (tool === 'note') {
      ops = [{ op: 'create', el: id, kind: 'note' }, set('x', Math.round(x - 100)), set('y', Math.round(y - 100)), set('w', 200), set('h', 200), set('color', this.noteColor), set('z', this.topZ()), ...this.author(id)];
    } else if (tool === 'text') {
      ops = [{ op: 'create', el: id, kind: 'text' }, set('x', Math.round(x)), set('y', Math.round(y - 16)), set('w', 280), set('h', 34), set('fontSize', 24), set('z', this.topZ())];
    } else {
      ops = [
        { op: 'create', el: id, kind: 'shape' },
        set('shape', tool),
        set('x', Math.round(x - 80)),
        set('y', Math.round(y - 60)),
        set('w', 160),
        set('h', 120),
        set('fill', '#ffffff'),
        set('stroke', '#1e1e1e'),
        set('z', this.topZ()),
      ];
    }
    if (!this.edit(ops)) return null;
    this.selection = new Set([id]);
    return id;
  }

  deleteSelection(): void {
    if (!this.selection.size) return;
    this.edit([...this.selection].map((id) => ({ op: 'delete', el: id }) as LocalOp));
    this.selection.clear();
    this.afterSelect();
  }

  duplicateSelection(): void {
    const ops: LocalOp[] = [];
    const fresh = new Set<string>();
    for (const id of this.selection) {
      const e = this.board.get(id);
      if (!e || !['note', 'shape', 'text'].includes(e.kind)) continue;
      const nid = uuidv7();
      fresh.add(nid);
      ops.push({ op: 'create', el: nid, kind: e.kind });
      for (const [k, v] of Object.entries(e.props)) {
        if (k === 'author') continue;
        ops.push({ op: 'set', el: nid, key: k, value: k === 'x' || k === 'y' ? (v as number) + 24 : k === 'z' ? this.topZ() : v });
      }
      for (const [field, t] of Object.entries(e.text)) if (t) ops.push({ op: 'insertText', el: nid, field, pos: 0, text: t });
      ops.push(...this.author(nid).filter(() => e.kind === 'note'));
    }
    if (ops.length && this.edit(ops)) {
      this.selection = fresh;
      this.afterSelect();
    }
  }

  setColor(color: string): void {
    const ops: LocalOp[] = [];
    for (const id of this.selection) {
      const e = this.board.get(id);
      if (!e) continue;
      if (e.kind === 'note') ops.push({ op: 'set', el: id, key: 'color', value: color });
      else if (e.kind === 'shape') ops.push({ op: 'set', el: id, key: 'fill', value: PALETTE[color] ? color : '#ffffff' });
    }
    if (this.selection.size && [...this.selection].every((id) => this.board.get(id)?.kind === 'note')) this.noteColor = color;
    if (ops.length) this.edit(ops);
  }

  // ---- view ----

  private toBoard(sx: number, sy: number): { x: number; y: number } {
    return { x: this.cam.x + sx / this.cam.zoom, y: this.cam.y + sy / this.cam.zoom };
  }

  private zoomAt(sx: number, sy: number, factor: number): void {
    const z = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.cam.zoom * factor));
    const p = this.toBoard(sx, sy);
    this.cam = { x: p.x - sx / z, y: p.y - sy / z, zoom: z };
    this.viewChanged();
  }

  private panBy(dx: number, dy: number): void {
    this.cam = { ...this.cam, x: this.cam.x - dx / this.cam.zoom, y: this.cam.y - dy / this.cam.zoom };
    this.viewChanged();
  }

  fit(): void {
    const b = this.board.bounds();
    const W = this.renderer.width || innerWidth;
    const H = this.renderer.height || innerHeight;
    if (!b) {
      this.cam = { x: -W / 2, y: -H / 2, zoom: 1 };
    } else {
      const z = Math.min(1, Math.max(ZOOM_MIN, Math.min((W - 120) / b.w, (H - 160) / b.h)));
      this.cam = { x: b.x + b.w / 2 - W / 2 / z, y: b.y + b.h / 2 - H / 2 / z, zoom: z };
    }
    this.viewChanged();
  }

  private camSaveTimer: ReturnType<typeof setTimeout> | undefined;

  private viewChanged(): void {
    this.editor.position();
    this.ui.zoom.querySelector('.pct')!.textContent = Math.round(this.cam.zoom * 100) + '%';
    clearTimeout(this.camSaveTimer);
    this.camSaveTimer = setTimeout(() => localStorage.setItem('cb.cam.' + this.boardId, JSON.stringify(this.cam)), 300);
    this.redraw();
  }

  private onResize(): void {
    this.renderer.resize();
    this.viewChanged();
  }

  redraw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.draw();
    });
  }

  private draw(): void {
    const preview = new Map<string, Box>();
    const now = Date.now();
    for (const [id, g] of this.ghosts) {
      const e = this.board.get(id);
      if (!e || now > g.until || e.x !== g.base.x || e.y !== g.base.y || e.w !== g.base.w || e.h !== g.base.h) this.ghosts.delete(id);
      else preview.set(id, g.box);
    }
    for (const m of this.remoteDrag.values()) for (const [id, b] of m) preview.set(id, b);
    const d = this.drag;
    if (d?.kind === 'move' && d.moved) for (const [id, b] of d.orig) preview.set(id, { ...b, x: b.x + d.dx, y: b.y + d.dy });
    if (d?.kind === 'resize') preview.set(d.id, d.box);
    const remoteSelection = new Map<string, string>();
    const cursors: RemoteCursor[] = [];
    for (const p of this.sync.peers.values()) {
      const color = p.color || '#868e96';
      for (const id of p.data?.sel ?? []) remoteSelection.set(id, color);
      if (p.data?.c) cursors.push({ x: p.data.c.x, y: p.data.c.y, name: p.name, color });
    }
    const ov: Overlay = {
      selection: this.selection,
      editing: this.editor.id ?? undefined,
      marquee: d?.kind === 'marquee' ? d.box : undefined,
      preview,
      remoteSelection,
      cursors,
      handles: !this.editor.open && d?.kind !== 'move',
    };
    this.renderer.draw(this.board, this.cam, ov);
    if (this.ghosts.size) this.redraw();
  }

  // ---- presence ----

  private presence(): void {
    const data: PresenceData = {};
    if (this.cursor) data.c = { x: Math.round(this.cursor.x), y: Math.round(this.cursor.y) };
    if (this.selection.size) data.sel = [...this.selection].slice(0, 20);
    const d = this.drag;
    if (d?.kind === 'move' && d.moved) data.drag = { ids: d.ids.slice(0, 12), dx: Math.round(d.dx), dy: Math.round(d.dy) };
    if (d?.kind === 'resize') data.box = { id: d.id, ...roundBox(d.box) };
    this.sync.presence(data);
  }

  peersChanged(): void {
    // Live drags of peers become previews; a drag that ended stays as a
    // ghost until its change arrives (presence can overtake changes).
    const now = Date.now();
    const live = new Set<string>();
    for (const p of this.sync.peers.values()) {
      live.add(p.session);
      const m = new Map<string, Box>();
      const dr = p.data?.drag;
      if (dr) {
        for (const id of dr.ids) {
          const e = this.board.get(id);
          if (e) m.set(id, { x: e.x + dr.dx, y: e.y + dr.dy, w: e.w, h: e.h });
        }
      }
      const bx = p.data?.box;
      if (bx && this.board.get(bx.id)) m.set(bx.id, { x: bx.x, y: bx.y, w: bx.w, h: bx.h });
      const before = this.remoteDrag.get(p.session);
      if (before) for (const [id, b] of before) if (!m.has(id)) this.ghost(id, b, now);
      if (m.size) this.remoteDrag.set(p.session, m);
      else this.remoteDrag.delete(p.session);
    }
    for (const s of [...this.remoteDrag.keys()]) if (!live.has(s)) this.remoteDrag.delete(s);
    this.showPeople();
    this.redraw();
  }

  private ghost(id: string, box: Box, now: number): void {
    const e = this.board.get(id);
    if (e) this.ghosts.set(id, { box, base: { x: e.x, y: e.y, w: e.w, h: e.h }, until: now + 1500 });
  }

  private showPeople(): void {
    const el = this.ui.people;
    el.innerHTML = '';
    const me = h('button', { class: 'avatar me', title: `You (${this.sync.user?.name ?? myName()}) · click to rename`, style: `background:${myColor()}` }, initials(this.sync.user?.name ?? myName()));
    me.addEventListener('click', () => {
      const n = prompt('Your name', myName());
      if (n && n.trim()) {
        setMyName(n.trim());
        location.reload();
      }
    });
    el.appendChild(me);
    const peers = [...this.sync.peers.values()];
    for (const p of peers.slice(0, 8)) el.appendChild(h('span', { class: 'avatar', title: p.name, style: `background:${p.color || '#868e96'}` }, initials(p.name)));
    if (peers.length > 8) el.appendChild(h('span', { class: 'avatar more' }, '+' + (peers.length - 8)));
    el.setAttribute('data-count', String(peers.length + 1));
    el.title = [this.sync.user?.name ?? myName(), ...peers.map((p: Peer) => p.name)].join(', ');
  }

  showState(): void {
    const s = this.sync;
    if (!s) return;
    const n = s.unacked;
    const el = this.ui.status;
    el.dataset.state = s.state;
    el.dataset.pending = String(n);
    let text: string;
    switch (s.state) {
      case 'live':
        text = n ? `Live · saving ${n}` : 'Live';
        break;
      case 'syncing':
        text = 'Syncing…';
        break;
      case 'connecting':
        text = n ? `Connecting… · ${n} pending` : 'Connecting…';
        break;
      case 'offline':
        text = `Offline · ${n} pending`;
        break;
      default:
        text = 'Disconnected';
    }
    el.textContent = text;
    el.title = s.detail || (s.state === 'live' ? 'Changes are saved on the server as you make them' : '');
    this.ui.retry.hidden = !(s.state === 'stopped' || s.state === 'offline');
    if (s.state === 'stopped' && s.detail) el.textContent = `Disconnected: ${s.detail}`;
    this.ui.undo.disabled = !this.doc.canUndo();
    this.ui.redo.disabled = !this.doc.canRedo();
    this.root.classList.toggle('readonly', !this.canEdit);
  }

  toast(msg: string, error = false): void {
    const t = this.ui.toast;
    t.textContent = msg;
    t.classList.toggle('error', error);
    t.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.hidden = true), error ? 8000 : 2500);
  }

  // ---- selection and tools ----

  setTool(t: Tool): void {
    this.tool = t;
    for (const [k, b] of this.ui.tools) b.classList.toggle('active', k === t);
    this.ui.canvas.dataset.tool = t;
  }

  private afterSelect(): void {
    this.showContext();
    this.presence();
    this.redraw();
  }

  private showContext(): void {
    const c = this.ui.context;
    const sel = [...this.selection].map((id) => this.board.get(id)).filter((e): e is El => !!e);
    if (!sel.length || this.drag) {
      c.hidden = true;
      return;
    }
    c.hidden = false;
    c.innerHTML = '';
    if (sel.some((e) => e.kind === 'note' || e.kind === 'shape')) {
      for (const name of Object.keys(PALETTE)) {
        const b = h('button', { class: 'swatch', title: name, 'aria-label': `Colour ${name}`, 'data-color': name, style: `background:${PALETTE[name]}` });
        b.addEventListener('click', () => this.setColor(name));
        c.appendChild(b);
      }
    }
    const del = h('button', { class: 'del', title: 'Delete (Del)', 'aria-label': 'Delete' });
    del.appendChild(icon('<path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13"/>'));
    del.addEventListener('click', () => this.deleteSelection());
    c.appendChild(del);
    // Above the selection, centred.
    const b = sel.reduce<Box>((acc, e) => union(acc, e), { x: sel[0].x, y: sel[0].y, w: sel[0].w, h: sel[0].h });
    const x = (b.x + b.w / 2 - this.cam.x) * this.cam.zoom;
    const y = (b.y - this.cam.y) * this.cam.zoom;
    c.style.left = `${Math.max(8, x)}px`;
    c.style.top = `${Math.max(64, y - 56)}px`;
  }

  // ---- input ----

  private bind(): void {
    const cv = this.ui.canvas;
    addEventListener('resize', () => this.onResize());
    cv.addEventListener('pointerdown', (e) => this.down(e));
    cv.addEventListener('pointermove', (e) => this.move(e));
    cv.addEventListener('pointerup', (e) => this.up(e));
    cv.addEventListener('pointercancel', (e) => this.up(e));
    cv.addEventListener('pointerleave', () => {
      this.cursor = null;
      this.presence();
    });
    cv.addEventListener('dblclick', (e) => this.dblclick(e));
    cv.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    cv.addEventListener('contextmenu', (e) => e.preventDefault());
    addEventListener('keydown', (e) => this.key(e));
    addEventListener('keyup', (e) => {
      if (e.code === 'Space') {
        this.space = false;
        cv.classList.remove('grab');
      }
    });
    for (const [t, b] of this.ui.tools) b.addEventListener('click', () => this.setTool(t));
    this.ui.undo.addEventListener('click', () => this.history(false));
    this.ui.redo.addEventListener('click', () => this.history(true));
    this.ui.retry.addEventListener('click', () => this.sync.retry());
    this.ui.share.addEventListener('click', () => this.share());
    const z = this.ui.zoom;
    const out = h('button', { 'aria-label': 'Zoom out', title: 'Zoom out' }, '−');
    const pct = h('button', { class: 'pct', title: 'Reset zoom' }, '100%');
    const inn = h('button', { 'aria-label': 'Zoom in', title: 'Zoom in' }, '+');
    const fit = h('button', { title: 'Fit to content (Shift+1)' }, 'Fit');
    z.append(out, pct, inn, fit);
    const mid = () => [this.renderer.width / 2, this.renderer.height / 2] as const;
    out.addEventListener('click', () => this.zoomAt(...mid(), 1 / 1.25));
    inn.addEventListener('click', () => this.zoomAt(...mid(), 1.25));
    pct.addEventListener('click', () => this.zoomAt(...mid(), 1 / this.cam.zoom));
    fit.addEventListener('click', () => this.fit());
  }

  private async share(): Promise<void> {
    const link = this.rec.links?.editor ?? location.href;
    try {
      await navigator.clipboard.writeText(link);
      this.toast('Link copied: anyone with it can edit this board.');
    } catch {
      prompt('Copy this link', link);
    }
  }

  private local(e: PointerEvent | MouseEvent): { sx: number; sy: number } {
    const r = this.ui.canvas.getBoundingClientRect();
    return { sx: e.clientX - r.left, sy: e.clientY - r.top };
  }

  /** Which corner handle of the single selection is under the point, if any. */
  private handleAt(sx: number, sy: number): number {
    if (this.selection.size !== 1 || !this.canEdit) return -1;
    const e = this.board.get([...this.selection][0]);
    if (!e) return -1;
    const cs = corners(e);
    for (let i = 0; i < 4; i++) {
      const hx = (cs[i][0] - this.cam.x) * this.cam.zoom;
      const hy = (cs[i][1] - this.cam.y) * this.cam.zoom;
      if (Math.abs(sx - hx) <= HANDLE_PX && Math.abs(sy - hy) <= HANDLE_PX) return i;
    }
    return -1;
  }

  private down(e: PointerEvent): void {
    const cv = this.ui.canvas;
    // No compatibility mouse events: their default focus change would take
    // the focus from an editor opened here. click and dblclick still come.
    e.preventDefault();
    if (this.editor.open) this.editor.close();
    cv.focus({ preventScroll: true });
    const { sx, sy } = this.local(e);
    this.pointers.set(e.pointerId, { x: sx, y: sy });
    cv.setPointerCapture(e.pointerId);
    if (this.pointers.size === 2) {
      // Two fingers: pinch to zoom and pan; whatever one finger began is dropped.
      this.drag = null;
      const [a, b] = [...this.pointers.values()];
      this.pinch = { dist: Math.hypot(a.x - b.x, a.y - b.y), cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2 };
      this.redraw();
      return;
    }
    const p = this.toBoard(sx, sy);
    if (e.button === 1 || e.button === 2 || this.space || this.tool === 'hand') {
      this.drag = { kind: 'pan', sx, sy, cx: this.cam.x, cy: this.cam.y };
      cv.classList.add('grabbing');
      return;
    }
    if (e.button !== 0) return;
    if (this.tool !== 'select') {
      const id = this.createAt(this.tool, p.x, p.y);
      this.setTool('select');
      if (id && this.board.get(id)?.kind !== 'shape') this.editor.start(id);
      this.afterSelect();
      return;
    }
    const corner = this.handleAt(sx, sy);
    if (corner >= 0) {
      const el = this.board.get([...this.selection][0])!;
      const orig = { x: el.x, y: el.y, w: el.w, h: el.h };
      this.drag = { kind: 'resize', id: el.id, corner, orig, box: { ...orig } };
      return;
    }
    const hit = this.board.hit(p.x, p.y, 2 / this.cam.zoom);
    if (hit) {
      if (e.shiftKey || e.metaKey || e.ctrlKey) {
        if (this.selection.has(hit.id)) this.selection.delete(hit.id);
        else this.selection.add(hit.id);
      } else if (!this.selection.has(hit.id)) {
        this.selection = new Set([hit.id]);
      }
      if (this.selection.has(hit.id) && this.canEdit) {
        const ids = [...this.selection].filter((id) => this.board.get(id));
        const orig = new Map(ids.map((id) => {
          const el = this.board.get(id)!;
          return [id, { x: el.x, y: el.y, w: el.w, h: el.h }] as const;
        }));
        this.drag = { kind: 'move', sx, sy, ids, orig, dx: 0, dy: 0, moved: false };
      }
      this.afterSelect();
      return;
    }
    const base = e.shiftKey ? new Set(this.selection) : new Set<string>();
    if (!e.shiftKey) this.selection.clear();
    this.drag = { kind: 'marquee', sx, sy, base, box: { x: p.x, y: p.y, w: 0, h: 0 } };
    this.afterSelect();
  }

  private move(e: PointerEvent): void {
    const { sx, sy } = this.local(e);
    if (this.pointers.has(e.pointerId)) this.pointers.set(e.pointerId, { x: sx, y: sy });
    if (this.pinch && this.pointers.size >= 2) {
      const [a, b] = [...this.pointers.values()];
      const dist = Math.hypot(a.x - b.x, a.y - b.y);
      const cx = (a.x + b.x) / 2,
        cy = (a.y + b.y) / 2;
      this.panBy(cx - this.pinch.cx, cy - this.pinch.cy);
      if (this.pinch.dist > 0) this.zoomAt(cx, cy, dist / this.pinch.dist);
      this.pinch = { dist, cx, cy };
      return;
    }
    const p = this.toBoard(sx, sy);
    this.cursor = p;
    const d = this.drag;
    if (d?.kind === 'pan') {
      this.cam = { ...this.cam, x: d.cx - (sx - d.sx) / this.cam.zoom, y: d.cy - (sy - d.sy) / this.cam.zoom };
      this.viewChanged();
    } else if (d?.kind === 'move') {
      const dx = (sx - d.sx) / this.cam.zoom;
      const dy = (sy - d.sy) / this.cam.zoom;
      if (!d.moved && Math.hypot(sx - d.sx, sy - d.sy) < 3) return;
      d.moved = true;
      d.dx = dx;
      d.dy = dy;
      this.ui.context.hidden = true;
      this.redraw();
    } else if (d?.kind === 'resize') {
      d.box = resizeBox(d.orig, d.corner, p.x, p.y, 24);
      this.redraw();
    } else if (d?.kind === 'marquee') {
      const s = this.toBoard(d.sx, d.sy);
      d.box = { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
      const inside = this.board.query(d.box).filter((el) => contains(d.box, el));
      this.selection = new Set([...d.base, ...inside.map((el) => el.id)]);
      this.redraw();
    } else {
      const corner = this.handleAt(sx, sy);
      this.ui.canvas.style.cursor = corner === 0 || corner === 2 ? 'nwse-resize' : corner === 1 || corner === 3 ? 'nesw-resize' : '';
    }
    this.presence();
  }

  private up(e: PointerEvent): void {
    this.pointers.delete(e.pointerId);
    if (this.pinch) {
      if (this.pointers.size < 2) this.pinch = null;
      return;
    }
    const d = this.drag;
    this.drag = null;
    this.ui.canvas.classList.remove('grabbing');
    if (d?.kind === 'move' && d.moved) {
      const ops: LocalOp[] = [];
      for (const [id, b] of d.orig) {
        if (!this.board.get(id)) continue;
        ops.push({ op: 'set', el: id, key: 'x', value: Math.round(b.x + d.dx) }, { op: 'set', el: id, key: 'y', value: Math.round(b.y + d.dy) });
      }
      if (ops.length) this.edit(ops);
    } else if (d?.kind === 'resize') {
      const b = roundBox(d.box);
      const o = d.orig;
      const ops: LocalOp[] = [];
      for (const k of ['x', 'y', 'w', 'h'] as const) if (b[k] !== o[k]) ops.push({ op: 'set', el: d.id, key: k, value: b[k] });
      if (ops.length) this.edit(ops);
    }
    this.afterSelect();
  }

  private dblclick(e: MouseEvent): void {
    if (this.tool !== 'select' && this.tool !== 'hand') return;
    const { sx, sy } = this.local(e);
    const p = this.toBoard(sx, sy);
    const hit = this.board.hit(p.x, p.y, 2 / this.cam.zoom);
    if (!this.canEdit) return;
    if (hit) {
      if (['note', 'shape', 'text'].includes(hit.kind)) {
        this.selection = new Set([hit.id]);
        this.editor.start(hit.id);
        this.afterSelect();
      }
      return;
    }
    const id = this.createAt('note', p.x, p.y);
    if (id) this.editor.start(id);
    this.afterSelect();
  }

  private wheel(e: WheelEvent): void {
    e.preventDefault();
    const { sx, sy } = this.local(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.renderer.height : 1;
    const dx = e.deltaX * unit,
      dy = e.deltaY * unit;
    // A trackpad pinch comes as a wheel event with ctrlKey; a mouse wheel
    // as whole lines or big integral steps; anything else is a trackpad
    // two-finger scroll, which pans.
    const mouseWheel = e.deltaMode !== 0 || (e.deltaX === 0 && Number.isInteger(e.deltaY) && Math.abs(e.deltaY) >= 50);
    if (e.ctrlKey || e.metaKey) this.zoomAt(sx, sy, Math.exp(-dy * 0.01));
    else if (mouseWheel && !e.shiftKey) this.zoomAt(sx, sy, Math.exp(-dy * 0.0015));
    else if (mouseWheel) this.panBy(-dy, 0);
    else this.panBy(-dx, -dy);
  }

  private key(e: KeyboardEvent): void {
    const t = e.target as HTMLElement;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
    const mod = e.ctrlKey || e.metaKey;
    if (e.code === 'Space') {
      this.space = true;
      this.ui.canvas.classList.add('grab');
      e.preventDefault();
      return;
    }
    if (mod && (e.key === 'z' || e.key === 'Z')) {
      e.preventDefault();
      this.history(e.shiftKey);
    } else if (mod && e.key === 'y') {
      e.preventDefault();
      this.history(true);
    } else if (mod && e.key === 'a') {
      e.preventDefault();
      this.selection = new Set([...this.board.els.values()].filter((x) => !x.deleted).map((x) => x.id));
      this.afterSelect();
    } else if (mod && e.key === 'd') {
      e.preventDefault();
      this.duplicateSelection();
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      this.deleteSelection();
    } else if (e.key === 'Escape') {
      this.selection.clear();
      this.setTool('select');
      this.afterSelect();
    } else if (e.key === 'Enter' && this.selection.size === 1) {
      e.preventDefault();
      this.editor.start([...this.selection][0]);
    } else if (e.key === '!' || (e.shiftKey && e.code === 'Digit1')) {
      this.fit();
    } else if (e.key.startsWith('Arrow') && this.selection.size && this.canEdit) {
      e.preventDefault();
      const step = e.shiftKey ? 10 : 1;
      const [dx, dy] = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key] ?? [0, 0];
      const ops: LocalOp[] = [];
      for (const id of this.selection) {
        const el = this.board.get(id);
        if (el) ops.push({ op: 'set', el: id, key: 'x', value: el.x + dx }, { op: 'set', el: id, key: 'y', value: el.y + dy });
      }
      this.edit(ops);
    } else if (!mod && !e.altKey) {
      const tool = TOOLS.find((x) => x.key === e.key.toLowerCase());
      if (tool) this.setTool(tool.tool);
    }
  }
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}

function union(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x),
    y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

function contains(outer: Box, b: Box): boolean {
  return intersects(outer, b) && b.x >= outer.x && b.y >= outer.y && b.x + b.w <= outer.x + outer.w && b.y + b.h <= outer.y + outer.h;
}

function roundBox(b: Box): Box {
  return { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.w), h: Math.round(b.h) };
}

/** The box after dragging corner c (nw, ne, se, sw) to (px, py), at least min wide and high. */
function resizeBox(o: Box, c: number, px: number, py: number, min: number): Box {
  let x0 = o.x,
    y0 = o.y,
    x1 = o.x + o.w,
    y1 = o.y + o.h;
  if (c === 0 || c === 3) x0 = Math.min(px, x1 - min);
  else x1 = Math.max(px, x0 + min);
  if (c === 0 || c === 1) y0 = Math.min(py, y1 - min);
  else y1 = Math.max(py, y0 + min);
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

