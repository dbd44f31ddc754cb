// What others do, for a signed-in member: the notification preferences
// dialog (GET/PUT /v1/boards/{board}/notify: each change batched, a daily
// digest, mentions only, or off; with each or mentions, a daily digest
// too; quiet hours).
import type { BoardAccess } from './boardaccess';
import { h } from './dom';

interface Prefs {
  mode: string;
  /** With each or mentions: a daily digest too. */
  digest?: boolean;
  digestHour: number;
  batchMinutes?: number;
  quietFrom: number;
  quietTo: number;
}

const MODES: [string, string][] = [
  ['each', 'Each change (batched)'],
  ['digest', 'A daily digest'],
  ['mentions', 'Only when mentioned'],
  ['off', 'Off'],
];

function hourSelect(name: string, label = ''): HTMLSelectElement {
  const s = h('select', label ? { name, 'aria-label': label } : { name });
  for (let i = 0; i < 24; i++) s.append(h('option', { value: String(i) }, `${String(i).padStart(2, '0')}:00`));
  return s;
}

export class NotifyDialog {
  readonly dialog: HTMLDialogElement;
  private mode: HTMLSelectElement;
  private digestHour = hourSelect('digestHour');
  private alsoDigest: HTMLInputElement;
  private batch: HTMLInputElement;
  private quietFrom = hourSelect('quietFrom', 'Quiet hours start');
  private quietTo = hourSelect('quietTo', 'Quiet hours end');
  private msg: HTMLElement;

  constructor(private a: BoardAccess) {
    this.mode = h('select', { name: 'mode' });
    for (const [v, label] of MODES) this.mode.append(h('option', { value: v }, label));
    this.batch = h('input', { name: 'batchMinutes', type: 'number', min: '1', max: '1440', value: '30' });
    this.alsoDigest = h('input', { name: 'digest', type: 'checkbox' });
    this.msg = h('p', { class: 'note', role: 'status' });
    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close' }, '×');
    const form = h(
      'form',
      { class: 'notify card' },
      h('p', { class: 'hint' }, 'Mentions of you always come first. Votes opened or closed and deadlines set or near are in every mode but Off.'),
      h('label', {}, 'E-mail me ', this.mode),
      h('label', { class: 'also-digest' }, this.alsoDigest, ' Also a daily digest'),
      h('label', { class: 'digest' }, 'Digest at ', this.digestHour),
      h('label', { class: 'batch' }, 'At most one e-mail every ', this.batch, ' minutes'),
      h('label', { class: 'quiet' }, 'Quiet hours from ', this.quietFrom, ' to ', this.quietTo),
      h('button', { type: 'submit' }, 'Save'),
    );
    this.dialog = h('dialog', { class: 'cb-dialog cb-notify', 'aria-labelledby': 'cb-notify-h' }, h('header', {}, h('h2', { id: 'cb-notify-h' }, 'Notifications'), close), this.msg, form);
    close.addEventListener('click', () => this.dialog.close());
    this.mode.addEventListener('change', () => this.showMode());
    this.alsoDigest.addEventListener('change', () => this.showMode());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.save();
    });
    document.body.appendChild(this.dialog);
  }

  async open(): Promise<void> {
    this.msg.textContent = '';
    if (!this.dialog.open) this.dialog.showModal();
    try {
      const { notify } = await this.a.call<{ notify: Prefs }>('GET', '/notify', undefined, true);
      this.mode.value = notify.mode;
      this.alsoDigest.checked = notify.digest === true;
      this.digestHour.value = String(notify.digestHour ?? 8);
      this.batch.value = String(notify.batchMinutes || 30);
      this.quietFrom.value = String(notify.quietFrom ?? 0);
      this.quietTo.value = String(notify.quietTo ?? 0);
      this.showMode();
    } catch (e) {
      this.say('Preferences could not be read: ' + (e as Error).message, true);
    }
  }

  private showMode(): void {
    const m = this.mode.value;
    const batched = m === 'each' || m === 'mentions';
    (this.alsoDigest.parentElement as HTMLElement).hidden = !batched;
    (this.digestHour.parentElement as HTMLElement).hidden = m !== 'digest' && !(batched && this.alsoDigest.checked);
    (this.batch.parentElement as HTMLElement).hidden = m !== 'each' && m !== 'mentions';
    (this.quietFrom.parentElement as HTMLElement).hidden = m !== 'each' && m !== 'mentions';
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }

  private async save(): Promise<void> {
    const p: Prefs = {
      mode: this.mode.value,
      digest: (this.mode.value === 'each' || this.mode.value === 'mentions') && this.alsoDigest.checked,
      digestHour: Number(this.digestHour.value),
      batchMinutes: Math.max(1, Math.min(1440, Math.round(Number(this.batch.value) || 30))),
      quietFrom: Number(this.quietFrom.value),
      quietTo: Number(this.quietTo.value),
    };
    try {
      await this.a.call('PUT', '/notify', p, true);
      this.say('Saved.');
    } catch (e) {
      this.say('Not saved: ' + (e as Error).message, true);
    }
  }
}
