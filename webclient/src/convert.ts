// Conversion between sticky notes and mindmap nodes: a note becomes a
// mindmap node (a root where it was, or a subtopic when dropped on a
// node), and a node without subtopics becomes a note.
//
// An element's kind is fixed when it is created (docs/SCHEMA.md: the CRDT
// has no op that changes it), so a conversion is one change of CRDT ops:
// create the new element with the same text and colour, point the comment
// threads on the old one at it, move its dots and reactions, and delete
// the old one. It merges like any change and is undone as one.
// Dots and reactions, everyone's: each register (key, voter) live on the
// old element is written on the new one with exactly its value and
// withdrawn (null) on the old one, in the same change. A vote op is under
// its voter and the node takes another's only as such a move
// (server/room/policy.go, voteMoves: it checks the value against the old
// element as it is then), so nobody's dots are cast or counted twice, and
// the undo (which writes them back on the old element and withdraws them
// from the new) is admitted by the same rule. A move is no vote: it is
// made after voting closed too. Other people's dots are not moved while the
// page is not connected (the toast says so): sent later, the change would
// be checked against what their owners did meanwhile, and refused if they
// changed those dots.
// Rejected: a "kind" property read over the element's real kind (every
// reader — the node's summary and exports, older clients — would have to
// know it, and a node and a note have different properties); leaving the
// dots on the deleted element (the budget counts deleted elements' dots,
// and restoring it would count them twice).
import type { ElementJSON, LocalOp } from './crdt';
import type { El } from './element';
import type { Comments } from './comments';
import type { FeatureContext } from './featurekit';
import type { Votes } from './votes';

/** What conversion uses of the features (features.ts gives itself). */
export type ConvertHost = FeatureContext & { readonly comments: Pick<Comments, 'read'>; readonly votes: Pick<Votes, 'me'> };
import { uuidv7 } from './ids';
import { keyAfterLast, newNodeOps } from './mindmap';
import { t } from './i18n';

/** The words of conversion, from the catalogue (src/i18n), read when shown. */
const T = {
  get toNode() { return t('convert.toNode'); },
  get toNote() { return t('convert.toNote'); },
  get toNodeTitle() { return t('convert.toNode.title'); },
  get toNoteTitle() { return t('convert.toNote.title'); },
  get hasKids() { return t('convert.hasKids'); },
  get othersDots() { return t('convert.othersDots'); },
};

export class Converter {
  constructor(private f: ConvertHost) {
    addEventListener('keydown', (e) => {
      if (!e.altKey || e.ctrlKey || e.metaKey || e.code !== 'KeyM') return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
      const sel = [...f.host.selection()];
      if (sel.length !== 1 || !this.label(sel[0])) return;
      e.preventDefault();
      this.convert(sel[0]);
    });
  }

  /** The context bar's button for an element ({text, title}), or null when it cannot be converted. */
  label(id: string): { text: string; title: string } | null {
    const e = this.f.host.board.get(id);
    if (!e || !this.f.host.canEdit()) return null;
    if (e.kind === 'note') return { text: T.toNode, title: T.toNodeTitle };
    if (e.kind === 'mindmap') return { text: T.toNote, title: T.toNoteTitle };
    return null;
  }

  /** Converts a note or a mindmap node (the new element is selected); its new id, or null. */
  convert(id: string): string | null {
    const e = this.f.host.board.get(id);
    if (!e) return null;
    const ops = e.kind === 'note' ? this.noteToNode(e) : e.kind === 'mindmap' ? this.nodeToNote(e) : null;
    return this.apply(ops);
  }

  /** A note dropped on a mindmap node: the node's last subtopic (pointer.ts). */
  attach(noteId: string, nodeId: string): string | null {
    const e = this.f.host.board.get(noteId);
    const n = this.f.host.board.get(nodeId);
    if (!e || e.kind !== 'note' || !n || n.kind !== 'mindmap') return null;
    return this.apply(this.noteToNode(e, n));
  }

  private apply(r: { id: string; ops: LocalOp[] } | null): string | null {
    if (!r) return null;
    if (!this.f.host.edit(r.ops)) return null;
    this.f.host.select([r.id]);
    return r.id;
  }

  /** The ops turning a note into a mindmap node: under parent, else a root where the note was. */
  noteToNode(e: El, parent?: El): { id: string; ops: LocalOp[] } | null {
    const id = uuidv7();
    const board = this.f.host.board;
    const ops = parent
      ? newNodeOps(id, parent.id, keyAfterLast(board.children(parent.id)))
      : newNodeOps(id, undefined, '', { x: e.x, y: e.y + Math.max(0, e.h / 2 - 24), z: e.z || 'a0' });
    if (parent?.props.collapsed === true) ops.push({ op: 'set', el: parent.id, key: 'collapsed', value: false });
    if (!parent && e.parent && board.get(e.parent)?.kind === 'frame') ops.push({ op: 'move', el: id, parent: e.parent, posKey: keyAfterLast(board.children(e.parent)) });
    return this.carry(e, id, ops);
  }

  /** The ops turning a mindmap node without subtopics into a note where the node is. */
  nodeToNote(e: El): { id: string; ops: LocalOp[] } | null {
    const board = this.f.host.board;
    if (board.children(e.id).some((k) => k.kind === 'mindmap')) {
      this.f.host.toast(T.hasKids, true);
      return null;
    }
    const id = uuidv7();
    const set = (key: string, value: unknown): LocalOp => ({ op: 'set', el: id, key, value });
    const ops: LocalOp[] = [{ op: 'create', el: id, kind: 'note' }, set('x', Math.round(e.x)), set('y', Math.round(e.y)), set('w', 200), set('h', 200), set('z', e.z || 'a0')];
    const frame = this.frameOf(e);
    if (frame) ops.push({ op: 'move', el: id, parent: frame, posKey: keyAfterLast(board.children(frame)) });
    return this.carry(e, id, ops);
  }

  /** The frame an element is in (a node's root's frame). */
  private frameOf(e: El): string | undefined {
    const board = this.f.host.board;
    for (let p = e.parent; p; p = board.get(p)?.parent) if (board.get(p)?.kind === 'frame') return p;
    return undefined;
  }

  /** Adds what carries over from e to the new element id, then the deletion of e. */
  private carry(e: El, id: string, ops: LocalOp[]): { id: string; ops: LocalOp[] } | null {
    const h = this.f.host;
    const text = h.doc.text(e.id, 'text');
    if (text) ops.push({ op: 'insertText', el: id, field: 'text', pos: 0, text });
    if (typeof e.props.color === 'string') ops.push({ op: 'set', el: id, key: 'color', value: e.props.color });
    const j = h.doc.elements([e.id])[0] as (ElementJSON & { votes?: Record<string, Record<string, unknown>> }) | undefined;
    const withdraw: LocalOp[] = [];
    for (const [key, byVoter] of Object.entries(j?.votes ?? {})) {
      const me = key === 'vote' ? this.f.votes.me : this.f.userId;
      for (const [voter, value] of Object.entries(byVoter ?? {})) {
        if (value === null || value === undefined || value === 0 || value === false || value === '') continue;
        if (voter !== me && voter !== this.f.userId && h.sync.state !== 'live') {
          h.toast(T.othersDots, true);
          return null;
        }
        ops.push({ op: 'vote', el: id, key, voter, value });
        withdraw.push({ op: 'vote', el: e.id, key, voter, value: null });
      }
    }
    ops.push(...withdraw);
    for (const t of this.f.comments.read()) if (t.target === e.id) ops.push({ op: 'set', el: t.id, key: 'target', value: id });
    ops.push({ op: 'delete', el: e.id });
    return { id, ops };
  }
}
