// Images: upload (a toolbar button, drag and drop, paste) to the node's
// blob store (POST /v1/boards/{board}/blobs, docs/API.md), an `image`
// element that names the blob (docs/SCHEMA.md), and the pictures the
// canvas renderer draws (render.ts ImageSource).
//
// Display: the bytes are fetched once per blob with the board's token (an
// Authorization header, as every REST call), decoded to an ImageBitmap and
// cached by blob id; the renderer draws the bitmap in z order like any
// other element and a placeholder until it is ready. Bitmaps are decoded
// at most MAX_DECODE pixels on a side: a picture is at most 480 units wide
// when placed, so that is enough for zooming in and for a 2× PNG export of
// a resized picture, and a 40-megapixel photo does not hold 160 MB.
// Rejected: <img> elements over the canvas (they cover every element with
// a higher z and remote cursors), and decoding on every draw.
//
// Memory: when the decoded bitmaps hold more than `maxPixels`, the least
// recently drawn ones whose elements are out of view are closed and
// forgotten (fetched again if they come back into view). The trim runs in
// a task of its own and skips what an export's `ready()` waited for until
// the export has drawn. Rejected: a fixed count of bitmaps (one photo and
// one icon weigh very differently), and never letting go (a board of
// hundreds of photos would hold gigabytes).
//
// SVG export embeds each picture as a data: URL rather than an href to the
// node's blob URL: the file is self-contained (it opens offline, in other
// programs, and after the board's link is revoked), and the blob URL needs
// the board's credentials, which an SVG viewer does not have.
import { t as tr } from './i18n';
import { generateKeyBetween } from 'fractional-indexing';
import type { FeatureContext } from './featurekit';
import { uuidv7 } from './ids';
import type { El } from './model';
import type { ImageSource, Picture } from './render';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const MAX_BYTES = 10 << 20;
const MAX_SIDE = 480;
/** The largest side a picture is decoded at (see the file comment). */
const MAX_DECODE = 2048;

/** One blob's picture: its bytes, then its bitmap. */
interface Loaded {
  bytes: Promise<Blob | null>;
  /** Settles when the picture is decoded (or cannot be). */
  done: Promise<void>;
  picture: Picture;
  /** When it was last asked for (a counter). */
  usedAt: number;
  /** When it could not be had (ms): it is fetched again on a draw RETRY_MS later (the page may have been offline). */
  failedAt?: number;
}

const RETRY_MS = 10_000;

/** The blob an image element names, or '' when it names none (or not a valid id). */
export function blobOf(e: El): string {
  const b = e.props.blob;
  return typeof b === 'string' && /^[0-9a-f]{64}$/.test(b) ? b : '';
}

export class Images implements ImageSource {
  private cache = new Map<string, Loaded>();
  /** The decoded pixels kept before pictures out of view are let go (about 4 bytes each). */
  maxPixels = 48_000_000;
  private trimQueued = false;
  /** Blobs an export is about to draw (ready() until its caller drew): never let go. */
  private pinned = new Map<string, number>();
  private uses = 0;

  constructor(private f: FeatureContext) {
    f.host.renderer.images = this;
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
    f.button(tr('images'), tr('images.title'), () => input.click(), 'fx-image-btn edit-only');
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
      h.toast(tr('images.editorsOnly'));
      return null;
    }
    if (!IMAGE_TYPES.includes(file.type)) {
      h.toast(tr('images.kinds'), true);
      return null;
    }
    if (file.size > MAX_BYTES) {
      h.toast(tr('images.tooLarge'), true);
      return null;
    }
    let info: { id: string; url: string };
    try {
      const r = await fetch(`/v1/boards/${h.boardId}/blobs`, { method: 'POST', body: file, headers: { 'Content-Type': file.type, ...this.authHeaders() } });
      const j = await r.json();
      if (!r.ok) throw new Error(j?.error?.message ?? r.statusText);
      info = j;
    } catch (e) {
      h.toast(tr('images.failed', { error: (e as Error).message }), true);
      return null;
    }
    if (/^[0-9a-f]{64}$/.test(info.id)) this.load(info.id, file);
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

  /**
   * Fetches and decodes a blob's picture once; later calls share it. `have`:
   * the bytes when this page has them already (it just uploaded them).
   */
  private load(blob: string, have?: Blob): Loaded {
    const l = this.cache.get(blob);
    if (l && !(l.failedAt && Date.now() - l.failedAt > RETRY_MS)) return l;
    const bytes = have
      ? Promise.resolve(have)
      : fetch(`/v1/boards/${this.f.host.boardId}/blobs/${blob}`, { headers: this.authHeaders() })
          .then((r) => (r.ok ? r.blob() : null))
          .catch(() => null);
    const entry: Loaded = { bytes, picture: 'loading', done: Promise.resolve(), usedAt: ++this.uses };
    entry.done = bytes
      .then((b) => (b ? decode(b) : null))
      .then((bmp) => {
        if (this.cache.get(blob) !== entry) {
          bmp?.close(); // let go meanwhile
          return;
        }
        entry.picture = bmp;
        if (!bmp) entry.failedAt = Date.now();
        this.f.host.redraw();
        this.queueTrim();
      });
    this.cache.set(blob, entry);
    return entry;
  }

  private queueTrim(): void {
    if (this.trimQueued) return;
    this.trimQueued = true;
    setTimeout(() => {
      this.trimQueued = false;
      this.trim();
    });
  }

  /** Lets go of the least recently drawn bitmaps out of view while the decoded ones exceed maxPixels. */
  private trim(): void {
    let total = 0;
    const decoded: [string, Loaded, ImageBitmap][] = [];
    for (const [blob, l] of this.cache) {
      if (l.picture && l.picture !== 'loading') {
        total += l.picture.width * l.picture.height;
        decoded.push([blob, l, l.picture]);
      }
    }
    if (total <= this.maxPixels) return;
    const h = this.f.host;
    const c = h.camera();
    const view = { x: c.x, y: c.y, w: (h.renderer.width || innerWidth) / c.zoom, h: (h.renderer.height || innerHeight) / c.zoom };
    const inView = new Set<string>();
    for (const e of h.board.query(view)) if (e.kind === 'image') inView.add(blobOf(e));
    decoded.sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [blob, , bmp] of decoded) {
      if (total <= this.maxPixels) break;
      if (inView.has(blob) || this.pinned.has(blob)) continue;
      this.cache.delete(blob);
      total -= bmp.width * bmp.height;
      bmp.close();
    }
  }

  /** The blobs whose pictures are decoded and kept now (for tests and diagnostics). */
  decoded(): string[] {
    return [...this.cache].filter(([, l]) => l.picture && l.picture !== 'loading').map(([b]) => b);
  }

  /** The picture of an image element as the renderer draws it (ImageSource). */
  picture(e: El): Picture {
    const blob = blobOf(e);
    if (!blob) return null;
    const l = this.load(blob);
    l.usedAt = ++this.uses;
    return l.picture;
  }

  /** Waits until the pictures of these elements are decoded or failed (before an export draws them). */
  async ready(els: Iterable<El>): Promise<void> {
    const waits: Promise<void>[] = [];
    const blobs: string[] = [];
    for (const e of els) {
      const blob = e.kind === 'image' ? blobOf(e) : '';
      if (!blob) continue;
      const l = this.load(blob);
      l.usedAt = ++this.uses;
      waits.push(l.done);
      blobs.push(blob);
      this.pinned.set(blob, (this.pinned.get(blob) ?? 0) + 1);
    }
    try {
      await Promise.all(waits);
    } finally {
      // Kept until the caller, which draws as soon as this resolves, has drawn
      // (a trim runs in a task of its own, so after it).
      setTimeout(() => {
        for (const b of blobs) {
          const n = (this.pinned.get(b) ?? 1) - 1;
          if (n > 0) this.pinned.set(b, n);
          else this.pinned.delete(b);
        }
      });
    }
  }

  /** The picture as a data: URL (for a self-contained SVG), or null. */
  async dataURL(e: El): Promise<string | null> {
    const blob = blobOf(e);
    if (!blob) return null;
    const b = await this.load(blob).bytes;
    if (!b || !IMAGE_TYPES.includes(b.type)) return null;
    return new Promise((res) => {
      const r = new FileReader();
      r.onload = () => res(String(r.result));
      r.onerror = () => res(null);
      r.readAsDataURL(b);
    });
  }
}

/** Decodes a picture, scaled down to MAX_DECODE on its longest side; null when it is not one. */
async function decode(b: Blob): Promise<ImageBitmap | null> {
  try {
    const bmp = await createImageBitmap(b);
    const k = MAX_DECODE / Math.max(bmp.width, bmp.height);
    if (k >= 1) return bmp;
    const small = await createImageBitmap(bmp, { resizeWidth: Math.max(1, Math.round(bmp.width * k)), resizeHeight: Math.max(1, Math.round(bmp.height * k)), resizeQuality: 'high' });
    bmp.close();
    return small;
  } catch {
    return null;
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
