// Dot voting sessions (docs/API.md, "Dot voting"): the owner opens one
// (dots per person, anonymous or not), closes it (the node freezes the
// result and reveals the voters) and ends it (votes are free again).
// Everyone sees the session's state and, while it is open, how many dots
// they have left: the budget minus the dots their voter id has on the
// board, counted from the doc (exact: one register per voter). The voter
// id is the node's (GET …/voting): the user id, or a pseudonym in an
// anonymous session.
import { t } from './i18n';
import type { BoardAccess, VotingMeta } from './boardaccess';
import { h } from './dom';

interface VotingAnswer {
  voting: VotingMeta | null;
  voter: string;
  result: { element: string; text: string; dots: number; voters?: string[] }[] | null;
}

/** The dots a voter has on the board, from the doc's elements (vote registers, key "vote"). */
export function dotsSpent(elements: { votes?: Record<string, Record<string, unknown>> }[], voter: string): number {
  let sum = 0;
  for (const e of elements) {
    const v = e.votes?.vote?.[voter];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) sum += Math.floor(v);
  }
  return sum;
}

export class VotingBar {
  readonly panel: HTMLElement;
  readonly button: HTMLButtonElement;
  answer: VotingAnswer | null = null;
  private text: HTMLElement;
  private controls: HTMLElement;
  private result: HTMLOListElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private session = '';
  private open = false;
  /** The session state the person put the bar away for ("" : shown). */
  private hiddenFor = '';

  constructor(private a: BoardAccess) {
    const f = a.f;
    this.text = h('span', { class: 'state' });
    this.controls = h('span', { class: 'controls' });
    this.result = h('ol', { class: 'result', hidden: '' });
    // Everyone may put the bar away (it sits over the board's top): it
    // comes back when the session changes state, or from the menu's button.
    const hide = h('button', { type: 'button', class: 'close', title: t('board.hide'), 'aria-label': t('board.hide') }, '×');
    hide.addEventListener('click', () => {
      this.open = false;
      this.hiddenFor = this.session;
      this.render();
    });
    this.panel = h('div', { class: 'panel cb-voting', hidden: '', role: 'region', 'aria-label': t('voting') }, this.text, this.controls, hide, this.result);
    f.notices.appendChild(this.panel);
    this.button = f.button(t('voting'), t('voting.title'), () => {
      this.open = this.panel.hidden;
      this.hiddenFor = this.open ? '' : this.session;
      this.render();
    }, 'cb-voting-btn');
    this.button.hidden = true;
  }

  /** The voter id votes must carry now. */
  get voter(): string {
    return this.answer?.voter ?? this.a.view?.voter ?? this.a.f.userId ?? '';
  }

  /** Dots left in the open session (Infinity: no limit; null: no open session). */
  dotsLeft(): number | null {
    const v = this.a.view?.board.voting;
    if (!v || v.state !== 'open') return null;
    if (!v.dots) return Infinity;
    return Math.max(0, v.dots - dotsSpent(this.a.f.host.doc.elements(), this.voter));
  }

  /** The board's metadata changed. */
  update(): void {
    const v = this.a.view?.board.voting;
    const key = v ? `${v.session}/${v.state}` : '';
    if (key !== this.session) {
      this.session = key;
      this.answer = null;
      if (v) void this.load();
      // The vote badges (votes.ts) keep their own copy of the rules: tell them now.
      void this.a.f.votes.refreshRules();
    }
    this.render();
  }

  /** Elements changed: recount soon (votes, maybe). */
  changed(): void {
    if (!this.a.view?.board.voting) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.render();
      if (this.a.view?.board.voting?.state === 'open' && !this.result.hidden) void this.load();
    }, 300);
  }

  private async load(): Promise<void> {
    try {
      this.answer = await this.a.call<VotingAnswer>('GET', '/voting');
    } catch (e) {
      console.warn('corkboard: voting', e);
    }
    this.render();
  }

  private render(): void {
    const owner = this.a.isOwner;
    const v = this.a.view?.board.voting;
    // The owner runs sessions; everyone may open the bar of one.
    this.button.hidden = !owner && !v;
    this.panel.hidden = this.open ? false : !v || this.hiddenFor === this.session;
    this.panel.dataset.state = v?.state ?? 'none';
    this.controls.innerHTML = '';
    this.result.hidden = true;
    if (!v) {
      this.text.textContent = t('voting.none');
      if (owner) {
        const dots = h('input', { type: 'number', name: 'dots', min: '0', max: '100', value: '3', title: t('voting.dots.title') });
        const anon = h('input', { type: 'checkbox', name: 'anonymous' });
        const go = h('button', { type: 'button', class: 'open-voting' }, t('voting.open'));
        go.addEventListener('click', () => void this.act('POST', '', { dots: Math.round(Number(dots.value) || 0), anonymous: anon.checked }));
        this.controls.append(h('label', {}, ' ' + t('voting.dotsEach') + ' ', dots), h('label', {}, anon, ' ' + t('voting.anonymous')), go);
      }
      return;
    }
    if (v.state === 'open') {
      const left = this.dotsLeft();
      const each = v.dots ? t('voting.each', { n: v.dots }) : t('voting.noLimit');
      this.text.textContent = t(v.anonymous ? 'voting.state.anonymous' : 'voting.state', { each }) + (left !== null && Number.isFinite(left) ? ' · ' + t('voting.left', { n: left }) : '');
      this.text.dataset.left = left === null ? '' : String(left);
      if (owner) {
        const close = h('button', { type: 'button', class: 'close-voting' }, t('voting.close'));
        close.addEventListener('click', () => void this.act('POST', '/close'));
        this.controls.append(close);
      }
      return;
    }
    this.text.textContent = t('voting.closed');
    this.text.dataset.left = '';
    const res = this.answer?.result ?? [];
    this.result.innerHTML = '';
    for (const r of res.slice(0, 10)) {
      const item = h('li', { 'data-element': r.element }, t('voting.result', { text: r.text || t('voting.untitled'), n: r.dots }));
      item.addEventListener('click', () => this.a.f.zoomTo(r.element));
      this.result.append(item);
    }
    this.result.hidden = !res.length;
    if (owner) {
      const end = h('button', { type: 'button', class: 'end-voting' }, t('voting.end'));
      end.addEventListener('click', () => void this.act('DELETE', ''));
      this.controls.append(end);
    }
  }

  private async act(method: string, sub: string, body?: unknown): Promise<void> {
    try {
      await this.a.call(method, '/voting' + sub, body);
      await this.a.refresh();
    } catch (e) {
      this.a.f.host.toast(t('voting.failed', { error: (e as Error).message }), true);
    }
  }
}
