// The board page's view: where the camera looks and how far it is zoomed,
// screen ↔ board coordinates, zooming about a point, panning, fitting the
// content, and the view kept per board across visits (store.ts).
import type { Board, Box } from './model';
import type { Camera, Renderer } from './render';
import { loadCamera, saveCamera } from './store';

// 1%: far enough for a board of 100,000 notes to fit in a window (its
// far-zoomed drawing is lod.ts's).
export const ZOOM_MIN = 0.01;
export const ZOOM_MAX = 4;

export class CameraView {
  cam: Camera = { x: -200, y: -150, zoom: 1 };
  /** How far down from the canvas' top overlays cover it (CSS px): a fitted view starts below. */
  topInset: () => number = () => 0;
  private listeners: (() => void)[] = [];
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private boardId: string,
    private board: Board,
    private renderer: Renderer,
  ) {}

  /** Calls fn whenever the view changed (moved, zoomed, or the canvas resized). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Takes the view this browser last had on the board; false when there is none. */
  restore(): boolean {
    const c = loadCamera(this.boardId);
    if (!c) return false;
    this.cam = c;
    return true;
  }

  /** Moves the view. */
  set(c: Camera): void {
    this.cam = c;
    this.changed();
  }

  /** The view changed (or the canvas size did): tell, and keep it a moment later. */
  changed(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => saveCamera(this.boardId, this.cam), 300);
    for (const fn of this.listeners) fn();
  }

  /** Canvas pixels → board coordinates. */
  toBoard(sx: number, sy: number): { x: number; y: number } {
    return { x: this.cam.x + sx / this.cam.zoom, y: this.cam.y + sy / this.cam.zoom };
  }

  /** Board coordinates → canvas pixels. */
  toCanvas(x: number, y: number): { x: number; y: number } {
    return { x: (x - this.cam.x) * this.cam.zoom, y: (y - this.cam.y) * this.cam.zoom };
  }

  /** Zooms by factor about a canvas point (which stays put). */
  zoomAt(sx: number, sy: number, factor: number): void {
    const z = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.cam.zoom * factor));
    const p = this.toBoard(sx, sy);
    this.set({ x: p.x - sx / z, y: p.y - sy / z, zoom: z });
  }

  /** Pans by canvas pixels. */
  panBy(dx: number, dy: number): void {
    this.set({ ...this.cam, x: this.cam.x - dx / this.cam.zoom, y: this.cam.y - dy / this.cam.zoom });
  }

  /** Zooms about the canvas' middle. */
  zoomMid(factor: number): void {
    this.zoomAt(this.renderer.width / 2, this.renderer.height / 2, factor);
  }

  /** Fits the content in view (at most 100%). */
  fit(): void {
    this.set(this.fitted(this.board.bounds()));
  }

  /**
   * The view that fits box b (null: the origin at 100%): 60 px clear at
   * each side, 80 at the bottom, and 80 at the top or 16 below what covers
   * the top (topInset: the notices, such as "since your last visit"),
   * whichever is lower, but no lower than the middle.
   */
  fitted(b: Box | null): Camera {
    const W = this.renderer.width || innerWidth;
    const H = this.renderer.height || innerHeight;
    if (!b) return { x: -W / 2, y: -H / 2, zoom: 1 };
    const top = Math.min(H / 2, Math.max(80, this.topInset() + 16));
    const h = Math.max(1, H - top - 80);
    const z = Math.min(1, Math.max(ZOOM_MIN, Math.min((W - 120) / b.w, h / b.h)));
    return { x: b.x + b.w / 2 - W / 2 / z, y: b.y + b.h / 2 - (top + h / 2) / z, zoom: z };
  }
}
