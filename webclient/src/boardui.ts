// The board page's DOM: the canvas, the text editor's layer, the top bar,
// the toolbar, the people, the context bar, zoom and history buttons, the
// toast and the keyboard help.
import { h, icon } from './dom';
import { shortcutRows } from './shortcuts';
import { TOOLS, type Tool } from './tools';
import { t, type Key } from './i18n';
import { en } from './i18n/en';

export interface UI {
  canvas: HTMLCanvasElement;
  layer: HTMLElement;
  name: HTMLElement;
  status: HTMLElement;
  retry: HTMLButtonElement;
  tools: Map<Tool, HTMLButtonElement>;
  people: HTMLElement;
  share: HTMLButtonElement;
  context: HTMLElement;
  zoom: HTMLElement;
  undo: HTMLButtonElement;
  redo: HTMLButtonElement;
  toast: HTMLElement;
  helpButton: HTMLButtonElement;
  help: HTMLElement;
}

export function buildUI(root: HTMLElement): UI {
  const canvas = h('canvas', { class: 'canvas', tabindex: '0', 'aria-label': t('ui.board') });
  const layer = h('div', { class: 'layer' });
  const name = h('span', { class: 'board-name' }, t('ui.board'));
  const status = h('span', { class: 'conn', 'data-state': 'connecting', role: 'status' });
  const retry = h('button', { class: 'retry', hidden: '' }, t('ui.retry'));
  const top = h('div', { class: 'panel topbar' }, h('a', { class: 'logo', href: '/', title: t('ui.home') }, 'Corkboard'), name, status, retry);
  const tools = new Map<Tool, HTMLButtonElement>();
  const bar = h('div', { class: 'panel toolbar', role: 'toolbar' });
  for (const tool of TOOLS) {
    // The tool's name in the page's language (tools.ts names it in English).
    const k = `tool.${tool.tool}` as Key;
    const label = k in en ? t(k) : tool.label;
    const b = h('button', { 'data-tool': tool.tool, title: `${label} (${tool.key.toUpperCase()})`, 'aria-label': label });
    b.appendChild(icon(tool.icon));
    bar.appendChild(b);
    tools.set(tool.tool, b);
  }
  const people = h('div', { class: 'avatars' });
  const share = h('button', { class: 'share' }, t('ui.share'));
  const right = h('div', { class: 'panel people' }, people, share);
  const context = h('div', { class: 'panel context', hidden: '' });
  const zoom = h('div', { class: 'panel zoom' });
  const undo = h('button', { title: t('ui.undo.title'), 'aria-label': t('ui.undo') });
  undo.appendChild(icon('<path d="M9 14L4 9l5-5M4 9h10a6 6 0 010 12h-3"/>'));
  const redo = h('button', { title: t('ui.redo.title'), 'aria-label': t('ui.redo') });
  redo.appendChild(icon('<path d="M15 14l5-5-5-5M20 9H10a6 6 0 000 12h3"/>'));
  const helpButton = h('button', { class: 'help-button', title: t('ui.shortcuts.title'), 'aria-label': t('ui.shortcuts') }, '?');
  const history = h('div', { class: 'panel history' }, undo, redo, helpButton);
  const toast = h('div', { class: 'toast', hidden: '', role: 'alert' });
  const help = h('div', { class: 'help panel', hidden: '', role: 'dialog', 'aria-label': t('ui.shortcuts') });
  const rows = h('table', {});
  for (const [k, what] of shortcutRows()) rows.appendChild(h('tr', {}, h('th', {}, k), h('td', {}, what)));
  help.append(h('h2', {}, t('ui.shortcuts')), rows, h('p', {}, t('ui.shortcuts.close')));
  root.append(h('div', { class: 'board' }, canvas, layer, top, bar, right, context, zoom, history, toast, help));
  return { canvas, layer, name, status, retry, tools, people, share, context, zoom, undo, redo, toast, helpButton, help };
}

/** Fills the zoom panel: out, the percentage (reset), in, fit. */
export function zoomButtons(z: HTMLElement, act: { zoomMid(factor: number): void; reset(): void; fit(): void }): HTMLElement {
  const out = h('button', { 'aria-label': t('ui.zoomOut'), title: t('ui.zoomOut') }, '−');
  const pct = h('button', { class: 'pct', title: t('ui.zoomReset') }, '100%');
  const inn = h('button', { 'aria-label': t('ui.zoomIn'), title: t('ui.zoomIn') }, '+');
  const fit = h('button', { title: t('ui.fit.title') }, t('ui.fit'));
  z.append(out, pct, inn, fit);
  out.addEventListener('click', () => act.zoomMid(1 / 1.25));
  inn.addEventListener('click', () => act.zoomMid(1.25));
  pct.addEventListener('click', () => act.reset());
  fit.addEventListener('click', () => act.fit());
  return pct;
}

/**
 * Keeps the top-left bar (board name, connection state, Retry, role) clear
 * of the centred toolbar, whatever it holds and however narrow the window:
 * first the board name gives way (ellipsis), then the bar condenses (the
 * logo to its initial), and last the toolbar moves right of it instead of
 * staying centred. Laid out again at the next frame after the bar's
 * content changes (a MutationObserver: a ResizeObserver would see its own
 * changes and loop) and on resize.
 *
 * Rejected: a CSS max-width on the bar (its content overflows the panel,
 * under the toolbar, once the name cannot shrink further), and moving the
 * toolbar to a second row (other panels sit there: voting, since, share).
 */
export function keepTopClear(root: HTMLElement): void {
  const top = root.querySelector<HTMLElement>('.topbar');
  const bar = root.querySelector<HTMLElement>('.toolbar');
  const name = root.querySelector<HTMLElement>('.board-name');
  if (!top || !bar || !name) return;
  let queued = false;
  const layout = () => {
    queued = false;
    name.style.maxWidth = '';
    top.classList.remove('crowded');
    bar.style.left = '';
    bar.style.transform = '';
    const over = () => top.getBoundingClientRect().right + 8 - bar.getBoundingClientRect().left;
    let o = over();
    if (o <= 0) return;
    name.style.maxWidth = `${Math.max(48, name.getBoundingClientRect().width - o)}px`;
    if ((o = over()) <= 0) return;
    top.classList.add('crowded');
    if ((o = over()) <= 0) return;
    bar.style.left = `${Math.ceil(top.getBoundingClientRect().right + 8)}px`;
    bar.style.transform = 'none';
  };
  const later = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(layout);
  };
  new MutationObserver(later).observe(top, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
  addEventListener('resize', later);
  layout();
}
