// Embedding: the board page at /embed/{board}, chrome-less, inside another
// site's iframe, with a small API over postMessage (docs/EMBED.md).
//
//   /embed/{board}?mode=view|edit&origin=<host page origin>#token=...
//
// The token is in the fragment, as in board links (`?token=` still works);
// main.ts takes it out of the frame's address either way (boardtoken.ts).
//
// The host page's origin is named by `origin`; the node serves the page
// only when that origin is allowed by its --allowed-origins (and then only
// to be framed by it: CSP frame-ancestors). Here, on top of that, the API
// is live only when the parent really is that origin (location's
// ancestorOrigins, where the browser has it), messages are taken only from
// the parent window at exactly that origin, and everything is posted to
// exactly that origin, never "*".
//
// Messages, both ways, are objects with `corkboard: 1`:
//   host → embed: {corkboard: 1, id?, cmd: "load", board, token?}
//                 {corkboard: 1, id?, cmd: "select", ids: [...]}
//                 {corkboard: 1, id?, cmd: "zoomTo", el: elementId}
//                 {corkboard: 1, id?, cmd: "setMode", mode: "view"|"edit"}
//   embed → host: {corkboard: 1, event: "ready", board, mode, role}
//                 {corkboard: 1, event: "change", ids: [...]}   (debounced)
//                 {corkboard: 1, event: "selection", ids: [...]}
//                 {corkboard: 1, event: "result", id, ok, error?} (when the command had an id)
import type { FeatureContext } from './featurekit';
import { handOver } from './boardtoken';

export type EmbedMode = 'view' | 'edit';

export interface EmbedParams {
  board: string;
  mode: EmbedMode;
  /** The host page's origin; null: no API (plain embedding on the node's own pages). */
  origin: string | null;
}

const UUID = /^[0-9a-fA-F-]{36}$/;
const CHANGE_DEBOUNCE_MS = 150;

/** The embed parameters of this page, or null when it is not an embed. */
export function embedParams(): EmbedParams | null {
  const m = /^\/embed\/([0-9a-fA-F-]{36})\/?$/.exec(location.pathname);
  if (!m) return null;
  const q = new URLSearchParams(location.search);
  const mode: EmbedMode = q.get('mode') === 'edit' ? 'edit' : 'view';
  return { board: m[1].toLowerCase(), mode, origin: validOrigin(q.get('origin')) };
}

/** An origin exactly as URL would write it (scheme://host[:port]), else null. */
export function validOrigin(o: string | null): string | null {
  if (!o) return null;
  try {
    const u = new URL(o);
    return u.origin === o && (u.protocol === 'https:' || u.protocol === 'http:') ? o : null;
  } catch {
    return null;
  }
}

/** Whether the parent page is at `origin`, as far as the browser tells. */
function parentIs(origin: string): boolean {
  if (window.parent === window) return false;
  const anc = (location as unknown as { ancestorOrigins?: DOMStringList }).ancestorOrigins;
  if (anc && anc.length) return anc[0] === origin;
  // No ancestorOrigins (Firefox): the referrer of the frame's first load.
  try {
    return !!document.referrer && new URL(document.referrer).origin === origin;
  } catch {
    return false;
  }
}

export class Embed {
  readonly params: EmbedParams;
  /** False when the origin checks failed: nothing is posted or accepted. */
  readonly api: boolean;
  private mode: EmbedMode;
  private pending = new Set<string>();
  private changeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastSel = '';
  private readySent = false;
  /** Messages refused for their origin or source (for tests and debugging). */
  refused = 0;

  constructor(private f: FeatureContext) {
    this.params = embedParams()!;
    this.mode = this.params.mode;
    const root = f.host.root;
    root.classList.add('fx-embed');
    this.applyMode();
    const origin = this.params.origin;
    this.api = !!origin && parentIs(origin);
    if (origin && !this.api) console.warn('corkboard: embed API off: the parent page is not at', origin);
    if (!this.api) return;
    addEventListener('message', (ev) => this.onMessage(ev));
    f.onChange((ids) => {
      for (const id of ids) this.pending.add(id);
      clearTimeout(this.changeTimer);
      this.changeTimer = setTimeout(() => this.flushChanges(), CHANGE_DEBOUNCE_MS);
    });
  }

  private applyMode(): void {
    this.f.host.root.classList.toggle('fx-view', this.mode === 'view');
    this.f.host.setReadOnly(this.mode === 'view');
  }

  private post(msg: Record<string, unknown>): void {
    if (!this.api) return;
    window.parent.postMessage({ corkboard: 1, ...msg }, this.params.origin!);
  }

  private flushChanges(): void {
    if (!this.pending.size) return;
    const ids = [...this.pending];
    this.pending.clear();
    this.post({ event: 'change', ids });
  }

  /** The connection's state changed: the ready event, once live. */
  stateChanged(): void {
    if (!this.api) return;
    const h = this.f.host;
    if (!this.readySent && h.sync.state === 'live') {
      this.readySent = true;
      this.post({ event: 'ready', board: h.boardId, mode: this.mode, role: h.sync.role ?? null });
      this.selectionChanged();
    }
  }

  /** The selection may have changed: the selection event, when it did (and the parent was told the page is ready). */
  selectionChanged(): void {
    if (!this.api) return;
    const sel = [...this.f.host.selection()].sort().join(',');
    if (sel !== this.lastSel) {
      this.lastSel = sel;
      if (this.readySent) this.post({ event: 'selection', ids: sel ? sel.split(',') : [] });
    }
  }

  private onMessage(ev: MessageEvent): void {
    if (ev.source !== window.parent || ev.origin !== this.params.origin) {
      this.refused++;
      return;
    }
    const m = ev.data as Record<string, unknown> | null;
    if (!m || typeof m !== 'object' || m.corkboard !== 1 || typeof m.cmd !== 'string') return;
    const reqId = m.id;
    const done = (ok: boolean, error?: string) => {
      if (reqId !== undefined && (typeof reqId === 'number' || typeof reqId === 'string')) this.post({ event: 'result', id: reqId, ok, ...(error ? { error } : {}) });
    };
    try {
      const err = this.command(m);
      done(!err, err || undefined);
    } catch (e) {
      done(false, (e as Error).message);
    }
  }

  /** Runs one command; returns an error message, or "" when done. */
  private command(m: Record<string, unknown>): string {
    const h = this.f.host;
    switch (m.cmd) {
      case 'select': {
        if (!Array.isArray(m.ids) || !m.ids.every((x) => typeof x === 'string')) return 'select: ids must be an array of element ids';
        const ids = (m.ids as string[]).filter((id) => h.board.get(id));
        h.select(ids);
        return ids.length === m.ids.length ? '' : 'select: some elements do not exist';
      }
      case 'zoomTo': {
        const id = typeof m.el === 'string' ? m.el : '';
        if (!id) return 'zoomTo: el (an element id) is required';
        return this.f.zoomTo(id) ? '' : 'zoomTo: no such element';
      }
      case 'setMode': {
        if (m.mode !== 'view' && m.mode !== 'edit') return 'setMode: mode must be "view" or "edit"';
        this.mode = m.mode;
        this.applyMode();
        return '';
      }
      case 'load': {
        if (typeof m.board !== 'string' || !UUID.test(m.board)) return 'load: board must be a board id';
        const board = m.board.toLowerCase();
        const q = new URLSearchParams({ mode: this.mode, origin: this.params.origin! });
        // The token is handed over in storage (the next page takes it), or
        // in the fragment where storage is denied.
        const t = typeof m.token === 'string' && m.token ? m.token : '';
        const frag = t && !handOver(board, t) ? '#token=' + encodeURIComponent(t) : '';
        const path = `/embed/${board}?${q}`;
        if (frag && location.pathname + location.search === path) {
          // Only the fragment would differ, which loads nothing: reload.
          history.replaceState(null, '', path + frag);
          location.reload();
        } else location.replace(path + frag);
        return '';
      }
    }
    return `unknown command ${JSON.stringify(m.cmd)}`;
  }
}
