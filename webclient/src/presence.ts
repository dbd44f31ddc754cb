// Who else is on the board page, and what this page tells them: our
// cursor, selection and drag out (Sync.presence); peers' cursors,
// selections and live drags in (drawn as previews, and a drag that ended
// as a ghost until its change arrives); the avatars in the top bar.
import { h } from './dom';
import { t as tr } from './i18n';
import { roundBox } from './geometry';
import { myColor, myName, personColor, setMyName } from './ids';
import type { Board, Box } from './model';
import type { Preview, RemoteCursor } from './render';
import type { Pointer } from './pointer';
import type { Selection } from './selection';
import type { Peer, PresenceData, Sync } from './sync';

export class Presence {
  /** Peers' drags that ended, shown until their change arrives. */
  private ghosts = new Map<string, { box: Box; base: Box; until: number }>();
  private remoteDrag = new Map<string, Map<string, Box>>();
  /** More presence data (follow.ts: the viewport, a spotlight). */
  extra: (() => object) | null = null;
  /** A peer's avatar was clicked (follow.ts). */
  onPeer: ((session: string) => void) | null = null;
  /** The session followed, marked on its avatar. */
  followed: () => string | null = () => null;

  constructor(
    private sync: Sync,
    private board: Board,
    private sel: Selection,
    private pointer: Pointer,
    private avatars: HTMLElement,
    private redraw: () => void,
  ) {}

  /** Tells the peers where our pointer is, what we selected and drag. */
  send(): void {
    const data: PresenceData = {};
    const cursor = this.pointer.cursor;
    if (cursor) data.c = { x: Math.round(cursor.x), y: Math.round(cursor.y) };
    if (this.sel.size) data.sel = [...this.sel.ids].slice(0, 20);
    const d = this.pointer.drag;
    if (d?.kind === 'move' && d.moved) data.drag = { ids: d.ids.slice(0, 12), dx: Math.round(d.dx), dy: Math.round(d.dy) };
    if (d?.kind === 'resize' && d.origs.size === 1) data.box = { id: d.id, ...roundBox(d.box) };
    if (this.extra) Object.assign(data, this.extra());
    this.sync.presence(data);
  }

  /** The peers or what they do changed. */
  peersChanged(): void {
    // Live drags of peers become previews; a drag that ended stays as a
    // ghost until its change arrives (presence can overtake changes).
    const now = Date.now();
    const live = new Set<string>();
    for (const p of this.sync.peers.values()) {
      live.add(p.session);
      const m = new Map<string, Box>();
      const dr = p.data?.drag;
      if (dr) {
        for (const id of dr.ids) {
          // What moves with it, as for one's own drag: a frame's contents, a node's subtopics.
          const e = this.board.get(id);
          if (e) for (const x of [e, ...this.board.descendants(id)]) m.set(x.id, { x: x.x + dr.dx, y: x.y + dr.dy, w: x.w, h: x.h });
        }
      }
      const bx = p.data?.box;
      if (bx && this.board.get(bx.id)) m.set(bx.id, { x: bx.x, y: bx.y, w: bx.w, h: bx.h });
      const before = this.remoteDrag.get(p.session);
      if (before) for (const [id, b] of before) if (!m.has(id)) this.ghost(id, b, now);
      if (m.size) this.remoteDrag.set(p.session, m);
      else this.remoteDrag.delete(p.session);
    }
    for (const s of [...this.remoteDrag.keys()]) if (!live.has(s)) this.remoteDrag.delete(s);
    this.showPeople();
    this.redraw();
  }

  private ghost(id: string, box: Box, now: number): void {
    const e = this.board.get(id);
    if (e) this.ghosts.set(id, { box, base: { x: e.x, y: e.y, w: e.w, h: e.h }, until: now + 1500 });
  }

  /**
   * The peers' boxes to draw instead of the elements' own (ghosts first,
   * then live drags); true while a ghost waits (draw again next frame).
   */
  previews(into: Map<string, Preview>): boolean {
    const now = Date.now();
    for (const [id, g] of this.ghosts) {
      const e = this.board.get(id);
      if (!e || now > g.until || e.x !== g.base.x || e.y !== g.base.y || e.w !== g.base.w || e.h !== g.base.h) this.ghosts.delete(id);
      else into.set(id, g.box);
    }
    for (const m of this.remoteDrag.values()) for (const [id, b] of m) into.set(id, b);
    return this.ghosts.size > 0;
  }

  /** The peers' selections (id → colour) and cursors. */
  remote(): { selection: Map<string, string>; cursors: RemoteCursor[] } {
    const selection = new Map<string, string>();
    const cursors: RemoteCursor[] = [];
    for (const p of this.sync.peers.values()) {
      const color = personColor(p.color);
      for (const id of p.data?.sel ?? []) selection.set(id, color);
      if (p.data?.c) cursors.push({ x: p.data.c.x, y: p.data.c.y, name: p.name, color });
    }
    return { selection, cursors };
  }

  private showPeople(): void {
    const el = this.avatars;
    el.innerHTML = '';
    const me = h('button', { class: 'avatar me', title: tr('presence.me', { name: this.sync.user?.name ?? myName() }), style: `background:${personColor(this.sync.user?.color || myColor())}` }, initials(this.sync.user?.name ?? myName()));
    me.addEventListener('click', () => {
      const n = prompt(tr('presence.rename'), myName());
      if (n && n.trim()) {
        setMyName(n.trim());
        location.reload();
      }
    });
    el.appendChild(me);
    const peers = [...this.sync.peers.values()];
    for (const p of peers.slice(0, 8)) {
      const a = h('button', { type: 'button', class: 'avatar peer' + (this.followed() === p.session ? ' followed' : ''), title: tr('presence.peer', { name: p.name }), 'data-session': p.session, style: `background:${personColor(p.color)}` }, initials(p.name));
      a.addEventListener('click', () => this.onPeer?.(p.session));
      el.appendChild(a);
    }
    if (peers.length > 8) el.appendChild(h('span', { class: 'avatar more' }, '+' + (peers.length - 8)));
    el.setAttribute('data-count', String(peers.length + 1));
    el.title = [this.sync.user?.name ?? myName(), ...peers.map((p: Peer) => p.name)].join(', ');
  }
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts[1]?.[0] ?? '')).toUpperCase();
}
