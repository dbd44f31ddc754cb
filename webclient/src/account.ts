// People on the client: signing in by e-mailed link, the signed-in state
// (GET /v1/me; the session cookie is HttpOnly, so asking the node is the
// only way to know who we are), the profile, "My boards", and the extra
// choices of a new board (a template, access, password, deadline) — docs/API.md,
// "People, access and the asynchronous board".
//
// On a board page, installBoardAccess attaches the pieces that depend on
// who one is there: the owner's "Share & settings" (share.ts), the
// notification preferences (notify.ts),
// the voting bar (voting.ts), the summary download (summary.ts), the
// Board menu (boardfile.ts: import, history, the board file), and the
// read-only banner. They share one BoardAccess: the board's metadata as
// GET /v1/boards/{board} answers it, refreshed when something may have
// changed it (a role frame, a read_only refusal, a vote, the window
// regaining focus, a slow poll while the page is visible).
//
// Rejected: a new server frame for metadata changes (deadline, voting):
// the protocol is not ours to extend here, and the node already enforces
// both; the client only needs to show them soon, and a refusal tells it at
// once when it matters (an edit after the deadline).
import { api, ApiError } from './api';
import { BoardAccess, type BoardView, type Me, type User } from './boardaccess';
import { fromLocalInput, h as el } from './dom';
import type { Features } from './features';
import { NotifyDialog } from './notify';
import { ShareDialog } from './share';
import { SummaryMenu } from './summary';
import { BoardFileMenu } from './boardfile';
import { VotingBar } from './voting';
import './account.css';
import './pages.css';
import { setMyName } from './ids';
import { askName } from './welcome';
import { language, roleName, t, type Key } from './i18n';

/** Who is signed in, or null (no session, or the node cannot be reached). */
export async function fetchMe(): Promise<Me | null> {
  try {
    // Signed out, the node answers {"user": null} (not a 401: see docs/API.md).
    const me = await api<Me | { user: null }>('GET', '/v1/me');
    return me.user ? (me as Me) : null;
  } catch {
    return null;
  }
}

/** The browser's time zone (IANA name), the default of a profile. */
export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

// ---- the home page ----

/**
 * The account section of the home page, put before `before`: the sign-in
 * form, or who is signed in with their profile and boards.
 */
export async function installAccount(main: HTMLElement, before: Element | null): Promise<Me | null> {
  const sec = el('section', { class: 'account card', 'aria-label': t('account.title') });
  main.insertBefore(sec, before);
  const me = await fetchMe();
  if (me) signedIn(sec, me);
  else signInForm(sec);
  return me;
}

function signInForm(sec: HTMLElement): void {
  sec.innerHTML = '';
  sec.dataset.state = 'signed-out';
  const email = el('input', { name: 'email', type: 'email', required: '', autocomplete: 'email', placeholder: 'you@example.com' });
  const button = el('button', { type: 'submit' }, t('account.signIn'));
  const note = el('p', { class: 'note', hidden: '' });
  const form = el('form', { class: 'signin' }, el('label', {}, t('account.signIn.email') + ' ', email), button, note);
  sec.append(el('h2', {}, t('account.title')), form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    note.classList.remove('error');
    try {
      await api('POST', '/v1/signin', { email: email.value.trim(), next: location.pathname + location.search });
      note.textContent = t('account.signIn.sent', { email: email.value.trim() });
    } catch (e) {
      note.textContent = e instanceof ApiError && e.status === 429 ? t('account.signIn.tooMany') : t('account.signIn.failed', { error: (e as Error).message });
      note.classList.add('error');
      button.disabled = false;
    }
    note.hidden = false;
  });
}

function signedIn(sec: HTMLElement, me: Me): void {
  sec.innerHTML = '';
  sec.dataset.state = 'signed-in';
  const who = el('span', { class: 'who' }, me.user.name || me.user.email);
  who.style.setProperty('--c', me.user.color || '#1c7ed6');
  const mail = el('span', { class: 'mail' }, me.user.email);
  const edit = el('button', { type: 'button', class: 'edit-profile' }, t('account.profile'));
  const out = el('button', { type: 'button', class: 'signout' }, t('account.signOut'));
  sec.append(el('div', { class: 'me' }, who, mail, edit, out));

  const name = el('input', { name: 'name', maxlength: '60', value: me.user.name ?? '' });
  const color = el('input', { name: 'color', type: 'color', value: /^#[0-9a-f]{6}$/i.test(me.user.color ?? '') ? me.user.color! : '#1c7ed6' });
  const tz = el('input', { name: 'tz', list: 'cb-zones', value: me.user.tz || browserZone() });
  const zones = el('datalist', { id: 'cb-zones' });
  for (const z of zoneList()) zones.append(el('option', { value: z }));
  const msg = el('p', { class: 'note', hidden: '' });
  const profile = el(
    'form',
    { class: 'profile', hidden: '' },
    el('label', {}, t('account.name') + ' ', name),
    el('label', {}, t('account.colour') + ' ', color),
    el('label', {}, t('account.tz') + ' ', tz, zones),
    el('button', { type: 'submit' }, t('save')),
    msg,
  );
  sec.append(profile);
  edit.addEventListener('click', () => (profile.hidden = !profile.hidden));
  profile.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.remove('error');
    try {
      const r = await api<{ user: User } | User>('PATCH', '/v1/me', { name: name.value.trim(), color: color.value, tz: tz.value.trim() });
      const u = 'user' in r ? r.user : r;
      me.user = { ...me.user, ...u };
      who.textContent = me.user.name || me.user.email;
      who.style.setProperty('--c', me.user.color || '#1c7ed6');
      if (me.user.name) setMyName(me.user.name);
      msg.textContent = t('saved');
    } catch (e) {
      msg.textContent = t('notSaved', { error: (e as Error).message });
      msg.classList.add('error');
    }
    msg.hidden = false;
  });
  out.addEventListener('click', async () => {
    await api('POST', '/v1/signout').catch(() => {});
    location.reload();
  });

  // The boards are listed by the home page (home.ts), with the others.
}

function zoneList(): string[] {
  const f = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf;
  try {
    return f ? f('timeZone') : [];
  } catch {
    return [];
  }
}

/** The templates a new board may start from (POST /v1/boards {"template"}; "": an empty board). */
export const TEMPLATES: [string, Key][] = [
  ['', 'template.empty'],
  ['brainstorm', 'template.brainstorm'],
  ['retro', 'template.retro'],
  ['swot', 'template.swot'],
  ['mindmap', 'template.mindmap'],
  ['kanban', 'template.kanban'],
];

/**
 * Adds template, access, password and deadline fields to the home page's create
 * form, before its submit button; the returned function gives the extra
 * fields of the POST /v1/boards body (or throws a message for people).
 */
export function createOptions(form: HTMLFormElement): () => Record<string, unknown> {
  const access = el('select', { name: 'access' }, el('option', { value: 'public' }, t('access.public')), el('option', { value: 'password' }, t('access.password')), el('option', { value: 'members' }, t('access.members')));
  const password = el('input', { name: 'password', type: 'password', minlength: '8', maxlength: '200', autocomplete: 'new-password' });
  const pwLabel = el('label', { class: 'pw', hidden: '' }, t('create.password') + ' ', password);
  const deadline = el('input', { name: 'deadline', type: 'datetime-local' });
  const template = el('select', { name: 'template' });
  for (const [v, label] of TEMPLATES) template.append(el('option', { value: v }, t(label)));
  const box = el('fieldset', { class: 'access' }, el('label', { class: 'template' }, t('create.template') + ' ', template), el('label', {}, t('share.whoMayEnter') + ' ', access), pwLabel, el('label', {}, t('create.deadline') + ' ', deadline));
  form.insertBefore(box, form.querySelector('button[type=submit]'));
  access.addEventListener('change', () => {
    pwLabel.hidden = access.value !== 'password';
    password.required = access.value === 'password';
  });
  return () => {
    const out: Record<string, unknown> = {};
    if (access.value !== 'public') out.access = access.value;
    if (access.value === 'password') out.password = password.value;
    const d = fromLocalInput(deadline.value);
    if (d) out.deadline = d;
    if (template.value) out.template = template.value;
    return out;
  };
}

// ---- the board page ----

/**
 * The board's one Share entry point: the top bar's Share button, which
 * until now copied a link (boardlinks.ts), opens the Share dialog from
 * here on: for everyone its "Copy link" first, for the owner the settings,
 * links, members and invitations below it. The button is replaced by a
 * copy of itself (which drops the board page's listener) so that the page
 * needs no hook for it.
 *
 * Rejected: the owner's separate "Share & settings" entry in the bottom
 * menu next to the top bar's Share (two buttons named Share doing
 * different things), and Share opening the dialog for owners only (the
 * same button would mean two things).
 */
function takeShareButton(f: Features, open: () => void): HTMLButtonElement {
  const old = f.host.root.querySelector<HTMLButtonElement>('button.share');
  const b = (old?.cloneNode(true) as HTMLButtonElement | undefined) ?? el('button', { type: 'button', class: 'share' }, t('ui.share'));
  b.classList.add('cb-share-btn');
  b.setAttribute('aria-haspopup', 'dialog');
  b.addEventListener('click', open);
  if (old) old.replaceWith(b);
  return b;
}

/** How often the board's metadata is read again while the page is visible. */
const POLL_MS = 10_000;

/**
 * Attaches the access pieces to a board page (see the file comment).
 * Returns the shared state (also on window.__corkboard.access).
 */
export function installBoardAccess(f: Features): BoardAccess {
  const a = new BoardAccess(f);
  const banner = el('div', { class: 'cb-banner', role: 'status', hidden: '' });
  const bannerText = el('span');
  const reopen = el('button', { type: 'button', hidden: '' }, t('board.reopen'));
  // Dismissed until it says something else (the top bar's chip still says "Closed").
  const dismiss = el('button', { type: 'button', class: 'close', title: t('board.hide'), 'aria-label': t('board.hide') }, '×');
  let dismissed = '';
  dismiss.addEventListener('click', () => {
    dismissed = bannerText.textContent ?? '';
    banner.hidden = true;
  });
  banner.append(bannerText, reopen, dismiss);
  f.notices.prepend(banner);
  reopen.addEventListener('click', async () => {
    try {
      a.set(await a.call<BoardView>('PATCH', '', { deadline: 0 }));
      f.host.toast(t('board.reopened'));
    } catch (e) {
      f.host.toast(t('board.reopenFailed', { error: (e as Error).message }), true);
    }
  });

  const share = new ShareDialog(a);
  const notify = new NotifyDialog(a);
  const voting = new VotingBar(a);
  const summary = new SummaryMenu(a);
  const boardFile = new BoardFileMenu(a);
  const shareBtn = takeShareButton(f, () => share.open());
  const notifyBtn = f.button(t('notify.title'), t('board.notify.title'), () => notify.open(), 'cb-notify-btn');
  notifyBtn.hidden = true;

  let setRO = false;
  const update = () => {
    const closed = a.closed;
    const votingClosed = a.view?.board.voting?.state === 'closed';
    shareBtn.title = a.isOwner ? t('share.title.owner') : t('board.share.title');
    notifyBtn.hidden = !a.me || !a.view || a.view.you.id !== a.me.user.id;
    let text = '';
    if (closed) {
      const d = a.view?.board.deadline;
      text = d ? t('board.closedAt', { when: new Date(d).toLocaleString(language()) }) : t('board.closed');
    } else if (votingClosed || /voting/.test(a.refused)) {
      text = t('board.votingClosed');
    }
    bannerText.textContent = text;
    banner.hidden = !text || text === dismissed;
    banner.dataset.reason = closed ? 'deadline' : text ? 'voting' : '';
    reopen.hidden = !(closed && a.isOwner);
    if (closed !== setRO) {
      setRO = closed;
      f.host.setReadOnly(closed);
    }
    f.host.root.classList.toggle('cb-closed', closed);
    share.update();
    voting.update();
    boardFile.update();
  };
  a.onChange(update);

  // The node's frames: a new role, and refusals of a closed board.
  f.host.sync.listeners.push((fr) => {
    if (fr.type === 'role') {
      f.host.toast(t('board.roleNow', { role: roleName(String(fr.role)) }));
      void a.refresh();
      a.emit();
    } else if (fr.type === 'settings') {
      // Voting and the rest (timer.ts took the deadline and the timer from
      // the frame already); spread over half a second, as every page of
      // the board reads it at once.
      setTimeout(() => void a.refresh(), Math.random() * 500);
    } else if (fr.type === 'error' && fr.code === 'read_only') {
      a.refused = String(fr.message ?? 'read only');
      void a.refresh();
      a.emit();
    }
  });
  // Votes change the dots left, and may be the first sign of a session.
  f.onChange(() => voting.changed());

  const poll = () => {
    if (document.visibilityState !== 'hidden') void a.refresh();
  };
  setInterval(poll, POLL_MS);
  addEventListener('focus', poll);
  document.addEventListener('visibilitychange', poll);

  void Promise.all([a.refresh(), fetchMe().then((m) => (a.me = m))]).then(() => {
    update();
    // A member still named after their address: asked for a name (welcome.ts).
    if (a.view && a.me && a.view.you.id === a.me.user.id) askName(a);
  });
  const dbg = (window as unknown as { __corkboard?: Record<string, unknown> }).__corkboard;
  if (dbg) {
    dbg.access = a;
    dbg.boardFile = boardFile;
  }
  void summary;
  return a;
}
