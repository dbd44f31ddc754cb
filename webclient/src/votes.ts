// Dot voting on sticky notes: a badge at each note's corner shows the tally
// (the sum of everyone's dots, exact: one register per voter, key "vote",
// docs/SCHEMA.md) and how many are yours. Click it to give a dot, Alt+click
// or right-click to take one back. Commenters may vote; viewers see the
// tallies. The badges are DOM overlays placed each frame the view moves.
//
// The owner may run a dot-voting session (docs/API.md, "Dot voting"): a
// budget of dots per person, votes under a pseudonym when anonymous, and a
// close after which votes are refused. The node refuses a vote that breaks
// those rules, and a refused change makes the client start over, so the
// rules are read from GET /v1/boards/{board}/voting (when the page goes
// live, every 15 s, and before a vote when they are older than 5 s) and
// applied here first: the voter id, the budget, the close. In an anonymous
// session a vote is cast through the node (ballot), never in this page's
// own change: its replica id would name the voter.
import { t as tr } from './i18n';
import type { FeatureContext } from './featurekit';

/** The board's voting session, as GET /v1/boards/{board}/voting says. */
export interface VotingRules {
  state: '' | 'open' | 'closed';
  dots: number;
  anonymous: boolean;
  /** Whom this person votes as (their user id, or a pseudonym). */
  voter?: string;
}

const RULES_EVERY_MS = 15_000;

/** What may get dots: notes and mindmap nodes (the node counts dots on any element; the summary ranks them all). */
export const VOTABLE = new Set(['note', 'mindmap']);

/** Most dots one person may put on one note. */
export const MAX_DOTS = 9;

export interface Tally {
  total: number;
  voters: number;
  mine: number;
  /** Reactions (key "react"): emoji → how many people. */
  reacts: Record<string, number>;
  /** This person's reaction ("" for none). */
  myReact: string;
}

/** The reactions offered (any short string is valid in the doc; these are the picker's). */
export const REACTIONS = ['👍', '❤️', '🎉', '😂', '🤔'];

/**
 * The tally of an element's votes (`votes` of its JSON): me is the voter
 * of this person's dots, user their user id (reactions). The reactions are
 * counted in an object without a prototype: a reaction is any short string
 * (one named "constructor" read Object's constructor as its count).
 */
export function tallyOf(votes: Record<string, Record<string, unknown>> | undefined, me: string | undefined, user: string | undefined): Tally {
  const t: Tally = { total: 0, voters: 0, mine: 0, reacts: Object.create(null) as Record<string, number>, myReact: '' };
  for (const [voter, v] of Object.entries(votes?.react ?? {})) {
    if (typeof v !== 'string' || !v || v.length > 16) continue;
    t.reacts[v] = (t.reacts[v] ?? 0) + 1;
    if (voter === user) t.myReact = v;
  }
  for (const [voter, v] of Object.entries(votes?.vote ?? {})) {
    const k = typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
    if (!k) continue;
    t.total += k;
    t.voters++;
    if (voter === me) t.mine = k;
  }
  return t;
}

export class Votes {
  private badges = new Map<string, HTMLButtonElement>();
  private reactRows = new Map<string, HTMLElement>();
  private tallies = new Map<string, Tally>();
  private stale = new Set<string>();
  private all = true;
  private user: string | undefined;
  rules: VotingRules = { state: '', dots: 0, anonymous: false };
  private rulesAt = 0;
  private fetching: Promise<void> | null = null;

  constructor(private f: FeatureContext) {
    f.onChange((ids) => {
      for (const id of ids) this.stale.add(id);
    });
  }

  /** Whom votes are cast as: the session's voter id, else the user id. */
  get me(): string | undefined {
    return this.rules.voter ?? this.f.userId;
  }

  /** Reads the voting rules from the node. */
  refreshRules(): Promise<void> {
    this.fetching ??= (async () => {
      const h = this.f.host;
      const t = h.sync.record.token ?? h.token(); // a guest's token from the welcome: its identity, so its pseudonym and budget
      try {
        const r = await fetch(`/v1/boards/${h.boardId}/voting?result=none`, { headers: t ? { Authorization: 'Bearer ' + t } : {} });
        if (!r.ok) return;
        const j = await r.json();
        const v = j.voting ?? null;
        this.rules = {
          state: v?.state === 'open' || v?.state === 'closed' ? v.state : '',
          dots: typeof v?.dots === 'number' ? v.dots : 0,
          anonymous: v?.anonymous === true,
          voter: typeof j.voter === 'string' && j.voter ? j.voter : undefined,
        };
        this.rulesAt = Date.now();
        this.all = true;
        this.f.invalidate();
      } catch {
        /* offline: the rules known so far stand */
      } finally {
        this.fetching = null;
      }
    })();
    return this.fetching;
  }

  /** On connection changes and every few seconds (features.ts): keeps the rules fresh while live. */
  tick(): void {
    if (this.f.host.sync.state === 'live' && !this.fetching && Date.now() - this.rulesAt > RULES_EVERY_MS) void this.refreshRules();
  }

  /** Dots this person has on all notes and mindmap nodes. */
  spent(): number {
    let n = 0;
    for (const e of this.f.host.board.all()) if (VOTABLE.has(e.kind)) n += this.tally(e.id).mine;
    return n;
  }

  /** The tally of a note, read from the doc. */
  tally(id: string): Tally {
    if (this.all || this.stale.has(id) || !this.tallies.has(id)) {
      const [j] = this.f.host.doc.elements([id]);
      this.tallies.set(id, tallyOf(j?.votes, this.me, this.f.userId));
      this.stale.delete(id);
    }
    return this.tallies.get(id)!;
  }

  /**
   * Sets this person's reaction on a note, or takes it back when it is the
   * same one (one register per person: a new reaction replaces the old).
   * Reactions are not part of a voting session: they go under the user id.
   */
  react(id: string, emoji: string): boolean {
    const me = this.f.userId;
    if (!me) return false;
    const value = this.tally(id).myReact === emoji ? null : emoji;
    return this.f.apply([{ op: 'vote', el: id, key: 'react', voter: me, value }]) !== null;
  }

  /** Sets this person's dots on a note (0 withdraws), within the session's rules. */
  async vote(id: string, dots: number): Promise<boolean> {
    if (Date.now() - this.rulesAt > 5000) await this.refreshRules();
    const me = this.me;
    if (!me) {
      this.f.host.toast(tr('votes.notYet'));
      return false;
    }
    dots = Math.max(0, Math.min(MAX_DOTS, Math.round(dots)));
    if (this.rules.state === 'closed') {
      this.f.host.toast(tr('votes.closed'));
      return false;
    }
    const mine = this.tally(id).mine;
    if (this.rules.state === 'open' && this.rules.dots > 0 && dots > mine && this.spent() - mine + dots > this.rules.dots) {
      this.f.host.toast(tr('votes.used', { n: this.rules.dots }));
      return false;
    }
    if (this.rules.state === 'open' && this.rules.anonymous) return this.ballot(id, dots);
    const r = this.f.apply([{ op: 'vote', el: id, key: 'vote', voter: me, value: dots }]);
    return r !== null;
  }

  /**
   * An anonymous session's vote, cast through the node (POST …/voting/vote):
   * a vote op in this page's own change would carry its replica id, which
   * presence ties to this person, so the node writes it under the board's
   * ballot replica with no author (server/api/ballot.go). It shows here
   * when that change comes back over the WebSocket.
   */
  private async ballot(id: string, dots: number): Promise<boolean> {
    const h = this.f.host;
    const t = h.sync.record.token ?? h.token(); // a guest's token from the welcome: its identity, so its pseudonym and budget
    try {
      const r = await fetch(`/v1/boards/${h.boardId}/voting/vote`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(t ? { Authorization: 'Bearer ' + t } : {}) },
        body: JSON.stringify({ element: id, value: dots > 0 ? dots : null }),
      });
      if (r.ok) return true;
      const j = await r.json().catch(() => null);
      if (r.status === 403 && this.rules.dots > 0 && j?.error?.code === 'forbidden') {
        h.toast(tr('votes.used', { n: this.rules.dots }));
      } else if (r.status === 409) {
        void this.refreshRules(); // the session closed or is no longer anonymous
        h.toast(tr('voting.failed', { error: j?.error?.message ?? String(r.status) }));
      } else {
        h.toast(tr('voting.failed', { error: j?.error?.message ?? String(r.status) }));
      }
    } catch (e) {
      h.toast(tr('voting.failed', { error: String(e) }));
    }
    return false;
  }

  layout(): void {
    if (this.me !== this.user) {
      // Who "mine" is became known (the welcome, a session's pseudonym): every tally again.
      this.user = this.me;
      this.all = true;
    }
    const h = this.f.host;
    const c = h.camera();
    const view = { x: c.x, y: c.y, w: (h.renderer.width || innerWidth) / c.zoom, h: (h.renderer.height || innerHeight) / c.zoom };
    const live = new Set<string>();
    const notes = c.zoom >= 0.25 ? h.board.query(view).filter((e) => VOTABLE.has(e.kind)) : [];
    const canVote = h.sync.role !== 'viewer' && this.rules.state !== 'closed';
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
          void this.vote(id, ev.altKey ? mine - 1 : mine + 1);
        });
        b.addEventListener('contextmenu', (ev) => {
          ev.preventDefault();
          void this.vote(id, this.tally(id).mine - 1);
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
      let title = tr('votes.badge', { dots: tr('votes.badge.dots', { n: t.total }), voters: tr('votes.badge.voters', { n: t.voters }), mine: t.mine });
      if (this.rules.state === 'open' && this.rules.dots > 0) title = tr('votes.badge.budget', { text: title, n: this.rules.dots });
      if (this.rules.state === 'closed') title = tr('votes.badge.closed', { text: title });
      b.title = canVote ? tr('votes.badge.how', { text: title }) : title;
      const p = this.f.toScreen(e.x + e.w, e.y + e.h);
      b.style.left = `${p.x}px`;
      b.style.top = `${p.y}px`;
      this.reactRow(e.id, t, h.sync.role !== 'viewer' && !this.f.closed, e.x, e.y + e.h);
    }
    this.all = false;
    for (const [id, b] of this.badges) {
      if (!live.has(id)) {
        b.remove();
        this.badges.delete(id);
      }
    }
    for (const [id, r] of this.reactRows) {
      if (!live.has(id) || !r.childElementCount) {
        r.remove();
        this.reactRows.delete(id);
      }
    }
  }

  /**
   * The reactions under a note: the ones given, with counts; on the single
   * selected note, every one of the picker's, to give or take back.
   */
  private reactRow(id: string, t: Tally, can: boolean, x: number, y: number): void {
    const sel = this.f.host.selection();
    const picking = can && sel.size === 1 && sel.has(id);
    const shown = picking ? [...new Set([...REACTIONS, ...Object.keys(t.reacts)])] : Object.keys(t.reacts).sort();
    let row = this.reactRows.get(id);
    if (!shown.length) {
      if (row) row.innerHTML = '';
      return;
    }
    if (!row) {
      row = document.createElement('div');
      row.className = 'fx-reacts';
      row.dataset.id = id;
      row.addEventListener('pointerdown', (ev) => ev.stopPropagation());
      this.reactRows.set(id, row);
      this.f.layer.appendChild(row);
    }
    const sig = shown.map((k) => `${k}:${t.reacts[k] ?? 0}`).join(',') + `|${t.myReact}|${can}`;
    if (row.dataset.sig !== sig) {
      row.dataset.sig = sig;
      row.innerHTML = '';
      for (const k of shown) {
        const b = document.createElement('button');
        b.className = 'fx-react' + (t.myReact === k ? ' mine' : '');
        b.dataset.react = k;
        b.textContent = t.reacts[k] ? `${k} ${t.reacts[k]}` : k;
        b.disabled = !can;
        b.title = t.myReact === k ? tr('votes.react.mine') : tr('votes.react');
        b.addEventListener('click', (ev) => {
          ev.stopPropagation();
          this.react(id, k);
        });
        row.appendChild(b);
      }
    }
    const p = this.f.toScreen(x, y);
    row.style.left = `${p.x}px`;
    row.style.top = `${p.y + 6}px`;
  }

  /** Every note with at least one dot, most dots first. */
  ranking(): { id: string; total: number }[] {
    return this.f.host.board
      .all()
      .filter((e) => VOTABLE.has(e.kind) && !e.hidden)
      .map((e) => ({ id: e.id, total: this.tally(e.id).total }))
      .filter((x) => x.total > 0)
      .sort((a, b) => b.total - a.total);
  }
}
