// The name a member is shown by, asked when they first arrive. A new
// account (made by an e-mailed invite or sign-in link) is named after its
// address's local part ("ana.silva"), which the others then see on the
// cursors, the comments and the summary. A member whose name is still
// that default is asked once, on the board, for the name the others
// should see (a suggestion made from the address: "Ana Silva"), stored
// with the profile API (PATCH /v1/me). "Not now" is remembered in this
// browser; the profile (home page) still changes it later.
//
// A panel beside the board, not a modal dialog: the board stays usable
// (and readable) while it is open, so whoever arrives to read first is not
// stopped at the door. Rejected: asking on the invite's confirm page
// (served by the node without the client's code, before there is a
// session to store a name with), and a browser prompt() (no suggestion,
// no way to style or test it, and it blocks the page).
import { t } from './i18n';
import { api } from './api';
import type { BoardAccess, User } from './boardaccess';
import { h } from './dom';
import { localGet, localSet } from './store';
import { setMyName } from './ids';

/** The node's default name of an account (account.DefaultName). */
export function defaultName(email: string): string {
  const local = email.split('@')[0] ?? '';
  return local || 'Someone'; // the node's word, not shown as such
}

/** A name suggested from an address: "ana.silva-ruiz@…" → "Ana Silva Ruiz". */
export function suggestName(email: string): string {
  return (email.split('@')[0] ?? '')
    .split(/[._+\-\d]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');
}

/** The member was asked here (in localStorage through store.ts, as the keys of localKeys). */
const skipKey = (user: string) => 'cb.named.' + user;

/** Asks a signed-in member for their name if they have the default one (see the file comment). */
export function askName(a: BoardAccess): void {
  const me = a.me?.user;
  if (!me || me.name !== defaultName(me.email) || localGet(skipKey(me.id))) return;
  if (document.querySelector('.cb-welcome')) return;
  const input = h('input', { name: 'name', required: '', maxlength: '80', autocomplete: 'name', value: suggestName(me.email) || me.name });
  const msg = h('p', { class: 'note', role: 'status' });
  const later = h('button', { type: 'button', class: 'later' }, t('welcome.later'));
  const form = h(
    'form',
    { class: 'welcome-form' },
    h('p', { class: 'hint' }, t('welcome.hint')),
    h('label', {}, t('welcome.name') + ' ', input),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, t('save')), later),
    msg,
  );
  const panel = h('section', { class: 'cb-welcome card', role: 'dialog', 'aria-labelledby': 'cb-welcome-h' }, h('h2', { id: 'cb-welcome-h' }, t('welcome.title')), form);
  const close = (remember: boolean) => {
    if (remember) localSet(skipKey(me.id), '1');
    panel.remove();
  };
  later.addEventListener('click', () => close(true));
  panel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') close(true);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    if (!name) return;
    try {
      const r = await api<{ user: User } | User>('PATCH', '/v1/me', { name });
      const u = 'user' in r ? r.user : r;
      if (a.me) a.me.user = { ...a.me.user, ...u };
      setMyName(name);
      close(true);
      // The connection carries the name it was opened with: open it again.
      location.reload();
    } catch (e) {
      msg.textContent = t('notSaved', { error: (e as Error).message });
      msg.classList.add('error');
    }
  });
  document.body.appendChild(panel);
  input.focus();
  input.select();
}
