// The board's facilitation timer and the node's "settings" frame.
//
// The timer is board settings (POST /v1/boards/{board}/timer, owner or
// editor): an end time while it runs, the time left while paused. Every
// node tells its connections of a settings change with a "settings" frame
// (docs/PROTOCOL.md), so everyone sees the same countdown at once: it is
// computed from the end time and this page's offset to the node's clock
// (the frame's and the board answer's "now"), not from when the page heard
// of it. The same frame carries the deadline, taken at once (features.ts),
// instead of at the next poll of the board's metadata.
// Rejected: a timer element in the CRDT (undo, history and exports would
// carry it, and viewers could not see one an editor started offline as
// "running"); counting down from the moment the frame arrived (pages that
// joined later, or heard later, would disagree).
import type { FeatureContext } from './featurekit';
import { api } from './api';
import { t } from './i18n';
import './canvasplus.css';

/** The words of the timer, from the catalogue (src/i18n), read when shown. */
const T = {
  get menu() { return t('timer.menu'); },
  get menuTitle() { return t('timer.menu.title'); },
  get paused() { return t('timer.paused'); },
  get up() { return t('timer.up'); },
  get upToast() { return t('timer.up.toast'); },
  get start() { return t('timer.start'); },
  get pause() { return t('timer.pause'); },
  get resume() { return t('timer.resume'); },
  get reset() { return t('timer.reset'); },
  get minutes() { return t('timer.minutes'); },
  chipTitle: (by: string) => (by ? t('timer.chip.titleBy', { name: by }) : t('timer.chip.title')),
  failed: (m: string) => t('timer.failed', { error: m }),
};

/** The timer as the node gives it (meta.Timer). */
export interface TimerState {
  duration: number;
  end?: number;
  left?: number;
  by?: string;
}

/** A "settings" frame (docs/PROTOCOL.md). */
interface SettingsFrame {
  type: 'settings';
  deadline?: number;
  closed?: boolean;
  voting?: string;
  timer?: TimerState;
  now: number;
}

/** How the timer reaches the deadline: what features.ts gives it. */
export interface TimerHost {
  setDeadline(deadline: number, closed: boolean): void;
}

export class FacilitationTimer {
  state: TimerState | null = null;
  /** The node's clock minus this page's (ms). */
  offset = 0;
  readonly chip: HTMLElement;
  readonly panel: HTMLElement;
  private menuBtn: HTMLButtonElement;
  private minutes: HTMLInputElement;
  private startBtn: HTMLButtonElement;
  private pauseBtn: HTMLButtonElement;
  private resetBtn: HTMLButtonElement;
  private tick: ReturnType<typeof setInterval> | undefined;
  private rang = '';

  constructor(
    private f: FeatureContext,
    host: TimerHost,
    topbar: HTMLElement,
  ) {
    this.chip = document.createElement('button');
    this.chip.className = 'fx-timer';
    this.chip.setAttribute('role', 'timer');
    this.chip.hidden = true;
    this.chip.addEventListener('click', () => this.toggle());
    topbar.appendChild(this.chip);
    this.menuBtn = f.button(T.menu, T.menuTitle, () => this.toggle(), 'fx-timer-btn');
    this.panel = document.createElement('div');
    this.panel.className = 'panel fx-timer-panel';
    this.panel.hidden = true;
    this.minutes = document.createElement('input');
    this.minutes.type = 'number';
    this.minutes.min = '1';
    this.minutes.max = '1440';
    this.minutes.value = '5';
    this.minutes.setAttribute('aria-label', T.minutes);
    const label = document.createElement('label');
    label.append(T.minutes + ' ', this.minutes);
    const btn = (text: string, fn: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.addEventListener('click', fn);
      return b;
    };
    this.startBtn = btn(T.start, () => void this.act({ action: 'start', seconds: Math.round(Math.max(1, Math.min(1440, Number(this.minutes.value) || 5)) * 60) }));
    this.pauseBtn = btn(T.pause, () => void this.act({ action: this.state?.end ? 'pause' : 'resume' }));
    this.resetBtn = btn(T.reset, () => void this.act({ action: 'reset' }));
    this.startBtn.className = 'start';
    this.pauseBtn.className = 'pause';
    this.resetBtn.className = 'reset';
    this.panel.append(label, this.startBtn, this.pauseBtn, this.resetBtn);
    (f.host.root.querySelector('.board') ?? f.host.root).appendChild(this.panel);
    f.host.sync.listeners.push((fr) => {
      if (fr.type !== 'settings') return;
      const s = fr as unknown as SettingsFrame;
      if (typeof s.now === 'number') this.offset = s.now - Date.now();
      host.setDeadline(typeof s.deadline === 'number' ? s.deadline : 0, s.closed === true);
      this.set(s.timer ?? null);
    });
    f.host.onState(() => this.show());
    this.show();
  }

  /** Whether this person may run the timer. */
  get canRun(): boolean {
    const r = this.f.host.sync.role;
    return (r === 'owner' || r === 'editor') && !this.f.closed;
  }

  /** The node's time now, as this page best knows it. */
  now(): number {
    return Date.now() + this.offset;
  }

  /** Takes the board's metadata answer (GET /v1/boards/{board}). */
  fromBoard(t: TimerState | undefined, now: number | undefined): void {
    if (typeof now === 'number') this.offset = now - Date.now();
    this.set(t ?? null);
  }

  /** The timer's state now. */
  set(t: TimerState | null): void {
    this.state = t && typeof t.duration === 'number' ? t : null;
    this.show();
  }

  /** Milliseconds left (null: no timer). */
  left(): number | null {
    const t = this.state;
    if (!t) return null;
    if (t.end) return Math.max(0, t.end - this.now());
    return t.left ?? 0;
  }

  private toggle(): void {
    if (!this.canRun) return;
    this.panel.hidden = !this.panel.hidden;
    this.show();
  }

  private async act(body: { action: string; seconds?: number }): Promise<void> {
    const h = this.f.host;
    try {
      const j = await api<{ timer?: TimerState; now: number }>('POST', `/v1/boards/${h.boardId}/timer`, body, h.sync.record.token ?? h.token());
      this.fromBoard(j.timer, j.now);
    } catch (e) {
      h.toast(T.failed((e as Error).message), true);
    }
  }

  /** The chip (every second while running), the panel's buttons. */
  private show(): void {
    const left = this.left();
    const t = this.state;
    const chip = this.chip;
    this.menuBtn.hidden = !this.canRun;
    if (!this.canRun) this.panel.hidden = true;
    this.pauseBtn.disabled = !t || (!t.end && !t.left) || left === 0;
    this.pauseBtn.textContent = t && !t.end && t.left ? T.resume : T.pause;
    this.resetBtn.disabled = !t;
    if (left === null || !t) {
      chip.hidden = true;
      chip.dataset.state = '';
      clearInterval(this.tick);
      this.tick = undefined;
      return;
    }
    const s = Math.ceil(left / 1000);
    const mmss = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    const state = t.end ? (left > 0 ? 'running' : 'done') : 'paused';
    chip.dataset.state = state;
    chip.dataset.left = String(s);
    chip.textContent = state === 'done' ? `⏱ ${T.up}` : state === 'paused' ? `⏱ ${mmss} ${T.paused}` : `⏱ ${mmss}`;
    chip.title = T.chipTitle(t.by ?? '');
    chip.hidden = false;
    if (state === 'done') {
      const key = String(t.end);
      // Said once per run, by the pages that saw it run out.
      if (this.rang !== key && this.rang !== '') this.f.host.toast(T.upToast);
      this.rang = key;
    } else if (state === 'running') this.rang = 'running';
    if (state === 'running') this.tick ??= setInterval(() => this.show(), 250);
    else {
      clearInterval(this.tick);
      this.tick = undefined;
    }
  }
}
