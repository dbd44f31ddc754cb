// Images: upload (a toolbar button, drag and drop, paste) to the node's
// blob store (POST /v1/boards/{board}/blobs, docs/API.md), an `image`
// element that names the blob (docs/SCHEMA.md), and its display.
//
// Display: the canvas renderer draws images as placeholders, so the
// pictures are <img> elements over the canvas, positioned like the other
// overlays. The bytes are fetched with the board's token (an <img src>
// cannot send an Authorization header) and shown from an object URL.
// Known limit: an image is drawn above the canvas, so it covers elements
// with a higher z and remote cursors.
import { generateKeyBetween } from 'fractional-indexing';
import type { Features } from './features';
import { uuidv7 } from './ids';
import type { El } from './model';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const MAX_BYTES = 10 << 20;
const MAX_SIDE = 480;

interface Loaded {
  url: Promise<string | null>;
  img?: HTMLImageElement;
}

export class Images {
  private cache = new Map<string, Loaded>();
  private shown = new Map<string, HTMLImageElement>();

  constructor(private f: Features) {
    const input = document.createElement('input');
    input.type = 'file';
    input.accept = IMAGE_TYPES.join(',');
    input.hidden = true;
    input.className = 'fx-image-input';
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      input.value = '';
      if (file) void this.upload(file);
    });
    f.menu.appendChild(input);
    f.button('Image', 'Add an image (or drop or paste one on the board)', () => input.click(), 'fx-image-btn edit-only');
    const target = f.host.canvas;
    target.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.items].some((i) => i.kind === 'file')) e.preventDefault();
    });
    target.addEventListener('drop', (e) => {
      const file = [...(e.dataTransfer?.files ?? [])].find((x) => x.type.startsWith('image/'));
      if (!file) return;
      e.preventDefault();
      const r = target.getBoundingClientRect();
      const c = f.host.camera();
      void this.upload(file, { x: c.x + (e.clientX - r.left) / c.zoom, y: c.y + (e.clientY - r.top) / c.zoom });
    });
    addEventListener('paste', (e) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return;
      const file = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
      if (!file) return;
      e.preventDefault();
      void this.upload(file);
    });
  }

  private authHeaders(): Record<string, string> {
    const t = this.f.host.token();
    return t ? { Authorization: 'Bearer ' + t } : {};
  }

  /** Uploads a picture and places it at `at` (board units; default: the view's centre). Returns the new element's id. */
  async upload(file: Blob, at?: { x: number; y: number }): Promise<string | null> {
    const h = this.f.host;
    if (!h.canEdit()) {
      h.toast('Only editors can add images.');
      return null;
    }
    if (!IMAGE_TYPES.includes(file.type)) {
      h.toast('Images must be PNG, JPEG, GIF or WebP.', true);
      return null;
    }
    if (file.size > MAX_BYTES) {
      h.toast('That image is larger than 10 MiB.', true);
      return null;
    }
    let info: { id: string; url: string };
    try {
      const r = await fetch(`/v1/boards/${h.boardId}/blobs`, { method: 'POST', body: file, headers: { 'Content-Type': file.type, ...this.authHeaders() } });
      const j = await r.json();
      if (!r.ok) throw new Error(j?.error?.message ?? r.statusText);
      info = j;
    } catch (e) {
      h.toast('Upload failed: ' + (e as Error).message, true);
      return null;
    }
    const size = await naturalSize(file);
    const k = Math.min(1, MAX_SIDE / Math.max(size.w, size.h));
    const w = Math.max(8, Math.round(size.w * k));
    const hh = Math.max(8, Math.round(size.h * k));
    const c = h.camera();
    const p = at ?? { x: c.x + (h.renderer.width || innerWidth) / 2 / c.zoom, y: c.y + (h.renderer.height || innerHeight) / 2 / c.zoom };
    const id = uuidv7();
    let z: string;
    try {
      z = generateKeyBetween(h.board.maxZ, null);
    } catch {
      z = generateKeyBetween(null, null);
    }
    const set = (key: string, value: unknown) => ({ op: 'set' as const, el: id, key, value });
    const name = file instanceof File ? file.name : 'image';
    const ok = h.edit([{ op: 'create', el: id, kind: 'image' }, set('x', Math.round(p.x - w / 2)), set('y', Math.round(p.y - hh / 2)), set('w', w), set('h', hh), set('blob', info.id), set('alt', name), set('z', z)]);
    if (!ok) return null;
    h.select([id]);
    return id;
  }

  /** The object URL of an image element's picture (fetched once per blob). */
  private load(blob: string): Loaded {
    let l = this.cache.get(blob);
    if (!l) {
      l = {
        url: fetch(`/v1/boards/${this.f.host.boardId}/blobs/${blob}`, { headers: this.authHeaders() })
          .then(async (r) => (r.ok ? URL.createObjectURL(await r.blob()) : null))
          .catch(() => null),
      };
      this.cache.set(blob, l);
    }
    return l;
  }

  /** The picture as a data: URL (for a self-contained SVG), or null. */
  async dataURL(e: El): Promise<string | null> {
    const blob = typeof e.props.blob === 'string' ? e.props.blob : '';
    if (!/^[0-9a-f]{64}$/.test(blob)) return null;
    const url = await this.load(blob).url;
    if (!url) return null;
    const b = await (await fetch(url)).blob();
    return new Promise((res) => {
      const r = new FileReader();
      r.onload = () => res(String(r.result));
      r.onerror = () => res(null);
      r.readAsDataURL(b);
    });
  }

  /** Draws the picture into a canvas whose transform maps board units. */
  async drawInto(ctx: CanvasRenderingContext2D, e: El): Promise<void> {
    const blob = typeof e.props.blob === 'string' ? e.props.blob : '';
    if (!/^[0-9a-f]{64}$/.test(blob)) return;
    const url = await this.load(blob).url;
    if (!url) return;
    const img = new Image();
    img.src = url;
    try {
      await img.decode();
    } catch {
      return;
    }
    ctx.drawImage(img, e.x, e.y, e.w, e.h);
  }

  /** Positions the <img> overlays of the image elements in view. */
  layout(): void {
    const h = this.f.host;
    const c = h.camera();
    const view = { x: c.x, y: c.y, w: (h.renderer.width || innerWidth) / c.zoom, h: (h.renderer.height || innerHeight) / c.zoom };
    const live = new Set<string>();
    for (const e of h.board.query(view)) {
      if (e.kind !== 'image') continue;
      const blob = typeof e.props.blob === 'string' ? e.props.blob : '';
      if (!/^[0-9a-f]{64}$/.test(blob)) continue;
      live.add(e.id);
      let img = this.shown.get(e.id);
      if (!img) {
        img = document.createElement('img');
        img.className = 'fx-image';
        img.dataset.id = e.id;
        img.draggable = false;
        this.shown.set(e.id, img);
        this.f.layer.prepend(img);
      }
      if (img.dataset.blob !== blob) {
        img.dataset.blob = blob;
        const el = img;
        void this.load(blob).url.then((u) => {
          if (u && el.dataset.blob === blob) el.src = u;
        });
      }
      img.alt = typeof e.props.alt === 'string' ? e.props.alt : '';
      const p = this.f.toScreen(e.x, e.y);
      img.style.left = `${p.x}px`;
      img.style.top = `${p.y}px`;
      img.style.width = `${e.w * c.zoom}px`;
      img.style.height = `${e.h * c.zoom}px`;
      const rot = typeof e.props.rot === 'number' ? e.props.rot : 0;
      img.style.transform = rot ? `rotate(${rot}deg)` : '';
    }
    for (const [id, img] of this.shown) {
      if (!live.has(id)) {
        img.remove();
        this.shown.delete(id);
      }
    }
  }
}

async function naturalSize(file: Blob): Promise<{ w: number; h: number }> {
  try {
    const bmp = await createImageBitmap(file);
    const s = { w: bmp.width, h: bmp.height };
    bmp.close();
    return s;
  } catch {
    return { w: 320, h: 240 };
  }
}
