// The board page's keyboard: shortcuts (tools, history, selection, nudge,
// mindmap growth, fit, help), Space to pan, and copy, cut and paste through
// the clipboard events.
import type { CameraView } from './camera';
import type { LocalEdits } from './localedits';
import type { Board } from './model';
import type { Pointer } from './pointer';
import type { Selection } from './selection';
import type { TextEditor } from './textedit';
import { TOOLS, type Tools } from './tools';
import { t as tr } from './i18n';

/** The keyboard shortcuts, as the help overlay (?) lists them: catalogue keys ("sc.edit"; its keys' names under "sc.edit.keys"). */
const SHORTCUTS = ['tools1', 'tools2', 'tools3', 'select', 'edit', 'subtopic', 'parent', 'collapse', 'clip', 'dup', 'del', 'nudge', 'undo', 'all', 'zoom', 'rotate', 'help'] as const;

/** The help overlay's rows, in the page's language: [the keys, what they do]. */
export function shortcutRows(): [string, string][] {
  return SHORTCUTS.map((k) => [tr(`sc.${k}.keys`), tr(`sc.${k}`)]);
}

/** What the keyboard uses of the page. */
export interface KeysHost {
  canvas: HTMLCanvasElement;
  help: HTMLElement;
  board: Board;
  sel: Selection;
  tools: Tools;
  pointer: Pointer;
  camera: CameraView;
  edits: LocalEdits;
  editor: TextEditor;
  /** Undo (or redo). */
  history(redo: boolean): void;
  afterSelect(): void;
}

/** Listens to the keyboard and the clipboard events for the board page. */
export function bindKeys(k: KeysHost): void {
  addEventListener('keydown', (e) => key(k, e));
  addEventListener('keyup', (e) => {
    if (e.code === 'Space') {
      k.pointer.space = false;
      k.canvas.classList.remove('grab');
    }
  });
  // Copy and paste through the clipboard events (Ctrl+C/X/V and the
  // browser's menus): no permission prompt, and text/plain JSON that
  // another board, tab or browser can read. Not while a text field has
  // the focus: that is the text's own copy and paste.
  const busy = (ev: Event) => {
    const t = ev.target as HTMLElement | null;
    return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
  };
  document.addEventListener('copy', (ev) => {
    if (busy(ev)) return;
    const text = k.tools.copyText();
    if (text === null || !ev.clipboardData) return;
    ev.clipboardData.setData('text/plain', text);
    ev.preventDefault();
  });
  document.addEventListener('cut', (ev) => {
    if (busy(ev) || !k.edits.canEdit) return;
    const text = k.tools.copyText();
    if (text === null || !ev.clipboardData) return;
    ev.clipboardData.setData('text/plain', text);
    ev.preventDefault();
    k.tools.deleteSelection();
  });
  document.addEventListener('paste', (ev) => {
    if (busy(ev) || !k.edits.canEdit || !ev.clipboardData) return;
    ev.preventDefault();
    k.tools.pasteText(ev.clipboardData.getData('text/plain'));
  });
}

function key(k: KeysHost, e: KeyboardEvent): void {
  const t = e.target as HTMLElement;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.isContentEditable)) return;
  const { sel, tools } = k;
  const canEdit = () => k.edits.canEdit;
  const single = () => sel.single();
  const mod = e.ctrlKey || e.metaKey;
  if (e.code === 'Space') {
    k.pointer.space = true;
    k.canvas.classList.add('grab');
    e.preventDefault();
    return;
  }
  if (mod && (e.key === 'z' || e.key === 'Z')) {
    e.preventDefault();
    k.history(e.shiftKey);
  } else if (mod && e.key === 'y') {
    e.preventDefault();
    k.history(true);
  } else if (mod && e.key === 'a') {
    e.preventDefault();
    sel.replace(k.board.all().map((x) => x.id));
    k.afterSelect();
  } else if (mod && e.key === 'd') {
    e.preventDefault();
    tools.duplicateSelection();
  } else if (e.key === 'Delete' || e.key === 'Backspace') {
    e.preventDefault();
    tools.deleteSelection();
  } else if (e.key === 'Escape' && !k.help.hidden) {
    k.help.hidden = true;
  } else if (e.key === 'Escape') {
    sel.clear();
    tools.setTool('select');
    k.afterSelect();
  } else if (e.key === '?') {
    k.help.hidden = !k.help.hidden;
  } else if (e.key === 'Tab' && sel.size === 1 && k.board.get(single()!)?.kind === 'mindmap') {
    e.preventDefault();
    if (canEdit()) tools.addChild(single()!);
  } else if (e.key === 'Enter' && sel.size === 1 && k.board.get(single()!)?.kind === 'mindmap' && !e.shiftKey) {
    e.preventDefault();
    if (canEdit()) tools.addSibling(single()!);
  } else if ((e.key === 'Enter' || e.key === 'F2') && sel.size === 1) {
    e.preventDefault();
    k.editor.start(single()!);
  } else if (e.key === '.' && sel.size && canEdit()) {
    tools.toggleCollapse();
  } else if (e.key === '!' || (e.shiftKey && e.code === 'Digit1')) {
    k.camera.fit();
  } else if (e.key.startsWith('Arrow') && sel.size && canEdit()) {
    e.preventDefault();
    const step = e.shiftKey ? 10 : 1;
    const [dx, dy] = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key] ?? [0, 0];
    tools.nudge(dx, dy);
  } else if (!mod && !e.altKey) {
    const tool = TOOLS.find((x) => x.key === e.key.toLowerCase());
    if (tool) tools.setTool(tool.tool);
  }
}
