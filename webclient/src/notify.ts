// What others do, for a signed-in member: the notification preferences
// dialog (GET/PUT /v1/boards/{board}/notify: each change batched, a daily
// digest, mentions only, or off; quiet hours), and the "since your last
// visit" list as the node tells it (GET /v1/boards/{board}/changes): who
// did what, folded by person, action and kind ("Ana added 3 notes").
//
// The list is the node's view (by person, across every device of theirs);
// sincevisit.ts highlights elements from this browser's own last version.
// Both stay: a browser that never saw the board has no version of its own,
// and the node does not know what a guest saw.
import type { BoardAccess } from './boardaccess';
import { h } from './dom';

interface Prefs {
  mode: string;
  digestHour: number;
  batchMinutes?: number;
  quietFrom: number;
  quietTo: number;
}

export interface ChangeEvent {
  element: string;
  kind: string;
  action: string;
  by: string[];
  count?: number;
  text?: string;
  target?: string;
  targetText?: string;
  at?: number;
}

const MODES: [string, string][] = [
  ['each', 'Each change (batched)'],
  ['digest', 'A daily digest'],
  ['mentions', 'Only when mentioned'],
  ['off', 'Off'],
];

function hourSelect(name: string): HTMLSelectElement {
  const s = h('select', { name });
  for (let i = 0; i < 24; i++) s.append(h('option', { value: String(i) }, `${String(i).padStart(2, '0')}:00`));
  return s;
}

export class NotifyDialog {
  readonly dialog: HTMLDialogElement;
  private mode: HTMLSelectElement;
  private digestHour = hourSelect('digestHour');
  private batch: HTMLInputElement;
  private quietFrom = hourSelect('quietFrom');
  private quietTo = hourSelect('quietTo');
  private msg: HTMLElement;

  constructor(private a: BoardAccess) {
    this.mode = h('select', { name: 'mode' });
    for (const [v, label] of MODES) this.mode.append(h('option', { value: v }, label));
    this.batch = h('input', { name: 'batchMinutes', type: 'number', min: '1', max: '1440', value: '30' });
    this.msg = h('p', { class: 'note', role: 'status' });
    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close' }, '×');
    const form = h(
      'form',
      { class: 'notify' },
      h('label', {}, 'E-mail me ', this.mode),
      h('label', { class: 'digest' }, 'Digest at ', this.digestHour),
      h('label', { class: 'batch' }, 'At most one e-mail every ', this.batch, ' minutes'),
      h('label', { class: 'quiet' }, 'Quiet hours from ', this.quietFrom, ' to ', this.quietTo),
      h('button', { type: 'submit' }, 'Save'),
    );
    this.dialog = h('dialog', { class: 'cb-dialog cb-notify', 'aria-label': 'Notifications' }, h('header', {}, h('h2', {}, 'Notifications'), close), form, this.msg);
    close.addEventListener('click', () => this.dialog.close());
    this.mode.addEventListener('change', () => this.showMode());
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
    (this.digestHour.parentElement as HTMLElement).hidden = m !== 'digest';
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

/** One line of the list: a person, an action, a kind, and the elements. */
export interface ChangeGroup {
  who: string;
  action: string;
  kind: string;
  elements: string[];
  text: string;
}

const SINGULAR: Record<string, string> = { stroke: 'drawing', mindmap: 'mindmap node', node: 'mindmap node' };
const PLURAL: Record<string, string> = { note: 'notes', shape: 'shapes', text: 'texts', comment: 'comments', image: 'images', connector: 'connectors', frame: 'frames', stroke: 'drawings', mindmap: 'mindmap nodes', node: 'mindmap nodes' };

/** A kind as a noun: "a note", "3 mindmap nodes". */
export function kindNoun(kind: string, n: number): string {
  if (n === 1) {
    const w = SINGULAR[kind] ?? kind;
    return (/^[aeiou]/.test(w) ? 'an ' : 'a ') + w;
  }
  return `${n} ${PLURAL[kind] ?? (SINGULAR[kind] ?? kind) + 's'}`;
}

/** An element named by its text: a short preview in quotes ("" when it has none). */
export function quoted(text: string | undefined, max = 40): string {
  const t = (text ?? '').replace(/\s+/g, ' ').trim();
  if (!t) return '';
  return '“' + (t.length > max ? t.slice(0, max - 1).trimEnd() + '…' : t) + '”';
}

/** The elements of a line named by their text ("“A”, “B” and 2 more"). */
function names(texts: string[]): string {
  const q = texts.map((t) => quoted(t)).filter(Boolean);
  if (!q.length) return '';
  const shown = q.slice(0, 3);
  const more = texts.length - shown.length;
  if (more > 0) return shown.join(', ') + ` and ${more} more`;
  return shown.length === 1 ? shown[0] : shown.slice(0, -1).join(', ') + ' and ' + shown[shown.length - 1];
}

const VERB: Record<string, string> = { voted: 'voted for', commented: 'commented on', replied: 'replied on' };

/**
 * Folds the node's events into lines: per person, action and kind, in
 * order of first appearance, each naming its elements by their text.
 * "added" (and a new comment or reply) is said of its creator alone, the
 * first of `by`: whoever edited the element later did not add it.
 */
export function groupChanges(events: ChangeEvent[], names_: Record<string, string>): ChangeGroup[] {
  const out = new Map<string, ChangeGroup & { texts: string[] }>();
  const creatorOnly = new Set(['added', 'commented', 'replied']);
  for (const e of events) {
    const by = creatorOnly.has(e.action) ? e.by.slice(0, 1) : e.by;
    const who = by.map((u) => names_[u] || 'Someone').join(' and ') || 'Someone';
    const comment = e.kind === 'comment';
    // A comment is named by what it is on.
    const kind = comment ? 'comment' : e.kind;
    const key = `${who}\u0000${e.action}\u0000${kind}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { who, action: e.action, kind, elements: [], text: '', texts: [] }));
    const el = comment && e.target ? e.target : e.element;
    if (g.elements.includes(el)) continue;
    g.elements.push(el);
    g.texts.push(comment ? (e.targetText ?? '') : (e.text ?? ''));
  }
  const res: ChangeGroup[] = [];
  for (const g of out.values()) {
    const n = g.elements.length;
    const named = names(g.texts);
    const verb = VERB[g.action] ?? g.action;
    if (g.kind === 'comment') g.text = `${g.who} ${verb} ${named || (n === 1 ? 'the board' : n + ' elements')}`;
    else if (n === 1) g.text = `${g.who} ${verb} ${named || kindNoun(g.kind, 1)}`;
    else g.text = `${g.who} ${verb} ${kindNoun(g.kind, n)}${named ? ': ' + named : ''}`;
    res.push({ who: g.who, action: g.action, kind: g.kind, elements: g.elements, text: g.text });
  }
  return res;
}

/** The "since your last visit" list of a signed-in person (see the file comment). */
export class ChangesList {
  readonly panel: HTMLElement;
  readonly button: HTMLButtonElement;
  groups: ChangeGroup[] = [];

  constructor(private a: BoardAccess) {
    const f = a.f;
    this.panel = h('div', { class: 'panel cb-changes', hidden: '', role: 'region', 'aria-label': 'Since your last visit' });
    (f.host.root.querySelector('.board') ?? f.host.root).appendChild(this.panel);
    this.button = f.button('Since last visit', 'What others did since your last visit', () => (this.panel.hidden = !this.panel.hidden), 'cb-changes-btn');
    this.button.hidden = true;
  }

  /** Asks the node once (signed-in people only: it keeps their last visit). */
  async start(): Promise<void> {
    if (!this.a.me) return;
    try {
      const r = await this.a.call<{ seenAt: number; events: ChangeEvent[]; names: Record<string, string> }>('GET', '/changes', undefined, true);
      const mine = this.a.me.user.id;
      const others = (r.events ?? []).filter((e) => !(e.by.length === 1 && e.by[0] === mine));
      this.show(groupChanges(others, r.names ?? {}), r.seenAt);
    } catch (e) {
      console.warn('corkboard: changes since the last visit', e);
    }
  }

  private show(groups: ChangeGroup[], seenAt: number): void {
    this.groups = groups;
    const p = this.panel;
    p.innerHTML = '';
    this.button.hidden = !groups.length;
    this.button.textContent = `Since last visit · ${groups.length}`;
    if (!groups.length) return;
    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Hide' }, '×');
    close.addEventListener('click', () => (p.hidden = true));
    p.append(h('header', {}, h('strong', {}, 'Since your last visit'), seenAt ? h('span', { class: 'when' }, ' ' + new Date(seenAt).toLocaleString()) : '', close));
    const ul = h('ul');
    for (const g of groups) {
      const b = h('button', { type: 'button', class: 'cb-change' }, g.text);
      let i = 0;
      b.addEventListener('click', () => {
        // Each click shows the next element of the line.
        for (let k = 0; k < g.elements.length; k++) {
          const id = g.elements[(i + k) % g.elements.length];
          if (this.a.f.zoomTo(id)) {
            i = (i + k + 1) % g.elements.length;
            return;
          }
        }
        this.a.f.host.toast('That is no longer on the board.');
      });
      ul.append(h('li', {}, b));
    }
    p.append(ul);
    p.hidden = false;
  }
}
