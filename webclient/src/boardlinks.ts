// The board's token and links as this browser keeps them (the board's
// record in store.ts): the top bar's Share, a replaced token (stored,
// reconnected with, and passed to the browser's other tabs), the role links
// kept for Share, and a token the node refused.
import { t as tr } from './i18n';
import { fragmentLink, linkToken } from './boardtoken';
import type { BoardRecord, Persistence } from './store';
import type { Sync } from './sync';

export class BoardLinks {
  constructor(
    private boardId: string,
    private rec: BoardRecord,
    private store: Persistence,
    private sync: () => Sync,
    private toast: (msg: string) => void,
  ) {}

  /**
   * The top bar's Share: copies the editor link this browser keeps (made
   * with the board or in Share & settings) while it still works, else the
   * board's address, which carries no token: whoever opens it gets what
   * the board's access settings give visitors.
   */
  async share(): Promise<void> {
    let link = this.rec.links?.editor;
    if (link && !(await this.linkWorks(link))) {
      this.keepLink('editor', null);
      link = undefined;
    }
    const text = link ? fragmentLink(link) : location.href;
    try {
      await navigator.clipboard.writeText(text);
      this.toast(link ? tr('links.copiedEditor') : tr('links.copiedAddress'));
    } catch {
      prompt(tr('links.copyThis'), text);
    }
  }

  /** Whether a kept link's token still opens the board (an unreachable node: assumed so). */
  private async linkWorks(link: string): Promise<boolean> {
    const t = linkToken(link);
    if (!t) return false;
    try {
      const r = await fetch(`/v1/boards/${this.boardId}`, { headers: { Authorization: 'Bearer ' + t } });
      return r.ok || r.status >= 500;
    } catch {
      return true;
    }
  }

  /**
   * A new token for this page (the owner's, after revoking the links or
   * setting a password): stored, and the connection reopened with it.
   */
  setToken(token: string): void {
    const old = this.rec.token;
    if (token === old) return;
    this.rec.token = token;
    void this.store.putBoard(this.rec);
    this.sync().setToken(token);
    // The node ended this browser's other tabs' connections made with the
    // old token too: those that used it take the new one.
    this.tokens?.postMessage({ board: this.boardId, old, token });
  }

  /** The browser's tabs tell each other of replaced tokens (setToken). */
  private tokens = 'BroadcastChannel' in window ? new BroadcastChannel('corkboard-tokens') : null;

  listen(): void {
    if (!this.tokens) return;
    this.tokens.onmessage = (ev: MessageEvent) => {
      const d = ev.data as { board?: string; old?: string; token?: string } | null;
      if (d?.board !== this.boardId || typeof d.token !== 'string' || !d.old || d.old !== this.rec.token) return;
      this.rec.token = d.token;
      this.sync().setToken(d.token);
    };
  }

  /** Keeps a role link for the top bar's Share (null: forgets it; role "*": every role). */
  keepLink(role: string, url: string | null): void {
    const links = role === '*' ? {} : { ...this.rec.links };
    if (url) links[role] = url;
    else delete links[role];
    this.rec.links = links;
    void this.store.putBoard(this.rec);
  }
}

/** Forgets a refused token: in the board's record and in the replicas that connect with it. */
export async function forgetToken(store: Persistence, rec: BoardRecord, dead: string): Promise<void> {
  if (rec.token === dead) {
    rec.token = undefined;
    rec.role = undefined;
  }
  try {
    await store.putBoard(rec);
    // Their replica ids are bound to the token's holder on the node, and
    // their unsent changes can no longer be sent by anyone: let them go.
    for (const r of await store.listReplicas(rec.id)) {
      if (r.token === dead) await store.deleteReplica(rec.id, r.replica);
    }
  } catch (e) {
    console.warn('corkboard: could not forget a refused token', e);
  }
}

/** Whether token is still an owner's token of the board (unreachable node: assumed so). */
export async function stillOwner(boardId: string, token: string): Promise<boolean> {
  try {
    const r = await fetch(`/v1/boards/${boardId}`, { headers: { Authorization: 'Bearer ' + token } });
    if (!r.ok) return r.status >= 500;
    return (await r.json())?.you?.role === 'owner';
  } catch {
    return true;
  }
}
