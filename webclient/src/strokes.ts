// Freehand strokes: the points a pointer went through, stored as
// docs/SCHEMA.md says ([x0, y0, p0, x1, y1, p1, ...] relative to the
// stroke's x, y; p the pressure), and drawn as the smoothed, pressure-
// shaped outline that perfect-freehand computes from them. Smoothing at
// draw time rather than storing the outline keeps the stored points small
// and lets a later client draw them better.
import { getStroke } from 'perfect-freehand';
import type { Box } from './model';

/** Points further apart than this (board units) are kept; closer ones are dropped while drawing. */
export const MIN_STEP = 1.5;

/** perfect-freehand options for a stroke of nominal width w; mouse input (no pressure) simulates it from speed. */
function options(width: number, simulate: boolean, last: boolean) {
  return { size: width * 2, thinning: 0.55, smoothing: 0.5, streamline: 0.45, simulatePressure: simulate, last };
}

/** Whether every pressure is the same (a mouse or a pen without pressure). */
function flat(points: ArrayLike<number>): boolean {
  for (let i = 5; i < points.length; i += 3) if (points[i] !== points[2]) return false;
  return true;
}

/** The outline polygon of points (flat triples) as a path, in their own coordinates. */
export function strokePath(points: ArrayLike<number>, width: number, last = true): Path2D {
  const triples: [number, number, number][] = [];
  for (let i = 0; i + 2 < points.length; i += 3) triples.push([Number(points[i]), Number(points[i + 1]), Number(points[i + 2])]);
  const outline = getStroke(triples, options(width, flat(points), last));
  const p = new Path2D();
  if (!outline.length) return p;
  p.moveTo(outline[0][0], outline[0][1]);
  for (let i = 1; i < outline.length; i++) {
    // Quadratic curves through the midpoints: a smooth edge with few segments.
    const [x0, y0] = outline[i];
    const [x1, y1] = outline[(i + 1) % outline.length];
    p.quadraticCurveTo(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2);
  }
  p.closePath();
  return p;
}

/** The stored form of a stroke drawn through board points (flat x, y, p triples). */
export function makeStroke(abs: number[], width: number): Box & { points: number[] } {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -Infinity,
    y1 = -Infinity;
  for (let i = 0; i + 2 < abs.length; i += 3) {
    x0 = Math.min(x0, abs[i]);
    y0 = Math.min(y0, abs[i + 1]);
    x1 = Math.max(x1, abs[i]);
    y1 = Math.max(y1, abs[i + 1]);
  }
  const pad = width * 2;
  const x = Math.floor(x0 - pad),
    y = Math.floor(y0 - pad);
  const points: number[] = [];
  for (let i = 0; i + 2 < abs.length; i += 3) points.push(round1(abs[i] - x), round1(abs[i + 1] - y), Math.round(abs[i + 2] * 100) / 100);
  return { x, y, w: Math.ceil(x1 + pad) - x, h: Math.ceil(y1 + pad) - y, points };
}

/** Points scaled from a box of size (w0, h0) to one of (w1, h1) (a resize). */
export function scalePoints(points: unknown, w0: number, h0: number, w1: number, h1: number): number[] | null {
  if (!Array.isArray(points)) return null;
  const sx = w0 ? w1 / w0 : 1,
    sy = h0 ? h1 / h0 : 1;
  return points.map((v, i) => (i % 3 === 0 ? round1(Number(v) * sx) : i % 3 === 1 ? round1(Number(v) * sy) : Number(v)));
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
