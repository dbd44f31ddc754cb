// Dot voting on sticky notes: a badge at each note's corner shows the tally
// (the sum of everyone's dots, exact: one register per voter, key "vote",
// docs/SCHEMA.md) and how many are yours. Click it to give a dot, Alt+click
// or right-click to take one back. Commenters may vote; viewers see the
// tallies. The badges are DOM overlays placed each frame the view moves.
import type { Features } from './features';

/** Most dots one person may put on one note. */
export const MAX_DOTS = 9;

export interface Tally {
  total: number;
  voters: number;
  mine: number;
}

export class Votes {
  private badges = new Map<string, HTMLButtonElement>();
  private tallies = new Map<string, Tally>();
  private stale = new Set<string>();
  private all = true;
  private user: string | undefined;

  constructor(private f: Features) {
    f.onChange((ids) => {
      for (const id of ids) this.stale.add(id);
    });
  }

  /** The tally of a note, read from the doc. */
  tally(id: string): Tally {
    if (this.all || this.stale.has(id) || !this.tallies.has(id)) {
      const [j] = this.f.host.doc.elements([id]);
      const votes = (j?.votes?.vote ?? {}) as Record<string, unknown>;
      const me = this.f.userId;
      const t: Tally = { total: 0, voters: 0, mine: 0 };
      for (const [voter, v] of Object.entries(votes)) {
        const k = typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
        if (!k) continue;
        t.total += k;
        t.voters++;
        if (voter === me) t.mine = k;
      }
      this.tallies.set(id, t);
      this.stale.delete(id);
    }
    return this.tallies.get(id)!;
  }

  /** Sets this person's dots on a note (0 withdraws). */
  vote(id: string, dots: number): boolean {
    const me = this.f.userId;
    if (!me) {
      this.f.host.toast('Not connected yet: voting needs to know who you are.');
      return false;
    }
    dots = Math.max(0, Math.min(MAX_DOTS, Math.round(dots)));
    const r = this.f.apply([{ op: 'vote', el: id, key: 'vote', voter: me, value: dots }]);
    return r !== null;
  }

  layout(): void {
    if (this.f.userId !== this.user) {
      // Who "mine" is became known (the welcome): every tally again.
      this.user = this.f.userId;
      this.all = true;
    }
    const h = this.f.host;
    const c = h.camera();
    const view = { x: c.x, y: c.y, w: (h.renderer.width || innerWidth) / c.zoom, h: (h.renderer.height || innerHeight) / c.zoom };
    const live = new Set<string>();
    const notes = c.zoom >= 0.25 ? h.board.query(view).filter((e) => e.kind === 'note') : [];
    const canVote = h.sync.role !== 'viewer';
    for (const e of notes.slice(0, 300)) {
      const t = this.tally(e.id);
      if (!t.total && !canVote) continue;
      live.add(e.id);
      let b = this.badges.get(e.id);
      if (!b) {
        b = document.createElement('button');
        b.className = 'fx-vote';
        b.dataset.id = e.id;
        const id = e.id;
        b.addEventListener('click', (ev) => {
          ev.stopPropagation();
          const mine = this.tally(id).mine;
          this.vote(id, ev.altKey ? mine - 1 : mine + 1);
        });
        b.addEventListener('contextmenu', (ev) => {
          ev.preventDefault();
          this.vote(id, this.tally(id).mine - 1);
        });
        b.addEventListener('pointerdown', (ev) => ev.stopPropagation());
        this.badges.set(e.id, b);
        this.f.layer.appendChild(b);
      }
      b.disabled = !canVote;
      b.dataset.total = String(t.total);
      b.dataset.mine = String(t.mine);
      b.classList.toggle('mine', t.mine > 0);
      b.classList.toggle('empty', t.total === 0);
      b.textContent = t.total ? `● ${t.total}` : '●';
      b.title = `${t.total} dot${t.total === 1 ? '' : 's'} from ${t.voters} ${t.voters === 1 ? 'person' : 'people'}; yours: ${t.mine}` + (canVote ? '. Click: add a dot; Alt+click or right-click: take one back' : '');
      const p = this.f.toScreen(e.x + e.w, e.y + e.h);
      b.style.left = `${p.x}px`;
      b.style.top = `${p.y}px`;
    }
    this.all = false;
    for (const [id, b] of this.badges) {
      if (!live.has(id)) {
        b.remove();
        this.badges.delete(id);
      }
    }
  }

  /** Every note with at least one dot, most dots first. */
  ranking(): { id: string; total: number }[] {
    return this.f.host.board
      .all()
      .filter((e) => e.kind === 'note')
      .map((e) => ({ id: e.id, total: this.tally(e.id).total }))
      .filter((x) => x.total > 0)
      .sort((a, b) => b.total - a.total);
  }
}
