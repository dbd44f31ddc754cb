// Files in and out of a board page: another tool's file imported onto the
// board (POST /v1/boards/{board}/import: an .excalidraw scene, a tldraw
// file, a CSV or a plain list), dropped on the canvas or picked from the
// menu's "Import…"; the board's own file (GET /v1/boards/{board}/export,
// its whole history) downloaded; and the history dialog (history.ts)
// opened. One menu button ("Board") with a pop-up, like Export and Summary.
//
// The import is the node's: it parses the file and makes the elements as
// one change, which reaches this page like anyone's edit. Rejected: parsing
// the files here and making the ops locally (a second parser of each
// format to keep in step with the node's, and pictures to upload first);
// the node's answer also says what it could not map, which is shown.
import { t as tr } from './i18n';
import type { BoardAccess } from './boardaccess';
import { h } from './dom';
import { HistoryDialog } from './history';

/** What an import answers (docs/API.md, "Importing"). */
export interface ImportResult {
  elements: string[];
  skipped: { id?: string; type: string; reason: string }[];
}

/** The files "Import…" takes (and a drop on the board). */
export const IMPORT_ACCEPT = '.excalidraw,.tldr,.json,.csv,.txt,.md,text/csv,text/plain,application/json';

/** The format (?format=) and Content-Type a file is sent with, from its name and type; null: not a file to import. */
export function importKind(file: File): { format?: string; type: string } | null {
  const n = file.name.toLowerCase();
  if (n.endsWith('.excalidraw')) return { format: 'excalidraw', type: 'application/json' };
  if (n.endsWith('.tldr')) return { format: 'tldraw', type: 'application/json' };
  if (n.endsWith('.csv') || file.type === 'text/csv') return { format: 'csv', type: 'text/csv' };
  if (n.endsWith('.txt') || n.endsWith('.md') || file.type === 'text/plain' || file.type === 'text/markdown') return { format: 'list', type: 'text/plain; charset=utf-8' };
  // A .json: the node tells an Excalidraw scene from a tldraw snapshot.
  if (n.endsWith('.json') || file.type === 'application/json') return { type: 'application/json' };
  return null;
}

export class BoardFileMenu {
  readonly button: HTMLButtonElement;
  readonly pop: HTMLElement;
  readonly importBtn: HTMLButtonElement;
  /** What the last import skipped (hidden when nothing was). */
  readonly report: HTMLElement;
  readonly history: HistoryDialog;
  private input: HTMLInputElement;

  constructor(private a: BoardAccess) {
    const f = a.f;
    const boardEl = f.host.root.querySelector('.board') ?? f.host.root;
    this.history = new HistoryDialog(a);
    this.input = h('input', { type: 'file', accept: IMPORT_ACCEPT, class: 'cb-import-input', hidden: '' });
    this.input.addEventListener('change', () => {
      const file = this.input.files?.[0];
      this.input.value = '';
      if (file) void this.importFile(file);
    });
    const item = (label: string, cls: string, fn: () => void) => {
      const b = h('button', { type: 'button', class: cls }, label);
      b.addEventListener('click', () => {
        this.pop.hidden = true;
        fn();
      });
      return b;
    };
    this.importBtn = item(tr('file.import'), 'cb-import', () => this.input.click());
    this.importBtn.title = tr('file.import.title');
    this.pop = h(
      'div',
      { class: 'panel fx-pop cb-boardfile', hidden: '' },
      this.importBtn,
      item(tr('history'), 'cb-history', () => void this.history.open()),
      item(tr('file.download'), 'cb-download-board', () => void this.download()),
      this.input,
    );
    boardEl.appendChild(this.pop);
    this.report = h('div', { class: 'panel cb-import-report', role: 'status', hidden: '' });
    boardEl.appendChild(this.report);
    this.button = f.button(tr('ui.board'), tr('file.menu.title'), () => (this.pop.hidden = !this.pop.hidden), 'cb-boardfile-btn');

    // A dropped file that is not a picture (images.ts takes those).
    const target = f.host.canvas;
    target.addEventListener('drop', (e) => {
      const file = [...(e.dataTransfer?.files ?? [])].find((x) => !x.type.startsWith('image/') && importKind(x));
      if (!file) return;
      e.preventDefault();
      void this.importFile(file);
    });
    this.update();
  }

  /** Whether the person may import (and restore): an editor or the owner, the board open. */
  get canWrite(): boolean {
    const r = this.a.role;
    return (r === 'editor' || r === 'owner') && !this.a.closed && this.a.f.host.canEdit();
  }

  /** Shows or hides what depends on the role (called on every access change). */
  update(): void {
    this.importBtn.hidden = !this.canWrite;
    this.history.update();
  }

  /** Sends a file to the node's import; returns its answer (null: refused, and said so). */
  async importFile(file: File): Promise<ImportResult | null> {
    const host = this.a.f.host;
    if (!this.canWrite) {
      host.toast(tr('file.import.editorsOnly'));
      return null;
    }
    const kind = importKind(file);
    if (!kind) {
      host.toast(tr('file.import.kinds'), true);
      return null;
    }
    const t = this.a.token;
    try {
      const r = await fetch(`/v1/boards/${this.a.boardId}/import${kind.format ? '?format=' + kind.format : ''}`, {
        method: 'POST',
        body: file,
        headers: { 'Content-Type': kind.type, ...(t ? { Authorization: 'Bearer ' + t } : {}) },
        credentials: 'same-origin',
      });
      const j = await r.json().catch(() => null);
      if (!r.ok) throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
      const res: ImportResult = { elements: j?.elements ?? [], skipped: j?.skipped ?? [] };
      host.toast(tr(res.skipped.length ? 'file.imported.skipped' : 'file.imported', { n: res.elements.length, file: file.name, skipped: res.skipped.length }));
      this.showReport(file.name, res);
      this.reveal(res.elements);
      return res;
    } catch (e) {
      host.toast(tr('file.import.failed', { file: file.name, error: (e as Error).message }), true);
      return null;
    }
  }

  /**
   * Brings what an import made into view, selected (the node places a list
   * to the right of the board's content, which may be off screen): once
   * its change has reached this page (within 15 s; later, it is left be).
   */
  private reveal(ids: string[]): void {
    if (!ids.length) return;
    const f = this.a.f;
    const host = f.host;
    const until = Date.now() + 15_000;
    let done = false;
    const tryNow = (): boolean => {
      const els = ids.map((id) => host.board.get(id));
      if (els.some((e) => !e)) return false;
      const boxes = els.filter((e) => e && !e.deleted && !e.hidden && Number.isFinite(e.x + e.y + e.w + e.h));
      if (!boxes.length) return true;
      const x0 = Math.min(...boxes.map((e) => e!.x));
      const y0 = Math.min(...boxes.map((e) => e!.y));
      const x1 = Math.max(...boxes.map((e) => e!.x + e!.w));
      const y1 = Math.max(...boxes.map((e) => e!.y + e!.h));
      const W = host.renderer.width || innerWidth;
      const H = host.renderer.height || innerHeight;
      const zoom = Math.min(1, Math.max(0.1, Math.min((W * 0.8) / Math.max(1, x1 - x0), (H * 0.7) / Math.max(1, y1 - y0))));
      host.setCamera({ x: (x0 + x1) / 2 - W / 2 / zoom, y: (y0 + y1) / 2 - H / 2 / zoom, zoom });
      host.select(boxes.filter((e) => !e!.parent || !ids.includes(e!.parent)).map((e) => e!.id));
      return true;
    };
    if (tryNow()) return;
    // Not from inside the change's own listeners: at the next frame.
    f.onChange(() => {
      if (done || Date.now() > until || ids.some((id) => !host.board.get(id))) return;
      done = true;
      requestAnimationFrame(() => void tryNow());
    });
  }

  /** Lists what an import skipped, and why (at most 8, then how many more), until closed. */
  private showReport(name: string, res: ImportResult): void {
    const rep = this.report;
    rep.replaceChildren();
    if (!res.skipped.length) {
      rep.hidden = true;
      return;
    }
    const close = h('button', { type: 'button', class: 'close', 'aria-label': tr('close') }, '×');
    close.addEventListener('click', () => (rep.hidden = true));
    const ul = h('ul');
    for (const s of res.skipped.slice(0, 8)) ul.append(h('li', {}, h('b', {}, s.type || 'element'), ': ' + s.reason));
    if (res.skipped.length > 8) ul.append(h('li', { class: 'more' }, tr('home.card.more', { n: res.skipped.length - 8 })));
    rep.append(h('header', {}, h('span', {}, tr('file.report', { name, n: res.elements.length, skipped: res.skipped.length })), close), ul);
    rep.hidden = false;
  }

  /** Downloads the board's file (its whole history), under the name the node gives it. */
  async download(): Promise<void> {
    const a = this.a;
    const t = a.token;
    try {
      const r = await fetch(`/v1/boards/${a.boardId}/export`, { headers: t ? { Authorization: 'Bearer ' + t } : {}, credentials: 'same-origin' });
      if (!r.ok) {
        const j = await r.json().catch(() => null);
        throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
      }
      const blob = await r.blob();
      const cd = r.headers.get('Content-Disposition') ?? '';
      const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
      const plain = /filename="?([^";]+)"?/i.exec(cd);
      const base = (a.view?.board.name || 'board').replace(/[^\p{L}\p{N} ._-]+/gu, '').trim() || 'board';
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = star ? decodeURIComponent(star[1]) : plain ? plain[1] : `${base}.corkboard.json`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (e) {
      a.f.host.toast(tr('file.download.failed', { error: (e as Error).message }), true);
    }
  }
}
