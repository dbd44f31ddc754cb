// Canvas 2D rendering of the board: only what meets the viewport (through
// the Board's spatial index), text laid out once per content and size and
// cached, and far-zoomed text drawn as grey bars.
import type { Board, Box, El } from './model';
import { cssColor } from './ids';

export interface Camera {
  /** Board coordinates of the screen's top-left corner. */
  x: number;
  y: number;
  zoom: number;
}

export interface RemoteCursor {
  x: number;
  y: number;
  name: string;
  color: string;
}

export interface Overlay {
  selection: Set<string>;
  /** The element whose text is being edited (its text is drawn by the textarea). */
  editing?: string;
  marquee?: Box;
  /** Boxes that override an element's own while it is dragged or resized (here or by a peer). */
  preview: Map<string, Box>;
  /** Other people's selections, id → colour. */
  remoteSelection: Map<string, string>;
  cursors: RemoteCursor[];
  /** Show the resize handles of the single selected element. */
  handles: boolean;
}

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", Arial, sans-serif';
export const NOTE_PAD = 14;
const LINE = 1.25;
const SELECT = '#1c7ed6';
export const HANDLE_PX = 9;

export interface TextLayout {
  lines: string[];
  fontSize: number;
  lineHeight: number;
}

/** Where an element's text goes, and how it is aligned. */
export function textFrame(e: El): { box: Box; align: CanvasTextAlign; middle: boolean; fontSize: number; shrink: boolean; color: string } {
  const fs = typeof e.props.fontSize === 'number' && e.props.fontSize > 0 ? e.props.fontSize : e.kind === 'text' ? 24 : 20;
  if (e.kind === 'text') {
    const a = e.props.align;
    return {
      box: { x: e.x, y: e.y, w: e.w, h: e.h },
      align: a === 'center' || a === 'right' ? a : 'left',
      middle: false,
      fontSize: fs,
      shrink: false,
      color: cssColor(e.props.color, '#1e1e1e'),
    };
  }
  const pad = e.kind === 'shape' && e.props.shape === 'diamond' ? Math.min(e.w, e.h) / 5 : e.kind === 'shape' && e.props.shape === 'ellipse' ? Math.min(e.w, e.h) / 7 : NOTE_PAD;
  return {
    box: { x: e.x + pad, y: e.y + pad, w: Math.max(4, e.w - 2 * pad), h: Math.max(4, e.h - 2 * pad) },
    align: 'center',
    middle: true,
    fontSize: fs,
    shrink: true,
    color: '#1e1e1e',
  };
}

export class Renderer {
  private ctx: CanvasRenderingContext2D;
  private dpr = 1;
  width = 0;
  height = 0;
  private layouts = new Map<string, TextLayout>();
  private measure: CanvasRenderingContext2D;

  constructor(private canvas: HTMLCanvasElement) {
    this.ctx = canvas.getContext('2d', { alpha: false })!;
    this.measure = document.createElement('canvas').getContext('2d')!;
  }

  resize(): void {
    const r = this.canvas.getBoundingClientRect();
    this.dpr = window.devicePixelRatio || 1;
    this.width = r.width;
    this.height = r.height;
    this.canvas.width = Math.round(r.width * this.dpr);
    this.canvas.height = Math.round(r.height * this.dpr);
  }

  /** Lays text out in a box: word wrap, and shrink to fit (notes, shapes). */
  layout(text: string, width: number, height: number, fontSize: number, shrink: boolean): TextLayout {
    const key = `${fontSize}|${Math.round(width)}|${Math.round(height)}|${shrink ? 1 : 0}|${text}`;
    let l = this.layouts.get(key);
    if (l) return l;
    let fs = fontSize;
    for (;;) {
      const lines = this.wrap(text, width, fs);
      l = { lines, fontSize: fs, lineHeight: fs * LINE };
      if (!shrink || lines.length * fs * LINE <= height || fs <= fontSize * 0.3) break;
      fs = Math.max(fontSize * 0.3, fs * 0.85);
    }
    if (this.layouts.size > 4000) this.layouts.clear();
    this.layouts.set(key, l);
    return l;
  }

  private wrap(text: string, width: number, fs: number): string[] {
    const m = this.measure;
    m.font = `${fs}px ${FONT}`;
    const out: string[] = [];
    for (const para of text.split('\n')) {
      const words = para.split(/(\s+)/);
      let line = '';
      for (const w of words) {
        if (!w) continue;
        const cand = line + w;
        if (m.measureText(cand).width <= width || !line) {
          if (!line && m.measureText(w).width > width && !/^\s+$/.test(w)) {
            // A word wider than the box: break it by characters.
            let part = '';
            for (const ch of w) {
              if (part && m.measureText(part + ch).width > width) {
                out.push(part);
                part = '';
              }
              part += ch;
            }
            line = part;
          } else line = cand;
        } else {
          out.push(line.trimEnd());
          line = /^\s+$/.test(w) ? '' : w;
        }
      }
      out.push(line.trimEnd());
    }
    return out;
  }

  /** The text layout of an element as drawn (the editor matches it). */
  elementLayout(e: El): TextLayout {
    const f = textFrame(e);
    return this.layout(e.text.text ?? '', f.box.w, f.box.h, f.fontSize, f.shrink);
  }

  draw(board: Board, cam: Camera, ov: Overlay): void {
    const ctx = this.ctx;
    const { dpr } = this;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#f7f7f5';
    ctx.fillRect(0, 0, this.width, this.height);
    this.grid(cam);

    const view: Box = { x: cam.x, y: cam.y, w: this.width / cam.zoom, h: this.height / cam.zoom };
    // Elements being dragged are looked up around where they were too.
    const visible = board.query(view);
    const seen = new Set(visible.map((e) => e.id));
    for (const id of ov.preview.keys()) {
      const e = board.get(id);
      if (e && !seen.has(id)) visible.push(e);
    }
    ctx.setTransform(dpr * cam.zoom, 0, 0, dpr * cam.zoom, -cam.x * cam.zoom * dpr, -cam.y * cam.zoom * dpr);
    const many = visible.length > 400;
    for (const e of visible) {
      const p = ov.preview.get(e.id);
      const el = p ? { ...e, ...p } : e;
      this.element(el, cam.zoom, many, ov.editing === e.id);
    }

    // Overlays, in screen pixels.
    const sx = (x: number) => (x - cam.x) * cam.zoom;
    const sy = (y: number) => (y - cam.y) * cam.zoom;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const outline = (id: string, color: string, dashed: boolean) => {
      const e = board.get(id);
      if (!e) return;
      const b = ov.preview.get(id) ?? e;
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed ? [6, 4] : []);
      ctx.strokeRect(sx(b.x) - 2, sy(b.y) - 2, b.w * cam.zoom + 4, b.h * cam.zoom + 4);
      ctx.setLineDash([]);
    };
    for (const [id, color] of ov.remoteSelection) if (!ov.selection.has(id)) outline(id, color, true);
    for (const id of ov.selection) outline(id, SELECT, false);
    if (ov.handles && ov.selection.size === 1) {
      const id = [...ov.selection][0];
      const e = board.get(id);
      if (e) {
        const b = ov.preview.get(id) ?? e;
        ctx.fillStyle = '#fff';
        ctx.strokeStyle = SELECT;
        ctx.lineWidth = 1.5;
        for (const [hx, hy] of corners(b)) {
          ctx.fillRect(sx(hx) - HANDLE_PX / 2, sy(hy) - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
          ctx.strokeRect(sx(hx) - HANDLE_PX / 2, sy(hy) - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
        }
      }
    }
    if (ov.marquee) {
      const m = ov.marquee;
      ctx.fillStyle = 'rgba(28,126,214,0.08)';
      ctx.strokeStyle = SELECT;
      ctx.lineWidth = 1;
      ctx.fillRect(sx(m.x), sy(m.y), m.w * cam.zoom, m.h * cam.zoom);
      ctx.strokeRect(sx(m.x), sy(m.y), m.w * cam.zoom, m.h * cam.zoom);
    }
    for (const c of ov.cursors) this.cursor(sx(c.x), sy(c.y), c.name, c.color);
  }

  private grid(cam: Camera): void {
    const ctx = this.ctx;
    let step = 32;
    while (step * cam.zoom < 14) step *= 4;
    const px = step * cam.zoom;
    const ox = -((cam.x * cam.zoom) % px);
    const oy = -((cam.y * cam.zoom) % px);
    ctx.beginPath();
    for (let x = ox; x < this.width; x += px) {
      ctx.moveTo(Math.round(x) + 0.5, 0);
      ctx.lineTo(Math.round(x) + 0.5, this.height);
    }
    for (let y = oy; y < this.height; y += px) {
      ctx.moveTo(0, Math.round(y) + 0.5);
      ctx.lineTo(this.width, Math.round(y) + 0.5);
    }
    ctx.strokeStyle = '#e6e6e2';
    ctx.lineWidth = 1;
    ctx.stroke();
  }

  private element(e: El, zoom: number, many: boolean, editing: boolean): void {
    const ctx = this.ctx;
    switch (e.kind) {
      case 'note': {
        if (!many) {
          ctx.fillStyle = 'rgba(0,0,0,0.10)';
          ctx.fillRect(e.x + 1, e.y + 3, e.w, e.h);
        }
        ctx.fillStyle = cssColor(e.props.color, 'yellow');
        ctx.fillRect(e.x, e.y, e.w, e.h);
        break;
      }
      case 'shape': {
        const shape = e.props.shape;
        ctx.beginPath();
        if (shape === 'ellipse') ctx.ellipse(e.x + e.w / 2, e.y + e.h / 2, e.w / 2, e.h / 2, 0, 0, Math.PI * 2);
        else if (shape === 'diamond') {
          ctx.moveTo(e.x + e.w / 2, e.y);
          ctx.lineTo(e.x + e.w, e.y + e.h / 2);
          ctx.lineTo(e.x + e.w / 2, e.y + e.h);
          ctx.lineTo(e.x, e.y + e.h / 2);
          ctx.closePath();
        } else ctx.rect(e.x, e.y, e.w, e.h);
        const fill = cssColor(e.props.fill, 'transparent');
        if (fill !== 'transparent') {
          ctx.fillStyle = fill;
          ctx.fill();
        }
        const sw = typeof e.props.strokeWidth === 'number' ? e.props.strokeWidth : 2;
        if (sw > 0) {
          ctx.strokeStyle = cssColor(e.props.stroke, '#1e1e1e');
          ctx.lineWidth = Math.max(sw, 1 / zoom);
          ctx.lineJoin = 'round';
          ctx.stroke();
        }
        break;
      }
      case 'text':
        break;
      case 'stroke':
        this.stroke(e);
        return;
      default: {
        // A kind this client does not draw yet (connector, image, frame,
        // mindmap, comment): a labelled placeholder, so nothing is hidden.
        ctx.setLineDash([6 / zoom, 4 / zoom]);
        ctx.strokeStyle = '#999';
        ctx.lineWidth = 1 / zoom;
        ctx.strokeRect(e.x, e.y, e.w, e.h);
        ctx.setLineDash([]);
        ctx.fillStyle = '#888';
        ctx.font = `${12 / zoom}px ${FONT}`;
        ctx.textAlign = 'left';
        ctx.textBaseline = 'top';
        const label = e.text.title ?? e.text.text ?? e.text.label ?? '';
        ctx.fillText(`${e.kind}${label ? ': ' + label.slice(0, 40) : ''}`, e.x + 4 / zoom, e.y + 4 / zoom);
        return;
      }
    }
    if (editing) return;
    const text = e.text.text;
    if (!text) return;
    const f = textFrame(e);
    if (f.fontSize * zoom < 1.5) return; // not even a smudge
    if (f.fontSize * zoom < 3 || (many && f.fontSize * zoom < 5)) {
      // Too small to read: grey bars where the lines go.
      ctx.fillStyle = 'rgba(0,0,0,0.18)';
      const n = Math.min(4, Math.ceil(text.length / 16));
      const lh = Math.min(f.box.h / 5, f.fontSize * LINE);
      const top = f.middle ? f.box.y + (f.box.h - n * lh) / 2 : f.box.y;
      for (let i = 0; i < n; i++) ctx.fillRect(f.box.x + f.box.w * 0.1, top + i * lh + lh * 0.25, f.box.w * (i === n - 1 ? 0.5 : 0.8), lh * 0.5);
      return;
    }
    const l = this.layout(text, f.box.w, f.box.h, f.fontSize, f.shrink);
    ctx.font = `${l.fontSize}px ${FONT}`;
    ctx.fillStyle = f.color;
    ctx.textAlign = f.align;
    ctx.textBaseline = 'middle';
    const total = l.lines.length * l.lineHeight;
    let y = f.middle ? f.box.y + (f.box.h - total) / 2 : f.box.y;
    const x = f.align === 'center' ? f.box.x + f.box.w / 2 : f.align === 'right' ? f.box.x + f.box.w : f.box.x;
    ctx.save();
    ctx.beginPath();
    ctx.rect(e.x, e.y, e.w, e.h);
    ctx.clip();
    for (const line of l.lines) {
      ctx.fillText(line, x, y + l.lineHeight / 2);
      y += l.lineHeight;
    }
    ctx.restore();
  }

  private stroke(e: El): void {
    const pts = e.props.points;
    if (!Array.isArray(pts) || pts.length < 6) return;
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(e.x + Number(pts[0]), e.y + Number(pts[1]));
    for (let i = 3; i + 1 < pts.length; i += 3) ctx.lineTo(e.x + Number(pts[i]), e.y + Number(pts[i + 1]));
    ctx.strokeStyle = cssColor(e.props.color, '#1e1e1e');
    ctx.lineWidth = typeof e.props.width === 'number' ? e.props.width : 4;
    ctx.lineCap = ctx.lineJoin = 'round';
    ctx.stroke();
  }

  private cursor(x: number, y: number, name: string, color: string): void {
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x, y + 17);
    ctx.lineTo(x + 4.5, y + 13);
    ctx.lineTo(x + 8, y + 20);
    ctx.lineTo(x + 10.5, y + 19);
    ctx.lineTo(x + 7, y + 12);
    ctx.lineTo(x + 12.5, y + 12);
    ctx.closePath();
    ctx.fillStyle = color;
    ctx.fill();
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 1.2;
    ctx.stroke();
    ctx.font = `12px ${FONT}`;
    const w = ctx.measureText(name).width + 10;
    ctx.fillStyle = color;
    roundRect(ctx, x + 12, y + 18, w, 18, 4);
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(name, x + 17, y + 27);
  }
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/** The four corners of a box: nw, ne, se, sw. */
export function corners(b: Box): [number, number][] {
  return [
    [b.x, b.y],
    [b.x + b.w, b.y],
    [b.x + b.w, b.y + b.h],
    [b.x, b.y + b.h],
  ];
}
