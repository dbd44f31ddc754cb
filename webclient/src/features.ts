// The board page's extra features — images, export, comments, votes, "since
// your last visit" and embedding — attached to a running board through one
// small host interface (featurekit.ts), so that they stay out of the board
// page's own code.
//
// How they learn what changed: the Board's change event (model.ts), which
// every change raises, local (LocalEdits) or remote; the page's view,
// selection and connection events; and timers for what time alone changes
// (the deadline, the node's metadata and voting rules, re-read while
// live). Their DOM overlays (vote badges, comment pins, "new" badges) are
// laid out again at the next animation frame after any of these, once.
// Rejected: wrapping Board.upsert and polling camera, selection, role and
// Board.version every animation frame (what this replaced: a comparison
// per frame forever, and a model patched from outside); drawing these on
// the canvas (they are controls people click, and the renderer is not
// theirs to extend).
//
// Comments are not board elements to the canvas: the Board keeps elements
// of kind "comment" out of its elements (they have no box; they are drawn
// as pins by comments.ts and listed in its panel) and lists their ids.
import { installOutline } from './outline';
import { LongPress } from './touch';
import type { LocalOp } from './crdt';
import type { FeatureContext, FeatureHost } from './featurekit';
import { Comments } from './comments';
import { Embed, embedParams } from './embed';
import { Exporter } from './export';
import { Images } from './images';
import { KeptWords } from './keptwords';
import { SinceVisit } from './sincevisit';
import { FacilitationTimer } from './timer';
import { BoardSearch } from './search';
import { Minimap } from './minimap';
import { Converter } from './convert';
import { Votes } from './votes';
import { language, t as tr } from './i18n';
import './features.css';

export type { FeatureHost } from './featurekit';

type ChangeListener = (ids: string[]) => void;

/** The features of one board page; see the file comment. */
export class Features implements FeatureContext {
  readonly layer: HTMLElement;
  readonly menu: HTMLElement;
  readonly notices: HTMLElement;
  readonly images: Images;
  readonly exporter: Exporter;
  readonly votes: Votes;
  readonly comments: Comments;
  readonly since: SinceVisit;
  readonly kept: KeptWords;
  readonly timer: FacilitationTimer;
  readonly search: BoardSearch;
  readonly minimap: Minimap;
  readonly convert: Converter;
  embed: Embed | null = null;
  /** Ids of the comment elements seen so far (the Board keeps them out of its elements). */
  readonly commentIds: Set<string>;
  private listeners: ChangeListener[] = [];
  private roleChip: HTMLElement;
  /** The countdown to the deadline, in the top bar. */
  private deadlineChip: HTMLElement;
  private countdown: ReturnType<typeof setInterval> | undefined;
  /** Whether the board was closed when last shown (null: not known yet). */
  private wasClosed: boolean | null = null;
  private deadlineKnown = false;
  /** The board's deadline (unix ms; 0: none), from the node: after it, nothing may change. */
  deadline = 0;
  private deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  private metaAt = 0;
  private lastRole: string | undefined = '';
  private layoutQueued = false;

  constructor(readonly host: FeatureHost) {
    const boardEl = host.root.querySelector('.board') ?? host.root;
    this.commentIds = host.board.comments;
    this.layer = document.createElement('div');
    this.layer.className = 'fx-layer';
    boardEl.appendChild(this.layer);
    this.menu = document.createElement('div');
    this.menu.className = 'panel fx-menu';
    this.menu.setAttribute('role', 'toolbar');
    boardEl.appendChild(this.menu);
    this.notices = document.createElement('div');
    this.notices.className = 'fx-notices';
    boardEl.appendChild(this.notices);
    // The role the welcome gave, said in the top bar when it limits what
    // one can do.
    this.roleChip = document.createElement('span');
    this.roleChip.className = 'fx-role';
    this.roleChip.hidden = true;
    (host.root.querySelector('.topbar') ?? this.menu).appendChild(this.roleChip);
    this.deadlineChip = document.createElement('span');
    this.deadlineChip.className = 'fx-deadline';
    this.deadlineChip.setAttribute('role', 'timer');
    this.deadlineChip.hidden = true;
    (host.root.querySelector('.topbar') ?? this.menu).appendChild(this.deadlineChip);
    this.timer = new FacilitationTimer(this, this, (host.root.querySelector('.topbar') as HTMLElement | null) ?? this.menu);
    this.images = new Images(this);
    this.exporter = new Exporter(this);
    this.votes = new Votes(this);
    this.comments = new Comments(this);
    this.since = new SinceVisit(this);
    this.kept = new KeptWords(this);
    this.search = new BoardSearch(this);
    this.minimap = new Minimap(this);
    this.convert = new Converter(this);
    host.board.onChange((c) => {
      this.invalidate();
      this.changed(c.ids);
    });
    // The stored copy was loaded before the features started: their first change.
    this.changed([...host.board.els.keys(), ...host.board.comments]);
    if (embedParams()) this.embed = new Embed(this);
    host.onView(() => this.invalidate());
    host.onSelect(() => {
      this.invalidate();
      this.embed?.selectionChanged();
    });
    host.onState(() => this.stateChanged());
    // What time alone changes: the node's metadata (the deadline) every
    // minute, the voting rules as often as votes.ts wants them.
    setInterval(() => {
      if (this.host.sync.state === 'live' && Date.now() - this.metaAt > 60_000) void this.readMeta();
    }, 10_000);
    setInterval(() => this.votes.tick(), 5_000);
    this.stateChanged();
    this.invalidate();
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

  /** Lays the overlays out again at the next frame (once, however often asked). */
  invalidate(): void {
    if (this.layoutQueued) return;
    this.layoutQueued = true;
    requestAnimationFrame(() => {
      this.layoutQueued = false;
      this.votes.layout();
      this.comments.layout();
      this.since.layout();
    });
  }

  /**
   * Applies ops as one local change for comments and votes, which
   * commenters may make too (the node enforces what each role may do):
   * through the page's LocalEdits.
   */
  apply(ops: LocalOp[]): string[] | null {
    return this.host.edit(ops, 'annotate');
  }

  /** The node's time now as this page best knows it (its clock offset: timer.ts), which the deadline is in. */
  nodeNow(): number {
    return Date.now() + (this.timer?.offset ?? 0);
  }

  /** Whether the board is past its deadline (the node refuses every change then). */
  get closed(): boolean {
    return this.deadline > 0 && this.nodeNow() >= this.deadline;
  }

  /** Reads the board's deadline from the node (when live, then every minute). */
  private async readMeta(): Promise<void> {
    this.metaAt = Date.now();
    const t = this.host.token();
    try {
      const r = await fetch(`/v1/boards/${this.host.boardId}`, { headers: t ? { Authorization: 'Bearer ' + t } : {} });
      if (!r.ok) return;
      const j = await r.json();
      this.setDeadline(typeof j.board?.deadline === 'number' ? j.board.deadline : 0, j.closed === true);
      this.timer.fromBoard(j.board?.timer, j.now);
    } catch {
      /* offline */
    }
  }

  /**
   * Takes the board's deadline as the node gives it (here, and from every
   * metadata answer of the access pieces, so that a Reopen shows at once):
   * the chip, read-only, and a timer for when it passes.
   */
  setDeadline(deadline: number, closed: boolean): void {
    this.deadline = deadline;
    if (closed && !this.deadline) this.deadline = 1;
    this.deadlineKnown = true;
    this.lastRole = '-'; // redo the chip
    this.showRole();
    // A deadline to come: the chip and read-only follow when it passes
    // (capped: timers overflow past 24.8 days).
    clearTimeout(this.deadlineTimer);
    const now = this.nodeNow();
    if (this.deadline > now) this.deadlineTimer = setTimeout(() => this.showRole(), Math.min(this.deadline - now + 50, 2 ** 31 - 1));
    this.showCountdown();
  }

  /**
   * The countdown in the top bar while a deadline is to come ("Closes in
   * 4:05"; the date in its title), every second; urgent in its last five
   * minutes. Rejected: a banner over the board for the whole session (it
   * would cover notes for days).
   */
  private showCountdown(): void {
    const left = this.deadline - this.nodeNow();
    const chip = this.deadlineChip;
    if (this.deadline <= 1 || left <= 0) {
      chip.hidden = true;
      clearInterval(this.countdown);
      this.countdown = undefined;
      return;
    }
    const s = Math.ceil(left / 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    const d = Math.floor(s / 86400);
    const hms = d > 0 ? tr('deadline.days', { d, h: Math.floor((s % 86400) / 3600) }) : s >= 3600 ? `${Math.floor(s / 3600)}:${p(Math.floor((s % 3600) / 60))}:${p(s % 60)}` : `${Math.floor(s / 60)}:${p(s % 60)}`;
    chip.textContent = tr('deadline.closesIn', { time: hms });
    chip.title = tr('deadline.title', { when: new Date(this.deadline).toLocaleString(language()) });
    chip.dataset.urgent = String(s <= 300);
    chip.hidden = false;
    this.countdown ??= setInterval(() => this.showCountdown(), 1000);
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

  private changed(ids: string[]): void {
    if (!ids.length) return;
    for (const fn of this.listeners) {
      try {
        fn(ids);
      } catch (e) {
        console.error('corkboard: change listener', e);
      }
    }
  }

  /** The connection's state or the role changed. */
  private stateChanged(): void {
    if (this.host.sync.state === 'live' && Date.now() - this.metaAt > 60_000) void this.readMeta();
    this.showRole();
    this.since.tick();
    this.votes.tick();
    this.embed?.stateChanged();
  }

  /** The role chip, and read-only past the deadline. */
  private showRole(): void {
    const closed = this.closed;
    // Said once when it passes while the page is open (not on arrival at a closed board).
    if (this.deadlineKnown) {
      if (closed && this.wasClosed === false) this.host.toast(tr('deadline.passed'));
      this.wasClosed = closed;
    }
    const role = this.host.sync.role;
    const roleKey = `${role}|${closed}`;
    if (roleKey === this.lastRole) return;
    const wasClosed = this.lastRole?.endsWith('|true');
    this.lastRole = roleKey;
    this.host.root.classList.toggle('fx-viewer', role === 'viewer' || closed);
    if (closed) this.host.setReadOnly(true);
    else if (wasClosed) this.host.setReadOnly(this.host.root.classList.contains('fx-view')); // reopened (an embed in view mode stays read-only)
    this.roleChip.hidden = !closed && role !== 'viewer' && role !== 'commenter';
    this.roleChip.dataset.role = closed ? 'closed' : role ?? '';
    this.roleChip.textContent = closed ? tr('chip.closed') : role === 'viewer' ? tr('chip.viewOnly') : tr('chip.commenter');
    this.roleChip.title = closed ? tr('chip.closed.title') : role === 'viewer' ? tr('chip.viewOnly.title') : tr('chip.commenter.title');
  }
}

/** Attaches the features to a board page (called once the board is loaded). */
export function installFeatures(host: FeatureHost): Features {
  const f = new Features(host);
  installOutline(f);
  // The long press's menu (touch.ts).
  const lp = new LongPress({ host, comment: (at) => f.comments.begin(at), vote: (id) => void f.votes.vote(id, f.votes.tally(id).mine + 1) });
  const dbg = (window as unknown as { __corkboard?: Record<string, unknown> }).__corkboard;
  if (dbg) {
    dbg.features = f;
    dbg.longPress = lp;
  }
  return f;
}
