// The shapes of the board's elements as the UI reads them (model.ts makes
// them from the CRDT's JSON). A module of types only, so that the helpers
// model.ts uses (connectors.ts, mindmap.ts) can name them without importing
// model.ts back.

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface El extends Box {
  id: string;
  kind: string;
  deleted: boolean;
  z: string;
  props: Record<string, unknown>;
  text: Record<string, string>;
  /** The parent in the tree; undefined: the board. */
  parent?: string;
  /** The position key among its siblings. */
  pos: string;
  /** Rotation in degrees, clockwise, about the centre. */
  rot: number;
  /** Under a deleted element or a collapsed mindmap node: not drawn, not hit. */
  hidden: boolean;
  /** A mindmap node's depth in its tree (0: a root). */
  depth: number;
}
