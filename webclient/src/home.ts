// The home page: create a board (POST /v1/boards, from a template or
// empty) and open it, open a board file (POST /v1/boards/import), and the
// list of one's boards: those this browser has opened and, signed in,
// those one is a member of. Each board is a card with its thumbnail (GET
// …/thumbnail.svg, drawn by the node), when it last changed, who is in it
// (GET …/members) and what changed since one last looked (GET …/changes).
//
// Each card asks the node with the credential this browser has for the
// board (its stored token, else the session cookie), as the board page
// would: a board the node no longer lets one read shows its name alone.
// The thumbnail is fetched (the token goes in a header, never in an
// address) and shown from a blob: URL.
import { myName, setMyName } from './ids';
import { localGet, localKeys, openStore, type BoardRecord } from './store';
import { createOptions, installAccount } from './account';
import { handOver } from './boardtoken';
import { groupChanges, type ChangeEvent } from './changelines';
import { h } from './dom';
import type { Me } from './boardaccess';
import { language, roleName, t, type Key, type Params } from './i18n';

/** Text for innerHTML. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function startHome(root: HTMLElement): Promise<void> {
  document.title = 'Corkboard';
  const e = (k: Key, p?: Params) => esc(t(k, p));
  root.innerHTML = `
    <div class="page home-page">
      <header class="page-top"><a class="brand" href="/"><span class="brand-mark" aria-hidden="true"></span>Corkboard</a></header>
      <main class="home">
        <section class="hero">
          <h1>${e('home.title')}</h1>
          <p class="lead">${e('home.lead')}</p>
        </section>
        <div class="home-grid">
          <section class="card new-board" aria-labelledby="new-board-h">
            <h2 id="new-board-h">${e('home.new')}</h2>
            <form class="create">
              <label>${e('home.boardName')} <input name="name" required maxlength="200" placeholder="${e('home.boardName.placeholder')}" autocomplete="off"></label>
              <label>${e('home.yourName')} <input name="owner" maxlength="60" autocomplete="nickname"></label>
              <button type="submit" class="primary">${e('home.create')}</button>
              <p class="error" role="alert" hidden></p>
            </form>
          </section>
          <div class="home-side">
            <section class="card open-file" aria-labelledby="open-file-h">
              <h2 id="open-file-h">${e('home.openFile')}</h2>
              <p class="hint">${e('home.openFile.hint', { file: '\u0000' }).replace('\u0000', '<code>.corkboard.json</code>')}</p>
              <button type="button" class="open-board-file">${e('home.openFile.choose')}</button>
              <input type="file" accept=".json,application/json" hidden aria-label="${e('home.openFile.input')}">
              <p class="error" role="alert" hidden></p>
            </section>
          </div>
        </div>
        <section class="recent" aria-labelledby="recent-h" hidden><h2 id="recent-h">${e('home.yours')}</h2><ul class="board-cards"></ul></section>
        <p class="foot">${e('home.foot')} <a href="/healthz">${e('home.health')}</a></p>
      </main>
    </div>`;
  const form = root.querySelector<HTMLFormElement>('form.create')!;
  const owner = form.elements.namedItem('owner') as HTMLInputElement;
  owner.value = localGet(localKeys.name) ?? '';
  const err = form.querySelector<HTMLElement>('.error')!;
  const extra = createOptions(form);
  const side = root.querySelector<HTMLElement>('.home-side')!;
  const meP = installAccount(side, side.firstElementChild);
  // Signed in: one's profile name, not a name this browser made up.
  void meP.then((me) => {
    if (me?.user.name && document.activeElement !== owner) owner.value = me.user.name;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = (form.elements.namedItem('name') as HTMLInputElement).value.trim();
    const ownerName = owner.value.trim();
    if (ownerName) setMyName(ownerName);
    err.hidden = true;
    const button = form.querySelector('button')!;
    button.disabled = true;
    try {
      const r = await fetch('/v1/boards', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name, ownerName: ownerName || myName(), ...extra() }),
      });
      const j = await r.json();
      if (!r.ok) throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
      await enter(j);
    } catch (e) {
      err.textContent = navigator.onLine === false ? t('home.create.offline') : t('home.create.failed', { error: (e as Error).message });
      err.hidden = false;
      button.disabled = false;
    }
  });

  // A board file (GET …/export) made into a new board (POST /v1/boards/import).
  const open = root.querySelector<HTMLElement>('.open-file')!;
  const file = open.querySelector('input')!;
  const openBtn = open.querySelector('button')!;
  const openErr = open.querySelector<HTMLElement>('.error')!;
  openBtn.addEventListener('click', () => file.click());
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    file.value = '';
    if (!f) return;
    openErr.hidden = true;
    openBtn.disabled = true;
    try {
      const r = await fetch('/v1/boards/import', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: f });
      const j = await r.json().catch(() => null);
      if (!r.ok) throw new Error(j?.error?.message ?? `HTTP ${r.status}`);
      await enter(j);
    } catch (e) {
      openErr.textContent = navigator.onLine === false ? t('home.openFile.offline') : t('home.openFile.failed', { file: f.name, error: (e as Error).message });
      openErr.hidden = false;
      openBtn.disabled = false;
    }
  });

  const store = await openStore();
  const local = await store.listBoards();
  const me = await meP;
  const list = boardList(local, me);
  if (list.length) {
    const sec = root.querySelector<HTMLElement>('.recent')!;
    const ul = sec.querySelector('ul')!;
    for (const b of list) ul.appendChild(boardCard(b));
    sec.hidden = false;
  }
  (window as unknown as { __corkboardHome?: unknown }).__corkboardHome = { boards: list.length };
}

/** One board of the list, with what this browser knows of it. */
interface Listed {
  id: string;
  name: string;
  role?: string;
  /** The token this browser keeps for it (else the session is used). */
  token?: string;
  lastOpened?: number;
}

/** The boards to list: opened here (most recent first), then the member's others; at most 24. */
export function boardList(local: BoardRecord[], me: Me | null): Listed[] {
  const out = new Map<string, Listed>();
  for (const b of [...local].sort((x, y) => (y.lastOpened ?? 0) - (x.lastOpened ?? 0))) {
    out.set(b.id, { id: b.id, name: b.name || b.id, role: b.role, token: b.token, lastOpened: b.lastOpened });
  }
  for (const m of me?.boards ?? []) {
    const cur = out.get(m.board.id);
    if (cur) cur.role = m.role;
    else out.set(m.board.id, { id: m.board.id, name: m.board.name || m.board.id, role: m.role });
  }
  return [...out.values()].slice(0, 24);
}

/** "5 minutes ago", in the page's language. */
export function ago(ms: number, now = Date.now()): string {
  const rtf = new Intl.RelativeTimeFormat(language(), { numeric: 'auto' });
  const s = Math.round((ms - now) / 1000);
  const steps: [number, Intl.RelativeTimeFormatUnit][] = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [30, 'day'],
    [12, 'month'],
  ];
  if (Math.abs(s) < 45) return rtf.format(0, 'second');
  let v = s;
  for (const [n, unit] of steps) {
    if (Math.abs(v) < n) return rtf.format(v, unit);
    v = Math.round(v / n);
  }
  return rtf.format(v, 'year');
}

function initials(name: string): string {
  return (
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]!.toUpperCase())
      .join('') || '?'
  );
}

/** A card of the list; its thumbnail, people and changes arrive as the node answers. */
function boardCard(b: Listed): HTMLElement {
  const href = `/b/${b.id}`; // the board page takes the stored token
  const img = h('img', { alt: '', width: '240', height: '150', loading: 'lazy' });
  const thumb = h('a', { class: 'thumb', href, tabindex: '-1', 'aria-hidden': 'true' }, img);
  const title = h('a', { class: 'title', href }, b.name);
  const meta = h('p', { class: 'meta' });
  if (b.role) meta.append(h('span', { class: 'role-chip' }, roleName(b.role)));
  const changed = h('span', { class: 'changed' });
  meta.append(changed);
  if (b.lastOpened) meta.append(h('span', { class: 'when' }, t('home.card.opened', { when: ago(b.lastOpened) })));
  const who = h('ul', { class: 'who', 'aria-label': t('home.card.people') });
  const since = h('div', { class: 'since-home' });
  const li = h('li', { class: 'board-card', 'data-board': b.id }, thumb, h('div', { class: 'info' }, title, meta, who, since));
  void fill(b, img, changed, who, since, li);
  return li;
}

async function fill(b: Listed, img: HTMLImageElement, changed: HTMLElement, who: HTMLElement, since: HTMLElement, li: HTMLElement): Promise<void> {
  const headers: Record<string, string> = b.token ? { Authorization: 'Bearer ' + b.token } : {};
  const get = (path: string) => fetch(`/v1/boards/${b.id}${path}`, { headers, credentials: 'same-origin' });
  const [th, m, c] = await Promise.allSettled([get('/thumbnail.svg'), get('/members'), get('/changes')]);
  if (th.status === 'fulfilled' && th.value.ok) {
    img.src = URL.createObjectURL(await th.value.blob());
    img.alt = t('home.card.picture', { name: b.name });
    const lm = Date.parse(th.value.headers.get('Last-Modified') ?? '');
    if (lm) {
      changed.textContent = t('home.card.changed', { when: ago(lm) });
      changed.title = new Date(lm).toLocaleString();
    }
  } else {
    li.classList.add('unreachable');
  }
  if (m.status === 'fulfilled' && m.value.ok) {
    const { members } = (await m.value.json()) as { members: { user: string; name?: string; color?: string }[] };
    const shown = members.slice(0, 5);
    for (const p of shown) {
      const name = p.name || t('someone');
      const a = h('li', { class: 'avatar', title: name }, h('span', { 'aria-hidden': 'true' }, initials(name)), h('span', { class: 'sr-only' }, name));
      a.style.setProperty('--c', /^#[0-9a-f]{6}$/i.test(p.color ?? '') ? p.color! : '#868e96');
      who.append(a);
    }
    if (members.length > shown.length) who.append(h('li', { class: 'avatar more' }, `+${members.length - shown.length}`));
  }
  if (c.status === 'fulfilled' && c.value.ok) {
    const j = (await c.value.json()) as { seenAt: number; events: ChangeEvent[]; names: Record<string, string> };
    if (j.seenAt > 0) {
      const lines = groupChanges(j.events, j.names ?? {});
      if (!lines.length) since.append(h('p', { class: 'quiet' }, t('home.card.nothingNew')));
      else {
        since.append(h('p', { class: 'count' }, t('home.card.changes', { n: lines.length })));
        const ul = h('ul', {});
        for (const l of lines.slice(0, 3)) ul.append(h('li', {}, l.text));
        if (lines.length > 3) ul.append(h('li', { class: 'more' }, t('home.card.more', { n: lines.length - 3 })));
        since.append(ul);
      }
    }
  }
}

/**
 * Goes to a board this browser just made (POST /v1/boards or
 * /v1/boards/import answered it): its owner token is kept in this
 * browser, never put in the address (boardtoken.ts), since the board's
 * address is what people copy.
 */
async function enter(j: { board: { id: string; name: string }; token: string; links?: Record<string, string> }): Promise<void> {
  const store = await openStore();
  handOver(j.board.id, j.token);
  await store.putBoard({ id: j.board.id, name: j.board.name, token: j.token, role: 'owner', links: j.links, lastOpened: Date.now() });
  location.assign(`/b/${j.board.id}`);
}
