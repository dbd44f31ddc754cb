// The board page's pointer state machine: pointer down, move and up on
// the canvas (one gesture at a time: pan, move, resize, rotate, box
// select, ink, connector, frame), two-finger pinch, double-click, the
// wheel, and what a gesture shows while it lasts (previews for draw).
// What a finished gesture makes is the tools' (tools.ts); every change
// goes through LocalEdits.
import type { CameraView } from './camera';
import { parseEnd, type End, type Pt } from './connectors';
import type { LocalOp } from './crdt';
import { contains, resizeBox, resized, resizeRotated, roundBox } from './geometry';
import type { LocalEdits } from './localedits';
import { keyAfterLast } from './mindmap';
import { aabb, derived, type Board, type Box, type El } from './model';
import { onFrameLabel, selectionBox, type Preview } from './render';
import type { Handles, Selection } from './selection';
import { MIN_STEP, scalePoints } from './strokes';
import type { TextEditor } from './textedit';
import type { Tool, Tools } from './tools';

/** Screen pixels a shape tool's drag must cover to size the shape; less is a click (the default size). */
const SHAPE_DRAG_PX = 6;

/** The gesture under way. */
export type Drag =
  | { kind: 'pan'; sx: number; sy: number; cx: number; cy: number }
  | { kind: 'move'; sx: number; sy: number; ids: string[]; orig: Map<string, Box>; dx: number; dy: number; moved: boolean; target?: string }
  | { kind: 'resize'; id: string; corner: number; orig: Box; box: Box; origs: Map<string, Box>; rot: number }
  | { kind: 'marquee'; sx: number; sy: number; base: Set<string>; box: Box }
  | { kind: 'rotate'; id: string; cx: number; cy: number; start: number; orig: number; rot: number }
  | { kind: 'ink'; points: number[] }
  | { kind: 'connect'; from: End; fromPt: Pt; to: Pt; target?: string }
  | { kind: 'frame'; x: number; y: number; box: Box }
  | { kind: 'shape'; tool: Tool; x: number; y: number; box: Box; sx: number; sy: number; moved: boolean };

/** What the pointer uses of the page. */
export interface PointerHost {
  canvas: HTMLCanvasElement;
  board: Board;
  camera: CameraView;
  sel: Selection;
  handles: Handles;
  tools: Tools;
  edits: LocalEdits;
  editor: TextEditor;
  renderer: { height: number };
  /** Hides the context bar (a move began). */
  hideContext(): void;
  /** After the selection changed: context bar, presence, redraw. */
  afterSelect(): void;
  /** Sends where the pointer is and what it drags. */
  presence(): void;
  redraw(): void;
  /** A note dropped on a mindmap node becomes its subtopic (convert.ts); the new id, or null. */
  attach?(note: string, node: string): string | null;
}

export class Pointer {
  drag: Drag | null = null;
  /** The pointer's board position while it is over the canvas. */
  cursor: { x: number; y: number } | null = null;
  /** Space held: the next drag pans. */
  space = false;
  private pointers = new Map<number, { x: number; y: number }>();
  private pinch: { dist: number; cx: number; cy: number } | null = null;

  constructor(private host: PointerHost) {
    const cv = host.canvas;
    cv.addEventListener('pointerdown', (e) => this.down(e));
    cv.addEventListener('pointermove', (e) => this.move(e));
    cv.addEventListener('pointerup', (e) => this.up(e));
    cv.addEventListener('pointercancel', (e) => this.up(e));
    cv.addEventListener('pointerleave', () => {
      this.cursor = null;
      host.presence();
    });
    cv.addEventListener('dblclick', (e) => this.dblclick(e));
    cv.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    cv.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  private get board(): Board {
    return this.host.board;
  }
  private get zoom(): number {
    return this.host.camera.cam.zoom;
  }

  private edit(ops: LocalOp[]): void {
    this.host.edits.apply(ops);
  }

  /** The boxes the gesture shows instead of the elements' own. */
  previews(into: Map<string, Preview>): void {
    const d = this.drag;
    if (d?.kind === 'move' && d.moved) for (const [id, b] of d.orig) into.set(id, { ...b, x: b.x + d.dx, y: b.y + d.dy });
    if (d?.kind === 'resize') for (const [id, b] of resized(d)) into.set(id, b);
    if (d?.kind === 'rotate') {
      const e = this.board.get(d.id);
      if (e) into.set(d.id, { x: e.x, y: e.y, w: e.w, h: e.h, rot: d.rot });
    }
  }

  /** Where a connector end is drawn from while it is being made. */
  endPoint(end: End): Pt | null {
    if ('el' in end) {
      const e = this.board.get(end.el);
      return e ? [e.x + e.w / 2, e.y + e.h / 2] : null;
    }
    return [end.x, end.y];
  }

  private local(e: PointerEvent | MouseEvent): { sx: number; sy: number } {
    const r = this.host.canvas.getBoundingClientRect();
    return { sx: e.clientX - r.left, sy: e.clientY - r.top };
  }

  private down(e: PointerEvent): void {
    const { canvas: cv, camera, sel, handles, tools, editor } = this.host;
    const canEdit = this.host.edits.canEdit;
    // No compatibility mouse events: their default focus change would take
    // the focus from an editor opened here. click and dblclick still come.
    e.preventDefault();
    if (editor.open) editor.close();
    cv.focus({ preventScroll: true });
    const { sx, sy } = this.local(e);
    this.pointers.set(e.pointerId, { x: sx, y: sy });
    cv.setPointerCapture(e.pointerId);
    if (this.pointers.size === 2) {
      // Two fingers: pinch to zoom and pan; whatever one finger began is dropped.
      this.drag = null;
      const [a, b] = [...this.pointers.values()];
      this.pinch = { dist: Math.hypot(a.x - b.x, a.y - b.y), cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2 };
      this.host.redraw();
      return;
    }
    const p = camera.toBoard(sx, sy);
    const tool = tools.tool;
    if (e.button === 1 || e.button === 2 || this.space || tool === 'hand') {
      this.drag = { kind: 'pan', sx, sy, cx: camera.cam.x, cy: camera.cam.y };
      cv.classList.add('grabbing');
      return;
    }
    if (e.button !== 0) return;
    if (tool === 'pen' && canEdit) {
      this.drag = { kind: 'ink', points: [p.x, p.y, pressure(e)] };
      return;
    }
    if (tool === 'connector' && canEdit) {
      const hit = this.board.hit(p.x, p.y, 2 / this.zoom, (x) => x.kind === 'connector');
      this.drag = { kind: 'connect', from: hit ? { el: hit.id, anchor: [0.5, 0.5] } : { x: Math.round(p.x), y: Math.round(p.y) }, fromPt: [p.x, p.y], to: [p.x, p.y] };
      return;
    }
    if (tool === 'frame' && canEdit) {
      this.drag = { kind: 'frame', x: p.x, y: p.y, box: { x: p.x, y: p.y, w: 0, h: 0 } };
      return;
    }
    if ((tool === 'rectangle' || tool === 'ellipse' || tool === 'diamond') && canEdit) {
      // Sized by the drag (Shift: as wide as high); a click makes the default size (up).
      this.drag = { kind: 'shape', tool, x: p.x, y: p.y, box: { x: p.x, y: p.y, w: 0, h: 0 }, sx, sy, moved: false };
      return;
    }
    if (tool !== 'select') {
      const id = tools.createAt(tool, p.x, p.y);
      tools.setTool('select');
      if (id && !['rectangle', 'ellipse', 'diamond'].includes(tool)) editor.start(id, tool === 'mindmap');
      this.host.afterSelect();
      return;
    }
    if (handles.rotateHandleAt(sx, sy)) {
      const el = handles.rotatable()!;
      const cx = el.x + el.w / 2,
        cy = el.y + el.h / 2;
      this.drag = { kind: 'rotate', id: el.id, cx, cy, start: Math.atan2(p.y - cy, p.x - cx), orig: el.rot, rot: el.rot };
      return;
    }
    const corner = handles.handleAt(sx, sy);
    if (corner >= 0) {
      const orig = selectionBox(this.board, sel.ids)!;
      const origs = new Map<string, Box>();
      for (const id of sel.ids) {
        const el = this.board.get(id);
        if (el) origs.set(id, { x: el.x, y: el.y, w: el.w, h: el.h });
      }
      const box = { x: orig.x, y: orig.y, w: orig.w, h: orig.h };
      this.drag = { kind: 'resize', id: [...origs.keys()][0], corner, orig: box, box: { ...box }, origs, rot: orig.rot };
      return;
    }
    const badge = tools.badgeAt(p.x, p.y);
    if (badge && canEdit) {
      tools.toggleCollapse([badge.id]);
      return;
    }
    const hit = this.board.hit(p.x, p.y, 2 / this.zoom);
    if (hit) {
      if (e.shiftKey || e.metaKey || e.ctrlKey) {
        if (sel.has(hit.id)) sel.delete(hit.id);
        else sel.add(hit.id);
      } else if (!sel.has(hit.id)) {
        sel.replace([hit.id]);
      }
      if (sel.has(hit.id) && canEdit) {
        const ids = [...sel.ids].filter((id) => this.board.get(id));
        // What moves with them: a frame's contents, a mindmap node's subtopics.
        const orig = new Map<string, Box>();
        for (const id of ids) {
          for (const el of [this.board.get(id)!, ...this.board.descendants(id)]) orig.set(el.id, { x: el.x, y: el.y, w: el.w, h: el.h });
        }
        this.drag = { kind: 'move', sx, sy, ids, orig, dx: 0, dy: 0, moved: false };
      }
      this.host.afterSelect();
      return;
    }
    const base = e.shiftKey ? new Set(sel.ids) : new Set<string>();
    if (!e.shiftKey) sel.clear();
    this.drag = { kind: 'marquee', sx, sy, base, box: { x: p.x, y: p.y, w: 0, h: 0 } };
    this.host.afterSelect();
  }

  private move(e: PointerEvent): void {
    const { camera, handles } = this.host;
    const { sx, sy } = this.local(e);
    if (this.pointers.has(e.pointerId)) this.pointers.set(e.pointerId, { x: sx, y: sy });
    if (this.pinch && this.pointers.size >= 2) {
      const [a, b] = [...this.pointers.values()];
      const dist = Math.hypot(a.x - b.x, a.y - b.y);
      const cx = (a.x + b.x) / 2,
        cy = (a.y + b.y) / 2;
      camera.panBy(cx - this.pinch.cx, cy - this.pinch.cy);
      if (this.pinch.dist > 0) camera.zoomAt(cx, cy, dist / this.pinch.dist);
      this.pinch = { dist, cx, cy };
      return;
    }
    const p = camera.toBoard(sx, sy);
    this.cursor = p;
    const d = this.drag;
    if (d?.kind === 'pan') {
      camera.set({ ...camera.cam, x: d.cx - (sx - d.sx) / this.zoom, y: d.cy - (sy - d.sy) / this.zoom });
    } else if (d?.kind === 'move') {
      const dx = (sx - d.sx) / this.zoom;
      const dy = (sy - d.sy) / this.zoom;
      if (!d.moved && Math.hypot(sx - d.sx, sy - d.sy) < 3) return;
      d.moved = true;
      d.dx = dx;
      d.dy = dy;
      d.target = this.dropTarget(d, p.x, p.y)?.id;
      this.host.hideContext();
      this.host.redraw();
    } else if (d?.kind === 'resize') {
      d.box = d.rot ? resizeRotated(d.orig, d.rot, d.corner, p.x, p.y, 24) : resizeBox(d.orig, d.corner, p.x, p.y, d.origs.size > 1 ? 8 : 24);
      this.host.redraw();
    } else if (d?.kind === 'rotate') {
      let rot = d.orig + ((Math.atan2(p.y - d.cy, p.x - d.cx) - d.start) * 180) / Math.PI;
      rot = ((rot % 360) + 360) % 360;
      if (e.shiftKey) rot = (Math.round(rot / 15) * 15) % 360;
      d.rot = Math.round(rot * 10) / 10;
      this.host.redraw();
    } else if (d?.kind === 'ink') {
      const n = d.points.length;
      if (Math.hypot(p.x - d.points[n - 3], p.y - d.points[n - 2]) * this.zoom >= MIN_STEP) d.points.push(p.x, p.y, pressure(e));
      this.host.redraw();
    } else if (d?.kind === 'connect') {
      const hit = this.board.hit(p.x, p.y, 2 / this.zoom, (x) => x.kind === 'connector' || ('el' in d.from && x.id === d.from.el));
      d.target = hit?.id;
      d.to = [p.x, p.y];
      this.host.redraw();
    } else if (d?.kind === 'frame') {
      d.box = { x: Math.min(d.x, p.x), y: Math.min(d.y, p.y), w: Math.abs(p.x - d.x), h: Math.abs(p.y - d.y) };
      this.host.redraw();
    } else if (d?.kind === 'shape') {
      if (!d.moved && Math.hypot(sx - d.sx, sy - d.sy) < SHAPE_DRAG_PX) return;
      d.moved = true;
      let w = Math.abs(p.x - d.x),
        h = Math.abs(p.y - d.y);
      if (e.shiftKey) w = h = Math.max(w, h);
      d.box = { x: p.x < d.x ? d.x - w : d.x, y: p.y < d.y ? d.y - h : d.y, w, h };
      this.host.redraw();
    } else if (d?.kind === 'marquee') {
      const s = camera.toBoard(d.sx, d.sy);
      d.box = { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
      const inside = this.board.query(d.box).filter((el) => contains(d.box, el));
      this.host.sel.replace([...d.base, ...inside.map((el) => el.id)]);
      this.host.redraw();
    } else {
      const corner = handles.handleAt(sx, sy);
      this.host.canvas.style.cursor = corner === 0 || corner === 2 ? 'nwse-resize' : corner === 1 || corner === 3 ? 'nesw-resize' : handles.rotateHandleAt(sx, sy) ? 'grab' : '';
    }
    this.host.presence();
  }

  private up(e: PointerEvent): void {
    this.pointers.delete(e.pointerId);
    if (this.pinch) {
      if (this.pointers.size < 2) this.pinch = null;
      return;
    }
    const d = this.drag;
    this.drag = null;
    this.host.canvas.classList.remove('grabbing');
    const tools = this.host.tools;
    const onNode = d?.kind === 'move' && d.moved && d.ids.length === 1 && d.target && this.board.get(d.ids[0])?.kind === 'note' && this.board.get(d.target)?.kind === 'mindmap';
    if (onNode && d?.kind === 'move' && this.host.attach?.(d.ids[0], d.target!)) {
      // A note dropped on a mindmap node: its subtopic now (convert.ts).
    } else if (d?.kind === 'move' && d.moved) {
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
      tools.finishInk(d.points);
    } else if (d?.kind === 'connect') {
      tools.finishConnector(d);
    } else if (d?.kind === 'shape') {
      // A click (or a drag too small to see) makes the default size, centred where it was.
      const id = d.moved && d.box.w * this.zoom >= SHAPE_DRAG_PX && d.box.h * this.zoom >= SHAPE_DRAG_PX ? tools.createAt(d.tool, d.x, d.y, d.box) : tools.createAt(d.tool, d.x, d.y);
      tools.setTool('select');
      if (!id) this.host.redraw();
    } else if (d?.kind === 'frame') {
      tools.finishFrame(d.box.w * this.zoom < 16 || d.box.h * this.zoom < 16 ? null : d.box, d.x, d.y);
    }
    this.host.afterSelect();
  }

  private dblclick(e: MouseEvent): void {
    const { tools, editor, sel } = this.host;
    if (tools.tool !== 'select' && tools.tool !== 'hand') return;
    const { sx, sy } = this.local(e);
    const p = this.host.camera.toBoard(sx, sy);
    const hit = this.board.hit(p.x, p.y, 2 / this.zoom) ?? this.board.all().find((f) => !f.hidden && onFrameLabel(f, p.x, p.y, this.zoom));
    if (!this.host.edits.canEdit) return;
    if (hit) {
      if (['note', 'shape', 'text', 'mindmap', 'frame', 'connector'].includes(hit.kind)) {
        sel.replace([hit.id]);
        editor.start(hit.id);
        this.host.afterSelect();
      }
      return;
    }
    const id = tools.createAt('note', p.x, p.y);
    if (id) editor.start(id);
    this.host.afterSelect();
  }

  private wheel(e: WheelEvent): void {
    const camera = this.host.camera;
    e.preventDefault();
    const { sx, sy } = this.local(e);
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.host.renderer.height : 1;
    const dx = e.deltaX * unit,
      dy = e.deltaY * unit;
    // A trackpad pinch comes as a wheel event with ctrlKey; a mouse wheel
    // as whole lines or big integral steps; anything else is a trackpad
    // two-finger scroll, which pans.
    const mouseWheel = e.deltaMode !== 0 || (e.deltaX === 0 && Number.isInteger(e.deltaY) && Math.abs(e.deltaY) >= 50);
    if (e.ctrlKey || e.metaKey) camera.zoomAt(sx, sy, Math.exp(-dy * 0.01));
    else if (mouseWheel && !e.shiftKey) camera.zoomAt(sx, sy, Math.exp(-dy * 0.0015));
    else if (mouseWheel) camera.panBy(-dy, 0);
    else camera.panBy(-dx, -dy);
  }

  /** Where a drag would drop: a mindmap node (reparent a node onto it) or the frame under the pointer. */
  private dropTarget(d: Extract<Drag, { kind: 'move' }>, x: number, y: number): El | undefined {
    const moving = (e: El) => d.orig.has(e.id);
    const single = d.ids.length === 1 ? this.board.get(d.ids[0]) : undefined;
    if (single?.kind === 'mindmap' || (single?.kind === 'note' && this.host.attach)) {
      const t = this.board.hit(x, y, 2 / this.zoom, (e) => e.kind !== 'mindmap' || moving(e));
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
        if (Math.hypot(d.dx, d.dy) * this.zoom < 40) return ops;
        // A subtopic dropped on empty space: a root of its own, where it was dropped.
        const b = d.orig.get(single.id)!;
        const frame = t?.kind === 'frame' ? t : undefined;
        ops.push(
          { op: 'move', el: single.id, parent: frame?.id, posKey: frame ? keyAfterLast(board.children(frame.id)) : 'a0' },
          { op: 'set', el: single.id, key: 'x', value: Math.round(b.x + d.dx) },
          { op: 'set', el: single.id, key: 'y', value: Math.round(b.y + d.dy) },
          { op: 'set', el: single.id, key: 'z', value: this.host.tools.topZ() },
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
}

/** A pointer's pressure, 0..1; 0.5 for a mouse (perfect-freehand then simulates it from speed). */
function pressure(e: PointerEvent): number {
  return e.pointerType === 'pen' && e.pressure > 0 ? Math.round(e.pressure * 100) / 100 : 0.5;
}
