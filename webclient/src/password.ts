// The password prompt of a password board: GET /v1/boards/{board} answered
// 401 with a message about the password; the person gives the password and
// a display name, POST /v1/boards/{board}/join checks it. A signed-in
// person becomes a member (the session cookie does the rest: reload); a
// guest gets a board token, which the page then uses like a link's token
// (handed over as a link's is, boardtoken.ts, and the page loaded again, so
// Sync, the stored record and the REST calls all take it the one way they
// take link tokens; it never shows in the address).
// Wrong passwords and the node's rate limit (429) are said as such. A
// members-only board asks a visitor without a session to sign in instead;
// on a password board a member not signed in here may sign in instead of
// giving the password (which would make them a guest).
import { t } from './i18n';
import { api, ApiError } from './api';
import { h } from './dom';
import { myName, setMyName } from './ids';
import { handOver } from './boardtoken';
import { localGet, localKeys } from './store';

/**
 * A node's refusal in words for people: the API's messages name the
 * request to make ("(POST /v1/boards/{board}/join)"), which is for
 * developers.
 */
export function refusalText(message: string): string {
  if (needsPassword(message)) return t('refusal.password');
  if (needsSignIn(message)) return t('refusal.signIn');
  if (/revoked/i.test(message)) return t('refusal.revoked');
  return message.replace(/\s*\((?:GET|POST|PUT|PATCH|DELETE) [^)]*\)/g, '');
}

/** Whether a refusal's message asks for the board's password. */
export function needsPassword(message: string): boolean {
  return /password/i.test(message);
}

/** Whether a refusal's message asks to sign in (a members-only board). */
export function needsSignIn(message: string): boolean {
  return /sign in/i.test(message);
}

/**
 * Shows the prompt over the page when message is about the password, or a
 * sign-in form when it asks to sign in (returns false otherwise, and does
 * nothing).
 */
export function askPassword(root: HTMLElement, boardId: string, message: string): boolean {
  if (!needsPassword(message)) return needsSignIn(message) && askSignIn(root, boardId);
  root.querySelector('.cb-password')?.remove();
  const pw = h('input', { name: 'password', type: 'password', required: '', autocomplete: 'current-password', maxlength: '200' });
  const name = h('input', { name: 'name', maxlength: '60', autocomplete: 'nickname', value: localGet(localKeys.name) ?? '' });
  const err = h('p', { class: 'error', role: 'alert', hidden: '' });
  const go = h('button', { type: 'submit' }, t('password.enter'));
  const memberBtn = h('button', { type: 'button', class: 'signin-instead' }, t('password.signIn'));
  const member = h('p', { class: 'member' }, t('password.member') + ' ', memberBtn);
  // In another site's frame (/embed/): no sign-in (the session's cookie is
  // not sent to a frame of another site, so it would not let them in
  // there), and no link away (it would navigate the host page's frame).
  const embedded = inEmbed();
  if (embedded) member.hidden = true;
  const form = h(
    'form',
    { class: 'cb-password fatal' },
    h('h1', {}, 'Corkboard'),
    h('p', {}, t('password.lead')),
    h('label', {}, t('share.password') + ' ', pw),
    h('label', {}, t('home.yourName') + ' ', name),
    go,
    err,
    member,
    homeLink(),
  );
  root.appendChild(form);
  pw.focus();
  // A member who is not signed in here (invited by e-mail, never told the
  // password; the owner on another device) signs in instead: the password
  // would only make them a guest.
  memberBtn.addEventListener('click', () => {
    form.remove();
    askSignIn(root, boardId, t('password.signInLead'));
  });
  void api<{ user: unknown }>('GET', '/v1/me').then(
    (me) => (member.hidden = embedded || !!me?.user), // signed in already: the password makes them a member
    () => {},
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    err.hidden = true;
    const who = name.value.trim() || myName();
    if (name.value.trim()) setMyName(who);
    try {
      const j = await api<{ role: string; token?: string }>('POST', `/v1/boards/${boardId}/join`, { password: pw.value, name: who });
      if (j.token && !handOver(boardId, j.token)) {
        // No localStorage: the fragment carries it, and the page takes it out at once.
        location.replace(`${location.pathname}${location.search}#token=${encodeURIComponent(j.token)}`);
      }
      location.reload();
    } catch (e) {
      const s = e instanceof ApiError ? e.status : 0;
      err.textContent =
        s === 429 ? t('password.tooMany') : s === 401 ? t('password.wrong') : t('password.failed', { error: (e as Error).message });
      err.hidden = false;
      go.disabled = false;
      pw.select();
    }
  });
  return true;
}

/** A members-only board without a session: sign in (the link comes back to this board). */
function askSignIn(root: HTMLElement, boardId: string, lead = t('signin.lead')): boolean {
  root.querySelector('.cb-signin')?.remove();
  const email = h('input', { name: 'email', type: 'email', required: '', autocomplete: 'email', placeholder: 'you@example.com' });
  const note = h('p', { class: 'note', role: 'status', hidden: '' });
  const go = h('button', { type: 'submit' }, t('signin.send'));
  const form = h(
    'form',
    { class: 'cb-password cb-signin fatal' },
    h('h1', {}, 'Corkboard'),
    h('p', {}, lead),
    h('label', {}, t('signin.email') + ' ', email),
    go,
    note,
    homeLink(),
  );
  root.appendChild(form);
  email.focus();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    note.classList.remove('error');
    try {
      await api('POST', '/v1/signin', { email: email.value.trim(), next: `/b/${boardId}` });
      note.textContent = t('signin.sent', { email: email.value.trim() });
    } catch (e) {
      note.textContent = e instanceof ApiError && e.status === 429 ? t('account.signIn.tooMany') : t('account.signIn.failed', { error: (e as Error).message });
      note.classList.add('error');
      go.disabled = false;
    }
    note.hidden = false;
  });
  return true;
}

/** Whether the page is a board embedded in another site's frame (/embed/{board}). */
function inEmbed(): boolean {
  return location.pathname.startsWith('/embed/');
}

/** The prompt's link to the node's home page: none in an embed's frame (it would navigate the host page's frame away from the board). */
function homeLink(): HTMLElement | string {
  return inEmbed() ? '' : h('p', {}, h('a', { href: '/' }, t('ui.home')));
}
