// "Print or save as PDF" of the summary menu: the node's printable summary
// (GET /summary?format=html: the ideas with their threads, a print
// stylesheet, a picture of the board as numbered boxes) opened in a new
// window with this client's own SVG export of the board (export.ts: the
// notes' text, the shapes, the ink, the pictures) in place of the boxes,
// then printed there (the browser's dialog offers "Save as PDF").
//
// The window is opened at the click (a window opened after an await is a
// pop-up the browser may block), then filled with document.write once the
// page is fetched with this page's credential (a board token is not a
// cookie, so the page's address alone would not carry it). Both parts are
// parsed (DOMParser: nothing runs while parsing) and joined as nodes, not
// strings; the node's page escapes user text (html/template) and the export
// escapes its own, and the new window inherits this page's CSP (no inline
// scripts), so neither can run anything in it.
//
// Rejected: a blob: URL in the new window (its load cannot be waited for
// from here once the window navigates, and print() would have to be called
// by a script inside it, which the node's page does not have and the CSP
// forbids); printing from a hidden iframe (nothing to look at before
// printing, and no way to keep or save the page but the dialog);
// rendering the PDF on the node (a PDF library and fonts on the server for
// what every browser does).
import { t } from './i18n';
import type { BoardAccess } from './boardaccess';
import { exportSVG } from './export';

/** Opens the printable summary in a new window and prints it. */
export async function printSummary(a: BoardAccess): Promise<void> {
  const w = window.open('', '_blank');
  if (!w) {
    a.f.host.toast(t('summary.printBlocked'), true);
    return;
  }
  try {
    const token = a.token;
    const r = await fetch(`/v1/boards/${a.boardId}/summary?format=html`, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (!r.ok) {
      const j = await r.json().catch(() => null);
      throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
    }
    const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
    await withBoardPicture(a, doc);
    w.document.open();
    w.document.write('<!doctype html>\n' + doc.documentElement.outerHTML);
    // After write: document.open() erases the window's listeners.
    w.addEventListener(
      'load',
      () => {
        w.focus();
        w.print();
      },
      { once: true },
    );
    w.document.close();
  } catch (e) {
    w.close();
    a.f.host.toast(t('summary.failed', { error: (e as Error).message }), true);
  }
}

/**
 * Puts this client's SVG export of the board in place of the node's picture
 * of boxes (figure.board). The node's picture stays when the export fails
 * or the board is empty.
 */
async function withBoardPicture(a: BoardAccess, doc: Document): Promise<void> {
  const fig = doc.querySelector('figure.board');
  const old = fig?.querySelector('svg');
  if (!fig || !old) return;
  try {
    if (!a.f.host.doc.elements().some((e) => !e.deleted && e.kind !== 'comment')) return;
    const svg = new DOMParser().parseFromString(await exportSVG(a.f), 'image/svg+xml').documentElement;
    if (svg.localName !== 'svg' || svg.querySelector('parsererror')) return;
    svg.setAttribute('role', 'img');
    old.replaceWith(doc.importNode(svg, true));
    fig.setAttribute('data-picture', 'board');
    fig.querySelector('figcaption')?.remove(); // it speaks of the numbered boxes
  } catch {
    // The node's picture is a fine picture.
  }
}
