// The summary export (GET /v1/boards/{board}/summary?format=md|txt|csv|json|html):
// the ideas ranked by dots with their comment threads, mindmaps as outlines,
// the people who took part. A menu entry with the formats, and "Print or
// save as PDF" (summaryprint.ts); the file
// is fetched with the page's credentials (a board token is not a cookie,
// so a plain link would not carry it) and saved through a blob URL.
import { t } from './i18n';
import type { BoardAccess } from './boardaccess';
import { printSummary } from './summaryprint';

export class SummaryMenu {
  readonly button: HTMLButtonElement;
  readonly pop: HTMLElement;

  constructor(private a: BoardAccess) {
    const f = a.f;
    this.pop = document.createElement('div');
    this.pop.className = 'panel fx-pop cb-summary';
    this.pop.hidden = true;
    for (const [fmt, label] of [
      ['md', t('summary.md')],
      ['txt', t('summary.txt')],
      ['csv', t('summary.csv')],
      ['json', t('summary.json')],
      ['html', t('summary.html')],
    ]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.format = fmt;
      b.textContent = label;
      b.addEventListener('click', () => {
        this.pop.hidden = true;
        void this.download(fmt);
      });
      this.pop.append(b);
    }
    const p = document.createElement('button');
    p.type = 'button';
    p.dataset.format = 'print';
    p.textContent = t('summary.print');
    p.addEventListener('click', () => {
      this.pop.hidden = true;
      void printSummary(a);
    });
    this.pop.append(p);
    (f.host.root.querySelector('.board') ?? f.host.root).appendChild(this.pop);
    this.button = f.button(t('summary'), t('summary.title'), () => (this.pop.hidden = !this.pop.hidden), 'cb-summary-btn');
  }

  /** Fetches the summary and saves it as a file. */
  async download(format: string): Promise<void> {
    const a = this.a;
    const token = a.token;
    try {
      const r = await fetch(`/v1/boards/${a.boardId}/summary?format=${format}`, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
      if (!r.ok) {
        const j = await r.json().catch(() => null);
        throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
      }
      const blob = await r.blob();
      const cd = /filename="?([^";]+)"?/.exec(r.headers.get('Content-Disposition') ?? '');
      const base = (a.view?.board.name || 'board').replace(/[^\p{L}\p{N} ._-]+/gu, '').trim() || 'board';
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = cd?.[1] ?? `${base} summary.${format}`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    } catch (e) {
      a.f.host.toast(t('summary.failed', { error: (e as Error).message }), true);
    }
  }
}
