// The board as the UI sees it: elements read from the CRDT (as JSON, only
// those that changed), their boxes with the schema's defaults, and a
// uniform-grid spatial index so that drawing and hit-testing touch only
// what is near the viewport.
import type { ElementJSON } from './crdt';

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
  parent?: string;
}

const CELL = 512;

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
    parent: j.parent,
    z: typeof p.z === 'string' ? p.z : '',
    x: num(p.x, 0),
    y: num(p.y, 0),
    w: Math.max(1, num(p.w, 200)),
    h: Math.max(1, num(p.h, 200)),
    props: p,
    text: j.text ?? {},
  };
}

/** Draw order: ascending (z, id); a missing z sorts first (docs/SCHEMA.md). */
export function byZ(a: El, b: El): number {
  if (a.z !== b.z) return a.z < b.z ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class Board {
  readonly els = new Map<string, El>();
  private grid = new Map<string, Set<string>>();
  private cellsOf = new Map<string, string[]>();
  private big = new Set<string>();
  /** The largest z key, for putting new elements on top. */
  maxZ: string | null = null;
  /** Bumped on every change, for caches. */
  version = 0;

  get size(): number {
    let n = 0;
    for (const e of this.els.values()) if (!e.deleted) n++;
    return n;
  }

  clear(): void {
    this.els.clear();
    this.grid.clear();
    this.cellsOf.clear();
    this.big.clear();
    this.maxZ = null;
    this.version++;
  }

  /** Puts (or replaces) elements from the CRDT's JSON. */
  upsert(list: ElementJSON[]): void {
    for (const j of list) {
      const e = toEl(j);
      this.unindex(e.id);
      this.els.set(e.id, e);
      if (!e.deleted) this.index(e);
      if (e.z && (this.maxZ === null || e.z > this.maxZ)) this.maxZ = e.z;
    }
    this.version++;
  }

  private sorted: El[] | null = null;
  private sortedAt = -1;

  /** Every live element in draw order (cached until the next change). */
  all(): El[] {
    if (!this.sorted || this.sortedAt !== this.version) {
      this.sorted = [...this.els.values()].filter((e) => !e.deleted).sort(byZ);
      this.sortedAt = this.version;
    }
    return this.sorted;
  }

  get(id: string): El | undefined {
    const e = this.els.get(id);
    return e && !e.deleted ? e : undefined;
  }

  private index(e: El): void {
    const [x0, y0, x1, y1] = [Math.floor(e.x / CELL), Math.floor(e.y / CELL), Math.floor((e.x + e.w) / CELL), Math.floor((e.y + e.h) / CELL)];
    if ((x1 - x0 + 1) * (y1 - y0 + 1) > 64) {
      // Huge elements (a big frame) are few: always considered.
      this.big.add(e.id);
      this.cellsOf.set(e.id, []);
      return;
    }
    const keys: string[] = [];
    for (let cx = x0; cx <= x1; cx++) {
      for (let cy = y0; cy <= y1; cy++) {
        const k = cx + ',' + cy;
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

  /** Live elements whose box meets r, in draw order. */
  query(r: Box): El[] {
    const out: El[] = [];
    const seen = new Set<string>(this.big);
    for (const id of this.big) {
      const e = this.els.get(id)!;
      if (intersects(e, r)) out.push(e);
    }
    const [x0, y0, x1, y1] = [Math.floor(r.x / CELL), Math.floor(r.y / CELL), Math.floor((r.x + r.w) / CELL), Math.floor((r.y + r.h) / CELL)];
    const cells = (x1 - x0 + 1) * (y1 - y0 + 1);
    if (cells > this.grid.size) {
      // Zoomed far out: filtering everything, kept sorted, is cheaper.
      return this.all().filter((e) => intersects(e, r));
    } else {
      for (let cx = x0; cx <= x1; cx++) {
        for (let cy = y0; cy <= y1; cy++) {
          const s = this.grid.get(cx + ',' + cy);
          if (!s) continue;
          for (const id of s) {
            if (seen.has(id)) continue;
            seen.add(id);
            const e = this.els.get(id)!;
            if (intersects(e, r)) out.push(e);
          }
        }
      }
    }
    return out.sort(byZ);
  }

  /** The topmost live element under the point, if any. */
  hit(x: number, y: number, slop = 0): El | undefined {
    const found = this.query({ x: x - slop, y: y - slop, w: 2 * slop, h: 2 * slop });
    for (let i = found.length - 1; i >= 0; i--) {
      const e = found[i];
      if (e.kind === 'shape' && e.props.shape === 'ellipse') {
        const rx = e.w / 2 + slop,
          ry = e.h / 2 + slop;
        const dx = x - (e.x + e.w / 2),
          dy = y - (e.y + e.h / 2);
        if ((dx * dx) / (rx * rx) + (dy * dy) / (ry * ry) > 1) continue;
      }
      return e;
    }
    return undefined;
  }

  /** The bounding box of the live elements, or null when there are none. */
  bounds(): Box | null {
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -Infinity,
      y1 = -Infinity;
    for (const e of this.els.values()) {
      if (e.deleted) continue;
      x0 = Math.min(x0, e.x);
      y0 = Math.min(y0, e.y);
      x1 = Math.max(x1, e.x + e.w);
      y1 = Math.max(y1, e.y + e.h);
    }
    return x0 === Infinity ? null : { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
}

export function intersects(a: Box, b: Box): boolean {
  return a.x <= b.x + b.w && b.x <= a.x + a.w && a.y <= b.y + b.h && b.y <= a.y + a.h;
}
