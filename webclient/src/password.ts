// The password prompt of a password board: GET /v1/boards/{board} answered
// 401 with a message about the password; the person gives the password and
// a display name, POST /v1/boards/{board}/join checks it. A signed-in
// person becomes a member (the session cookie does the rest: reload); a
// guest gets a board token, which the page then uses like a link's token
// (the page is loaded again with it, so Sync, the stored record and the
// REST calls all take it the one way they already take link tokens).
// Wrong passwords and the node's rate limit (429) are said as such.
import { api, ApiError, h } from './account';
import { myName, setMyName } from './ids';

/** Whether a refusal's message asks for the board's password. */
export function needsPassword(message: string): boolean {
  return /password/i.test(message);
}

/**
 * Shows the prompt over the page when message is about the password
 * (returns false otherwise, and does nothing).
 */
export function askPassword(root: HTMLElement, boardId: string, message: string): boolean {
  if (!needsPassword(message)) return false;
  root.querySelector('.cb-password')?.remove();
  const pw = h('input', { name: 'password', type: 'password', required: '', autocomplete: 'current-password', maxlength: '200' });
  const name = h('input', { name: 'name', maxlength: '60', autocomplete: 'nickname', value: localStorage.getItem('cb.name') ?? '' });
  const err = h('p', { class: 'error', role: 'alert', hidden: '' });
  const go = h('button', { type: 'submit' }, 'Enter');
  const form = h(
    'form',
    { class: 'cb-password fatal' },
    h('h1', {}, 'Corkboard'),
    h('p', {}, 'This board is protected by a password.'),
    h('label', {}, 'Password ', pw),
    h('label', {}, 'Your name ', name),
    go,
    err,
    h('p', {}, h('a', { href: '/' }, 'Home')),
  );
  root.appendChild(form);
  pw.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    err.hidden = true;
    const who = name.value.trim() || myName();
    if (name.value.trim()) setMyName(who);
    try {
      const j = await api<{ role: string; token?: string }>('POST', `/v1/boards/${boardId}/join`, { password: pw.value, name: who });
      const url = new URL(location.href);
      if (j.token) url.searchParams.set('token', j.token);
      else url.searchParams.delete('token');
      location.replace(url.toString());
    } catch (e) {
      const s = e instanceof ApiError ? e.status : 0;
      err.textContent =
        s === 429 ? 'Too many wrong passwords from here: wait a quarter of an hour and try again.' : s === 401 ? 'Wrong password.' : `Could not enter: ${(e as Error).message}`;
      err.hidden = false;
      go.disabled = false;
      pw.select();
    }
  });
  return true;
}
