// The home page: create a board (POST /v1/boards, from a template or
// empty) and open it, open a board file (POST /v1/boards/import), or
// reopen one this browser has seen.
import { myName, setMyName } from './ids';
import { localGet, localKeys, openStore } from './store';
import { createOptions, installAccount } from './account';
import { handOver } from './boardtoken';

export async function startHome(root: HTMLElement): Promise<void> {
  document.title = 'Corkboard';
  root.innerHTML = `
    <main class="home">
      <h1>Corkboard</h1>
      <p class="lead">Infinite whiteboards that many people edit together — live, or days apart, online or not.</p>
      <form class="create">
        <label>Board name <input name="name" required maxlength="200" placeholder="Team retro" autocomplete="off"></label>
        <label>Your name <input name="owner" maxlength="60" autocomplete="nickname"></label>
        <button type="submit">Create board</button>
        <p class="error" hidden></p>
      </form>
      <section class="open-file">
        <button type="button" class="open-board-file">Open a board file</button>
        <span class="hint">A <code>.corkboard.json</code> file downloaded from a board (its whole history) becomes a new board of yours.</span>
        <input type="file" accept=".json,application/json" hidden>
        <p class="error" hidden></p>
      </section>
      <section class="recent" hidden><h2>Recent boards</h2><ul></ul></section>
      <p class="foot">Open a board with the link someone shared with you. <a href="/healthz">Node health</a></p>
    </main>`;
  const form = root.querySelector<HTMLFormElement>('form.create')!;
  const owner = form.elements.namedItem('owner') as HTMLInputElement;
  owner.value = localGet(localKeys.name) ?? '';
  const err = form.querySelector<HTMLElement>('.error')!;
  const extra = createOptions(form);
  void installAccount(root.querySelector('main')!, form.nextElementSibling);
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
      err.textContent = navigator.onLine === false ? 'You are offline: a new board needs the server.' : `Could not create the board: ${(e as Error).message}`;
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
      openErr.textContent = navigator.onLine === false ? 'You are offline: opening a board file needs the server.' : `Could not open ${f.name}: ${(e as Error).message}`;
      openErr.hidden = false;
      openBtn.disabled = false;
    }
  });

  const store = await openStore();
  const boards = (await store.listBoards()).sort((a, b) => b.lastOpened - a.lastOpened).slice(0, 20);
  if (boards.length) {
    const sec = root.querySelector<HTMLElement>('.recent')!;
    const ul = sec.querySelector('ul')!;
    for (const b of boards) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `/b/${b.id}`; // the board page takes the stored token
      a.textContent = b.name || b.id;
      const when = document.createElement('span');
      when.className = 'when';
      when.textContent = new Date(b.lastOpened).toLocaleString();
      li.append(a, ' ', when);
      ul.appendChild(li);
    }
    sec.hidden = false;
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
