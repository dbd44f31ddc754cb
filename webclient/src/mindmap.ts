// Mindmaps: the tidy layout of a mindmap tree, and the edits that grow it.
//
// Only a root node stores a position (docs/SCHEMA.md): every other node is
// placed by laying its tree out, left to right, with d3-flextree (a tidy
// tree layout for nodes of different sizes, so long labels do not overlap).
// Storing every node's position was rejected: two people adding children
// to one node at once would each write positions for the other's nodes,
// and the tree would overlap until someone tidied it by hand; a derived
// layout converges by construction, because every replica lays out the
// same tree.
import { flextree } from 'd3-flextree';
import { generateKeyBetween } from 'fractional-indexing';
import type { LocalOp } from './crdt';
import type { Box, El } from './element';

/** Gap between a node and its children, and between siblings, in board units. */
export const LEVEL_GAP = 56;
export const SIBLING_GAP = 14;

export function nodeFontSize(root: boolean): number {
  return root ? 20 : 16;
}

interface Datum {
  /** Undefined for the layout's own root above the trees (layoutMindmaps). */
  el?: El;
  size: [number, number];
  kids: Datum[];
}

// flextree makes new classes on every call (its node and wrapper classes
// close over the options), which left V8's property caches megamorphic: laying
// out 2,000 small trees one call each took half a second. One layout
// function, and one call for many trees (layoutMindmaps).
const layout = flextree<Datum>({
  children: (d) => d.kids,
  nodeSize: (n) => (n.data.el ? [n.data.size[1] + SIBLING_GAP, n.data.size[0] + LEVEL_GAP] : [0, 0]),
  spacing: 0,
});

/**
 * Lays out the tree under root: the box of every visible node, the root
 * at its stored x, y. children(n) lists n's subtopics in sibling order
 * (none when collapsed); size(n, isRoot) is a node's [w, h].
 */
export function layoutMindmap(root: El, children: (n: El) => El[], size: (n: El, root: boolean) => [number, number]): Map<string, Box & { depth: number }> {
  return layoutMindmaps([root], children, size);
}

/**
 * Lays out every tree under roots in one flextree call, each as
 * layoutMindmap would alone: the trees hang under a zero-size node of the
 * layout's own, and a tidy layout places a subtree as a whole (its nodes'
 * places relative to its root do not depend on its siblings), so each
 * node is read relative to its tree's root. Depth is within its tree.
 */
export function layoutMindmaps(roots: El[], children: (n: El) => El[], size: (n: El, root: boolean) => [number, number]): Map<string, Box & { depth: number }> {
  const seen = new Set<string>();
  const build = (n: El, isRoot: boolean): Datum => {
    seen.add(n.id);
    const [w, h] = size(n, isRoot);
    const kids = children(n)
      .filter((c) => !seen.has(c.id))
      .map((c) => build(c, false));
    return { el: n, size: [w, h], kids };
  };
  const top: Datum = { size: [0, 0], kids: [] };
  for (const r of roots) if (!seen.has(r.id)) top.kids.push(build(r, true));
  // flextree grows downwards: its x is across (our y), its y is down (our x).
  const tree = layout.hierarchy(top);
  layout(tree);
  const out = new Map<string, Box & { depth: number }>();
  for (const t of tree.children ?? []) {
    const root = t.data.el!;
    const rx = typeof root.props.x === 'number' ? root.props.x : 0;
    const ry = typeof root.props.y === 'number' ? root.props.y : 0;
    const rootMid = ry + t.data.size[1] / 2;
    t.each((n) => {
      const [w, h] = n.data.size;
      out.set(n.data.el!.id, { x: rx + (n.y - t.y), y: rootMid + (n.x - t.x) - h / 2, w, h, depth: n.depth - 1 });
    });
  }
  return out;
}

/** A key after the last of the siblings (sorted by position). */
export function keyAfterLast(siblings: El[]): string {
  const last = siblings.length ? siblings[siblings.length - 1].pos : null;
  try {
    return generateKeyBetween(last || null, null);
  } catch {
    return generateKeyBetween(null, null);
  }
}

/** A key right after `after` among its sorted siblings. */
export function keyAfter(siblings: El[], after: El): string {
  const i = siblings.findIndex((s) => s.id === after.id);
  const a = after.pos || null;
  let b = i >= 0 && i + 1 < siblings.length ? siblings[i + 1].pos || null : null;
  if (a !== null && b !== null && b <= a) b = null; // equal keys (ties by id): go after
  try {
    return generateKeyBetween(a, b);
  } catch {
    return keyAfterLast(siblings);
  }
}

/** The ops creating a mindmap node under parent (undefined: a root at x, y). */
export function newNodeOps(id: string, parent: string | undefined, posKey: string, at?: { x: number; y: number; z: string }): LocalOp[] {
  const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'mindmap' }];
  if (parent) ops.push({ op: 'move', el: id, parent, posKey });
  else if (at) {
    ops.push({ op: 'set', el: id, key: 'x', value: Math.round(at.x) }, { op: 'set', el: id, key: 'y', value: Math.round(at.y) }, { op: 'set', el: id, key: 'z', value: at.z });
  }
  return ops;
}
