// The board page: an infinite canvas over the board's CRDT, kept in sync
// with the node by Sync, stored in IndexedDB, drawn by Renderer.
import { generateKeyBetween } from 'fractional-indexing';
import { parsePayload, pasteOps, payloadBounds, serialize, type ClipPayload } from './clipboard';
import { connectorPath, parseEnd, type End, type Pt } from './connectors';
import { CrdtDoc, loadCRDT, type LocalOp } from './crdt';
import { PALETTE, myColor, myName, setMyName, uuidv7 } from './ids';
import { keyAfter, keyAfterLast, newNodeOps } from './mindmap';
import { Board, aabb, derived, intersects, type Box, type El } from './model';
import { Renderer, corners, HANDLE_PX, ROTATE_PX, selectionBox, type Camera, type Overlay, type Preview, type RemoteCursor } from './render';
import { MIN_STEP, makeStroke, scalePoints } from './strokes';
import { claimNew, claimReplica, sweepReplicas } from './replica';
import { openStore, type BoardRecord, type Persistence } from './store';
import { fragmentLink, linkToken, markRefused, takeRefused, tokenStored } from './boardtoken';
import { Sync, type Peer, type PresenceData } from './sync';
import { markKnown, type EarlySocket } from './early';
import { TextEditor } from './textedit';
import { installFeatures } from './features';
import { installBoardAccess } from './account';
import { askPassword } from './password';

/** The deepest a board's tree may be (crdt.MaxTreeDepth; SCHEMA.md, "Tree moves"). */
const MAX_TREE_DEPTH = 64;

type Tool = 'select' | 'hand' | 'note' | 'rectangle' | 'ellipse' | 'diamond' | 'text' | 'pen' | 'connector' | 'frame' | 'mindmap';

const TOOLS: { tool: Tool; label: string; key: string; icon: string }[] = [
  { tool: 'select', label: 'Select', key: 'v', icon: '<path d="M5 3l14 8-6 1.5L10 19z"/>' },
  { tool: 'hand', label: 'Pan', key: 'h', icon: '<path d="M8 11V5a1.5 1.5 0 013 0v5m0-1V3.5a1.5 1.5 0 013 0V10m0-4.5a1.5 1.5 0 013 0V12m0-3.5a1.5 1.5 0 013 0V15a6 6 0 01-6 6h-1.5a6 6 0 01-5-2.7L4 14a1.6 1.6 0 012.6-1.8L8 14"/>' },
  { tool: 'note', label: 'Sticky note', key: 'n', icon: '<path d="M4 4h16v11l-5 5H4z M15 20v-5h5"/>' },
  { tool: 'rectangle', label: 'Rectangle', key: 'r', icon: '<rect x="4" y="6" width="16" height="12" rx="1"/>' },
  { tool: 'ellipse', label: 'Ellipse', key: 'o', icon: '<ellipse cx="12" cy="12" rx="8.5" ry="6.5"/>' },
  { tool: 'diamond', label: 'Diamond', key: 'd', icon: '<path d="M12 3l9 9-9 9-9-9z"/>' },
  { tool: 'text', label: 'Text', key: 't', icon: '<path d="M5 6V4h14v2M12 4v16M9 20h6"/>' },
  { tool: 'pen', label: 'Pen', key: 'p', icon: '<path d="M4 20c3-1 4-3 6-6l8-8a2 2 0 00-3-3l-8 8c-3 2-5 3-6 6z"/>' },
  { tool: 'connector', label: 'Connector', key: 'l', icon: '<path d="M5 19L19 5M19 5h-6M19 5v6"/>' },
  { tool: 'frame', label: 'Frame', key: 'f', icon: '<path d="M7 3v18M17 3v18M3 7h18M3 17h18"/>' },
  { tool: 'mindmap', label: 'Mindmap', key: 'm', icon: '<rect x="2" y="9" width="7" height="6" rx="2"/><rect x="15" y="3" width="7" height="5" rx="2"/><rect x="15" y="16" width="7" height="5" rx="2"/><path d="M9 12h3m0-6.5v13M12 5.5h3M12 18.5h3"/>' },
];

/** The keyboard shortcuts, as the help overlay (?) lists them. */
const SHORTCUTS: [string, string][] = [
  ['V · H', 'Select · pan (or hold Space, or drag with the middle button)'],
  ['N · R · O · D · T', 'Sticky note · rectangle · ellipse · diamond · text'],
  ['P · L · F · M', 'Pen · connector (line) · frame · mindmap'],
  ['Shift+click · drag on empty space', 'Add to the selection · box select'],
  ['Enter · F2 · double-click', 'Edit the text'],
  ['Tab · Enter (mindmap node)', 'Add a subtopic · add a sibling'],
  ['Shift+Tab (typing in a node)', 'Back to its parent'],
  ['.', 'Collapse or expand a mindmap node'],
  ['Ctrl+C · Ctrl+X · Ctrl+V', 'Copy · cut · paste (also between boards)'],
  ['Ctrl+D', 'Duplicate'],
  ['Delete · Backspace', 'Delete'],
  ['Arrows (Shift: ×10)', 'Nudge'],
  ['Ctrl+Z · Ctrl+Shift+Z', 'Undo · redo (your own changes)'],
  ['Ctrl+A · Esc', 'Select all · deselect'],
  ['Shift+1 · wheel · pinch', 'Fit to content · zoom'],
  ['Shift while rotating', 'Snap to 15°'],
  ['?', 'This help'],
];

const ZOOM_MIN = 0.05;
const ZOOM_MAX = 4;

type Drag =
  | { kind: 'pan'; sx: number; sy: number; cx: number; cy: number }
  | { kind: 'move'; sx: number; sy: number; ids: string[]; orig: Map<string, Box>; dx: number; dy: number; moved: boolean; target?: string }
  | { kind: 'resize'; id: string; corner: number; orig: Box; box: Box; origs: Map<string, Box>; rot: number }
  | { kind: 'marquee'; sx: number; sy: number; base: Set<string>; box: Box }
  | { kind: 'rotate'; id: string; cx: number; cy: number; start: number; orig: number; rot: number }
  | { kind: 'ink'; points: number[] }
  | { kind: 'connect'; from: End; fromPt: Pt; to: Pt; target?: string }
  | { kind: 'frame'; x: number; y: number; box: Box };

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

/**
 * Starts the board page in root; early: the first visit's connection,
 * opened by main.ts; arrived: a token the page was opened with (a link's,
 * taken out of the address by main.ts) or handed over (boardtoken.ts).
 */
export async function startBoard(root: HTMLElement, boardId: string, early?: EarlySocket, arrived?: string): Promise<void> {
  root.innerHTML = '';
  const ui = buildUI(root);
  ui.status.textContent = 'Loading…';

  const crdtReady = loadCRDT().then(() => performance.mark('corkboard:wasm-ready'));
  crdtReady.catch(() => {}); // awaited below
  const store = await openStore();
  performance.mark('corkboard:store-open');
  const rec: BoardRecord = (await store.getBoard(boardId)) ?? { id: boardId, lastOpened: Date.now() };
  // A token the node refused on the last load (see the 401 below).
  const forgot = takeRefused(boardId);
  if (forgot) await forgetToken(store, rec, forgot);
  let keptOwner = false;
  if (arrived && arrived !== rec.token) {
    // A link replaces the token this browser had for the board, except the
    // owner's: an owner opening one of their own links stays owner.
    keptOwner = !!rec.token && rec.role === 'owner' && (await stillOwner(boardId, rec.token));
    if (!keptOwner) {
      rec.token = arrived;
      rec.role = undefined;
    }
  }
  rec.lastOpened = Date.now();
  const stored = store.putBoard(rec);
  if (arrived && store.durable) void stored.then(() => tokenStored(boardId, arrived));

  // The board's name and our role, when the node can be reached; offline,
  // the stored copy is all there is, and that is fine.
  void fetch(`/v1/boards/${boardId}`, { headers: rec.token ? { Authorization: 'Bearer ' + rec.token } : {} })
    .then(async (r) => {
      if (r.ok) {
        const j = await r.json();
        rec.name = j.board.name;
        rec.role = j.you?.role;
        ui.name.textContent = j.board.name;
        document.title = `${j.board.name} · Corkboard`;
        void store.putBoard(rec);
      } else if (r.status === 404 || r.status === 400) {
        fatal(root, 'There is no such board on this server.');
      } else if (r.status === 401) {
        const j = await r.json().catch(() => null);
        if (rec.token && rec.token !== forgot) {
          // The node no longer takes this browser's token (its link was
          // revoked, a password was set): the page loads again without it
          // (forgotten first thing, before the replica that connects with
          // it is claimed), as whoever one is then: a visitor, the
          // password prompt, sign-in.
          tokenStored(boardId, rec.token);
          if (markRefused(boardId, rec.token)) {
            location.reload();
            return;
          }
        }
        if (!askPassword(root, boardId, j?.error?.message ?? '')) fatal(root, `This board needs a valid link (${j?.error?.message ?? 'unauthorized'}).`);
      }
    })
    .catch(() => {});
  if (rec.name) {
    ui.name.textContent = rec.name;
    document.title = `${rec.name} · Corkboard`;
  }

  // On a first visit, the replica the early connection said hello as.
  const claim = await claimReplica(store, boardId, rec.token, early?.replica);
  if (!claim.rec.token && rec.token) claim.rec.token = rec.token;
  markKnown(boardId);
  performance.mark('corkboard:claimed');
  await crdtReady;
  const doc = new CrdtDoc();
  const board = new Board();
  const renderer = new Renderer(ui.canvas);
  const app = new BoardApp(root, ui, boardId, rec, store, doc, board, renderer);
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
  performance.mark('corkboard:stored-loaded');
  app.start();
  performance.mark('corkboard:app-started');
  if (keptOwner) app.toast('This is a link to your own board: you stay its owner here.');
  sync.start(early);
  void sweepReplicas(store, boardId, claim.rec.replica);
  registerServiceWorker();
}

/** Forgets a refused token: in the board's record and in the replicas that connect with it. */
async function forgetToken(store: Persistence, rec: BoardRecord, dead: string): Promise<void> {
  if (rec.token === dead) {
    rec.token = undefined;
    rec.role = undefined;
  }
  try {
    await store.putBoard(rec);
    // Their replica ids are bound to the token's holder on the node, and
    // their unsent changes can no longer be sent by anyone: let them go.
    for (const r of await store.listReplicas(rec.id)) {
      if (r.token === dead) await store.deleteReplica(rec.id, r.replica);
    }
  } catch (e) {
    console.warn('corkboard: could not forget a refused token', e);
  }
}

/** Whether token is still an owner's token of the board (unreachable node: assumed so). */
async function stillOwner(boardId: string, token: string): Promise<boolean> {
  try {
    const r = await fetch(`/v1/boards/${boardId}`, { headers: { Authorization: 'Bearer ' + token } });
    if (!r.ok) return r.status >= 500;
    return (await r.json())?.you?.role === 'owner';
  } catch {
    return true;
  }
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
  helpButton: HTMLButtonElement;
  help: HTMLElement;
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
  const helpButton = h('button', { class: 'help-button', title: 'Keyboard shortcuts (?)', 'aria-label': 'Keyboard shortcuts' }, '?');
  const history = h('div', { class: 'panel history' }, undo, redo, helpButton);
  const toast = h('div', { class: 'toast', hidden: '', role: 'alert' });
  const help = h('div', { class: 'help panel', hidden: '', role: 'dialog', 'aria-label': 'Keyboard shortcuts' });
  const rows = h('table', {});
  for (const [k, what] of SHORTCUTS) rows.appendChild(h('tr', {}, h('th', {}, k), h('td', {}, what)));
  help.append(h('h2', {}, 'Keyboard shortcuts'), rows, h('p', {}, 'Press ? or Esc to close.'));
  root.append(h('div', { class: 'board' }, canvas, layer, top, bar, right, context, zoom, history, toast, help));
  return { canvas, layer, name, status, retry, tools, people, share, context, zoom, undo, redo, toast, helpButton, help };
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
  private painted = false;
  private remoteMarked = false;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  /** Peers' drags that ended, shown until their change arrives. */
  private ghosts = new Map<string, { box: Box; base: Box; until: number }>();
  private remoteDrag = new Map<string, Map<string, Box>>();

  constructor(
    private root: HTMLElement,
    private ui: UI,
    private boardId: string,
    private rec: BoardRecord,
    private store: Persistence,
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
      key: (e, id) => this.editorKey(e, id),
    });
    board.textSize = (t, fs, maxW) => renderer.textSize(t, fs, maxW);
    board.remeasure();
  }

  start(): void {
    this.bind();
    this.listenForTokens();
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
        elements: [...this.board.els.values()]
          .filter((e) => !e.deleted && !e.hidden)
          .map((e) => ({ id: e.id, kind: e.kind, x: e.x, y: e.y, w: e.w, h: e.h, text: e.text.text ?? '', color: e.props.color, parent: e.parent ?? null, pos: e.pos, rot: e.rot, collapsed: e.props.collapsed === true, from: e.props.from ?? null, to: e.props.to ?? null, route: e.props.route ?? null, title: e.text.title ?? '', points: Array.isArray(e.props.points) ? e.props.points.length / 3 : 0 })),
        /** Every element, hidden ones (under a collapsed or deleted element) included. */
        hidden: [...this.board.els.values()].filter((e) => !e.deleted && e.hidden).map((e) => e.id),
        selection: [...this.selection],
      }),
      /** Board coordinates → page (CSS) pixels. */
      toScreen: (x: number, y: number) => {
        const r = this.ui.canvas.getBoundingClientRect();
        return { x: r.left + (x - this.cam.x) * this.cam.zoom, y: r.top + (y - this.cam.y) * this.cam.zoom };
      },
    };
    installBoardAccess(installFeatures({
      root: this.root,
      canvas: this.ui.canvas,
      boardId: this.boardId,
      token: () => this.rec.token,
      setToken: (t) => this.setToken(t),
      keepLink: (role, url) => this.keepLink(role, url),
      doc: this.doc,
      board: this.board,
      sync: this.sync,
      renderer: this.renderer,
      camera: () => this.cam,
      setCamera: (c) => {
        this.cam = c;
        this.viewChanged();
      },
      selection: () => this.selection,
      select: (ids) => {
        this.selection = new Set(ids);
        this.afterSelect();
      },
      edit: (ops) => this.edit(ops),
      canEdit: () => this.canEdit,
      setReadOnly: (ro) => {
        this.readOnly = ro;
        this.showState();
      },
      redraw: () => this.redraw(),
      toast: (m, e) => this.toast(m, e),
    }));
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
    if (!this.remoteMarked) {
      this.remoteMarked = true;
      performance.mark('corkboard:first-remote'); // the node's first answer, applied (bench/web)
    }
    if (ids === null) {
      this.board.clear();
      const els = this.doc.elements();
      performance.mark('corkboard:elements-json');
      this.board.upsert(els);
      performance.mark('corkboard:elements-read');
      for (const id of [...this.selection]) if (!this.board.get(id)) this.selection.delete(id);
      this.redraw();
    } else this.refresh(ids);
    if (this.editor.open && (ids === null || ids.includes(this.editor.id!))) this.editor.refresh();
    this.showContext();
    this.showState();
  }

  /** Read-only whatever the role (an embed in view mode, features.ts). */
  readOnly = false;

  get canEdit(): boolean {
    if (this.readOnly) return false;
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
    // "author" stamps go in a change of their own that is not an undo step
    // (see webclient/wasm/main.go, edit): undoing a creation must not
    // write author = null, which the node refuses.
    const isStamp = (o: LocalOp) => o.op === 'set' && o.key === 'author';
    const stamps = ops.filter(isStamp);
    if (stamps.length) ops = ops.filter((o) => !isStamp(o));
    let c;
    try {
      c = ops.length ? this.doc.edit(ops) : null;
    } catch (e) {
      console.error('corkboard: edit failed', e, ops);
      this.toast('That edit could not be made: ' + (e as Error).message, true);
      return null;
    }
    if (c?.error) console.warn('corkboard: edit partly failed:', c.error);
    if (c) this.sync.commit(c);
    let ids = c?.ids ?? [];
    if (stamps.length) {
      try {
        const s = this.doc.edit(stamps, Date.now(), false);
        if (s) {
          this.sync.commit(s);
          ids = [...new Set([...ids, ...s.ids])];
        }
      } catch (e) {
        console.warn('corkboard: author not stamped', e);
      }
    }
    if (!ids.length) return [];
    this.refresh(ids);
    this.showContext();
    return ids;
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
    } else if (tool === 'mindmap') {
      ops = [...newNodeOps(id, undefined, '', { x: x - 70, y: y - 24, z: this.topZ() }), { op: 'insertText', el: id, field: 'text', pos: 0, text: 'Central topic' }];
    } else if (tool === 'frame') {
      ops = [{ op: 'create', el: id, kind: 'frame' }, set('x', Math.round(x - 240)), set('y', Math.round(y - 160)), set('w', 480), set('h', 320), set('z', this.topZ())];
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
    const frame = this.board.frameAt(x, y, () => false);
    if (frame) ops.push({ op: 'move', el: id, parent: frame.id, posKey: keyAfterLast(this.board.children(frame.id)) });
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
    if (!this.selection.size) return;
    this.pastePayload(serialize(this.board, this.boardId, this.selection), 24, 24);
  }

  /** Pastes copied elements: offset by (dx, dy), or centred on the pointer (or the view) when no offset is given. */
  pastePayload(p: ClipPayload, dx?: number, dy?: number): void {
    if (!p.elements.length) return;
    if (dx === undefined || dy === undefined) {
      const b = payloadBounds(p)!;
      const at = this.cursor ?? this.toBoard(this.renderer.width / 2, this.renderer.height / 2);
      dx = Math.round(at.x - (b.x + b.w / 2));
      dy = Math.round(at.y - (b.y + b.h / 2));
      // Pasting where the originals are (the pointer has not moved): step aside.
      if (Math.abs(dx) < 8 && Math.abs(dy) < 8) [dx, dy] = [24, 24];
    }
    const made = pasteOps(p, {
      dx,
      dy,
      topZ: () => this.topZ(),
      exists: (id) => !!this.board.get(id),
      author: (id, kind) => (kind === 'note' ? this.author(id) : []),
    });
    const { ops, dropped } = keepValid(made.ops, this.doc.checkOps(made.ops));
    if (dropped) console.warn(`corkboard: ${dropped} pasted ops do not fit the board's schema and were left out`);
    if (ops.length > 60000) {
      this.toast('That is too much to paste at once.', true);
      return;
    }
    const top = made.top;
    if (ops.length && this.edit(ops)) {
      this.selection = new Set(top.filter((id) => this.board.get(id)));
      this.afterSelect();
    }
  }

  /** The selection as clipboard text (null when nothing is selected). */
  copyText(): string | null {
    if (!this.selection.size) return null;
    const p = serialize(this.board, this.boardId, this.selection);
    return p.elements.length ? JSON.stringify(p) : null;
  }

  /** Pastes clipboard text: copied elements, or plain text as a text element. */
  pasteText(text: string): void {
    const p = parsePayload(text);
    if (p) {
      this.pastePayload(p);
      return;
    }
    const t = text.trim();
    if (!t || t.length > 60000) return;
    const at = this.cursor ?? this.toBoard(this.renderer.width / 2, this.renderer.height / 2);
    const id = uuidv7();
    const ops: LocalOp[] = [
      { op: 'create', el: id, kind: 'text' },
      { op: 'set', el: id, key: 'x', value: Math.round(at.x) },
      { op: 'set', el: id, key: 'y', value: Math.round(at.y) },
      { op: 'set', el: id, key: 'w', value: 360 },
      { op: 'set', el: id, key: 'h', value: Math.ceil(Math.max(1, t.split('\n').length) * 30 + 4) },
      { op: 'set', el: id, key: 'z', value: this.topZ() },
      { op: 'insertText', el: id, field: 'text', pos: 0, text: t.slice(0, 8000) },
    ];
    if (this.edit(ops)) {
      this.selection = new Set([id]);
      this.afterSelect();
    }
  }

  // ---- mindmap ----

  /** Adds a subtopic under a mindmap node (expanding it) and starts editing it. */
  addChild(parentId: string): string | null {
    const parent = this.board.get(parentId);
    if (!parent || parent.kind !== 'mindmap') return null;
    if (this.depthOf(parentId) + 1 > MAX_TREE_DEPTH) {
      this.toast(`A mindmap is at most ${MAX_TREE_DEPTH} levels deep.`, true);
      return null;
    }
    const id = uuidv7();
    const ops = newNodeOps(id, parentId, keyAfterLast(this.board.children(parentId)));
    if (parent.props.collapsed === true) ops.push({ op: 'set', el: parentId, key: 'collapsed', value: false });
    if (!this.edit(ops)) return null;
    this.selection = new Set([id]);
    this.editor.start(id);
    this.afterSelect();
    return id;
  }

  /** The depth of an element in the board's tree (1: on the board). */
  private depthOf(id: string): number {
    let d = 0;
    for (let e = this.board.get(id); e && d <= MAX_TREE_DEPTH; e = e.parent ? this.board.get(e.parent) : undefined) d++;
    return d;
  }

  /** Adds a sibling right after a mindmap node (a subtopic, for a root) and starts editing it. */
  addSibling(nodeId: string): string | null {
    const node = this.board.get(nodeId);
    if (!node || node.kind !== 'mindmap') return null;
    const parent = node.parent ? this.board.get(node.parent) : undefined;
    if (!parent || parent.kind !== 'mindmap') return this.addChild(nodeId);
    const id = uuidv7();
    if (!this.edit(newNodeOps(id, parent.id, keyAfter(this.board.children(parent.id), node)))) return null;
    this.selection = new Set([id]);
    this.editor.start(id);
    this.afterSelect();
    return id;
  }

  /** Collapses or expands the selected mindmap nodes that have subtopics. */
  toggleCollapse(ids: Iterable<string> = this.selection): void {
    const ops: LocalOp[] = [];
    for (const id of ids) {
      const e = this.board.get(id);
      if (e?.kind === 'mindmap' && this.board.children(id).some((c) => c.kind === 'mindmap')) ops.push({ op: 'set', el: id, key: 'collapsed', value: e.props.collapsed !== true });
    }
    if (ops.length) this.edit(ops);
  }

  /** Tab and Enter while editing a mindmap node: commit, then grow the map. */
  private editorKey(e: KeyboardEvent, id: string): boolean {
    const el = this.board.get(id);
    if (el?.kind !== 'mindmap' || e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === 'Tab') {
      this.editor.close();
      if (e.shiftKey) {
        this.selection = new Set([el.parent && this.board.get(el.parent)?.kind === 'mindmap' ? el.parent : id]);
        this.afterSelect();
      } else this.addChild(id);
      return true;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      this.editor.close();
      this.addSibling(id);
      return true;
    }
    return false;
  }

  /** The collapse badge of a mindmap node under a board point (right of the node). */
  private badgeAt(x: number, y: number): El | undefined {
    const slop = 4 / this.cam.zoom;
    for (const e of this.board.query({ x: x - 30, y: y - 12, w: 30, h: 24 })) {
      if (e.kind !== 'mindmap' || e.props.collapsed !== true) continue;
      if (Math.hypot(x - (e.x + e.w + 11), y - (e.y + e.h / 2)) <= 9 + slop) return e;
    }
    return undefined;
  }

  setColor(color: string): void {
    const ops: LocalOp[] = [];
    for (const id of this.selection) {
      const e = this.board.get(id);
      if (!e) continue;
      if (e.kind === 'note') ops.push({ op: 'set', el: id, key: 'color', value: color });
      else if (e.kind === 'shape') ops.push({ op: 'set', el: id, key: 'fill', value: PALETTE[color] ? color : '#ffffff' });
      else if (e.kind === 'mindmap') ops.push({ op: 'set', el: id, key: 'color', value: color });
      else if (e.kind === 'frame') ops.push({ op: 'set', el: id, key: 'fill', value: color });
    }
    if (this.selection.size && [...this.selection].every((id) => this.board.get(id)?.kind === 'note')) this.noteColor = color;
    if (ops.length) this.edit(ops);
  }

  // ---- gestures that make or move things ----

  /** Where a drag would drop: a mindmap node (reparent a node onto it) or the frame under the pointer. */
  private dropTarget(d: Extract<Drag, { kind: 'move' }>, x: number, y: number): El | undefined {
    const moving = (e: El) => d.orig.has(e.id);
    const single = d.ids.length === 1 ? this.board.get(d.ids[0]) : undefined;
    if (single?.kind === 'mindmap') {
      const t = this.board.hit(x, y, 2 / this.cam.zoom, (e) => e.kind !== 'mindmap' || moving(e));
      if (t) return t;
    }
    return this.board.frameAt(x, y, moving);
  }

  /** The change a finished move makes: new positions, frames entered or left, a mindmap node reparented. */
  private moveOps(d: Extract<Drag, { kind: 'move' }>): LocalOp[] {
    const ops: LocalOp[] = [];
    const board = this.board;
    const moved = new Set(d.orig.keys());
    const single = d.ids.length === 1 ? board.get(d.ids[0]) : undefined;
    if (single?.kind === 'mindmap') {
      const t = d.target ? board.get(d.target) : undefined;
      if (t?.kind === 'mindmap') {
        // Onto another node: a subtopic of it (the tree's move op; a
        // cycle is refused by the CRDT and never offered here).
        if (t.id !== single.parent && !board.isAncestor(single.id, t.id)) {
          ops.push({ op: 'move', el: single.id, parent: t.id, posKey: keyAfterLast(board.children(t.id)) });
          if (t.props.collapsed === true) ops.push({ op: 'set', el: t.id, key: 'collapsed', value: false });
        }
        return ops;
      }
      if (derived(single, board)) {
        // Dropped near where it was: it snaps back (a slip of the hand is no detach).
        if (Math.hypot(d.dx, d.dy) * this.cam.zoom < 40) return ops;
        // A subtopic dropped on empty space: a root of its own, where it was dropped.
        const b = d.orig.get(single.id)!;
        const frame = t?.kind === 'frame' ? t : undefined;
        ops.push(
          { op: 'move', el: single.id, parent: frame?.id, posKey: frame ? keyAfterLast(board.children(frame.id)) : 'a0' },
          { op: 'set', el: single.id, key: 'x', value: Math.round(b.x + d.dx) },
          { op: 'set', el: single.id, key: 'y', value: Math.round(b.y + d.dy) },
          { op: 'set', el: single.id, key: 'z', value: this.topZ() },
        );
        return ops;
      }
    }
    for (const [id, b] of d.orig) {
      const e = board.get(id);
      if (!e) continue;
      if (e.kind === 'connector') {
        // Bound ends follow their elements; free ends move with the selection.
        for (const k of ['from', 'to']) {
          const end = parseEnd(e.props[k]);
          if (end && !('el' in end)) ops.push({ op: 'set', el: id, key: k, value: { x: Math.round(end.x + d.dx), y: Math.round(end.y + d.dy) } });
        }
        continue;
      }
      if (derived(e, board)) continue;
      ops.push({ op: 'set', el: id, key: 'x', value: Math.round(b.x + d.dx) }, { op: 'set', el: id, key: 'y', value: Math.round(b.y + d.dy) });
    }
    // Frames: an element whose centre lands in a frame becomes its child; one dragged out, the board's.
    for (const id of d.ids) {
      const e = board.get(id);
      if (!e || derived(e, board)) continue;
      let carried = false;
      for (let p = e.parent; p; p = board.els.get(p)?.parent) if (d.ids.includes(p)) carried = true;
      if (carried) continue;
      const b = aabb({ ...d.orig.get(id)!, rot: e.rot });
      const f = board.frameAt(b.x + d.dx + b.w / 2, b.y + d.dy + b.h / 2, (x) => moved.has(x.id) || board.isAncestor(e.id, x.id));
      if (f?.id !== e.parent) ops.push({ op: 'move', el: id, parent: f?.id, posKey: f ? keyAfterLast(board.children(f.id)) : 'a0' });
    }
    return ops;
  }

  /** Where a connector end is drawn from while it is being made. */
  private endPoint(end: End): Pt | null {
    if ('el' in end) {
      const e = this.board.get(end.el);
      return e ? [e.x + e.w / 2, e.y + e.h / 2] : null;
    }
    return [end.x, end.y];
  }

  private finishInk(points: number[]): void {
    if (points.length < 3) return;
    if (points.length === 3) points.push(points[0] + 0.5, points[1] + 0.5, points[2]); // a dot
    const width = 4;
    const st = makeStroke(points, width);
    const id = uuidv7();
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'stroke' }];
    for (const [k, v] of [['x', st.x], ['y', st.y], ['w', st.w], ['h', st.h], ['points', st.points], ['color', '#1e1e1e'], ['width', width], ['z', this.topZ()]] as const) ops.push({ op: 'set', el: id, key: k, value: v });
    const f = this.board.frameAt(st.x + st.w / 2, st.y + st.h / 2, () => false);
    if (f) ops.push({ op: 'move', el: id, parent: f.id, posKey: keyAfterLast(this.board.children(f.id)) });
    this.edit(ops);
  }

  private finishConnector(d: Extract<Drag, { kind: 'connect' }>): void {
    const to: End = d.target ? { el: d.target, anchor: [0.5, 0.5] } : { x: Math.round(d.to[0]), y: Math.round(d.to[1]) };
    if ('el' in d.from && 'el' in to && d.from.el === to.el) return;
    if (!('el' in d.from) && !('el' in to) && Math.hypot(d.to[0] - d.fromPt[0], d.to[1] - d.fromPt[1]) * this.cam.zoom < 8) return;
    const id = uuidv7();
    const props = { from: d.from, to, route: 'straight' };
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'connector' }];
    for (const [k, v] of Object.entries(props)) ops.push({ op: 'set', el: id, key: k, value: v });
    const pts = connectorPath({ props }, (x) => this.board.get(x));
    if (pts) {
      const xs = pts.map((p) => p[0]),
        ys = pts.map((p) => p[1]);
      const b = { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) };
      for (const k of ['x', 'y', 'w', 'h'] as const) ops.push({ op: 'set', el: id, key: k, value: Math.round(b[k]) });
    }
    ops.push({ op: 'set', el: id, key: 'z', value: this.topZ() });
    if (this.edit(ops)) {
      this.selection = new Set([id]);
      this.setTool('select');
    }
  }

  /** Makes a frame (drawn, or a default size around x, y) and puts in it what lies wholly inside. */
  private finishFrame(box: Box | null, x: number, y: number): void {
    const b = roundBox(box ?? { x: x - 240, y: y - 160, w: 480, h: 320 });
    const id = uuidv7();
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'frame' }];
    for (const k of ['x', 'y', 'w', 'h'] as const) ops.push({ op: 'set', el: id, key: k, value: b[k] });
    ops.push({ op: 'set', el: id, key: 'z', value: this.topZ() });
    const outer = this.board.frameAt(b.x + b.w / 2, b.y + b.h / 2, () => false);
    const parentOf = outer?.id;
    if (outer) ops.push({ op: 'move', el: id, parent: outer.id, posKey: keyAfterLast(this.board.children(outer.id)) });
    let key: string | null = null;
    for (const e of this.board.query(b)) {
      if (e.parent !== parentOf || derived(e, this.board) || e.kind === 'connector' || !contains(b, aabb(e))) continue;
      key = generateKeyBetween(key, null);
      ops.push({ op: 'move', el: e.id, parent: id, posKey: key });
    }
    if (this.edit(ops)) {
      this.selection = new Set([id]);
      this.setTool('select');
      this.editor.start(id);
    }
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
    const preview = new Map<string, Preview>();
    const now = Date.now();
    for (const [id, g] of this.ghosts) {
      const e = this.board.get(id);
      if (!e || now > g.until || e.x !== g.base.x || e.y !== g.base.y || e.w !== g.base.w || e.h !== g.base.h) this.ghosts.delete(id);
      else preview.set(id, g.box);
    }
    for (const m of this.remoteDrag.values()) for (const [id, b] of m) preview.set(id, b);
    const d = this.drag;
    if (d?.kind === 'move' && d.moved) for (const [id, b] of d.orig) preview.set(id, { ...b, x: b.x + d.dx, y: b.y + d.dy });
    if (d?.kind === 'resize') for (const [id, b] of resized(d)) preview.set(id, b);
    if (d?.kind === 'rotate') {
      const e = this.board.get(d.id);
      if (e) preview.set(d.id, { x: e.x, y: e.y, w: e.w, h: e.h, rot: d.rot });
    }
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
      marquee: d?.kind === 'marquee' ? d.box : d?.kind === 'frame' ? d.box : undefined,
      preview,
      remoteSelection,
      cursors,
      handles: !this.editor.open && d?.kind !== 'move' && this.resizable(),
      rotateHandle: !this.editor.open && d?.kind !== 'move' && this.rotatable() !== null,
      dropTarget: d?.kind === 'move' ? d.target : d?.kind === 'connect' ? d.target : undefined,
      ink: d?.kind === 'ink' ? { points: d.points, color: '#1e1e1e', width: 4 } : undefined,
      draft: d?.kind === 'connect' ? { from: this.endPoint(d.from) ?? d.fromPt, to: d.to, target: d.target } : undefined,
    };
    this.renderer.draw(this.board, this.cam, ov);
    if (!this.painted && this.board.all().length) {
      // The first frame with elements drawn: the benchmark's "first paint".
      this.painted = true;
      performance.mark('corkboard:first-paint');
    }
    if (this.ghosts.size) this.redraw();
  }

  // ---- presence ----

  private presence(): void {
    const data: PresenceData = {};
    if (this.cursor) data.c = { x: Math.round(this.cursor.x), y: Math.round(this.cursor.y) };
    if (this.selection.size) data.sel = [...this.selection].slice(0, 20);
    const d = this.drag;
    if (d?.kind === 'move' && d.moved) data.drag = { ids: d.ids.slice(0, 12), dx: Math.round(d.dx), dy: Math.round(d.dy) };
    if (d?.kind === 'resize' && d.origs.size === 1) data.box = { id: d.id, ...roundBox(d.box) };
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
          // What moves with it, as for one's own drag: a frame's contents, a node's subtopics.
          const e = this.board.get(id);
          if (e) for (const x of [e, ...this.board.descendants(id)]) m.set(x.id, { x: x.x + dr.dx, y: x.y + dr.dy, w: x.w, h: x.h });
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
    if (sel.some((e) => ['note', 'shape', 'mindmap', 'frame'].includes(e.kind))) {
      for (const name of Object.keys(PALETTE)) {
        const b = h('button', { class: 'swatch', title: name, 'aria-label': `Colour ${name}`, 'data-color': name, style: `background:${PALETTE[name]}` });
        b.addEventListener('click', () => this.setColor(name));
        c.appendChild(b);
      }
    }
    const parents = sel.filter((e) => e.kind === 'mindmap' && this.board.children(e.id).some((k) => k.kind === 'mindmap'));
    if (parents.length) {
      const collapsed = parents.every((e) => e.props.collapsed === true);
      const b = h('button', { class: 'text', title: 'Collapse or expand (.)', 'data-action': 'collapse' }, collapsed ? 'Expand' : 'Collapse');
      b.addEventListener('click', () => this.toggleCollapse(parents.map((e) => e.id)));
      c.appendChild(b);
    }
    if (sel.length === 1 && sel[0].kind === 'mindmap') {
      const b = h('button', { class: 'text', title: 'Add a subtopic (Tab)', 'data-action': 'child' }, '+ Subtopic');
      b.addEventListener('click', () => this.addChild(sel[0].id));
      c.appendChild(b);
    }
    const conns = sel.filter((e) => e.kind === 'connector');
    if (conns.length) {
      // Straight → elbow → curve → straight.
      const routes = ['straight', 'elbow', 'curve'];
      const route = routes.includes(conns[0].props.route as string) ? (conns[0].props.route as string) : 'straight';
      const next = routes[(routes.indexOf(route) + 1) % routes.length];
      const b = h('button', { class: 'text', title: 'Line: straight, elbow or curve', 'data-action': 'route' }, next[0].toUpperCase() + next.slice(1));
      b.addEventListener('click', () => this.edit(conns.map((e) => ({ op: 'set', el: e.id, key: 'route', value: next }) as LocalOp)));
      c.appendChild(b);
      const arrows = conns[0].props.startArrow === true;
      const a = h('button', { class: 'text', title: 'Arrowheads at one end or both', 'data-action': 'arrows' }, arrows ? '→' : '↔');
      a.addEventListener('click', () => this.edit(conns.map((e) => ({ op: 'set', el: e.id, key: 'startArrow', value: !arrows }) as LocalOp)));
      c.appendChild(a);
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
    c.style.top = `${Math.max(64, y - (this.rotatable() ? 56 + ROTATE_PX + 10 : 56))}px`; // clear of the rotation handle
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
    this.ui.helpButton.addEventListener('click', () => (this.ui.help.hidden = !this.ui.help.hidden));
    // Copy and paste through the clipboard events (Ctrl+C/X/V and the
    // browser's menus): no permission prompt, and text/plain JSON that
    // another board, tab or browser can read. Not while a text field has
    // the focus: that is the text's own copy and paste.
    const busy = (ev: Event) => {
      const t = ev.target as HTMLElement | null;
      return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
    };
    document.addEventListener('copy', (ev) => {
      if (busy(ev)) return;
      const text = this.copyText();
      if (text === null || !ev.clipboardData) return;
      ev.clipboardData.setData('text/plain', text);
      ev.preventDefault();
    });
    document.addEventListener('cut', (ev) => {
      if (busy(ev) || !this.canEdit) return;
      const text = this.copyText();
      if (text === null || !ev.clipboardData) return;
      ev.clipboardData.setData('text/plain', text);
      ev.preventDefault();
      this.deleteSelection();
    });
    document.addEventListener('paste', (ev) => {
      if (busy(ev) || !this.canEdit || !ev.clipboardData) return;
      ev.preventDefault();
      this.pasteText(ev.clipboardData.getData('text/plain'));
    });
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

  /**
   * The top bar's Share: copies the editor link this browser keeps (made
   * with the board or in Share & settings) while it still works, else the
   * board's address, which carries no token: whoever opens it gets what
   * the board's access settings give visitors.
   */
  private async share(): Promise<void> {
    let link = this.rec.links?.editor;
    if (link && !(await this.linkWorks(link))) {
      this.keepLink('editor', null);
      link = undefined;
    }
    const text = link ? fragmentLink(link) : location.href;
    try {
      await navigator.clipboard.writeText(text);
      this.toast(link ? 'Link copied: anyone with it can edit this board.' : "Board address copied: it opens the board as the board's access settings allow.");
    } catch {
      prompt('Copy this link', text);
    }
  }

  /** Whether a kept link's token still opens the board (an unreachable node: assumed so). */
  private async linkWorks(link: string): Promise<boolean> {
    const t = linkToken(link);
    if (!t) return false;
    try {
      const r = await fetch(`/v1/boards/${this.boardId}`, { headers: { Authorization: 'Bearer ' + t } });
      return r.ok || r.status >= 500;
    } catch {
      return true;
    }
  }

  /**
   * A new token for this page (the owner's, after revoking the links or
   * setting a password): stored, and the connection reopened with it.
   */
  private setToken(token: string): void {
    const old = this.rec.token;
    if (token === old) return;
    this.rec.token = token;
    void this.store.putBoard(this.rec);
    this.sync.setToken(token);
    // The node ended this browser's other tabs' connections made with the
    // old token too: those that used it take the new one.
    this.tokens?.postMessage({ board: this.boardId, old, token });
  }

  /** The browser's tabs tell each other of replaced tokens (setToken). */
  private tokens = 'BroadcastChannel' in window ? new BroadcastChannel('corkboard-tokens') : null;

  private listenForTokens(): void {
    if (!this.tokens) return;
    this.tokens.onmessage = (ev: MessageEvent) => {
      const d = ev.data as { board?: string; old?: string; token?: string } | null;
      if (d?.board !== this.boardId || typeof d.token !== 'string' || !d.old || d.old !== this.rec.token) return;
      this.rec.token = d.token;
      this.sync.setToken(d.token);
    };
  }

  /** Keeps a role link for the top bar's Share (null: forgets it; role "*": every role). */
  private keepLink(role: string, url: string | null): void {
    const links = role === '*' ? {} : { ...this.rec.links };
    if (url) links[role] = url;
    else delete links[role];
    this.rec.links = links;
    void this.store.putBoard(this.rec);
  }

  private local(e: PointerEvent | MouseEvent): { sx: number; sy: number } {
    const r = this.ui.canvas.getBoundingClientRect();
    return { sx: e.clientX - r.left, sy: e.clientY - r.top };
  }

  /** Whether the selection can be resized with handles (every element has a box of its own). */
  private resizable(): boolean {
    if (!this.selection.size || !this.canEdit) return false;
    for (const id of this.selection) {
      const e = this.board.get(id);
      if (!e || !RESIZABLE.has(e.kind)) return false;
    }
    return true;
  }

  /** The single selected element that can be rotated, if any. */
  private rotatable(): El | null {
    if (this.selection.size !== 1 || !this.canEdit) return null;
    const e = this.board.get([...this.selection][0]);
    return e && ROTATABLE.has(e.kind) ? e : null;
  }

  /** Whether the rotation handle is under the point. */
  private rotateHandleAt(sx: number, sy: number): boolean {
    const e = this.rotatable();
    if (!e) return false;
    const cx = e.x + e.w / 2,
      cy = e.y + e.h / 2;
    // The handle sits above the top edge's middle, turned with the element.
    const r = (e.rot * Math.PI) / 180;
    const dist = e.h / 2 + ROTATE_PX / this.cam.zoom;
    const hx = cx + Math.sin(r) * dist,
      hy = cy - Math.cos(r) * dist;
    return Math.hypot(sx - (hx - this.cam.x) * this.cam.zoom, sy - (hy - this.cam.y) * this.cam.zoom) <= HANDLE_PX;
  }

  /** Which corner handle of the selection is under the point, if any. */
  private handleAt(sx: number, sy: number): number {
    if (!this.resizable()) return -1;
    const e = selectionBox(this.board, this.selection);
    if (!e) return -1;
    const cs = corners(e).map(([x, y]) => turn(x, y, e.x + e.w / 2, e.y + e.h / 2, e.rot));
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
    if (this.tool === 'pen' && this.canEdit) {
      this.drag = { kind: 'ink', points: [p.x, p.y, pressure(e)] };
      return;
    }
    if (this.tool === 'connector' && this.canEdit) {
      const hit = this.board.hit(p.x, p.y, 2 / this.cam.zoom, (x) => x.kind === 'connector');
      this.drag = { kind: 'connect', from: hit ? { el: hit.id, anchor: [0.5, 0.5] } : { x: Math.round(p.x), y: Math.round(p.y) }, fromPt: [p.x, p.y], to: [p.x, p.y] };
      return;
    }
    if (this.tool === 'frame' && this.canEdit) {
      this.drag = { kind: 'frame', x: p.x, y: p.y, box: { x: p.x, y: p.y, w: 0, h: 0 } };
      return;
    }
    if (this.tool !== 'select') {
      const tool = this.tool;
      const id = this.createAt(tool, p.x, p.y);
      this.setTool('select');
      if (id && !['rectangle', 'ellipse', 'diamond'].includes(tool)) this.editor.start(id, tool === 'mindmap');
      this.afterSelect();
      return;
    }
    if (this.rotateHandleAt(sx, sy)) {
      const el = this.rotatable()!;
      const cx = el.x + el.w / 2,
        cy = el.y + el.h / 2;
      this.drag = { kind: 'rotate', id: el.id, cx, cy, start: Math.atan2(p.y - cy, p.x - cx), orig: el.rot, rot: el.rot };
      return;
    }
    const corner = this.handleAt(sx, sy);
    if (corner >= 0) {
      const orig = selectionBox(this.board, this.selection)!;
      const origs = new Map<string, Box>();
      for (const id of this.selection) {
        const el = this.board.get(id);
        if (el) origs.set(id, { x: el.x, y: el.y, w: el.w, h: el.h });
      }
      const box = { x: orig.x, y: orig.y, w: orig.w, h: orig.h };
      this.drag = { kind: 'resize', id: [...origs.keys()][0], corner, orig: box, box: { ...box }, origs, rot: orig.rot };
      return;
    }
    const badge = this.badgeAt(p.x, p.y);
    if (badge && this.canEdit) {
      this.toggleCollapse([badge.id]);
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
        // What moves with them: a frame's contents, a mindmap node's subtopics.
        const orig = new Map<string, Box>();
        for (const id of ids) {
          for (const el of [this.board.get(id)!, ...this.board.descendants(id)]) orig.set(el.id, { x: el.x, y: el.y, w: el.w, h: el.h });
        }
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
      d.target = this.dropTarget(d, p.x, p.y)?.id;
      this.ui.context.hidden = true;
      this.redraw();
    } else if (d?.kind === 'resize') {
      d.box = d.rot ? resizeRotated(d.orig, d.rot, d.corner, p.x, p.y, 24) : resizeBox(d.orig, d.corner, p.x, p.y, d.origs.size > 1 ? 8 : 24);
      this.redraw();
    } else if (d?.kind === 'rotate') {
      let rot = d.orig + ((Math.atan2(p.y - d.cy, p.x - d.cx) - d.start) * 180) / Math.PI;
      rot = ((rot % 360) + 360) % 360;
      if (e.shiftKey) rot = (Math.round(rot / 15) * 15) % 360;
      d.rot = Math.round(rot * 10) / 10;
      this.redraw();
    } else if (d?.kind === 'ink') {
      const n = d.points.length;
      if (Math.hypot(p.x - d.points[n - 3], p.y - d.points[n - 2]) * this.cam.zoom >= MIN_STEP) d.points.push(p.x, p.y, pressure(e));
      this.redraw();
    } else if (d?.kind === 'connect') {
      const hit = this.board.hit(p.x, p.y, 2 / this.cam.zoom, (x) => x.kind === 'connector' || ('el' in d.from && x.id === d.from.el));
      d.target = hit?.id;
      d.to = [p.x, p.y];
      this.redraw();
    } else if (d?.kind === 'frame') {
      d.box = { x: Math.min(d.x, p.x), y: Math.min(d.y, p.y), w: Math.abs(p.x - d.x), h: Math.abs(p.y - d.y) };
      this.redraw();
    } else if (d?.kind === 'marquee') {
      const s = this.toBoard(d.sx, d.sy);
      d.box = { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
      const inside = this.board.query(d.box).filter((el) => contains(d.box, el));
      this.selection = new Set([...d.base, ...inside.map((el) => el.id)]);
      this.redraw();
    } else {
      const corner = this.handleAt(sx, sy);
      this.ui.canvas.style.cursor = corner === 0 || corner === 2 ? 'nwse-resize' : corner === 1 || corner === 3 ? 'nesw-resize' : this.rotateHandleAt(sx, sy) ? 'grab' : '';
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
      const ops = this.moveOps(d);
      if (ops.length) this.edit(ops);
    } else if (d?.kind === 'resize') {
      const ops: LocalOp[] = [];
      for (const [id, nb] of resized(d)) {
        const o = d.origs.get(id)!;
        const b = roundBox(nb);
        const e = this.board.get(id);
        if (!e) continue;
        for (const k of ['x', 'y', 'w', 'h'] as const) if (b[k] !== o[k]) ops.push({ op: 'set', el: id, key: k, value: b[k] });
        if (e.kind === 'stroke' && (b.w !== o.w || b.h !== o.h)) {
          const pts = scalePoints(e.props.points, o.w, o.h, b.w, b.h);
          if (pts) ops.push({ op: 'set', el: id, key: 'points', value: pts });
        }
      }
      if (ops.length) this.edit(ops);
    } else if (d?.kind === 'rotate') {
      if (d.rot !== d.orig) this.edit([{ op: 'set', el: d.id, key: 'rot', value: d.rot }]);
    } else if (d?.kind === 'ink') {
      this.finishInk(d.points);
    } else if (d?.kind === 'connect') {
      this.finishConnector(d);
    } else if (d?.kind === 'frame') {
      this.finishFrame(d.box.w * this.cam.zoom < 16 || d.box.h * this.cam.zoom < 16 ? null : d.box, d.x, d.y);
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
      if (['note', 'shape', 'text', 'mindmap', 'frame', 'connector'].includes(hit.kind)) {
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
      this.selection = new Set(this.board.all().map((x) => x.id));
      this.afterSelect();
    } else if (mod && e.key === 'd') {
      e.preventDefault();
      this.duplicateSelection();
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      this.deleteSelection();
    } else if (e.key === 'Escape' && !this.ui.help.hidden) {
      this.ui.help.hidden = true;
    } else if (e.key === 'Escape') {
      this.selection.clear();
      this.setTool('select');
      this.afterSelect();
    } else if (e.key === '?') {
      this.ui.help.hidden = !this.ui.help.hidden;
    } else if (e.key === 'Tab' && this.selection.size === 1 && this.board.get([...this.selection][0])?.kind === 'mindmap') {
      e.preventDefault();
      if (this.canEdit) this.addChild([...this.selection][0]);
    } else if (e.key === 'Enter' && this.selection.size === 1 && this.board.get([...this.selection][0])?.kind === 'mindmap' && !e.shiftKey) {
      e.preventDefault();
      if (this.canEdit) this.addSibling([...this.selection][0]);
    } else if ((e.key === 'Enter' || e.key === 'F2') && this.selection.size === 1) {
      e.preventDefault();
      this.editor.start([...this.selection][0]);
    } else if (e.key === '.' && this.selection.size && this.canEdit) {
      this.toggleCollapse();
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

/**
 * The ops without those at the bad indices; a bad create takes every op on
 * its element with it (a pasted element the board's schema cannot hold is
 * left out whole, rather than sent and refused).
 */
function keepValid(ops: LocalOp[], bad: number[]): { ops: LocalOp[]; dropped: number } {
  if (!bad.length) return { ops, dropped: 0 };
  const skip = new Set(bad);
  const gone = new Set<string>();
  for (const i of bad) if (ops[i].op === 'create') gone.add(ops[i].el);
  const out = ops.filter((o, i) => !skip.has(i) && !gone.has(o.el) && !(o.op === 'move' && o.parent && gone.has(o.parent)));
  return { ops: out, dropped: ops.length - out.length };
}

/** A pointer's pressure, 0..1; 0.5 for a mouse (perfect-freehand then simulates it from speed). */
function pressure(e: PointerEvent): number {
  return e.pointerType === 'pen' && e.pressure > 0 ? Math.round(e.pressure * 100) / 100 : 0.5;
}

/** Kinds whose box is their own (resize handles); kinds that turn (the rotation handle). */
const RESIZABLE = new Set(['note', 'shape', 'text', 'stroke', 'image', 'frame']);
const ROTATABLE = new Set(['note', 'shape', 'text', 'stroke', 'image']);

/** The boxes of a resize in progress: every element scaled with the selection's box. */
function resized(d: { orig: Box; box: Box; origs: Map<string, Box> }): Map<string, Box> {
  const o = d.orig,
    b = d.box;
  const sx = o.w ? b.w / o.w : 1,
    sy = o.h ? b.h / o.h : 1;
  const out = new Map<string, Box>();
  for (const [id, e] of d.origs) out.set(id, { x: b.x + (e.x - o.x) * sx, y: b.y + (e.y - o.y) * sy, w: Math.max(1, e.w * sx), h: Math.max(1, e.h * sy) });
  return out;
}

function roundBox(b: Box): Box {
  return { x: Math.round(b.x), y: Math.round(b.y), w: Math.round(b.w), h: Math.round(b.h) };
}

/** A point turned by deg degrees (clockwise on screen) about (cx, cy). */
function turn(x: number, y: number, cx: number, cy: number, deg: number): [number, number] {
  if (!deg) return [x, y];
  const r = (deg * Math.PI) / 180;
  const dx = x - cx,
    dy = y - cy;
  return [cx + dx * Math.cos(r) - dy * Math.sin(r), cy + dx * Math.sin(r) + dy * Math.cos(r)];
}

/**
 * Resizing a rotated element by corner c: the pointer is read in the
 * element's own (unrotated) frame, and the new box is shifted so that the
 * opposite corner stays where it is on screen (rotation is about the
 * centre, which moves with the size).
 */
function resizeRotated(o: Box, rot: number, c: number, px: number, py: number, min: number): Box {
  const [lx, ly] = turn(px, py, o.x + o.w / 2, o.y + o.h / 2, -rot);
  const b = resizeBox(o, c, lx, ly, min);
  const opp = (c + 2) % 4;
  const [ax, ay] = corners(o)[opp];
  const [bx, by] = corners(b)[opp];
  const a = turn(ax, ay, o.x + o.w / 2, o.y + o.h / 2, rot);
  const n = turn(bx, by, b.x + b.w / 2, b.y + b.h / 2, rot);
  return { x: b.x + a[0] - n[0], y: b.y + a[1] - n[1], w: b.w, h: b.h };
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

