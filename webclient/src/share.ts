// The owner's "Share & settings" dialog: who may enter (access, password,
// the role of visitors), the deadline (a date-time; "closed" once past,
// with reopen), role links (made per role, each shown once, listed and
// revoked one by one or all at once), the members with their roles,
// invitations by e-mail or as a link, and webhooks (their secret shown
// once). Every control calls the REST API of docs/API.md at once and shows
// the node's answer; nothing is kept locally but the page's own token.
//
// Links: the node keeps a record per link and gives its URL (the token in
// the fragment, boardtoken.ts) only in the answer that made it, so the
// dialog shows it once, with a copy button; the list has the links' roles
// and dates, never their tokens. Revoking every link (or setting a
// password) also ends the owner's token: the answer carries a new one,
// which the page takes at once (FeatureHost.setToken), so the owner keeps
// the board.
//
// A native <dialog> (modal): focus stays inside and Esc closes it, with no
// code of ours for either.
import { ApiError } from './api';
import type { BoardAccess, BoardView } from './boardaccess';
import { fromLocalInput, h, toLocalInput } from './dom';
import { language, roleName, t, type Key } from './i18n';

interface Member {
  user: string;
  name: string;
  email?: string;
  color?: string;
  role: string;
  joined?: number;
}

interface Invite {
  id: string;
  /** Empty for an invite link (no e-mail). */
  email?: string;
  role: string;
  created: number;
  expires: number;
  used?: boolean | number;
  revoked?: boolean | number;
}

interface Link {
  id: string;
  role: string;
  created: number;
}

interface Webhook {
  id: string;
  url: string;
  events?: string[];
}

const ROLES = ['editor', 'commenter', 'viewer'];
const EVENTS = ['element', 'comment', 'vote', 'deadline'];

/** A URL shown once (a new link), with a copy button. */
class ShownOnce {
  readonly el: HTMLElement;
  private label = h('span', { class: 'label' });
  private input = h('input', { class: 'link-url', readonly: '', 'aria-label': t('share.link') });
  /** The link record shown (when it is a role link). */
  id = '';

  constructor(private say: (text: string, error?: boolean) => void) {
    const copy = h('button', { type: 'button', class: 'copy-link' }, t('share.copy'));
    copy.addEventListener('click', () => void this.copy());
    this.input.addEventListener('focus', () => this.input.select());
    this.el = h('div', { class: 'minted', hidden: '' }, this.label, h('div', { class: 'row' }, this.input, copy));
  }

  show(label: string, url: string, id = ''): void {
    this.label.textContent = label;
    this.input.value = url;
    this.id = id;
    this.el.dataset.link = id;
    this.el.hidden = false;
    this.input.focus();
  }

  hide(): void {
    this.el.hidden = true;
    this.input.value = '';
    this.id = '';
    delete this.el.dataset.link;
  }

  private async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.input.value);
      this.say(t('share.copied'));
    } catch {
      this.input.select();
      this.say(t('share.copySelected'));
    }
  }
}

function roleSelect(value: string, name = 'role'): HTMLSelectElement {
  const s = h('select', { name });
  for (const r of ROLES) s.append(h('option', { value: r }, roleName(r)));
  s.value = value;
  return s;
}

export class ShareDialog {
  readonly dialog: HTMLDialogElement;
  private access: HTMLSelectElement;
  private password: HTMLInputElement;
  private pwRow: HTMLElement;
  private publicRole: HTMLSelectElement;
  private deadline: HTMLInputElement;
  private deadlineState: HTMLElement;
  private msg: HTMLElement;
  private members: HTMLElement;
  private invites: HTMLElement;
  private links: HTMLElement;
  private newLink: ShownOnce;
  private inviteLink: ShownOnce;
  private hooks: HTMLElement;
  private secret: HTMLElement;
  private title: HTMLElement;
  /** The owner's part: settings, links, members, invitations, webhooks. */
  private ownerPart: HTMLElement;

  constructor(private a: BoardAccess) {
    const d = (this.dialog = h('dialog', { class: 'cb-dialog cb-share', 'aria-label': t('share.title.owner') }));
    this.access = h('select', { name: 'access' }, h('option', { value: 'public' }, t('access.public')), h('option', { value: 'password' }, t('access.password')), h('option', { value: 'members' }, t('access.members')));
    this.password = h('input', { name: 'password', type: 'password', maxlength: '200', autocomplete: 'new-password', placeholder: t('share.password.unchanged') });
    this.pwRow = h('label', {}, t('share.password') + ' ', this.password);
    this.publicRole = roleSelect('editor', 'publicRole');
    this.deadline = h('input', { name: 'deadline', type: 'datetime-local' });
    this.deadlineState = h('span', { class: 'deadline-state' });
    this.msg = h('p', { class: 'note', role: 'status' });
    const save = h('button', { type: 'submit', class: 'save' }, t('save'));
    const clear = h('button', { type: 'button', class: 'clear-deadline' }, t('share.noDeadline'));
    const settings = h(
      'form',
      { class: 'settings', method: 'dialog' },
      h('h3', {}, t('share.access')),
      h('label', {}, t('share.whoMayEnter') + ' ', this.access),
      this.pwRow,
      h('label', {}, t('share.visitorsMay') + ' ', this.publicRole),
      h('label', {}, t('share.closesAt') + ' ', this.deadline, ' ', this.deadlineState),
      h('div', { class: 'row' }, save, clear),
    );
    this.access.addEventListener('change', () => this.showPw());
    settings.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.saveSettings();
    });
    clear.addEventListener('click', () => void this.patch({ deadline: 0 }, t('share.deadlineCleared')));

    const say = (t: string, e?: boolean) => this.say(t, e);
    this.links = h('ul', { class: 'links' });
    this.newLink = new ShownOnce(say);
    const mint = h('div', { class: 'row new-links' });
    for (const r of ROLES) {
      const b = h('button', { type: 'button', class: 'new-link', 'data-role': r }, t('share.newLink', { role: roleName(r) }));
      b.addEventListener('click', () => void this.mint(r));
      mint.append(b);
    }
    const revoke = h('button', { type: 'button', class: 'revoke-links' }, t('share.revokeAll'));
    revoke.addEventListener('click', () => {
      if (confirm(t('share.revokeAll.confirm')))
        void this.patch({ revokeLinks: true }, t('share.revokeAll.done'));
    });
    const linksSection = h(
      'section',
      { class: 'links-section' },
      h('h3', {}, t('share.links')),
      h('p', { class: 'hint' }, t('share.links.hint')),
      mint,
      this.newLink.el,
      this.links,
      h('div', { class: 'row' }, revoke),
    );

    this.members = h('ul', { class: 'members' });
    const email = h('input', { name: 'email', type: 'email', required: '', placeholder: 'name@example.com', 'aria-label': t('share.invite.email'), autocomplete: 'off' });
    const role = roleSelect('editor');
    role.setAttribute('aria-label', t('share.invite.role'));
    const invite = h('form', { class: 'invite' }, email, role, h('button', { type: 'submit' }, t('share.invite')));
    invite.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.invite(email, role.value);
    });
    this.invites = h('ul', { class: 'invites' });
    this.inviteLink = new ShownOnce(say);
    const linkRole = roleSelect('editor');
    linkRole.setAttribute('aria-label', t('share.inviteLink.role'));
    const inviteLink = h('form', { class: 'invite-link' }, linkRole, h('button', { type: 'submit' }, t('share.inviteLink.copy')));
    inviteLink.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.makeInviteLink(linkRole.value);
    });

    this.hooks = h('ul', { class: 'hooks' });
    this.secret = h('p', { class: 'secret', hidden: '' });
    const url = h('input', { name: 'url', type: 'url', required: '', placeholder: 'https://example.com/hook', 'aria-label': t('share.hook.url') });
    const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', value: e, checked: '' }));
    const hookForm = h('form', { class: 'hook' }, url, ...EVENTS.map((e, i) => h('label', {}, boxes[i], e)), h('button', { type: 'submit' }, t('share.hook.add')));
    hookForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.addHook(url, boxes.filter((b) => b.checked).map((b) => b.value));
    });

    const close = h('button', { type: 'button', class: 'close', 'aria-label': t('close') }, '×');
    close.addEventListener('click', () => d.close());
    // For everyone: the board's link (boardlinks.ts chooses which).
    const copy = h('button', { type: 'button', class: 'copy-board-link primary' }, t('share.copyLink'));
    copy.addEventListener('click', () => void this.a.f.host.copyLink());
    const linkCard = h(
      'section',
      { class: 'card copy-section', 'aria-labelledby': 'cb-share-link-h' },
      h('h3', { id: 'cb-share-link-h' }, t('share.linkHere')),
      h('p', { class: 'hint' }, t('share.linkHere.hint')),
      h('div', { class: 'row' }, copy),
    );
    this.title = h('h2', { id: 'cb-share-h' }, t('share.title.owner'));
    d.setAttribute('aria-labelledby', 'cb-share-h');
    d.removeAttribute('aria-label');
    settings.classList.add('card');
    linksSection.classList.add('card');
    this.ownerPart = h(
      'div',
      { class: 'owner-part' },
      settings,
      linksSection,
      h(
        'section',
        { class: 'invite-section card' },
        h('h3', {}, t('share.members')),
        this.members,
        h('h3', {}, t('share.inviteByMail')),
        invite,
        h('h3', {}, t('share.inviteLink')),
        h('p', { class: 'hint' }, t('share.inviteLink.hint')),
        inviteLink,
        this.inviteLink.el,
        this.invites,
      ),
      h('section', { class: 'card hooks-section' }, h('h3', {}, t('share.hooks')), this.hooks, hookForm, this.secret),
    );
    d.append(h('header', {}, this.title, close), this.msg, linkCard, this.ownerPart);
    document.body.appendChild(d);
  }

  /** Opens the dialog with fresh lists. */
  open(): void {
    const owner = this.a.isOwner;
    this.title.textContent = owner ? t('share.title.owner') : t('share.title');
    this.ownerPart.hidden = !owner;
    this.say('');
    this.newLink.hide();
    this.inviteLink.hide();
    if (!this.dialog.open) this.dialog.showModal();
    if (!owner) return;
    this.fill();
    void this.loadLinks();
    void this.loadMembers();
    void this.loadInvites();
    void this.loadHooks();
  }

  /** The metadata changed: refresh the settings shown (unless being edited). */
  update(): void {
    if (this.dialog.open && !this.dialog.contains(document.activeElement)) this.fill();
    else this.showDeadline();
  }

  private fill(): void {
    const v = this.a.view;
    if (!v) return;
    this.access.value = v.board.access === 'private' ? 'members' : v.board.access;
    this.publicRole.value = v.board.publicRole ?? 'editor';
    this.deadline.value = v.board.deadline ? toLocalInput(v.board.deadline) : '';
    this.password.value = '';
    this.showPw();
    this.showDeadline();
  }

  private showPw(): void {
    const pw = this.access.value === 'password';
    this.pwRow.hidden = !pw;
    this.password.placeholder = this.a.view?.board.access === 'password' ? t('share.password.unchanged') : t('share.password.min');
    this.publicRole.disabled = this.access.value === 'members';
  }

  private showDeadline(): void {
    const d = this.a.view?.board.deadline ?? 0;
    this.deadlineState.textContent = !d ? '' : this.a.closed ? t('share.closed') : t('share.openUntil');
    this.deadlineState.dataset.closed = String(this.a.closed);
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }

  private async patch(body: Record<string, unknown>, done: string): Promise<boolean> {
    try {
      const v = await this.a.call<BoardView & { token?: string }>('PATCH', '', body);
      // Revoking the links (or a new password) ended our own token too:
      // the answer has the owner's new one.
      if (v.token) this.a.f.host.setToken(v.token);
      if (body.revokeLinks || body.password) {
        this.a.f.host.keepLink('*', null);
        this.newLink.hide();
        void this.loadLinks();
        // What comes next, most likely: new links to hand out.
        this.dialog.querySelector<HTMLButtonElement>('.new-link')?.focus();
      }
      this.a.set(v);
      this.fill();
      this.say(done);
      return true;
    } catch (e) {
      this.say(t('notSaved', { error: (e as Error).message }), true);
      return false;
    }
  }

  private async saveSettings(): Promise<void> {
    const v = this.a.view;
    const body: Record<string, unknown> = {};
    if (!v || this.access.value !== v.board.access) body.access = this.access.value;
    if (this.access.value === 'password' && this.password.value) body.password = this.password.value;
    if (this.access.value === 'password' && v?.board.access !== 'password' && !this.password.value) {
      this.say(t('share.needPassword'), true);
      return;
    }
    if (this.access.value !== 'members' && this.publicRole.value !== v?.board.publicRole) body.publicRole = this.publicRole.value;
    const dl = fromLocalInput(this.deadline.value);
    if (dl !== (v?.board.deadline ?? 0)) body.deadline = dl;
    if (!Object.keys(body).length) {
      this.say(t('share.nothingChanged'));
      return;
    }
    await this.patch(body, body.password ? t('share.savedPassword') : t('saved'));
  }

  /** Makes a link for role and shows it (once). */
  private async mint(role: string): Promise<void> {
    try {
      const j = await this.a.call<{ link: Link; url: string }>('POST', '/links', { role });
      this.newLink.show(t('share.newLink.shown', { role: roleName(role) }), j.url, j.link.id);
      this.a.f.host.keepLink(role, j.url);
      this.say(t('share.newLink.made', { role: roleName(role) }));
      void this.loadLinks();
    } catch (e) {
      this.say(t('share.newLink.failed', { error: (e as Error).message }), true);
    }
  }

  private async loadLinks(): Promise<void> {
    const ul = this.links;
    try {
      const { links } = await this.a.call<{ links: Link[] }>('GET', '/links');
      ul.innerHTML = '';
      for (const l of (links ?? []).sort((x, y) => x.created - y.created)) {
        const rv = h('button', { type: 'button', class: 'revoke-link' }, t('share.revoke'));
        const li = h('li', { 'data-link': l.id, 'data-role': l.role }, h('span', { class: 'role' }, t('share.link.role', { role: roleName(l.role) })), ` · ${t('share.link.made', { when: new Date(l.created).toLocaleString(language()) })} `, rv);
        rv.addEventListener('click', async () => {
          try {
            await this.a.call('DELETE', `/links/${encodeURIComponent(l.id)}`);
            li.remove();
            if (this.newLink.id === l.id) this.newLink.hide();
            this.say(t('share.link.revoked', { role: roleName(l.role) }));
          } catch (e) {
            this.say(t('share.notRevoked', { error: (e as Error).message }), true);
          }
        });
        ul.append(li);
      }
      if (!ul.children.length) ul.append(h('li', { class: 'empty' }, t('share.links.none')));
    } catch (e) {
      ul.textContent = t('share.links.failed', { error: (e as Error).message });
    }
  }

  /** A shareable invite link: membership only, its holder must sign in. */
  private async makeInviteLink(role: string): Promise<void> {
    try {
      const j = await this.a.call<{ invite: Invite; link: string }>('POST', '/invites', { role });
      this.inviteLink.show(t('share.inviteLink.shown', { role: roleName(role) }), j.link);
      try {
        await navigator.clipboard.writeText(j.link);
        this.say(t('share.inviteLink.copied'));
      } catch {
        this.say(t('share.inviteLink.copyNow'));
      }
      void this.loadInvites();
    } catch (e) {
      this.say(e instanceof ApiError && e.status === 429 ? t('share.tooMany') : t('share.inviteLink.failed', { error: (e as Error).message }), true);
    }
  }

  private async loadMembers(): Promise<void> {
    const ul = this.members;
    try {
      const { members } = await this.a.call<{ members: Member[] }>('GET', '/members');
      ul.innerHTML = '';
      for (const m of members) {
        const li = h('li', { 'data-user': m.user }, h('span', { class: 'name' }, m.name || m.user), ' ', h('span', { class: 'mail' }, m.email ?? ''));
        if (m.role === 'owner') li.append(h('span', { class: 'role' }, roleName('owner')));
        else {
          const sel = roleSelect(m.role);
          sel.setAttribute('aria-label', t('share.member.role', { name: m.name || m.user }));
          sel.addEventListener('change', async () => {
            try {
              await this.a.call('PUT', `/members/${encodeURIComponent(m.user)}`, { role: sel.value });
              this.say(t('share.member.changed', { name: m.name || m.user, role: roleName(sel.value) }));
            } catch (e) {
              sel.value = m.role;
              this.say(t('share.member.notChanged', { error: (e as Error).message }), true);
            }
          });
          const rm = h('button', { type: 'button', class: 'remove', title: t('share.member.removeTitle') }, t('share.remove'));
          rm.addEventListener('click', async () => {
            try {
              await this.a.call('DELETE', `/members/${encodeURIComponent(m.user)}`);
              li.remove();
              this.say(t('share.member.removed', { name: m.name || m.user }));
            } catch (e) {
              this.say(t('share.notRemoved', { error: (e as Error).message }), true);
            }
          });
          li.append(sel, rm);
        }
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = t('share.members.failed', { error: (e as Error).message });
    }
  }

  /**
   * Invites by e-mail. An address with a pending invitation is not invited
   * twice: the node answers that one (its role now the one chosen here),
   * sends nothing, and the dialog says so; Resend in the list e-mails a
   * new link instead (the old one stops working).
   */
  private async invite(email: HTMLInputElement, role: string): Promise<void> {
    const addr = email.value.trim();
    try {
      const j = await this.a.call<{ invite: Invite; existing?: boolean }>('POST', '/invites', { email: addr, role });
      if (j.existing) {
        this.say(t('share.invite.existing', { email: addr, when: new Date(j.invite.created).toLocaleString(language()), role: roleName(j.invite.role) }));
      } else {
        this.say(t('share.invite.sent', { email: addr }));
      }
      email.value = '';
      void this.loadInvites();
    } catch (e) {
      this.say(e instanceof ApiError && e.status === 429 ? t('share.tooMany') : t('share.invite.failed', { error: (e as Error).message }), true);
    }
  }

  private async loadInvites(): Promise<void> {
    const ul = this.invites;
    try {
      const { invites } = await this.a.call<{ invites: Invite[] }>('GET', '/invites');
      ul.innerHTML = '';
      const now = Date.now();
      for (const i of invites) {
        const state = i.revoked ? 'revoked' : i.used ? 'accepted' : i.expires <= now ? 'expired' : 'pending';
        const li = h('li', { 'data-state': state }, h('span', { class: 'mail' }, i.email || t('share.inviteLink.item')), ` · ${roleName(i.role)} · ${t(`share.invite.state.${state}` as Key)}`);
        if (state === 'pending' && i.email) {
          const email = i.email;
          const rs = h('button', { type: 'button', class: 'resend' }, t('share.resend'));
          rs.addEventListener('click', async () => {
            try {
              await this.a.call('POST', '/invites', { email, role: i.role, resend: true });
              this.say(t('share.resent', { email }));
              void this.loadInvites();
            } catch (e) {
              this.say(e instanceof ApiError && e.status === 429 ? t('share.tooMany') : t('share.notSent', { error: (e as Error).message }), true);
            }
          });
          li.append(' ', rs);
        }
        if (state === 'pending') {
          const rv = h('button', { type: 'button', class: 'revoke' }, t('share.revoke'));
          rv.addEventListener('click', async () => {
            try {
              await this.a.call('DELETE', `/invites/${encodeURIComponent(i.id)}`);
              void this.loadInvites();
            } catch (e) {
              this.say(t('share.notRevoked', { error: (e as Error).message }), true);
            }
          });
          li.append(' ', rv);
        }
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = t('share.invites.failed', { error: (e as Error).message });
    }
  }

  private async loadHooks(): Promise<void> {
    const ul = this.hooks;
    try {
      const { webhooks } = await this.a.call<{ webhooks: Webhook[] }>('GET', '/webhooks');
      ul.innerHTML = '';
      for (const w of webhooks ?? []) {
        const rm = h('button', { type: 'button', class: 'remove' }, t('share.remove'));
        const li = h('li', {}, h('span', { class: 'url' }, w.url), ` · ${(w.events ?? EVENTS).join(', ')} `, rm);
        rm.addEventListener('click', async () => {
          try {
            await this.a.call('DELETE', `/webhooks/${encodeURIComponent(w.id)}`);
            li.remove();
          } catch (e) {
            this.say(t('share.notRemoved', { error: (e as Error).message }), true);
          }
        });
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = t('share.hooks.failed', { error: (e as Error).message });
    }
  }

  private async addHook(url: HTMLInputElement, events: string[]): Promise<void> {
    try {
      const { webhook } = await this.a.call<{ webhook: Webhook & { secret: string } }>('POST', '/webhooks', { url: url.value.trim(), events });
      this.secret.textContent = t('share.hook.secret', { secret: webhook.secret });
      this.secret.hidden = false;
      url.value = '';
      void this.loadHooks();
    } catch (e) {
      this.say(t('share.hook.failed', { error: (e as Error).message }), true);
    }
  }
}
