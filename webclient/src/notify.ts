// What others do, for a signed-in member: the notification preferences
// dialog (GET/PUT /v1/boards/{board}/notify: each change batched, a daily
// digest, mentions only, or off; with each or mentions, a daily digest
// too; quiet hours).
import { t, type Key } from './i18n';
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

const MODES: [string, Key][] = [
  ['each', 'notify.mode.each'],
  ['digest', 'notify.mode.digest'],
  ['mentions', 'notify.mode.mentions'],
  ['off', 'notify.mode.off'],
];

/** A message's text around controls: \u0000 and \u0001 mark where they go. */
function around(msg: string, ...controls: HTMLElement[]): (string | HTMLElement)[] {
  const out: (string | HTMLElement)[] = [];
  for (const part of msg.split(/([\u0000\u0001])/)) {
    if (part === '\u0000') out.push(controls[0]);
    else if (part === '\u0001') out.push(controls[1]);
    else if (part) out.push(part);
  }
  return out;
}

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
  private quietFrom = hourSelect('quietFrom', t('notify.quietFrom'));
  private quietTo = hourSelect('quietTo', t('notify.quietTo'));
  private msg: HTMLElement;

  constructor(private a: BoardAccess) {
    this.mode = h('select', { name: 'mode' });
    for (const [v, label] of MODES) this.mode.append(h('option', { value: v }, t(label)));
    this.batch = h('input', { name: 'batchMinutes', type: 'number', min: '1', max: '1440', value: '30' });
    this.alsoDigest = h('input', { name: 'digest', type: 'checkbox' });
    this.msg = h('p', { class: 'note', role: 'status' });
    const close = h('button', { type: 'button', class: 'close', 'aria-label': t('close') }, '×');
    const form = h(
      'form',
      { class: 'notify card' },
      h('p', { class: 'hint' }, t('notify.hint')),
      h('label', {}, t('notify.mode') + ' ', this.mode),
      h('label', { class: 'also-digest' }, this.alsoDigest, ' ' + t('notify.alsoDigest')),
      h('label', { class: 'digest' }, t('notify.digestAt') + ' ', this.digestHour),
      h('label', { class: 'batch' }, ...around(t('notify.batch', { n: '\u0000' }), this.batch)),
      h('label', { class: 'quiet' }, ...around(t('notify.quiet', { from: '\u0000', to: '\u0001' }), this.quietFrom, this.quietTo)),
      h('button', { type: 'submit' }, t('save')),
    );
    this.dialog = h('dialog', { class: 'cb-dialog cb-notify', 'aria-labelledby': 'cb-notify-h' }, h('header', {}, h('h2', { id: 'cb-notify-h' }, t('notify.title')), close), this.msg, form);
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
      this.say(t('notify.readFailed', { error: (e as Error).message }), true);
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
      this.say(t('saved'));
    } catch (e) {
      this.say(t('notSaved', { error: (e as Error).message }), true);
    }
  }
}
