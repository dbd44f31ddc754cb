// The one path of every change made on this page: elements drawn, moved
// and typed (the board page's tools, the text editor, the embed API),
// comments and votes (features), undo and redo. Each is checked against
// what the person may do, applied to the doc, kept in the outbox and sent
// (the board object of client.ts, which the SDK's transactions use too),
// then read into the Board, whose change event tells
// everything that shows the board (board.ts, features.ts) — the same event
// a remote change raises.
//
// Rejected: each caller applying and refreshing on its own (there were
// two such paths, and features learnt of changes by wrapping Board.upsert
// and comparing Board.version every animation frame); and an event of
// LocalEdits' own (remote changes would still need the Board's).
import type { Committed, CrdtDoc, LocalOp } from './crdt';
import type { Board } from './model';
import { t as tr } from './i18n';

/** What LocalEdits needs of the page. */
export interface LocalEditsHost {
  doc: CrdtDoc;
  board: Board;
  /**
   * The board (client.ts, made after the page): apply makes, keeps and
   * sends a change, commit keeps and sends one already made; canWrite: not
   * while catching up; the role once known.
   */
  sync(): {
    apply(ops: LocalOp[], o?: { stampsApart?: boolean }): { ids: string[]; error?: string };
    commit(c: Committed): void;
    readonly canWrite: boolean;
    readonly role: string | undefined;
  };
  /** Commits the text editor's pending typing (before any other change). */
  commitTyping(): void;
  /** Read-only whatever the role (an embed in view mode, a closed board). */
  readOnly(): boolean;
  /** Past the board's deadline, as the node said (features.ts). */
  closed(): boolean;
  toast(msg: string, error?: boolean): void;
  /** After each local change that touched something (an edit, an undo). */
  edited?(): void;
}

/**
 * Who a change is made as: "edit", elements (editors and owners);
 * "annotate", comments and votes (commenters too; the node enforces what
 * each role may do).
 */
export type EditKind = 'edit' | 'annotate';

export class LocalEdits {
  constructor(private host: LocalEditsHost) {}

  /** Whether the person may edit elements (not a viewer or commenter, not read-only). */
  get canEdit(): boolean {
    if (this.host.readOnly()) return false;
    const r = this.host.sync()?.role;
    return r !== 'viewer' && r !== 'commenter';
  }

  /**
   * Applies ops as one local change: at once to the doc and the screen,
   * into the outbox, and out to the node. Returns the ids changed, or null
   * when the change was refused here (said in a toast). fromEditor: the
   * text editor's own commit (anything else commits pending typing first).
   */
  apply(ops: LocalOp[], kind: EditKind = 'edit', fromEditor = false): string[] | null {
    const h = this.host;
    if (kind === 'annotate' && h.closed()) {
      h.toast(tr('edit.closed'));
      return null;
    }
    if (kind === 'edit' ? !this.canEdit : h.sync().role === 'viewer') {
      h.toast(tr('edit.viewOnly'));
      return null;
    }
    if (!h.sync().canWrite) {
      h.toast(tr('edit.catchingUp'));
      return null;
    }
    if (kind === 'annotate') return this.annotate(ops);
    if (!fromEditor) h.commitTyping();
    // "author" stamps go in a change of their own (client.ts, apply).
    let r;
    try {
      r = h.sync().apply(ops);
    } catch (e) {
      console.error('corkboard: edit failed', e, ops);
      h.toast(tr('edit.failed', { error: (e as Error).message }), true);
      return null;
    }
    if (r.error) console.warn('corkboard: edit partly failed:', r.error);
    return this.show(r.ids);
  }

  /** Comments and votes: one change, author included (their author is part of what they are). */
  private annotate(ops: LocalOp[]): string[] | null {
    const h = this.host;
    let r;
    try {
      r = h.sync().apply(ops, { stampsApart: false });
    } catch (e) {
      h.toast(tr('edit.undoFailed', { error: (e as Error).message }), true);
      return null;
    }
    if (r.error) console.warn('corkboard: annotation partly failed:', r.error);
    return this.show(r.ids);
  }

  /** Undoes (or redoes) this replica's last change; the ids it changed, or null when there was none or it may not. */
  history(redo: boolean): string[] | null {
    const h = this.host;
    if (!this.canEdit || !h.sync().canWrite) return null;
    h.commitTyping();
    const c = redo ? h.doc.redo() : h.doc.undo();
    if (!c) return null;
    h.sync().commit(c);
    return this.show(c.ids);
  }

  /** Reads what changed into the Board, which tells its listeners. */
  private show(ids: string[]): string[] {
    if (ids.length) {
      this.host.board.upsert(this.host.doc.elements(ids));
      this.host.edited?.();
    }
    return ids;
  }
}
