// Editing an element's text in place: a <textarea> laid over the element,
// whose edits become insert_text / delete_text ops on the collaborative
// text field (FugueMax in package crdt). The textarea is diffed against
// the doc's text — one delete and one insert around the changed middle,
// placed with the caret so that typing "a" into "aa" inserts where the
// person typed — and committed in small groups (a pause, or before anything
// else touches the doc), so remote edits merge with the person's own
// without losing either.
import type { LocalOp } from './crdt';
import type { El } from './model';
import { t as tr } from './i18n';
import { textField, textFrame, type Camera, type Renderer } from './render';

export interface TextDiff {
  /** Code-point position of the change. */
  pos: number;
  /** Code points deleted at pos. */
  del: number;
  /** Text inserted at pos. */
  ins: string;
}

/**
 * The single replace that turns a into b. caret (a code-point position in
 * b, where the edit ended) disambiguates repeated characters.
 */
export function textDiff(a: string, b: string, caret = b.length): TextDiff | null {
  const x = Array.from(a);
  const y = Array.from(b);
  let s = 0;
  const maxS = Math.min(x.length, Math.max(0, y.length - caret));
  while (s < maxS && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  let p = 0;
  while (p < x.length - s && p < y.length - s && x[p] === y[p]) p++;
  const del = x.length - p - s;
  const ins = y.slice(p, y.length - s).join('');
  if (!del && !ins) return null;
  return { pos: p, del, ins };
}

/** Where a UTF-16 offset of a maps to after the replace that made b (for carets). */
export function mapOffset(a: string, b: string, off: number): number {
  let p = 0;
  while (p < a.length && p < b.length && a[p] === b[p]) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
  if (off <= p) return off;
  if (off >= a.length - s) return off + (b.length - a.length);
  return b.length - s;
}

export interface EditorHost {
  renderer: Renderer;
  /** The element as it is now (undefined once deleted). */
  element(id: string): El | undefined;
  text(id: string, field: string): string;
  /** Applies ops as one local change; returns false if not allowed. */
  edit(ops: LocalOp[]): boolean;
  camera(): Camera;
  changed(): void;
  /** Undo or redo on the board (the textarea's own history would not be collaborative). */
  history(redo: boolean): void;
  /** A key pressed while editing: true when the host handled it (Tab and Enter in a mindmap node). */
  key?(e: KeyboardEvent, id: string): boolean;
}

const COMMIT_AFTER_MS = 300;
const COMMIT_AT_MOST_MS = 1000;
const INSERT_CHUNK = 8192; // code points: at most 32 KiB of UTF-8

export class TextEditor {
  readonly area: HTMLTextAreaElement;
  id: string | null = null;
  private field = 'text';
  /** The doc's text as the textarea last matched it. */
  private base = '';
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirtySince = 0;
  private composing = false;

  constructor(
    parent: HTMLElement,
    private host: EditorHost,
  ) {
    const a = document.createElement('textarea');
    a.className = 'editor';
    a.spellcheck = true;
    a.hidden = true;
    a.setAttribute('aria-label', tr('editor.label'));
    a.addEventListener('input', () => this.onInput());
    a.addEventListener('compositionstart', () => (this.composing = true));
    a.addEventListener('compositionend', () => {
      this.composing = false;
      this.onInput();
    });
    a.addEventListener('blur', () => this.close());
    a.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (this.id !== null && this.host.key?.(e, this.id)) {
        e.preventDefault();
        return;
      }
      if (e.key === 'Escape' || (e.key === 'Enter' && (e.ctrlKey || e.metaKey))) {
        e.preventDefault();
        this.close();
      } else if ((e.ctrlKey || e.metaKey) && (e.key === 'z' || e.key === 'Z' || e.key === 'y')) {
        e.preventDefault();
        this.commit();
        this.host.history(e.key === 'y' || e.shiftKey);
      }
    });
    parent.appendChild(a);
    this.area = a;
  }

  get open(): boolean {
    return this.id !== null;
  }

  /** Starts editing the element's text, the caret at the end (or everything selected). */
  start(id: string, selectAll = false): void {
    if (this.id === id) return;
    this.close();
    const e = this.host.element(id);
    if (!e) return;
    this.id = id;
    this.field = textField(e);
    this.base = this.host.text(id, this.field);
    this.area.value = this.base;
    this.area.hidden = false;
    this.position();
    this.area.focus();
    if (selectAll) this.area.select();
    else this.area.setSelectionRange(this.area.value.length, this.area.value.length);
    this.host.changed();
  }

  /** Ends editing, committing what is pending. */
  close(): void {
    if (this.id === null) return;
    this.commit();
    const id = this.id;
    this.id = null;
    this.area.hidden = true;
    this.area.blur();
    const e = this.host.element(id);
    if (e && e.kind === 'text' && !this.host.text(id, this.field).trim()) {
      this.host.edit([{ op: 'delete', el: id }]); // an empty text element is nothing
    }
    this.host.changed();
  }

  private onInput(): void {
    if (this.composing) return;
    this.position();
    const now = Date.now();
    if (!this.dirtySince) this.dirtySince = now;
    clearTimeout(this.timer);
    if (now - this.dirtySince >= COMMIT_AT_MOST_MS) this.commit();
    else this.timer = setTimeout(() => this.commit(), COMMIT_AFTER_MS);
  }

  /** Turns what was typed since the last commit into one change. */
  commit(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.dirtySince = 0;
    if (this.id === null || this.composing) return;
    const id = this.id;
    const e = this.host.element(id);
    if (!e) return;
    const now = this.host.text(id, this.field);
    const value = this.area.value;
    const caret = Array.from(value.slice(0, this.area.selectionEnd)).length;
    const d = textDiff(now, value, caret);
    if (!d) {
      this.base = now;
      return;
    }
    const ops: LocalOp[] = [];
    if (d.del) ops.push({ op: 'deleteText', el: id, field: this.field, pos: d.pos, count: d.del });
    if (d.ins) {
      // An insert carries at most 64 KiB (PROTOCOL.md section 10): a big
      // paste goes in pieces.
      const cps = Array.from(d.ins);
      for (let i = 0; i < cps.length; i += INSERT_CHUNK) {
        ops.push({ op: 'insertText', el: id, field: this.field, pos: d.pos + i, text: cps.slice(i, i + INSERT_CHUNK).join('') });
      }
    }
    if (e.kind === 'text') {
      // Free text grows to fit its lines.
      const f = textFrame(e);
      const l = this.host.renderer.layout(value, f.box.w, f.box.h, f.fontSize, false);
      const h = Math.ceil(Math.max(1, l.lines.length) * l.lineHeight + 4);
      if (Math.abs(h - e.h) > 1) ops.push({ op: 'set', el: id, key: 'h', value: h });
    }
    if (!this.host.edit(ops)) {
      this.area.value = now; // not allowed: back to the doc's text
    }
    this.base = this.host.text(id, this.field);
  }

  /**
   * The doc's text changed under the editor (a remote edit, an undo): show
   * it, keeping the caret where it was relative to the text around it.
   * Call commit before applying the change, so nothing typed is lost.
   */
  refresh(): void {
    if (this.id === null) return;
    const e = this.host.element(this.id);
    if (!e) {
      this.id = null;
      this.area.hidden = true;
      this.host.changed();
      return;
    }
    const next = this.host.text(this.id, this.field);
    const cur = this.area.value;
    if (next !== cur && !this.composing) {
      const s = mapOffset(cur, next, this.area.selectionStart);
      const t = mapOffset(cur, next, this.area.selectionEnd);
      this.area.value = next;
      this.area.setSelectionRange(s, t);
    }
    this.base = next;
    this.position();
  }

  /** Lays the textarea over the element, in the element's font at the current zoom. */
  position(): void {
    if (this.id === null) return;
    const e = this.host.element(this.id);
    if (!e) return;
    const cam = this.host.camera();
    const f = textFrame(e);
    const l = this.host.renderer.layout(this.area.value, f.box.w, f.box.h, f.fontSize, f.shrink);
    const z = cam.zoom;
    const s = this.area.style;
    const lines = Math.max(1, l.lines.length);
    const top = f.middle ? Math.max(0, (f.box.h - lines * l.lineHeight) / 2) : 0;
    s.left = `${(f.box.x - cam.x) * z}px`;
    s.top = `${(f.box.y - cam.y) * z}px`;
    s.width = `${f.box.w * z}px`;
    s.height = `${Math.max(f.box.h, lines * l.lineHeight) * z}px`;
    s.paddingTop = `${top * z}px`;
    s.fontSize = `${l.fontSize * z}px`;
    s.lineHeight = `${l.lineHeight * z}px`;
    s.textAlign = f.align;
    s.color = f.color;
  }
}
