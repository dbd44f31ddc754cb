// Copy, paste and duplicate. The selection (with what it contains: a
// frame's elements, a mindmap node's subtopics) is written as JSON, to the
// system clipboard as text/plain so that it can be pasted on another board,
// in another tab or browser, and read back into fresh elements with new
// ids in one change (one undo step).
//
// The JSON carries each element's stored properties and text, its parent
// when that parent is copied too, and its box as drawn (a mindmap node
// copied without its parent becomes a root there; a connector end bound to
// an element that is not on the target board becomes a free point there).
// A custom MIME type was rejected: browsers only let pages write a few
// standard types to the system clipboard.
import type { LocalOp } from './crdt';
import { uuidv7 } from './ids';
import { parseEnd, connectorPath } from './connectors';
import type { Board, Box, El } from './model';

export const CLIP_FORMAT = 'corkboard/elements';

export interface ClipElement {
  id: string;
  kind: string;
  parent?: string;
  pos?: string;
  props: Record<string, unknown>;
  text: Record<string, string>;
  box: Box;
  /** A connector's end points as drawn. */
  ends?: [number, number][];
}

export interface ClipPayload {
  format: typeof CLIP_FORMAT;
  version: 1;
  board: string;
  elements: ClipElement[];
}

/** The selection and everything it contains, parents before children. */
export function serialize(board: Board, boardId: string, ids: Iterable<string>): ClipPayload {
  const out: ClipElement[] = [];
  const seen = new Set<string>();
  const add = (e: El) => {
    if (seen.has(e.id)) return;
    seen.add(e.id);
    const c: ClipElement = { id: e.id, kind: e.kind, pos: e.pos, props: { ...e.props }, text: { ...e.text }, box: { x: e.x, y: e.y, w: e.w, h: e.h } };
    if (e.parent) c.parent = e.parent;
    if (e.kind === 'connector') {
      const pts = connectorPath(e, (id) => board.get(id));
      if (pts) c.ends = [pts[0], pts[pts.length - 1]];
    }
    out.push(c);
    for (const k of board.children(e.id)) if (!k.hidden || e.props.collapsed === true) add(k);
  };
  // Outermost first: an element whose ancestor is selected comes with it.
  const sel = [...ids].map((id) => board.get(id)).filter((e): e is El => !!e);
  const selected = new Set(sel.map((e) => e.id));
  for (const e of sel) {
    let inside = false;
    for (let p = e.parent; p; p = board.els.get(p)?.parent) if (selected.has(p)) inside = true;
    if (!inside) add(e);
  }
  return { format: CLIP_FORMAT, version: 1, board: boardId, elements: out };
}

/** Reads a payload from clipboard text; null when it is not one. Never throws. */
export function parsePayload(text: string): ClipPayload | null {
  if (!text || text.length > 20_000_000 || text[0] !== '{') return null;
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return null;
  }
  if (!j || typeof j !== 'object') return null;
  const o = j as Record<string, unknown>;
  if (o.format !== CLIP_FORMAT || !Array.isArray(o.elements)) return null;
  const els: ClipElement[] = [];
  for (const x of o.elements) {
    if (!x || typeof x !== 'object') return null;
    const e = x as Record<string, unknown>;
    const box = e.box as Record<string, unknown> | undefined;
    if (typeof e.id !== 'string' || typeof e.kind !== 'string' || !e.props || typeof e.props !== 'object' || !box) return null;
    if (![box.x, box.y, box.w, box.h].every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
    const text: Record<string, string> = {};
    if (e.text && typeof e.text === 'object') for (const [k, v] of Object.entries(e.text)) if (typeof v === 'string') text[k] = v;
    els.push({
      id: e.id,
      kind: e.kind,
      parent: typeof e.parent === 'string' ? e.parent : undefined,
      pos: typeof e.pos === 'string' ? e.pos : undefined,
      props: e.props as Record<string, unknown>,
      text,
      box: box as unknown as Box,
      ends: Array.isArray(e.ends) ? (e.ends as [number, number][]) : undefined,
    });
  }
  return { format: CLIP_FORMAT, version: 1, board: typeof o.board === 'string' ? o.board : '', elements: els };
}

/** The union of the payload's top-level boxes (where it goes when pasted). */
export function payloadBounds(p: ClipPayload): Box | null {
  const ids = new Set(p.elements.map((e) => e.id));
  let b: Box | null = null;
  for (const e of p.elements) {
    if (e.parent && ids.has(e.parent)) continue;
    const x = e.box;
    if (!b) b = { ...x };
    else {
      const x0 = Math.min(b.x, x.x),
        y0 = Math.min(b.y, x.y);
      b = { x: x0, y: y0, w: Math.max(b.x + b.w, x.x + x.w) - x0, h: Math.max(b.y + b.h, x.y + x.h) - y0 };
    }
  }
  return b;
}

export interface PasteOptions {
  dx: number;
  dy: number;
  /** A fresh z key on top of the board. */
  topZ: () => string;
  /** Whether an element id is live on this board (a connector end stays bound to it). */
  exists: (id: string) => boolean;
  /** The ops stamping a new element with its author, when its kind has one. */
  author: (id: string, kind: string) => LocalOp[];
}

/** The ops making fresh copies of the payload's elements, and the new ids of its top-level ones. */
export function pasteOps(p: ClipPayload, o: PasteOptions): { ops: LocalOp[]; top: string[] } {
  const fresh = new Map<string, string>();
  for (const e of p.elements) fresh.set(e.id, uuidv7());
  const ops: LocalOp[] = [];
  const top: string[] = [];
  // Keep the copies' relative z order.
  const zs = p.elements.filter((e) => typeof e.props.z === 'string' && e.props.z).sort((a, b) => ((a.props.z as string) < (b.props.z as string) ? -1 : 1));
  const newZ = new Map<string, string>();
  for (const e of zs) newZ.set(e.id, o.topZ());
  for (const e of p.elements) {
    const id = fresh.get(e.id)!;
    const parent = e.parent ? fresh.get(e.parent) : undefined;
    if (!parent) top.push(id);
    ops.push({ op: 'create', el: id, kind: e.kind });
    const set = (key: string, value: unknown) => ops.push({ op: 'set', el: id, key, value });
    const laidOut = e.kind === 'mindmap' && !!e.parent && p.elements.some((x) => x.id === e.parent && x.kind === 'mindmap');
    for (const [k, v] of Object.entries(e.props)) {
      if (k === 'author' || k === 'z' || v === null || v === undefined) continue;
      if (k === 'x' && typeof v === 'number') set(k, Math.round(v + o.dx));
      else if (k === 'y' && typeof v === 'number') set(k, Math.round(v + o.dy));
      else if ((k === 'from' || k === 'to') && e.kind === 'connector') set(k, remapEnd(v, k === 'from' ? 0 : 1, e, fresh, o));
      else set(k, v);
    }
    if (newZ.has(e.id)) set('z', newZ.get(e.id));
    if (e.kind === 'mindmap' && !laidOut) {
      // A subtopic copied without its parent becomes a root where it was drawn.
      set('x', Math.round(e.box.x + o.dx));
      set('y', Math.round(e.box.y + o.dy));
      if (!newZ.has(e.id)) set('z', o.topZ());
    }
    if (parent) ops.push({ op: 'move', el: id, parent, posKey: e.pos || 'a0' });
    for (const [field, t] of Object.entries(e.text)) {
      // One insert carries at most 64 KiB (PROTOCOL.md section 10).
      const cps = Array.from(t);
      for (let i = 0; i < cps.length; i += 8192) ops.push({ op: 'insertText', el: id, field, pos: i, text: cps.slice(i, i + 8192).join('') });
    }
    ops.push(...o.author(id, e.kind));
  }
  return { ops, top };
}

function remapEnd(v: unknown, i: number, e: ClipElement, fresh: Map<string, string>, o: PasteOptions): unknown {
  const end = parseEnd(v);
  if (!end) return null;
  if ('el' in end) {
    const n = fresh.get(end.el);
    if (n) return { el: n, anchor: end.anchor ?? [0.5, 0.5] };
    if (o.exists(end.el) && !o.dx && !o.dy) return v;
    const pt = e.ends?.[i];
    if (pt) return { x: Math.round(pt[0] + o.dx), y: Math.round(pt[1] + o.dy) };
    return o.exists(end.el) ? v : null;
  }
  return { x: Math.round(end.x + o.dx), y: Math.round(end.y + o.dy) };
}
