// "Since your last visit": the one view of it (a panel with one count, a
// line per person and action naming each element by its text, next /
// previous, "mark all as seen", and a "new" outline on each element). The
// browser stores the board's version vector (IndexedDB through store.ts,
// one record per board) as the visit goes on and when the page is hidden or
// left. On the next visit, once the page is live, it asks the node what
// changed since that version (GET /v1/boards/{board}/changes?since=: the
// board's own history folded into events, who did what, with each
// element's text). A browser that never saw the board asks without a
// version: the node answers from the visit it keeps of a signed-in person
// (or the owner's token), across their devices; for anyone else that is a
// first visit, with nothing to list.
//
// Why the node's history rather than the local doc: the doc keeps, per
// property, the clock of the write that won but not the op's counter, so it
// cannot tell which elements have ops outside a version vector; the op log
// can, exactly (and says who made them). The price: the list needs the node
// (offline, there is none until the page is live).
//
// Rejected: two views, this browser's highlights and the node's list of a
// signed-in person, each with its own baseline and count (what this
// replaced: "4 changed" next to "Since last visit · 7").
import { language, t } from './i18n';
import type { FeatureContext } from './featurekit';
import { commentOn, groupChanges, type ChangeEvent, type ChangeGroup } from './changelines';
import { openStore, type Persistence, type Visit } from './store';

export type { Visit } from './store';

/** GET /v1/boards/{board}/changes. */
interface ChangesAnswer {
  seenAt: number;
  events: ChangeEvent[] | null;
  names: Record<string, string> | null;
}

export async function loadVisit(board: string): Promise<Visit | undefined> {
  return (await openStore()).getVisit(board);
}

export async function saveVisit(v: Visit): Promise<void> {
  await (await openStore()).putVisit(v);
}

export class SinceVisit {
  /** Elements changed since the last visit, in the order first changed. */
  changed: string[] = [];
  /** Who changed each (user ids, from the node's log). */
  authors = new Map<string, Set<string>>();
  /** The list's lines: who did what, naming the elements. */
  groups: ChangeGroup[] = [];
  /** The last visit's time (ms), if there was one. */
  lastVisit = 0;
  /** Set once the comparison is done (whether or not anything changed). */
  ready = false;
  private index = -1;
  private panel: HTMLElement;
  private label: HTMLElement;
  private list: HTMLUListElement;
  private badges = new Map<string, HTMLElement>();
  private btn: HTMLButtonElement;
  private stored: Visit | undefined;
  private loaded: Promise<void>;
  private started = false;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  /** The store, once open (save writes to it without waiting: it runs in pagehide). */
  private idb: Persistence | null = null;

  constructor(private f: FeatureContext) {
    const board = f.host.boardId;
    this.panel = document.createElement('div');
    this.panel.className = 'panel fx-since';
    this.panel.hidden = true;
    this.label = document.createElement('span');
    this.label.className = 'fx-since-label';
    this.list = document.createElement('ul');
    this.list.className = 'fx-since-list';
    const mk = (text: string, title: string, fn: () => void, cls: string) => {
      const b = document.createElement('button');
      b.textContent = text;
      b.title = title;
      b.className = cls;
      b.addEventListener('click', fn);
      return b;
    };
    this.panel.append(
      this.label,
      mk('‹', t('since.prev'), () => this.step(-1), 'fx-prev'),
      mk('›', t('since.next'), () => this.step(1), 'fx-next'),
      mk(t('since.markSeen'), t('since.markSeen.title'), () => void this.markSeen(), 'fx-seen'),
      mk('×', t('board.hide'), () => (this.panel.hidden = true), 'fx-close'),
      this.list,
    );
    this.panel.setAttribute('role', 'region');
    this.panel.setAttribute('aria-label', t('since'));
    f.notices.appendChild(this.panel);
    this.btn = f.button(t('since.new'), t('since.title'), () => {
      this.panel.hidden = !this.panel.hidden;
    }, 'fx-since-btn');
    this.btn.hidden = true;
    this.loaded = openStore()
      .then(async (d) => {
        this.stored = await d.getVisit(board);
        this.idb = d;
      })
      .catch((e) => console.warn('corkboard: no visit records', e));
    // The version is stored when the page is left or hidden.
    const save = () => this.save();
    addEventListener('pagehide', save);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') save();
    });
    // What this visit has seen is stored as it grows too (a second after
    // the last change), not only when the page is left: a closed laptop
    // or a killed tab never says goodbye.
    f.onChange(() => {
      if (this.changed.length) this.f.invalidate();
      clearTimeout(this.saveTimer);
      this.saveTimer = setTimeout(save, 1000);
    });
  }

  /**
   * Stores the doc's version as this visit's end. Synchronous up to the
   * IndexedDB request (no await before it): called from pagehide, where a
   * page may not get another turn of its event loop.
   */
  save(): void {
    // Until the comparison has run, the stored version is still the
    // previous visit's: keep it, or a quick reload would lose the list.
    if (!this.idb || (!this.ready && this.stored)) return;
    const v = this.f.host.doc.version();
    this.idb.putVisit({ board: this.f.host.boardId, version: v, at: Date.now() }).catch((e) => console.warn('corkboard: visit not stored', e));
  }

  /** Forgets the highlights; what is on the board now counts as seen. */
  async markSeen(): Promise<void> {
    this.changed = [];
    this.groups = [];
    this.list.innerHTML = '';
    this.index = -1;
    this.panel.hidden = true;
    this.btn.hidden = true;
    this.ready = true;
    this.stored = { board: this.f.host.boardId, version: this.f.host.doc.version(), at: Date.now() };
    await saveVisit(this.stored);
    this.f.invalidate();
  }

  /** Asks the node what changed since the stored visit, once the page is live. */
  private async compare(): Promise<void> {
    await this.loaded;
    const v = this.stored;
    const h = this.f.host;
    const t = h.token();
    const since = v ? await this.baseline(v) : null;
    const url = `/v1/boards/${h.boardId}/changes` + (since ? `?since=${encodeURIComponent(JSON.stringify(since))}` : '');
    let r: ChangesAnswer;
    try {
      const res = await fetch(url, { headers: t ? { Authorization: 'Bearer ' + t } : {} });
      if (!res.ok) throw new Error(String(res.status));
      r = await res.json();
    } catch (e) {
      console.warn('corkboard: no "since your last visit" list', e);
      this.started = false; // try again when live again
      return;
    }
    if (!since && !r.seenAt) {
      // Neither this browser nor the node knows of a visit: the first.
      this.ready = true;
      this.save();
      return;
    }
    this.lastVisit = v?.at ?? r.seenAt;
    const events = r.events ?? [];
    const order: string[] = [];
    const seen = new Set<string>();
    for (const e of events) {
      const el = commentOn(e);
      if (!seen.has(el)) {
        seen.add(el);
        order.push(el);
      }
      let s = this.authors.get(el);
      if (!s) this.authors.set(el, (s = new Set()));
      for (const u of e.by) if (u) s.add(u);
    }
    this.changed = order;
    this.groups = groupChanges(events, r.names ?? {});
    this.showList();
    this.ready = true;
    this.f.invalidate();
    // From now on this visit has seen the board as it is: stored at once
    // (and again as it changes), so a tab that never says goodbye still
    // leaves its visit behind. A reload is a new visit.
    this.save();
  }

  /**
   * The version the list starts from: the stored visit's, with everything
   * this browser wrote itself counted as seen (its replicas of the board,
   * up to the doc's version now). One's own changes are never news, even
   * when the tab died before the visit was stored again after them (a
   * note added a moment before the tab closed). Rejected: storing the
   * visit after every local change (an IndexedDB write per keystroke, and
   * still lost when the tab dies before it lands); filtering by author
   * (a link's user id is shared by everyone holding the link).
   */
  private async baseline(v: Visit): Promise<Record<string, number>> {
    const since: Record<string, number> = { ...v.version };
    const now = this.f.host.doc.version();
    const mine = new Set<string>([this.f.host.sync.replica]);
    try {
      for (const r of (await this.idb?.listReplicas(this.f.host.boardId)) ?? []) mine.add(r.replica);
    } catch (e) {
      console.warn('corkboard: replicas not listed', e);
    }
    for (const r of mine) if ((now[r] ?? 0) > (since[r] ?? 0)) since[r] = now[r];
    return since;
  }

  /** The lines, each a button that steps through its elements. */
  private showList(): void {
    this.list.innerHTML = '';
    for (const g of this.groups) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'fx-change';
      b.textContent = g.text;
      let i = 0;
      b.addEventListener('click', () => {
        for (let k = 0; k < g.elements.length; k++) {
          const id = g.elements[(i + k) % g.elements.length];
          if (this.f.zoomTo(id)) {
            i = (i + k + 1) % g.elements.length;
            return;
          }
        }
        this.f.host.toast(t('since.gone'));
      });
      const li = document.createElement('li');
      li.append(b);
      this.list.append(li);
    }
  }

  /** The listed elements still on the board (comments count via their target). */
  visible(): string[] {
    const b = this.f.host.board;
    return this.changed.filter((id) => b.get(id));
  }

  private step(d: number): void {
    const list = this.visible();
    if (!list.length) return;
    this.index = (this.index + d + list.length) % list.length;
    this.f.zoomTo(list[this.index]);
    this.showLabel(list);
  }

  private showLabel(list: string[]): void {
    const when = this.lastVisit ? new Date(this.lastVisit).toLocaleString(language()) : '';
    this.label.textContent = list.length ? `${this.index >= 0 ? this.index + 1 + ' / ' : ''}${t('since.changed', { n: list.length })}` : t('since.nothing');
    this.label.title = when ? t('since.lastVisit', { when }) : '';
  }

  /** On connection changes (features.ts): compares once the page is live. */
  tick(): void {
    if (!this.started && this.f.host.sync.state === 'live') {
      this.started = true;
      void this.compare();
    }
  }

  layout(): void {
    const h = this.f.host;
    const list = this.ready ? this.visible() : [];
    this.btn.hidden = !list.length;
    this.btn.textContent = t('since.count', { n: list.length });
    if (list.length && !this.panel.dataset.shown) {
      this.panel.dataset.shown = '1';
      this.panel.hidden = false;
    }
    this.showLabel(list);
    const live = new Set<string>();
    const c = h.camera();
    for (const id of list.slice(0, 500)) {
      const e = h.board.get(id);
      if (!e) continue;
      live.add(id);
      let b = this.badges.get(id);
      if (!b) {
        b = document.createElement('div');
        b.className = 'fx-new';
        b.dataset.id = id;
        b.textContent = b.dataset.label = t('since.badge');
        this.badges.set(id, b);
        this.f.layer.appendChild(b);
      }
      const p = this.f.toScreen(e.x, e.y);
      b.style.left = `${p.x - 4}px`;
      b.style.top = `${p.y - 4}px`;
      b.style.width = `${e.w * c.zoom + 8}px`;
      b.style.height = `${e.h * c.zoom + 8}px`;
    }
    for (const [id, b] of this.badges) {
      if (!live.has(id)) {
        b.remove();
        this.badges.delete(id);
      }
    }
  }
}
