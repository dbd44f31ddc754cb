// The board page's tools and what they make: the toolbar's tools (notes,
// shapes, text, pen, connector, frame, mindmap), the ops that create each,
// mindmap growth (subtopics, siblings, collapse), colours, delete,
// duplicate, copy and paste. Every change goes through LocalEdits.
import { generateKeyBetween } from 'fractional-indexing';
import type { CameraView } from './camera';
import { parsePayload, pasteOps, payloadBounds, serialize, type ClipPayload } from './clipboard';
import { connectorPath, type End, type Pt } from './connectors';
import type { CrdtDoc, LocalOp } from './crdt';
import { contains, roundBox } from './geometry';
import { PALETTE, uuidv7 } from './ids';
import type { LocalEdits } from './localedits';
import { keyAfter, keyAfterLast, newNodeOps } from './mindmap';
import { aabb, derived, type Board, type Box, type El } from './model';
import type { Renderer } from './render';
import type { Selection } from './selection';
import { makeStroke } from './strokes';
import type { TextEditor } from './textedit';
import { t as tr } from './i18n';

/** The deepest a board's tree may be (crdt.MaxTreeDepth; SCHEMA.md, "Tree moves"). */
const MAX_TREE_DEPTH = 64;

export type Tool = 'select' | 'hand' | 'note' | 'rectangle' | 'ellipse' | 'diamond' | 'text' | 'pen' | 'connector' | 'frame' | 'mindmap';

export const TOOLS: { tool: Tool; label: string; key: string; icon: string }[] = [
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

/** What the tools use of the page. */
export interface ToolsHost {
  boardId: string;
  doc: CrdtDoc;
  board: Board;
  edits: LocalEdits;
  sel: Selection;
  camera: CameraView;
  renderer: Renderer;
  editor: TextEditor;
  /** The user id new notes are stamped with (their author), once known. */
  userId(): string | undefined;
  /** The pointer's board position, if it is over the canvas. */
  cursor(): { x: number; y: number } | null;
  /** Shows the tool chosen (toolbar, canvas cursor). */
  showTool(t: Tool): void;
  /** After the selection changed: context bar, presence, redraw. */
  afterSelect(): void;
  toast(msg: string, error?: boolean): void;
}

export class Tools {
  tool: Tool = 'select';
  /** The colour of the next note (the last one given to notes). */
  private noteColor = 'yellow';

  constructor(private host: ToolsHost) {}

  private get board(): Board {
    return this.host.board;
  }
  private get sel(): Selection {
    return this.host.sel;
  }

  private edit(ops: LocalOp[]): string[] | null {
    return this.host.edits.apply(ops);
  }

  setTool(t: Tool): void {
    this.tool = t;
    this.host.showTool(t);
  }

  /** A z key above every element. */
  topZ(): string {
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
    const user = this.host.userId();
    return user ? [{ op: 'set', el: id, key: 'author', value: user }] : [];
  }

  /**
   * Makes what tool makes at a board point, selected; its id, or null when
   * refused. A shape takes box when given (drawn by a drag), else the
   * default size centred on the point.
   */
  createAt(tool: Tool, x: number, y: number, box?: Box): string | null {
    const id = uuidv7();
    const set = (key: string, value: unknown): LocalOp => ({ op: 'set', el: id, key, value });
    let ops: LocalOp[];
    if (tool === 'note') {
      ops = [{ op: 'create', el: id, kind: 'note' }, set('x', Math.round(x - 100)), set('y', Math.round(y - 100)), set('w', 200), set('h', 200), set('color', this.noteColor), set('z', this.topZ()), ...this.author(id)];
    } else if (tool === 'text') {
      ops = [{ op: 'create', el: id, kind: 'text' }, set('x', Math.round(x)), set('y', Math.round(y - 16)), set('w', 280), set('h', 34), set('fontSize', 24), set('z', this.topZ())];
    } else if (tool === 'mindmap') {
      ops = [...newNodeOps(id, undefined, '', { x: x - 70, y: y - 24, z: this.topZ() }), { op: 'insertText', el: id, field: 'text', pos: 0, text: tr('tools.centralTopic') }];
    } else if (tool === 'frame') {
      ops = [{ op: 'create', el: id, kind: 'frame' }, set('x', Math.round(x - 240)), set('y', Math.round(y - 160)), set('w', 480), set('h', 320), set('z', this.topZ())];
    } else {
      const b = box ?? { x: x - 80, y: y - 60, w: 160, h: 120 };
      ops = [
        { op: 'create', el: id, kind: 'shape' },
        set('shape', tool),
        set('x', Math.round(b.x)),
        set('y', Math.round(b.y)),
        set('w', Math.max(1, Math.round(b.w))),
        set('h', Math.max(1, Math.round(b.h))),
        set('fill', '#ffffff'),
        set('stroke', '#1e1e1e'),
        set('z', this.topZ()),
      ];
    }
    const frame = box ? this.board.frameAt(box.x + box.w / 2, box.y + box.h / 2, () => false) : this.board.frameAt(x, y, () => false);
    if (frame) ops.push({ op: 'move', el: id, parent: frame.id, posKey: keyAfterLast(this.board.children(frame.id)) });
    if (!this.edit(ops)) return null;
    this.sel.replace([id]);
    return id;
  }

  deleteSelection(): void {
    if (!this.sel.size) return;
    this.edit([...this.sel.ids].map((id) => ({ op: 'delete', el: id }) as LocalOp));
    this.sel.clear();
    this.host.afterSelect();
  }

  duplicateSelection(): void {
    if (!this.sel.size) return;
    this.pastePayload(serialize(this.board, this.host.boardId, this.sel.ids), 24, 24);
  }

  /** Where a paste goes when no offset is given: the pointer, or the view's middle. */
  private pasteAt(): { x: number; y: number } {
    return this.host.cursor() ?? this.host.camera.toBoard(this.host.renderer.width / 2, this.host.renderer.height / 2);
  }

  /** Pastes copied elements: offset by (dx, dy), or centred on the pointer (or the view) when no offset is given. */
  pastePayload(p: ClipPayload, dx?: number, dy?: number): void {
    if (!p.elements.length) return;
    if (dx === undefined || dy === undefined) {
      const b = payloadBounds(p)!;
      const at = this.pasteAt();
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
    const { ops, dropped } = keepValid(made.ops, this.host.doc.checkOps(made.ops));
    if (dropped) console.warn(`corkboard: ${dropped} pasted ops do not fit the board's schema and were left out`);
    if (ops.length > 60000) {
      this.host.toast(tr('tools.pasteTooMuch'), true);
      return;
    }
    const top = made.top;
    if (ops.length && this.edit(ops)) {
      this.sel.replace(top.filter((id) => this.board.get(id)));
      this.host.afterSelect();
    }
  }

  /** The selection as clipboard text (null when nothing is selected). */
  copyText(): string | null {
    if (!this.sel.size) return null;
    const p = serialize(this.board, this.host.boardId, this.sel.ids);
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
    const at = this.pasteAt();
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
      this.sel.replace([id]);
      this.host.afterSelect();
    }
  }

  // ---- mindmap ----

  /** Adds a subtopic under a mindmap node (expanding it) and starts editing it. */
  addChild(parentId: string): string | null {
    const parent = this.board.get(parentId);
    if (!parent || parent.kind !== 'mindmap') return null;
    if (this.depthOf(parentId) + 1 > MAX_TREE_DEPTH) {
      this.host.toast(tr('tools.tooDeep', { n: MAX_TREE_DEPTH }), true);
      return null;
    }
    const id = uuidv7();
    const ops = newNodeOps(id, parentId, keyAfterLast(this.board.children(parentId)));
    if (parent.props.collapsed === true) ops.push({ op: 'set', el: parentId, key: 'collapsed', value: false });
    if (!this.edit(ops)) return null;
    this.sel.replace([id]);
    this.host.editor.start(id);
    this.host.afterSelect();
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
    this.sel.replace([id]);
    this.host.editor.start(id);
    this.host.afterSelect();
    return id;
  }

  /** Collapses or expands the selected mindmap nodes that have subtopics. */
  toggleCollapse(ids: Iterable<string> = this.sel.ids): void {
    const ops: LocalOp[] = [];
    for (const id of ids) {
      const e = this.board.get(id);
      if (e?.kind === 'mindmap' && this.board.children(id).some((c) => c.kind === 'mindmap')) ops.push({ op: 'set', el: id, key: 'collapsed', value: e.props.collapsed !== true });
    }
    if (ops.length) this.edit(ops);
  }

  /** Tab and Enter while editing a mindmap node: commit, then grow the map. */
  editorKey(e: KeyboardEvent, id: string): boolean {
    const el = this.board.get(id);
    if (el?.kind !== 'mindmap' || e.ctrlKey || e.metaKey || e.altKey) return false;
    if (e.key === 'Tab') {
      this.host.editor.close();
      if (e.shiftKey) {
        this.sel.replace([el.parent && this.board.get(el.parent)?.kind === 'mindmap' ? el.parent : id]);
        this.host.afterSelect();
      } else this.addChild(id);
      return true;
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      this.host.editor.close();
      this.addSibling(id);
      return true;
    }
    return false;
  }

  /** The collapse badge of a mindmap node under a board point (right of the node). */
  badgeAt(x: number, y: number): El | undefined {
    const slop = 4 / this.host.camera.cam.zoom;
    for (const e of this.board.query({ x: x - 30, y: y - 12, w: 30, h: 24 })) {
      if (e.kind !== 'mindmap' || e.props.collapsed !== true) continue;
      if (Math.hypot(x - (e.x + e.w + 11), y - (e.y + e.h / 2)) <= 9 + slop) return e;
    }
    return undefined;
  }

  setColor(color: string): void {
    const ops: LocalOp[] = [];
    for (const id of this.sel.ids) {
      const e = this.board.get(id);
      if (!e) continue;
      if (e.kind === 'note') ops.push({ op: 'set', el: id, key: 'color', value: color });
      else if (e.kind === 'shape') ops.push({ op: 'set', el: id, key: 'fill', value: Object.hasOwn(PALETTE, color) ? color : '#ffffff' });
      else if (e.kind === 'mindmap') ops.push({ op: 'set', el: id, key: 'color', value: color });
      else if (e.kind === 'frame') ops.push({ op: 'set', el: id, key: 'fill', value: color });
    }
    if (this.sel.size && [...this.sel.ids].every((id) => this.board.get(id)?.kind === 'note')) this.noteColor = color;
    if (ops.length) this.edit(ops);
  }

  /** Moves the selection by (dx, dy) board units (the arrow keys). */
  nudge(dx: number, dy: number): void {
    const ops: LocalOp[] = [];
    for (const id of this.sel.ids) {
      const el = this.board.get(id);
      if (el) ops.push({ op: 'set', el: id, key: 'x', value: el.x + dx }, { op: 'set', el: id, key: 'y', value: el.y + dy });
    }
    this.edit(ops);
  }

  // ---- what a gesture makes (pointer.ts) ----

  /** A pen stroke through points (x, y, pressure triples). */
  finishInk(points: number[]): void {
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

  /** A connector drawn from an end to a point or an element (target). */
  finishConnector(d: { from: End; fromPt: Pt; to: Pt; target?: string }): void {
    const to: End = d.target ? { el: d.target, anchor: [0.5, 0.5] } : { x: Math.round(d.to[0]), y: Math.round(d.to[1]) };
    if ('el' in d.from && 'el' in to && d.from.el === to.el) return;
    if (!('el' in d.from) && !('el' in to) && Math.hypot(d.to[0] - d.fromPt[0], d.to[1] - d.fromPt[1]) * this.host.camera.cam.zoom < 8) return;
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
      this.sel.replace([id]);
      this.setTool('select');
    }
  }

  /** Makes a frame (drawn, or a default size around x, y) and puts in it what lies wholly inside. */
  finishFrame(box: Box | null, x: number, y: number): void {
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
      this.sel.replace([id]);
      this.setTool('select');
      this.host.editor.start(id);
    }
  }
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
