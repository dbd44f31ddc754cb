// The owner's "Share & settings" dialog: who may enter (access, password,
// the role of visitors), the deadline (a date-time; "closed" once past,
// with reopen), revoking every link, the members with their roles,
// invitations by e-mail, and webhooks (their secret shown once). Every
// control calls the REST API of docs/API.md at once and shows the node's
// answer; nothing is kept locally.
//
// A native <dialog> (modal): focus stays inside and Esc closes it, with no
// code of ours for either.
import { ApiError, fromLocalInput, h, toLocalInput, type BoardAccess, type BoardView } from './account';

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
  email: string;
  role: string;
  created: number;
  expires: number;
  used?: boolean | number;
  revoked?: boolean | number;
}

interface Webhook {
  id: string;
  url: string;
  events?: string[];
}

const ROLES = ['editor', 'commenter', 'viewer'];
const EVENTS = ['element', 'comment', 'vote', 'deadline'];

function roleSelect(value: string, name = 'role'): HTMLSelectElement {
  const s = h('select', { name });
  for (const r of ROLES) s.append(h('option', { value: r }, r));
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
  private hooks: HTMLElement;
  private secret: HTMLElement;

  constructor(private a: BoardAccess) {
    const d = (this.dialog = h('dialog', { class: 'cb-dialog cb-share', 'aria-label': 'Share & settings' }));
    this.access = h('select', { name: 'access' }, h('option', { value: 'public' }, 'Anyone with the link'), h('option', { value: 'password' }, 'Whoever knows the password'), h('option', { value: 'members' }, 'Members only'));
    this.password = h('input', { name: 'password', type: 'password', maxlength: '200', autocomplete: 'new-password', placeholder: 'unchanged' });
    this.pwRow = h('label', {}, 'Password ', this.password);
    this.publicRole = roleSelect('editor', 'publicRole');
    this.deadline = h('input', { name: 'deadline', type: 'datetime-local' });
    this.deadlineState = h('span', { class: 'deadline-state' });
    this.msg = h('p', { class: 'note', role: 'status' });
    const save = h('button', { type: 'submit', class: 'save' }, 'Save');
    const clear = h('button', { type: 'button', class: 'clear-deadline' }, 'No deadline');
    const revoke = h('button', { type: 'button', class: 'revoke-links' }, 'Revoke all links');
    const settings = h(
      'form',
      { class: 'settings', method: 'dialog' },
      h('h3', {}, 'Access'),
      h('label', {}, 'Who may enter ', this.access),
      this.pwRow,
      h('label', {}, 'Visitors may ', this.publicRole),
      h('label', {}, 'Closes at ', this.deadline, ' ', this.deadlineState),
      h('div', { class: 'row' }, save, clear, revoke),
    );
    this.access.addEventListener('change', () => this.showPw());
    settings.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.saveSettings();
    });
    clear.addEventListener('click', () => void this.patch({ deadline: 0 }, 'The board has no deadline now.'));
    revoke.addEventListener('click', () => {
      if (confirm('Every link and password guest token stops working. Continue?')) void this.patch({ revokeLinks: true }, 'Links revoked: share new ones.');
    });

    this.members = h('ul', { class: 'members' });
    const email = h('input', { name: 'email', type: 'email', required: '', placeholder: 'name@example.com' });
    const role = roleSelect('editor');
    const invite = h('form', { class: 'invite' }, email, role, h('button', { type: 'submit' }, 'Invite'));
    invite.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.invite(email, role.value);
    });
    this.invites = h('ul', { class: 'invites' });

    this.hooks = h('ul', { class: 'hooks' });
    this.secret = h('p', { class: 'secret', hidden: '' });
    const url = h('input', { name: 'url', type: 'url', required: '', placeholder: 'https://example.com/hook' });
    const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', value: e, checked: '' }));
    const hookForm = h('form', { class: 'hook' }, url, ...EVENTS.map((e, i) => h('label', {}, boxes[i], e)), h('button', { type: 'submit' }, 'Add'));
    hookForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.addHook(url, boxes.filter((b) => b.checked).map((b) => b.value));
    });

    const close = h('button', { type: 'button', class: 'close', 'aria-label': 'Close' }, '×');
    close.addEventListener('click', () => d.close());
    d.append(
      h('header', {}, h('h2', {}, 'Share & settings'), close),
      this.msg,
      settings,
      h('section', {}, h('h3', {}, 'Members'), this.members, h('h3', {}, 'Invite by e-mail'), invite, this.invites),
      h('section', {}, h('h3', {}, 'Webhooks'), this.hooks, hookForm, this.secret),
    );
    document.body.appendChild(d);
  }

  /** Opens the dialog with fresh lists. */
  open(): void {
    this.fill();
    this.say('');
    if (!this.dialog.open) this.dialog.showModal();
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
    this.password.placeholder = this.a.view?.board.access === 'password' ? 'unchanged' : 'at least 8 characters';
    this.publicRole.disabled = this.access.value === 'members';
  }

  private showDeadline(): void {
    const d = this.a.view?.board.deadline ?? 0;
    this.deadlineState.textContent = !d ? '' : this.a.closed ? 'closed' : 'open until then';
    this.deadlineState.dataset.closed = String(this.a.closed);
  }

  private say(text: string, error = false): void {
    this.msg.textContent = text;
    this.msg.classList.toggle('error', error);
  }

  private async patch(body: Record<string, unknown>, done: string): Promise<boolean> {
    try {
      this.a.set(await this.a.call<BoardView>('PATCH', '', body));
      this.fill();
      this.say(done);
      return true;
    } catch (e) {
      this.say('Not saved: ' + (e as Error).message, true);
      return false;
    }
  }

  private async saveSettings(): Promise<void> {
    const v = this.a.view;
    const body: Record<string, unknown> = {};
    if (!v || this.access.value !== v.board.access) body.access = this.access.value;
    if (this.access.value === 'password' && this.password.value) body.password = this.password.value;
    if (this.access.value === 'password' && v?.board.access !== 'password' && !this.password.value) {
      this.say('A password board needs a password.', true);
      return;
    }
    if (this.access.value !== 'members' && this.publicRole.value !== v?.board.publicRole) body.publicRole = this.publicRole.value;
    const dl = fromLocalInput(this.deadline.value);
    if (dl !== (v?.board.deadline ?? 0)) body.deadline = dl;
    if (!Object.keys(body).length) {
      this.say('Nothing changed.');
      return;
    }
    await this.patch(body, body.password ? 'Saved. The new password is needed from now on; old links stopped working.' : 'Saved.');
  }

  private async loadMembers(): Promise<void> {
    const ul = this.members;
    try {
      const { members } = await this.a.call<{ members: Member[] }>('GET', '/members');
      ul.innerHTML = '';
      for (const m of members) {
        const li = h('li', { 'data-user': m.user }, h('span', { class: 'name' }, m.name || m.user), ' ', h('span', { class: 'mail' }, m.email ?? ''));
        if (m.role === 'owner') li.append(h('span', { class: 'role' }, 'owner'));
        else {
          const sel = roleSelect(m.role);
          sel.addEventListener('change', async () => {
            try {
              await this.a.call('PUT', `/members/${encodeURIComponent(m.user)}`, { role: sel.value });
              this.say(`${m.name || m.user} is now ${sel.value}.`);
            } catch (e) {
              sel.value = m.role;
              this.say('Role not changed: ' + (e as Error).message, true);
            }
          });
          const rm = h('button', { type: 'button', class: 'remove', title: 'Remove from the board' }, 'Remove');
          rm.addEventListener('click', async () => {
            try {
              await this.a.call('DELETE', `/members/${encodeURIComponent(m.user)}`);
              li.remove();
              this.say(`${m.name || m.user} was removed.`);
            } catch (e) {
              this.say('Not removed: ' + (e as Error).message, true);
            }
          });
          li.append(sel, rm);
        }
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = 'Members could not be listed: ' + (e as Error).message;
    }
  }

  private async invite(email: HTMLInputElement, role: string): Promise<void> {
    try {
      await this.a.call('POST', '/invites', { email: email.value.trim(), role });
      this.say(`Invitation sent to ${email.value.trim()}.`);
      email.value = '';
      void this.loadInvites();
    } catch (e) {
      this.say(e instanceof ApiError && e.status === 429 ? 'Too many invitations for now: try later.' : 'Not invited: ' + (e as Error).message, true);
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
        const li = h('li', { 'data-state': state }, h('span', { class: 'mail' }, i.email), ` · ${i.role} · ${state}`);
        if (state === 'pending') {
          const rv = h('button', { type: 'button', class: 'revoke' }, 'Revoke');
          rv.addEventListener('click', async () => {
            try {
              await this.a.call('DELETE', `/invites/${encodeURIComponent(i.id)}`);
              void this.loadInvites();
            } catch (e) {
              this.say('Not revoked: ' + (e as Error).message, true);
            }
          });
          li.append(' ', rv);
        }
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = 'Invitations could not be listed: ' + (e as Error).message;
    }
  }

  private async loadHooks(): Promise<void> {
    const ul = this.hooks;
    try {
      const { webhooks } = await this.a.call<{ webhooks: Webhook[] }>('GET', '/webhooks');
      ul.innerHTML = '';
      for (const w of webhooks ?? []) {
        const rm = h('button', { type: 'button', class: 'remove' }, 'Remove');
        const li = h('li', {}, h('span', { class: 'url' }, w.url), ` · ${(w.events ?? EVENTS).join(', ')} `, rm);
        rm.addEventListener('click', async () => {
          try {
            await this.a.call('DELETE', `/webhooks/${encodeURIComponent(w.id)}`);
            li.remove();
          } catch (e) {
            this.say('Not removed: ' + (e as Error).message, true);
          }
        });
        ul.append(li);
      }
    } catch (e) {
      ul.textContent = 'Webhooks could not be listed: ' + (e as Error).message;
    }
  }

  private async addHook(url: HTMLInputElement, events: string[]): Promise<void> {
    try {
      const { webhook } = await this.a.call<{ webhook: Webhook & { secret: string } }>('POST', '/webhooks', { url: url.value.trim(), events });
      this.secret.textContent = `Signing secret (shown only now): ${webhook.secret}`;
      this.secret.hidden = false;
      url.value = '';
      void this.loadHooks();
    } catch (e) {
      this.say('Webhook not added: ' + (e as Error).message, true);
    }
  }
}
