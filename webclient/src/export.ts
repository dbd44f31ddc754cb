// Export of a board or of the selection: PNG (the renderer's own drawing
// code on an offscreen canvas, at a chosen scale), SVG (a serializer of the
// element kinds the renderer draws, with the renderer's text layout), and
// JSON (the doc's elements as package crdt writes them, through the bridge).
// Both draw images in z order with the rest; the SVG embeds each picture as
// a data: URL (images.ts says why).
//
// SVG text is laid out by the renderer (same line breaks, same shrink to
// fit) and written as one <text> per line, rather than with a foreignObject
// of HTML: other programs (Inkscape, Illustrator, librsvg) read plain SVG
// text, few read foreignObject.
import { t as tr, type Key } from './i18n';
import type { FeatureContext } from './featurekit';
import { connectorPath, type Pt } from './connectors';
import { cssColor } from './ids';
import { Board, FRAME_TITLE, type Box, type El } from './model';
import { FONT, Renderer, textFrame, type Overlay } from './render';

const MARGIN = 24;
/** Canvas limits that every current browser accepts. */
const MAX_SIDE = 16384;
const MAX_PIXELS = 40_000_000;

export interface ExportOptions {
  /** Only these elements (default: every element). */
  ids?: string[];
  /** PNG: device pixels per board unit (default 2). */
  scale?: number;
}

/** The elements to export, as a Board of their own (comments are not drawn). */
export function exportBoard(f: FeatureContext, ids?: string[]): Board {
  const b = new Board();
  const list = f.host.doc.elements(ids && ids.length ? ids : undefined).filter((e) => !e.deleted && e.kind !== 'comment');
  b.upsert(list);
  return b;
}

function frameOf(b: Board): Box {
  const r = b.bounds() ?? { x: 0, y: 0, w: 1, h: 1 };
  return { x: Math.floor(r.x - MARGIN), y: Math.floor(r.y - MARGIN), w: Math.ceil(r.w + 2 * MARGIN), h: Math.ceil(r.h + 2 * MARGIN) };
}

/** A PNG of the board (or of opts.ids) drawn by the renderer at opts.scale. */
export async function exportPNG(f: FeatureContext, opts: ExportOptions = {}): Promise<{ blob: Blob; width: number; height: number }> {
  const b = exportBoard(f, opts.ids);
  const fr = frameOf(b);
  let scale = opts.scale ?? 2;
  scale = Math.min(scale, MAX_SIDE / fr.w, MAX_SIDE / fr.h, Math.sqrt(MAX_PIXELS / (fr.w * fr.h)));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(fr.w * scale));
  canvas.height = Math.max(1, Math.round(fr.h * scale));
  const r = new Renderer(canvas);
  r.words = { frame: tr('render.frame'), imageUnavailable: tr('render.imageUnavailable'), imageLoading: tr('render.imageLoading') };
  // The renderer sizes itself from the page; an offscreen canvas has no
  // layout, so its size and pixel ratio are set here.
  const rr = r as unknown as { width: number; height: number; dpr: number };
  rr.width = fr.w;
  rr.height = fr.h;
  rr.dpr = scale;
  // Every element in full, drawn once: no far-view bitmap, no boxes for tiny ones.
  r.far = null;
  r.lod = false;
  const ov = { selection: new Set<string>(), preview: new Map(), remoteSelection: new Map(), cursors: [], handles: false } as unknown as Overlay;
  // Images are drawn by the renderer in z order, once their pictures are decoded.
  await f.images.ready(b.all());
  r.images = f.images;
  r.draw(b, { x: fr.x, y: fr.y, zoom: 1 }, ov);
  const blob = await new Promise<Blob>((res, rej) => canvas.toBlob((x) => (x ? res(x) : rej(new Error('PNG encoding failed'))), 'image/png'));
  return { blob, width: canvas.width, height: canvas.height };
}

/**
 * Characters XML 1.0 forbids: controls but tab, line feed and carriage
 * return, U+FFFE, U+FFFF and surrogates not in a pair. The node takes them
 * in text, and one (a U+0001 in a note) made the whole SVG unreadable.
 */
const NOT_XML = /[\0-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text for SVG content or a quoted attribute: markup escaped, characters XML forbids left out. */
export function esc(s: string): string {
  return s.replace(NOT_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function paint(c: string): string {
  // #rrggbbaa is valid SVG 2 but not SVG 1.1: split out the alpha.
  if (/^#[0-9a-fA-F]{8}$/.test(c)) return `"${c.slice(0, 7)}" fill-opacity="${n(parseInt(c.slice(7), 16) / 255)}"`;
  return `"${esc(c)}"`;
}

/** An SVG document of the board (or of opts.ids). */
export async function exportSVG(f: FeatureContext, opts: ExportOptions = {}): Promise<string> {
  const b = exportBoard(f, opts.ids);
  const fr = frameOf(b);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${fr.w}" height="${fr.h}" viewBox="${fr.x} ${fr.y} ${fr.w} ${fr.h}" font-family="${esc(FONT)}">`,
    `<rect x="${fr.x}" y="${fr.y}" width="${fr.w}" height="${fr.h}" fill="#f7f7f5"/>`,
  );
  // As the renderer: frames first (they hold the rest), then mindmap
  // edges, then everything else, each in z order.
  const els = b.all().filter((e) => !(e as { hidden?: boolean }).hidden);
  for (const e of els) if (e.kind === 'frame') out.push(await svgElement(f, b, e));
  out.push(svgEdges(b, els));
  for (const e of els) if (e.kind !== 'frame') out.push(await svgElement(f, b, e));
  out.push('</svg>');
  return out.join('\n');
}

/** Mindmap edges, parent's right side to child's left side, as the renderer draws them. */
function svgEdges(b: Board, els: El[]): string {
  const d: string[] = [];
  for (const e of els) {
    if (e.kind !== 'mindmap' || !e.parent) continue;
    const p = b.get(e.parent);
    if (p?.kind !== 'mindmap') continue;
    const x0 = p.x + p.w,
      y0 = p.y + p.h / 2,
      x1 = e.x,
      y1 = e.y + e.h / 2,
      mx = (x0 + x1) / 2;
    d.push(`M${n(x0)} ${n(y0)}C${n(mx)} ${n(y0)} ${n(mx)} ${n(y1)} ${n(x1)} ${n(y1)}`);
  }
  return d.length ? `<path d="${d.join('')}" fill="none" stroke="#74c0fc" stroke-width="2"/>` : '';
}

function svgConnector(b: Board, e: El): string {
  const pts = connectorPath(e, (id) => b.get(id));
  if (!pts) return '';
  const color = paint(cssColor(e.props.stroke, '#1e1e1e'));
  const width = typeof e.props.width === 'number' && e.props.width > 0 ? e.props.width : 2;
  const head = 8 + width * 2;
  const endArrow = e.props.endArrow !== false;
  const startArrow = e.props.startArrow === true;
  const line = pts.map((p) => [...p] as Pt);
  const shorten = (a: Pt, t: Pt) => {
    const d = Math.hypot(t[0] - a[0], t[1] - a[1]);
    if (d > head) {
      t[0] -= ((t[0] - a[0]) / d) * head * 0.8;
      t[1] -= ((t[1] - a[1]) / d) * head * 0.8;
    }
  };
  if (endArrow) shorten(line[line.length - 2], line[line.length - 1]);
  if (startArrow) shorten(line[1], line[0]);
  let d = `M${n(line[0][0])} ${n(line[0][1])}`;
  if (e.props.route === 'curve' && line.length === 2) {
    const [a, t] = line;
    const mx = (a[0] + t[0]) / 2;
    d += `C${n(mx)} ${n(a[1])} ${n(mx)} ${n(t[1])} ${n(t[0])} ${n(t[1])}`;
  } else for (const p of line.slice(1)) d += `L${n(p[0])} ${n(p[1])}`;
  const parts = [`<path d="${d}" fill="none" stroke=${color} stroke-width="${n(width)}" stroke-linecap="round" stroke-linejoin="round"/>`];
  const arrow = (from: Pt, tip: Pt) => {
    const ang = Math.atan2(tip[1] - from[1], tip[0] - from[0]);
    const p1 = [tip[0] - head * Math.cos(ang - 0.45), tip[1] - head * Math.sin(ang - 0.45)];
    const p2 = [tip[0] - head * Math.cos(ang + 0.45), tip[1] - head * Math.sin(ang + 0.45)];
    parts.push(`<path d="M${n(tip[0])} ${n(tip[1])}L${n(p1[0])} ${n(p1[1])}L${n(p2[0])} ${n(p2[1])}Z" fill=${color}/>`);
  };
  if (endArrow) arrow(pts[pts.length - 2], pts[pts.length - 1]);
  if (startArrow) arrow(pts[1], pts[0]);
  const label = e.text.label;
  if (label) {
    const mid = pts.length === 4 ? [(pts[1][0] + pts[2][0]) / 2, (pts[1][1] + pts[2][1]) / 2] : [(pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2];
    parts.push(`<text x="${n(mid[0])}" y="${n(mid[1])}" dominant-baseline="central" text-anchor="middle" font-size="14" fill=${color} stroke="#fff" stroke-width="4" paint-order="stroke">${esc(label)}</text>`);
  }
  return `<g data-id="${e.id}">${parts.join('')}</g>`;
}

async function svgElement(f: FeatureContext, b: Board, e: El): Promise<string> {
  const rot = typeof e.props.rot === 'number' && e.props.rot ? ` transform="rotate(${n(e.props.rot)} ${n(e.x + e.w / 2)} ${n(e.y + e.h / 2)})"` : '';
  const parts: string[] = [];
  switch (e.kind) {
    case 'note':
      parts.push(`<rect x="${n(e.x + 1)}" y="${n(e.y + 3)}" width="${n(e.w)}" height="${n(e.h)}" fill="#000" fill-opacity="0.1"/>`);
      parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" fill=${paint(cssColor(e.props.color, 'yellow'))}/>`);
      break;
    case 'shape': {
      const fill = cssColor(e.props.fill, 'transparent');
      const sw = typeof e.props.strokeWidth === 'number' ? e.props.strokeWidth : 2;
      const style = `fill=${fill === 'transparent' ? '"none"' : paint(fill)} stroke=${sw > 0 ? paint(cssColor(e.props.stroke, '#1e1e1e')) : '"none"'} stroke-width="${n(sw)}" stroke-linejoin="round"`;
      if (e.props.shape === 'ellipse') parts.push(`<ellipse cx="${n(e.x + e.w / 2)}" cy="${n(e.y + e.h / 2)}" rx="${n(e.w / 2)}" ry="${n(e.h / 2)}" ${style}/>`);
      else if (e.props.shape === 'diamond')
        parts.push(`<path d="M${n(e.x + e.w / 2)} ${n(e.y)}L${n(e.x + e.w)} ${n(e.y + e.h / 2)}L${n(e.x + e.w / 2)} ${n(e.y + e.h)}L${n(e.x)} ${n(e.y + e.h / 2)}Z" ${style}/>`);
      else parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" ${style}/>`);
      break;
    }
    case 'text':
      break;
    case 'mindmap': {
      const root = !e.parent || b.get(e.parent)?.kind !== 'mindmap';
      const r = Math.min(12, e.h / 2);
      parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" rx="${n(r)}" fill=${paint(cssColor(e.props.color, '#e7f5ff'))} stroke="${root ? '#1971c2' : '#74c0fc'}" stroke-width="${root ? 2.5 : 1.5}"/>`);
      break;
    }
    case 'frame': {
      const fill = cssColor(e.props.fill, 'transparent');
      const tb = Math.min(FRAME_TITLE, e.h);
      parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" fill=${fill === 'transparent' ? '"#fff" fill-opacity="0.55"' : paint(fill)} stroke="#adb5bd" stroke-width="1.5"/>`);
      parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(tb)}" fill="#000" fill-opacity="0.04"/>`);
      const title = (e.text.title || tr('outline.kind.frame')).split('\n')[0];
      const fr = textFrame(e);
      parts.push(`<text x="${n(fr.box.x)}" y="${n(e.y + tb / 2)}" dominant-baseline="central" font-size="${n(fr.fontSize)}" font-weight="600" fill="${e.text.title ? esc(fr.color) : '#adb5bd'}">${esc(title)}</text>`);
      return `<g data-id="${e.id}"${rot}>${parts.join('')}</g>`;
    }
    case 'connector':
      return svgConnector(b, e);
    case 'stroke': {
      const pts = e.props.points;
      if (Array.isArray(pts) && pts.length >= 6) {
        const d: string[] = [];
        for (let i = 0; i + 1 < pts.length; i += 3) d.push(`${i ? 'L' : 'M'}${n(e.x + Number(pts[i]))} ${n(e.y + Number(pts[i + 1]))}`);
        const w = typeof e.props.width === 'number' ? e.props.width : 4;
        parts.push(`<path d="${d.join('')}" fill="none" stroke=${paint(cssColor(e.props.color, '#1e1e1e'))} stroke-width="${n(w)}" stroke-linecap="round" stroke-linejoin="round"/>`);
      }
      return `<g data-id="${e.id}"${rot}>${parts.join('')}</g>`;
    }
    case 'image': {
      const href = await f.images.dataURL(e);
      if (href) parts.push(`<image x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" preserveAspectRatio="none" href="${esc(href)}"/>`);
      else parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" fill="#eceeef" stroke="#adb5bd" stroke-dasharray="6 4"/>`);
      return `<g data-id="${e.id}"${rot}>${parts.join('')}</g>`;
    }
    default: {
      const label = e.text.title ?? e.text.text ?? e.text.label ?? '';
      parts.push(`<rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}" fill="${e.kind === 'frame' ? '#ffffff' : 'none'}" stroke="#999" stroke-dasharray="6 4"/>`);
      if (label) parts.push(`<text x="${n(e.x + 6)}" y="${n(e.y + 18)}" font-size="14" fill="#555">${esc(label.slice(0, 200))}</text>`);
      return `<g data-id="${e.id}"${rot}>${parts.join('')}</g>`;
    }
  }
  const text = e.text.text;
  if (text) {
    const fr = textFrame(e);
    const l = f.host.renderer.layout(text, fr.box.w, fr.box.h, fr.fontSize, fr.shrink);
    const anchor = fr.align === 'center' ? 'middle' : fr.align === 'right' ? 'end' : 'start';
    const x = fr.align === 'center' ? fr.box.x + fr.box.w / 2 : fr.align === 'right' ? fr.box.x + fr.box.w : fr.box.x;
    let y = fr.middle ? fr.box.y + (fr.box.h - l.lines.length * l.lineHeight) / 2 : fr.box.y;
    const clip = `clip-${e.id}`;
    parts.push(`<clipPath id="${clip}"><rect x="${n(e.x)}" y="${n(e.y)}" width="${n(e.w)}" height="${n(e.h)}"/></clipPath>`);
    const lines: string[] = [];
    for (const line of l.lines) {
      lines.push(`<text x="${n(x)}" y="${n(y + l.lineHeight / 2)}" dominant-baseline="central" text-anchor="${anchor}" font-size="${n(l.fontSize)}" fill=${paint(fr.color)} xml:space="preserve">${esc(line)}</text>`);
      y += l.lineHeight;
    }
    parts.push(`<g clip-path="url(#${clip})">${lines.join('')}</g>`);
  }
  return `<g data-id="${e.id}"${rot}>${parts.join('')}</g>`;
}

/** The elements as JSON (crdt.ElementJSON, as the bridge gives them), deleted ones left out. */
export function exportJSON(f: FeatureContext, opts: ExportOptions = {}): string {
  const els = f.host.doc.elements(opts.ids && opts.ids.length ? opts.ids : undefined).filter((e) => !e.deleted);
  return JSON.stringify({ board: f.host.boardId, version: f.host.doc.version(), exported: new Date().toISOString(), elements: els }, null, 2);
}

/** Offers a file to download. */
export function download(name: string, data: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(data);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function fileName(ext: string, sel: boolean): string {
  const title = (document.title.split(' · ')[0] || 'board').replace(/[^\p{L}\p{N} _-]+/gu, '').trim() || 'board';
  return `${title}${sel ? ' (selection)' : ''}.${ext}`;
}

/** The export menu: PNG, SVG, JSON of the board, or of the selection when there is one. */
export class Exporter {
  private pop: HTMLElement;

  constructor(private f: FeatureContext) {
    const pop = document.createElement('div');
    pop.className = 'panel fx-pop fx-export';
    pop.hidden = true;
    const add = (label: Key, fn: (ids?: string[]) => Promise<void>) => {
      const b = document.createElement('button');
      b.textContent = tr(label);
      b.dataset.export = label.split('.')[1];
      b.addEventListener('click', () => {
        pop.hidden = true;
        const sel = [...f.host.selection()];
        fn(sel.length ? sel : undefined).catch((e) => f.host.toast(tr('export.failed', { error: (e as Error).message }), true));
      });
      pop.appendChild(b);
    };
    add('export.png', async (ids) => download(fileName('png', !!ids), (await exportPNG(f, { ids })).blob));
    add('export.svg', async (ids) => download(fileName('svg', !!ids), new Blob([await exportSVG(f, { ids })], { type: 'image/svg+xml' })));
    add('export.json', async (ids) => download(fileName('json', !!ids), new Blob([exportJSON(f, { ids })], { type: 'application/json' })));
    this.pop = pop;
    f.menu.parentElement!.appendChild(pop);
    f.button(tr('export'), tr('export.title'), () => {
      pop.hidden = !pop.hidden;
      const n = f.host.selection().size;
      pop.dataset.scope = n ? 'selection' : 'board';
      pop.title = n ? tr('export.selection', { n }) : tr('export.board');
    }, 'fx-export-btn');
  }

  png(opts?: ExportOptions) {
    return exportPNG(this.f, opts);
  }
  svg(opts?: ExportOptions) {
    return exportSVG(this.f, opts);
  }
  json(opts?: ExportOptions) {
    return exportJSON(this.f, opts);
  }
  close(): void {
    this.pop.hidden = true;
  }
}
