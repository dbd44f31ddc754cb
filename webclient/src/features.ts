// The board page's extra features — images, export, comments, votes, "since
// your last visit" and embedding — attached to a running board through one
// small host interface, so that they stay out of the board page's own code.
//
// How they learn what changed: the host's Board is wrapped once (its upsert,
// which every change goes through, local or remote) instead of adding
// callbacks to each of the board page's change paths; and one
// requestAnimationFrame loop repositions their DOM overlays (vote badges,
// comment pins, "new" badges) when the camera or the board moved. Rejected:
// drawing these on the canvas (they are controls people click, and the
// renderer is not theirs to extend), and timers (a frame loop costs a
// comparison per frame and never lags the canvas).
//
// Comments are not board elements to the canvas: the wrapped upsert keeps
// elements of kind "comment" out of the Board (they have no box; they are
// drawn as pins by comments.ts and listed in its panel).
import type { CrdtDoc, ElementJSON, LocalOp } from './crdt';
import type { Board } from './model';
import type { Camera, Renderer } from './render';
import type { Sync } from './sync';
import { Comments } from './comments';
import { Embed, embedParams } from './embed';
import { Exporter } from './export';
import { Images } from './images';
import { SinceVisit } from './sincevisit';
import { Votes } from './votes';
import './features.css';

/** What the board page gives the features. */
export interface FeatureHost {
  /** The page's root element (the board UI is inside it). */
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  boardId: string;
  token(): string | undefined;
  /** Replaces the page's board token (stored; the connection reopens with it). */
  setToken(token: string): void;
  /** Keeps a role link for the top bar's Share button (null: forget it; role "*": every role). */
  keepLink(role: string, url: string | null): void;
  doc: CrdtDoc;
  board: Board;
  sync: Sync;
  renderer: Renderer;
  camera(): Camera;
  setCamera(c: Camera): void;
  selection(): Set<string>;
  select(ids: string[]): void;
  /** Applies ops as one local change through the page (editors and owners). */
  edit(ops: LocalOp[]): string[] | null;
  /** Whether the person may edit elements (not a viewer or commenter, not read-only). */
  canEdit(): boolean;
  /** Turns the page read-only (embedded in view mode) or back. */
  setReadOnly(ro: boolean): void;
  redraw(): void;
  toast(msg: string, error?: boolean): void;
}

type ChangeListener = (ids: string[]) => void;

/** The features of one board page; see the file comment. */
export class Features {
  readonly layer: HTMLElement;
  readonly menu: HTMLElement;
  readonly images: Images;
  readonly exporter: Exporter;
  readonly votes: Votes;
  readonly comments: Comments;
  readonly since: SinceVisit;
  embed: Embed | null = null;
  /** Ids of the comment elements seen so far (they are kept out of the Board). */
  readonly commentIds = new Set<string>();
  private listeners: ChangeListener[] = [];
  private lastCam = '';
  private roleChip: HTMLElement;
  /** The board's deadline (unix ms; 0: none), from the node: after it, nothing may change. */
  deadline = 0;
  private metaAt = 0;
  private lastRole: string | undefined = '';
  private lastVersion = -1;
  private dirty = true;

  constructor(readonly host: FeatureHost) {
    const boardEl = host.root.querySelector('.board') ?? host.root;
    this.layer = document.createElement('div');
    this.layer.className = 'fx-layer';
    boardEl.appendChild(this.layer);
    this.menu = document.createElement('div');
    this.menu.className = 'panel fx-menu';
    this.menu.setAttribute('role', 'toolbar');
    boardEl.appendChild(this.menu);
    // The role the welcome gave, said in the top bar when it limits what
    // one can do.
    this.roleChip = document.createElement('span');
    this.roleChip.className = 'fx-role';
    this.roleChip.hidden = true;
    (host.root.querySelector('.topbar') ?? this.menu).appendChild(this.roleChip);
    this.wrapBoard();
    this.images = new Images(this);
    this.exporter = new Exporter(this);
    this.votes = new Votes(this);
    this.comments = new Comments(this);
    this.since = new SinceVisit(this);
    // The stored copy was loaded before the wrap: load it again through it.
    host.board.clear();
    host.board.upsert(host.doc.elements());
    if (embedParams()) this.embed = new Embed(this);
    const loop = () => {
      this.frame();
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  }

  /** A menu button. */
  button(label: string, title: string, onClick: () => void, cls = ''): HTMLButtonElement {
    const b = document.createElement('button');
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', title);
    if (cls) b.className = cls;
    b.addEventListener('click', onClick);
    this.menu.appendChild(b);
    return b;
  }

  /** Calls fn with the ids of elements that changed (locally or remotely). */
  onChange(fn: ChangeListener): void {
    this.listeners.push(fn);
  }

  /** Marks the overlays for repositioning at the next frame. */
  invalidate(): void {
    this.dirty = true;
  }

  /**
   * Applies ops as one local change for comments and votes, which
   * commenters may make too (the node enforces what each role may do):
   * into the doc, the outbox and the screen.
   */
  apply(ops: LocalOp[]): string[] | null {
    const h = this.host;
    if (this.closed) {
      h.toast('This board closed at its deadline: it is read-only now.');
      return null;
    }
    const role = h.sync.role;
    if (role === 'viewer') {
      h.toast('You can only view this board.');
      return null;
    }
    if (!h.sync.canWrite) {
      h.toast('Catching up with the server before your next edit…');
      return null;
    }
    let c;
    try {
      c = h.doc.edit(ops);
    } catch (e) {
      h.toast('That could not be done: ' + (e as Error).message, true);
      return null;
    }
    if (!c) return [];
    h.sync.commit(c);
    h.board.upsert(h.doc.elements(c.ids));
    h.redraw();
    return c.ids;
  }

  /** Whether the board is past its deadline (the node refuses every change then). */
  get closed(): boolean {
    return this.deadline > 0 && Date.now() >= this.deadline;
  }

  /** Reads the board's deadline from the node (when live, then every minute). */
  private async readMeta(): Promise<void> {
    this.metaAt = Date.now();
    const t = this.host.token();
    try {
      const r = await fetch(`/v1/boards/${this.host.boardId}`, { headers: t ? { Authorization: 'Bearer ' + t } : {} });
      if (!r.ok) return;
      const j = await r.json();
      this.deadline = typeof j.board?.deadline === 'number' ? j.board.deadline : 0;
      if (j.closed === true && !this.deadline) this.deadline = 1;
      this.lastRole = '-'; // redo the chip
    } catch {
      /* offline */
    }
  }

  /** The user id edits are made as (votes and authors must be one's own). */
  get userId(): string | undefined {
    return this.host.sync.user?.id;
  }

  /** Board point → position in the board container (CSS px). */
  toScreen(x: number, y: number): { x: number; y: number } {
    const c = this.host.camera();
    return { x: (x - c.x) * c.zoom, y: (y - c.y) * c.zoom };
  }

  /** Centres the view on an element and selects it. */
  zoomTo(id: string): boolean {
    const h = this.host;
    const e = h.board.get(id);
    if (!e) return false;
    const W = h.renderer.width || innerWidth;
    const H = h.renderer.height || innerHeight;
    const zoom = Math.min(1.5, Math.max(0.1, Math.min((W * 0.6) / e.w, (H * 0.6) / e.h)));
    h.setCamera({ x: e.x + e.w / 2 - W / 2 / zoom, y: e.y + e.h / 2 - H / 2 / zoom, zoom });
    h.select([id]);
    return true;
  }

  private wrapBoard(): void {
    const board = this.host.board;
    const upsert = board.upsert.bind(board);
    const clear = board.clear.bind(board);
    board.upsert = (list: ElementJSON[]) => {
      const keep: ElementJSON[] = [];
      const ids: string[] = [];
      for (const j of list) {
        ids.push(j.id);
        if (j.kind === 'comment') this.commentIds.add(j.id);
        else keep.push(j);
      }
      upsert(keep);
      this.changed(ids);
    };
    board.clear = () => {
      clear();
      this.commentIds.clear();
      this.dirty = true;
    };
  }

  private changed(ids: string[]): void {
    if (!ids.length) return;
    this.dirty = true;
    for (const fn of this.listeners) {
      try {
        fn(ids);
      } catch (e) {
        console.error('corkboard: change listener', e);
      }
    }
  }

  private frame(): void {
    if (this.host.sync.state === 'live' && Date.now() - this.metaAt > 60_000) void this.readMeta();
    const closed = this.closed;
    const role = this.host.sync.role;
    const roleKey = `${role}|${closed}`;
    if (roleKey !== this.lastRole) {
      const wasClosed = this.lastRole?.endsWith('|true');
      this.lastRole = roleKey;
      this.host.root.classList.toggle('fx-viewer', role === 'viewer' || closed);
      if (closed) this.host.setReadOnly(true);
      else if (wasClosed) this.host.setReadOnly(this.host.root.classList.contains('fx-view')); // reopened (an embed in view mode stays read-only)
      this.roleChip.hidden = !closed && role !== 'viewer' && role !== 'commenter';
      this.roleChip.dataset.role = closed ? 'closed' : role ?? '';
      this.roleChip.textContent = closed ? 'Closed' : role === 'viewer' ? 'View only' : 'Can comment and vote';
      this.roleChip.title = closed ? 'This board closed at its deadline: it is read-only' : role === 'viewer' ? 'Your link lets you look at this board' : 'Your link lets you comment and vote, not edit';
    }
    const c = this.host.camera();
    const sel = this.host.selection();
    const key = `${c.x}|${c.y}|${c.zoom}|${this.host.renderer.width}|${this.host.renderer.height}|${sel.size}|${sel.size === 1 ? [...sel][0] : ''}`;
    if (key !== this.lastCam || this.host.board.version !== this.lastVersion || this.dirty) {
      this.lastCam = key;
      this.lastVersion = this.host.board.version;
      this.dirty = false;
      this.votes.layout();
      this.comments.layout();
      this.since.layout();
    }
    this.since.tick();
    this.votes.tick();
    this.embed?.frame();
  }
}

/** Attaches the features to a board page (called once the board is loaded). */
export function installFeatures(host: FeatureHost): Features {
  const f = new Features(host);
  const dbg = (window as unknown as { __corkboard?: Record<string, unknown> }).__corkboard;
  if (dbg) dbg.features = f;
  return f;
}
