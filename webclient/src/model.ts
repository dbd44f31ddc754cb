// The board as the UI sees it: elements read from the CRDT (as JSON, only
// those that changed), their boxes with the schema's defaults, and a
// uniform-grid spatial index so that drawing and hit-testing touch only
// what is near the viewport.
//
// Some boxes are derived rather than stored (docs/SCHEMA.md): a mindmap
// node's place comes from the tidy layout of its tree (mindmap.ts), a
// connector's from the elements its ends are bound to (connectors.ts), and
// an element inside a deleted element or a collapsed mindmap node is hidden.
// These "structural" elements (mindmap nodes, connectors, anything under a
// parent other than the board) are re-derived together after every change.
// The alternative, tracking exactly which derived boxes a change can reach,
// was rejected as easy to get wrong for a cost that only matters on boards
// with thousands of nested elements; plain notes and shapes at the board's
// root, the bulk of a big board, never enter the pass.
import type { ElementJSON } from './crdt';
import { boundIds, connectorBox, connectorPath, curveControls } from './connectors';
import { layoutMindmaps, nodeFontSize } from './mindmap';
import type { Box, El } from './element';

export type { Box, El } from './element';

export const ROOT_ID = '00000000-0000-0000-0000-000000000000';

const CELL = 512;
/** Cells of the index per axis either side of 0; boxes beyond fall in the outermost ones. */
const CELLS = 1 << 20;

/** The index cell of a coordinate, clamped to ±CELLS. */
function cellOf(v: number): number {
  const c = Math.floor(v / CELL);
  return c < -CELLS ? -CELLS : c > CELLS ? CELLS : c;
}

/**
 * The index key of a cell, a number: string keys ("x,y") cost a string
 * per cell per element indexed, most of the time of taking in a big board.
 */
function cellKey(cx: number, cy: number): number {
  return (cx + CELLS) * (2 * CELLS + 1) + (cy + CELLS);
}

/** Default sizes per kind (docs/SCHEMA.md: w and h default to 200). */
function num(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : d;
}

export function toEl(j: ElementJSON): El {
  const p = j.props ?? {};
  return {
    id: j.id,
    kind: j.kind,
    deleted: !!j.deleted,
    parent: j.parent && j.parent !== ROOT_ID ? j.parent : undefined,
    pos: j.pos ?? '',
    rot: num(p.rot, 0),
    hidden: false,
    depth: 0,
    z: typeof p.z === 'string' ? p.z : '',
    x: num(p.x, 0),
    y: num(p.y, 0),
    w: Math.max(1, num(p.w, 200)),
    h: Math.max(1, num(p.h, 200)),
    props: p,
    text: j.text ?? {},
  };
}

/** Whether an element's box is computed from others (a laid-out mindmap node, a connector). */
export function derived(e: El, board: Board): boolean {
  if (e.kind === 'connector') return true;
  return e.kind === 'mindmap' && !!e.parent && board.els.get(e.parent)?.kind === 'mindmap';
}

/** The axis-aligned box around an element as drawn (rotation included). */
export function aabb(e: Box & { rot?: number }): Box {
  const r = e.rot ? (e.rot * Math.PI) / 180 : 0;
  if (!r) return e;
  const c = Math.abs(Math.cos(r)),
    s = Math.abs(Math.sin(r));
  const w = e.w * c + e.h * s,
    h = e.w * s + e.h * c;
  return { x: e.x + e.w / 2 - w / 2, y: e.y + e.h / 2 - h / 2, w, h };
}

/** A board point in an element's unrotated frame (rotated back about its centre). */
export function unrotate(e: Box & { rot?: number }, x: number, y: number): { x: number; y: number } {
  if (!e.rot) return { x, y };
  const r = (-e.rot * Math.PI) / 180;
  const cx = e.x + e.w / 2,
    cy = e.y + e.h / 2;
  const dx = x - cx,
    dy = y - cy;
  return { x: cx + dx * Math.cos(r) - dy * Math.sin(r), y: cy + dx * Math.sin(r) + dy * Math.cos(r) };
}

/** Sibling order: position key, then id (docs/SCHEMA.md). */
export function byPos(a: El, b: El): number {
  if (a.pos !== b.pos) return a.pos < b.pos ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Draw order: ascending (z, id); a missing z sorts first (docs/SCHEMA.md). */
export function byZ(a: El, b: El): number {
  if (a.z !== b.z) return a.z < b.z ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * What one change of a Board touched: the ids it was given (comments
 * included), or reset: the board was emptied (a reload from the node);
 * the elements come back in the next change.
 */
export interface BoardChange {
  ids: string[];
  reset: boolean;
  /**
   * Where what is drawn may have changed (board units): the boxes of the
   * changed elements before and after, those of elements laid out or
   * derived again, and around each mindmap node that moved its edges.
   * Absent: anywhere (a reload, a new layout of everything, too many).
   */
  dirty?: Box[];
}

/** The most boxes a change's dirty list holds; past it, it is anywhere. */
const MAX_DIRTY = 64;

function sameBox(a: Box, b: Box): boolean {
  return a.x === b.x && a.y === b.y && a.w === b.w && a.h === b.h;
}

/** The box holding both boxes. */
export function union(a: Box, b: Box): Box {
  const x = Math.min(a.x, b.x),
    y = Math.min(a.y, b.y);
  return { x, y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
}

/** What of an element is drawn, for a dirty list: its box (rotated: its bounding box), whether it shows, its parent's box. */
interface Drawn {
  box: Box;
  shown: boolean;
  parent: Box | undefined;
}

/** Kinds the canvas does not hold: no box (comments are pins and a panel, comments.ts). */
const OFF_CANVAS = new Set(['comment']);

export class Board {
  readonly els = new Map<string, El>();
  /** Ids of the comment elements seen (kept out of els; see OFF_CANVAS). */
  readonly comments = new Set<string>();
  private listeners: ((c: BoardChange) => void)[] = [];
  /** The spatial index: cell (cellKey) → ids of the elements whose box meets it. */
  private grid = new Map<number, Set<string>>();
  private cellsOf = new Map<string, number[]>();
  private big = new Set<string>();
  /**
   * The index is not built: the board was filled from empty in one upsert
   * (a board loaded whole), and the index is built at the first use that
   * needs it (ensureIndex). The first frame of a big board is its whole
   * extent, which reads every element anyway; building the grid before it
   * (a set entry per cell per element) was a fifth of taking in 100,000
   * elements. The page then builds it in slices (indexInSlices), which
   * need no tracking of the changes in between: a changed element is
   * indexed as it comes, and indexed anew when the build reaches it.
   * Rejected: a bulk build sorted by cell (the cost is the entries, not
   * their order).
   */
  private unindexed = false;
  /**
   * The index being built a slice at a time (indexInSlices): the ids it
   * goes through. Meanwhile the board answers queries as an unindexed one
   * and indexes the elements that change as they come, so the build can
   * stop between any two slices; an element reached again is indexed anew.
   */
  private building: string[] | null = null;
  /** Being filled apart from the page (beginFill): upserts neither derive nor tell anyone until adopt. */
  private filling = false;
  /** parent id → ids of its children (deleted ones included). */
  private kids = new Map<string, Set<string>>();
  /** Elements whose box or visibility is derived (see the file comment). */
  private structural = new Set<string>();
  /** The largest z key, for putting new elements on top. */
  maxZ: string | null = null;
  /** Bumped on every change, for caches. */
  version = 0;
  /**
   * Measures a mindmap node's text: its width and height in board units
   * when wrapped at maxW. The renderer sets a real one; this rough one
   * keeps the model usable without a canvas.
   */
  textSize: (text: string, fontSize: number, maxW: number) => { w: number; h: number } = (t, fs, maxW) => {
    const w = Math.min(maxW, Math.max(1, t.length) * fs * 0.55);
    return { w, h: Math.max(1, Math.ceil((t.length * fs * 0.55) / maxW)) * fs * 1.25 };
  };

  get size(): number {
    let n = 0;
    for (const e of this.els.values()) if (!e.deleted && !e.hidden) n++;
    return n;
  }

  /**
   * Calls fn after every change (upsert, clear, remeasure): the one place
   * where everything that shows the board learns of local and remote
   * changes alike. Returns the unsubscribe.
   */
  onChange(fn: (c: BoardChange) => void): () => void {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((x) => x !== fn));
  }

  private emit(c: BoardChange): void {
    for (const fn of this.listeners) {
      try {
        fn(c);
      } catch (e) {
        console.error('corkboard: board change listener', e);
      }
    }
  }

  clear(): void {
    this.els.clear();
    this.comments.clear();
    this.grid.clear();
    this.cellsOf.clear();
    this.big.clear();
    this.unindexed = false;
    this.building = null;
    this.kids.clear();
    this.structural.clear();
    this.boundTo.clear();
    this.maxZ = null;
    this.version++;
    this.emit({ ids: [], reset: true });
  }

  /** element id → the connectors bound to it. */
  private boundTo = new Map<string, Set<string>>();

  /**
   * Makes this (new, empty) board one that is filled a slice at a time,
   * apart from the page's (steps.ts: a big board read out of the CRDT a
   * page at a time): its upserts neither derive mindmap layouts, connector
   * boxes and hidden flags, nor index, nor tell listeners; the page's
   * board then adopts it whole. Rejected: filling the page's own board in
   * slices (everything that reads it between two slices, a hit test, a
   * feature, would see half a board, and each slice would derive again).
   */
  beginFill(): void {
    this.filling = true;
    this.unindexed = true;
  }

  /**
   * Replaces this board's elements with those of a board filled apart
   * (beginFill; it is spent): the same changes told as a clear and an
   * upsert of every element would tell, derived once.
   */
  adopt(f: Board): void {
    this.clear(); // a build of the index under way stops
    for (const [k, v] of f.els) this.els.set(k, v);
    for (const id of f.comments) this.comments.add(id);
    for (const [k, v] of f.kids) this.kids.set(k, v);
    for (const id of f.structural) this.structural.add(id);
    for (const [k, v] of f.boundTo) this.boundTo.set(k, v);
    this.maxZ = f.maxZ;
    this.unindexed = true;
    f.filling = false;
    f.clear();
    if (this.structural.size) this.derive(null);
    this.version++;
    this.emit({ ids: [...this.els.keys(), ...this.comments], reset: false });
  }

  /**
   * Puts (or replaces) elements from the CRDT's JSON. When every element is
   * a plain one that only changed in place (a note moved or edited: the
   * common case), only the connectors bound to them are re-derived;
   * anything else runs the whole structural pass.
   */
  upsert(list: ElementJSON[]): void {
    const ids = list.map((j) => j.id);
    // From empty: the index is left to ensureIndex (see unindexed).
    const bulk = this.filling || (this.els.size === 0 && this.comments.size === 0 && list.length > 0);
    if (bulk) this.unindexed = true;
    else if (!this.building) this.ensureIndex(); // while it is built, changed elements are indexed as they come
    if (list.some((j) => OFF_CANVAS.has(j.kind))) {
      for (const j of list) if (OFF_CANVAS.has(j.kind)) this.comments.add(j.id);
      list = list.filter((j) => !OFF_CANVAS.has(j.kind));
    }
    let full = false;
    const moved: string[] = [];
    // Mindmap nodes whose trees need a new layout (null: every tree).
    let trees: Set<string> | null = new Set();
    const oldParents: string[] = [];
    // What the changed elements drew before (dirty), when the board is indexed: a reload is anywhere.
    const was = bulk || (this.unindexed && !this.building) ? null : new Map<string, Drawn | null>();
    if (was) {
      // Before anything is replaced (a node's parent in the same change is
      // still the old one), and the connectors bound to each: drawn or not
      // with it (an end deleted or hidden), whatever their box.
      for (const j of list) if (!was.has(j.id)) was.set(j.id, this.els.has(j.id) ? this.drawn(this.els.get(j.id)!) : null);
      for (const j of list) {
        for (const cid of this.boundTo.get(j.id) ?? []) {
          const c = this.els.get(cid);
          if (c && !was.has(cid)) was.set(cid, this.drawn(c));
        }
      }
    }
    for (const j of list) {
      const e = toEl(j);
      const old = this.els.get(e.id);
      if (old && old.parent !== e.parent) this.kids.get(old.parent ?? ROOT_ID)?.delete(e.id);
      let ks = this.kids.get(e.parent ?? ROOT_ID);
      if (!ks) this.kids.set(e.parent ?? ROOT_ID, (ks = new Set()));
      ks.add(e.id);
      const plain = e.kind !== 'mindmap' && e.kind !== 'connector' && e.kind !== 'frame';
      if (plain && old && old.parent === e.parent && old.deleted === e.deleted && old.kind === e.kind && !this.kids.get(e.id)?.size) {
        e.hidden = old.hidden; // its ancestors did not change
        moved.push(e.id);
      } else full = true;
      if (e.kind === 'mindmap' && trees) {
        trees.add(e.id);
        if (old?.parent && old.parent !== e.parent) oldParents.push(old.parent);
      } else if (!(plain && moved[moved.length - 1] === e.id)) trees = null;
      if (old?.kind === 'connector') for (const b of boundIds(old)) this.boundTo.get(b)?.delete(e.id);
      if (e.kind === 'connector') {
        for (const b of boundIds(e)) {
          let s = this.boundTo.get(b);
          if (!s) this.boundTo.set(b, (s = new Set()));
          s.add(e.id);
        }
      }
      if (!bulk) this.unindex(e.id);
      this.els.set(e.id, e);
      if (e.kind === 'mindmap' || e.kind === 'connector' || e.parent) this.structural.add(e.id);
      else this.structural.delete(e.id);
      if (!bulk && !e.deleted && !e.hidden) this.index(e);
      if (e.z && (this.maxZ === null || e.z > this.maxZ)) this.maxZ = e.z;
    }
    if (this.filling) return; // adopt derives once, for the whole board
    if (full && this.structural.size) {
      let roots: Set<string> | null = null;
      if (trees) {
        roots = new Set();
        for (const id of [...trees, ...oldParents]) roots.add(this.treeRoot(id));
      }
      this.derive(roots, was);
    } else {
      for (const id of moved) {
        for (const cid of this.boundTo.get(id) ?? []) {
          const c = this.els.get(cid);
          if (!c || c.deleted || c.hidden) continue;
          const b = connectorBox(c, (other) => this.get(other));
          if (!b) continue;
          if (was && !was.has(cid)) was.set(cid, this.drawn(c));
          Object.assign(c, b);
          if (this.unindexed && !this.building) continue;
          this.unindex(cid);
          this.index(c);
        }
      }
    }
    this.version++;
    this.emit({ ids, reset: false, dirty: was ? this.dirtyOf(was) : undefined });
  }

  /** What an element draws now (a dirty list's before and after). */
  private drawn(e: El, before?: Map<string, Drawn | null>): Drawn {
    // Copies (aabb gives an unrotated element itself, which a layout moves in place).
    const copy = (b: Box): Box => ({ x: b.x, y: b.y, w: b.w, h: b.h });
    let parent: Box | undefined;
    if (e.kind === 'mindmap' && e.parent) {
      // The parent as it was drawn, when it changed in this change too (before).
      const pb = before?.get(e.parent);
      const p = this.els.get(e.parent);
      if (pb) parent = pb.box;
      else if (p?.kind === 'mindmap') parent = copy(aabb(p));
    }
    return { box: copy(aabb(e)), shown: !e.deleted && !e.hidden, parent };
  }

  /**
   * The dirty list of a change (BoardChange.dirty): for each element that
   * changed (was: what it drew before), its box before and after; a
   * mindmap node's with its parent's (the edge between them) and with its
   * children's (theirs to it). Undefined past MAX_DIRTY boxes.
   */
  private dirtyOf(was: Map<string, Drawn | null>): Box[] | undefined {
    const out: Box[] = [];
    for (const [id, before] of was) {
      const e = this.els.get(id);
      const now = e ? this.drawn(e) : null;
      for (const d of [before, now]) {
        if (!d?.shown) continue;
        out.push(d.parent ? union(d.box, d.parent) : d.box);
      }
      if (e?.kind === 'mindmap') {
        for (const k of this.kids.get(id) ?? []) {
          const c = this.els.get(k);
          if (!c || c.kind !== 'mindmap' || c.deleted || c.hidden) continue;
          for (const d of [before, now]) if (d?.shown) out.push(union(d.box, aabb(c)));
        }
      }
      if (out.length > MAX_DIRTY) return undefined;
    }
    return out;
  }

  /**
   * For each box of rs, the mindmap nodes whose edge to their parent
   * crosses it: what is drawn there besides the elements in it. One pass
   * over the nodes for all the boxes.
   */
  edgesAcross(rs: Box[]): El[][] {
    const out: El[][] = rs.map(() => []);
    if (!rs.length) return out;
    let all = rs[0];
    for (const r of rs) all = union(all, r);
    for (const id of this.structural) {
      const e = this.els.get(id)!;
      if (e.kind !== 'mindmap' || !e.parent || e.deleted || e.hidden) continue;
      const p = this.els.get(e.parent);
      if (!p || p.kind !== 'mindmap' || p.deleted || p.hidden) continue;
      const b = union(e, p);
      if (!intersects(b, all)) continue;
      for (let i = 0; i < rs.length; i++) if (intersects(b, rs[i])) out[i].push(e);
    }
    return out;
  }

  /** The root of the mindmap tree a node is in (the node itself when its parent is no mindmap node). */
  private treeRoot(id: string): string {
    let cur = id;
    for (let i = 0; i < 10000; i++) {
      const p = this.els.get(cur)?.parent;
      if (!p || this.els.get(p)?.kind !== 'mindmap') return cur;
      cur = p;
    }
    return cur;
  }

  /**
   * Recomputes hidden flags, mindmap layouts (of the trees rooted at roots;
   * null: every tree) and connector boxes, and re-indexes what moved.
   */
  private derive(roots: Set<string> | null = null, was: Map<string, Drawn | null> | null = null): void {
    const hiddenMemo = new Map<string, boolean>();
    // Hidden: some ancestor is deleted, or is a collapsed mindmap node.
    const concealed = (id: string | undefined, depth: number): boolean => {
      if (!id || depth > 10000) return false;
      const m = hiddenMemo.get(id);
      if (m !== undefined) return m;
      const p = this.els.get(id);
      const v = !!p && (p.deleted || (p.kind === 'mindmap' && p.props.collapsed === true) || concealed(p.parent, depth + 1));
      hiddenMemo.set(id, v);
      return v;
    };
    const before = new Map<string, string>();
    const key = (e: El) => `${e.x},${e.y},${e.w},${e.h},${e.rot},${e.hidden}`;
    // What the structural elements drew before, for a dirty list (was): those that move are added.
    const drew = was ? new Map<string, Drawn>() : null;
    for (const id of this.structural) {
      const e = this.els.get(id)!;
      if (!this.unindexed || this.building) before.set(id, key(e)); // for re-indexing what moved (nothing indexed when unindexed)
      if (drew && !was!.has(id)) drew.set(id, this.drawn(e, was!));
      e.hidden = concealed(e.parent, 0);
    }
    // Mindmap roots: nodes whose parent is not a mindmap node; their trees
    // laid out in one call (layoutMindmaps: a board of 2,000 trees).
    const trees: El[] = [];
    for (const id of this.structural) {
      const e = this.els.get(id)!;
      if (e.kind !== 'mindmap' || e.deleted || e.hidden) continue;
      if (e.parent && this.els.get(e.parent)?.kind === 'mindmap') continue;
      if (roots && !roots.has(id)) continue;
      trees.push(e);
    }
    if (trees.length) {
      const boxes = layoutMindmaps(trees, (n) => (n.props.collapsed === true ? [] : this.children(n.id).filter((c) => c.kind === 'mindmap')), (n, root) => this.nodeSize(n, root));
      for (const [nid, b] of boxes) {
        const n = this.els.get(nid)!;
        n.x = b.x;
        n.y = b.y;
        n.w = b.w;
        n.h = b.h;
        n.depth = b.depth;
      }
    }
    for (const id of this.structural) {
      const e = this.els.get(id)!;
      if (e.kind === 'connector' && !e.deleted) {
        const b = connectorBox(e, (other) => this.get(other));
        if (b) Object.assign(e, b);
      }
    }
    if (drew) {
      for (const [id, d] of drew) {
        const e = this.els.get(id)!;
        const now = this.drawn(e);
        if (now.shown !== d.shown || !sameBox(now.box, d.box) || (now.parent && d.parent && !sameBox(now.parent, d.parent)) || !now.parent !== !d.parent) was!.set(id, d);
      }
      // The connectors bound to what moved or was hidden or shown here: drawn or not with it.
      for (const id of [...was!.keys()]) {
        for (const cid of this.boundTo.get(id) ?? []) {
          const d = drew.get(cid);
          if (d && !was!.has(cid)) was!.set(cid, d);
        }
      }
    }
    if (this.unindexed && !this.building) return; // indexed as they are when it is built
    for (const id of this.structural) {
      const e = this.els.get(id)!;
      if (before.get(id) === key(e)) continue;
      this.unindex(id);
      if (!e.deleted && !e.hidden) this.index(e);
    }
  }

  private sizes = new Map<string, { w: number; h: number }>();

  /** A mindmap node's box size, from its text. */
  private nodeSize(n: El, root: boolean): [number, number] {
    const text = n.text.text ?? '';
    const fs = nodeFontSize(root);
    const k = `${fs}|${text}`;
    let s = this.sizes.get(k);
    if (!s) {
      const t = this.textSize(text || 'M', fs, 260);
      s = { w: Math.max(root ? 120 : 80, Math.ceil(t.w) + 28), h: Math.max(root ? 48 : 38, Math.ceil(t.h) + 18) };
      if (this.sizes.size > 5000) this.sizes.clear();
      this.sizes.set(k, s);
    }
    return [s.w, s.h];
  }

  /** Forgets measured mindmap node sizes (when a real measure arrives) and lays out again. */
  remeasure(): void {
    this.sizes.clear();
    if (this.structural.size) this.derive();
    this.version++;
    this.emit({ ids: [], reset: false });
  }

  /** The live children of an element (undefined: the board's), in sibling order. */
  children(id: string | undefined): El[] {
    const ks = this.kids.get(id ?? ROOT_ID);
    if (!ks) return [];
    const out: El[] = [];
    for (const k of ks) {
      const e = this.els.get(k);
      if (e && !e.deleted && e.parent === id) out.push(e);
    }
    return out.sort(byPos);
  }

  /** Every live descendant of an element. */
  descendants(id: string): El[] {
    const out: El[] = [];
    const walk = (p: string, depth: number) => {
      if (depth > 10000) return;
      for (const c of this.children(p)) {
        out.push(c);
        walk(c.id, depth + 1);
      }
    };
    walk(id, 0);
    return out;
  }

  /** Whether a is b or one of b's ancestors. */
  isAncestor(a: string, b: string): boolean {
    let cur: string | undefined = b;
    for (let i = 0; cur && i < 10000; i++) {
      if (cur === a) return true;
      cur = this.els.get(cur)?.parent;
    }
    return false;
  }

  private sorted: El[] | null = null;
  private sortedAt = -1;

  /** Every live element in draw order (cached until the next change). */
  all(): El[] {
    if (!this.sorted || this.sortedAt !== this.version) {
      this.sorted = [...this.els.values()].filter((e) => !e.deleted && !e.hidden).sort(byZ);
      this.sortedAt = this.version;
    }
    return this.sorted;
  }

  get(id: string): El | undefined {
    const e = this.els.get(id);
    return e && !e.deleted && !e.hidden ? e : undefined;
  }

  /** Builds the spatial index if it is not (see unindexed). */
  ensureIndex(): void {
    if (!this.unindexed) return;
    const partly = this.building !== null;
    this.unindexed = false;
    this.building = null;
    for (const e of this.els.values()) {
      if (partly) this.unindex(e.id);
      if (!e.deleted && !e.hidden) this.index(e);
    }
  }

  /**
   * Builds the spatial index left unbuilt by a board loaded whole, a
   * slice at a time: next() resolves with the time (performance.now())
   * until which a slice may go on (the page: after a turn for its frames
   * and input, steps.ts).
   * 100,000 elements take the page most of a second, which would freeze
   * it right after its first frame. A query meanwhile reads every element,
   * as an unindexed board does (a few ms); a change is indexed as it
   * comes; ensureIndex, clear or another load finish or stop it.
   */
  async indexInSlices(next: () => Promise<number>): Promise<void> {
    if (!this.unindexed || this.building) return;
    const ids = [...this.els.keys()];
    this.building = ids;
    let at = 0;
    while (this.building === ids) {
      const until = await next();
      if (this.building !== ids) return;
      for (let k = 0; at < ids.length; at++, k++) {
        if ((k & 127) === 127 && performance.now() > until) break;
        const e = this.els.get(ids[at]);
        this.unindex(ids[at]);
        if (e && !e.deleted && !e.hidden) this.index(e);
      }
      if (at === ids.length) {
        // Elements added meanwhile were indexed as they came.
        this.building = null;
        this.unindexed = false;
        return;
      }
    }
  }

  private index(e: El): void {
    const b = aabb(e);
    const x0 = cellOf(b.x),
      y0 = cellOf(b.y),
      x1 = cellOf(b.x + b.w),
      y1 = cellOf(b.y + b.h);
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 64) {
      // Huge elements (a big frame) are few: always considered.
      this.big.add(e.id);
      this.cellsOf.set(e.id, []);
      return;
    }
    const keys: number[] = [];
    for (let cx = x0; cx <= x1; cx++) {
      for (let cy = y0; cy <= y1; cy++) {
        const k = cellKey(cx, cy);
        let s = this.grid.get(k);
        if (!s) this.grid.set(k, (s = new Set()));
        s.add(e.id);
        keys.push(k);
      }
    }
    this.cellsOf.set(e.id, keys);
  }

  private unindex(id: string): void {
    const keys = this.cellsOf.get(id);
    if (!keys) return;
    this.big.delete(id);
    for (const k of keys) {
      const s = this.grid.get(k);
      if (s) {
        s.delete(id);
        if (!s.size) this.grid.delete(k);
      }
    }
    this.cellsOf.delete(id);
  }

  /**
   * Live elements whose box meets r, in draw order; sorted false: in no
   * order (drawing sorts what it draws in full, and a far view of 100,000
   * tiny boxes needs no order: a sort of every element was a tenth of the
   * first frame of such a board).
   */
  query(r: Box, sorted = true): El[] {
    if (this.unindexed) {
      // A view of most of the board needs no index: reading every element
      // costs what the index would (the first frame of a big board, fitted
      // to the node's summary, whose bounds are close to the board's).
      const b = this.bounds();
      const iw = b ? Math.min(r.x + r.w, b.x + b.w) - Math.max(r.x, b.x) : 0,
        ih = b ? Math.min(r.y + r.h, b.y + b.h) - Math.max(r.y, b.y) : 0;
      if (!b || this.building || (iw > 0 && ih > 0 && iw * ih >= 0.5 * b.w * b.h)) {
        if (sorted || (this.sorted && this.sortedAt === this.version)) return this.all().filter((e) => intersects(aabb(e), r));
        const out: El[] = [];
        for (const e of this.els.values()) if (!e.deleted && !e.hidden && intersects(aabb(e), r)) out.push(e);
        return out;
      }
      this.ensureIndex();
    }
    const out: El[] = [];
    const seen = new Set<string>(this.big);
    for (const id of this.big) {
      const e = this.els.get(id)!;
      if (intersects(aabb(e), r)) out.push(e);
    }
    const x0 = cellOf(r.x),
      y0 = cellOf(r.y),
      x1 = cellOf(r.x + r.w),
      y1 = cellOf(r.y + r.h);
    const cells = (x1 - x0 + 1) * (y1 - y0 + 1);
    if (cells > this.grid.size) {
      // Zoomed far out: filtering everything, kept sorted, is cheaper.
      // Sorted when the sorted list is at hand (drawing then sorts in one pass).
      if (sorted || (this.sorted && this.sortedAt === this.version)) return this.all().filter((e) => intersects(aabb(e), r));
      out.length = 0; // the big ones come again below
      for (const e of this.els.values()) if (!e.deleted && !e.hidden && intersects(aabb(e), r)) out.push(e);
      return out;
    } else {
      for (let cx = x0; cx <= x1; cx++) {
        for (let cy = y0; cy <= y1; cy++) {
          const s = this.grid.get(cellKey(cx, cy));
          if (!s) continue;
          for (const id of s) {
            if (seen.has(id)) continue;
            seen.add(id);
            const e = this.els.get(id)!;
            if (intersects(aabb(e), r)) out.push(e);
          }
        }
      }
    }
    return sorted ? out.sort(byZ) : out;
  }

  /**
   * The topmost live element under the point, if any. Frames are hit on
   * their title band and border only, so that a click inside a frame
   * reaches what it contains or starts a box selection; a connector near
   * its line.
   */
  hit(x: number, y: number, slop = 0, skip?: (e: El) => boolean): El | undefined {
    const found = this.query({ x: x - slop - 8, y: y - slop - 8, w: 2 * slop + 16, h: 2 * slop + 16 });
    let frame: El | undefined;
    for (let i = found.length - 1; i >= 0; i--) {
      const e = found[i];
      if (skip?.(e)) continue;
      if (e.kind === 'connector') {
        if (connectorDistance(e, this, x, y) <= slop + 6) return e;
        continue;
      }
      const p = unrotate(e, x, y);
      if (p.x < e.x - slop || p.x > e.x + e.w + slop || p.y < e.y - slop || p.y > e.y + e.h + slop) continue;
      if (e.kind === 'shape' && e.props.shape === 'ellipse') {
        const rx = e.w / 2 + slop,
          ry = e.h / 2 + slop;
        const dx = p.x - (e.x + e.w / 2),
          dy = p.y - (e.y + e.h / 2);
        if ((dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) > 1) continue;
      }
      if (e.kind === 'frame') {
        const band = Math.max(slop * 3, 4);
        const inTitle = p.y <= e.y + FRAME_TITLE;
        const onEdge = p.x < e.x + band || p.x > e.x + e.w - band || p.y > e.y + e.h - band;
        if (!inTitle && !onEdge) continue;
        frame ??= e;
        continue;
      }
      return e;
    }
    return frame;
  }

  /** The innermost live frame whose box contains the point, skipping some. */
  frameAt(x: number, y: number, skip: (e: El) => boolean): El | undefined {
    const found = this.query({ x, y, w: 0, h: 0 });
    for (let i = found.length - 1; i >= 0; i--) {
      const e = found[i];
      if (e.kind !== 'frame' || skip(e)) continue;
      const p = unrotate(e, x, y);
      if (p.x >= e.x && p.x <= e.x + e.w && p.y >= e.y && p.y <= e.y + e.h) return e;
    }
    return undefined;
  }

  private boundsMemo: { at: number; box: Box | null } | null = null;

  /** The bounding box of the live elements, or null when there are none (kept until the next change). */
  bounds(): Box | null {
    if (this.boundsMemo?.at === this.version) return this.boundsMemo.box;
    const box = this.measureBounds();
    this.boundsMemo = { at: this.version, box };
    return box;
  }

  private measureBounds(): Box | null {
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -Infinity,
      y1 = -Infinity;
    for (const e of this.els.values()) {
      if (e.deleted || e.hidden) continue;
      const b = aabb(e);
      x0 = Math.min(x0, b.x);
      y0 = Math.min(y0, b.y);
      x1 = Math.max(x1, b.x + b.w);
      y1 = Math.max(y1, b.y + b.h);
    }
    return x0 === Infinity ? null : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
}

/** Height of a frame's title band, in board units. */
export const FRAME_TITLE = 32;

function connectorDistance(e: El, board: Board, x: number, y: number): number {
  let pts = connectorPath(e, (id) => board.get(id));
  if (!pts) return Infinity;
  if (e.props.route === 'curve' && pts.length === 2) {
    // The drawn cubic, as 16 segments.
    const [a, b] = pts;
    const [c1, c2] = curveControls(a, b);
    const out: [number, number][] = [];
    for (let i = 0; i <= 16; i++) {
      const t = i / 16,
        u = 1 - t;
      const k = [u * u * u, 3 * u * u * t, 3 * u * t * t, t * t * t];
      out.push([k[0] * a[0] + k[1] * c1[0] + k[2] * c2[0] + k[3] * b[0], k[0] * a[1] + k[1] * c1[1] + k[2] * c2[1] + k[3] * b[1]]);
    }
    pts = out;
  }
  let best = Infinity;
  for (let i = 0; i + 1 < pts.length; i++) best = Math.min(best, segDist(pts[i], pts[i + 1], x, y));
  return best;
}

function segDist(a: [number, number], b: [number, number], x: number, y: number): number {
  const dx = b[0] - a[0],
    dy = b[1] - a[1];
  const l = dx * dx + dy * dy;
  const t = l ? Math.max(0, Math.min(1, ((x - a[0]) * dx + (y - a[1]) * dy) / l)) : 0;
  return Math.hypot(a[0] + t * dx - x, a[1] + t * dy - y);
}

export function intersects(a: Box, b: Box): boolean {
  return a.x <= b.x + b.w && b.x <= a.x + a.w && a.y <= b.y + b.h && b.y <= a.y + a.h;
}
