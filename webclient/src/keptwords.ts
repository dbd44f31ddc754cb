// "Not saved": the words of local changes the node refused (an edit made
// after the board's deadline, before the page knew of it), kept by sync.ts
// in this browser (store.ts) and shown here until their author copies or
// discards them: a notice at the board's top with the words in a text box,
// Copy and Discard, and a menu button to bring it back once put away. It
// survives a reload: the words are stored, not only shown.
import { t } from './i18n';
import type { FeatureContext } from './featurekit';
import { loadKept, saveKept, type KeptWords as Kept } from './store';

export class KeptWords {
  readonly panel: HTMLElement;
  private btn: HTMLButtonElement;
  private title: HTMLElement;
  private box: HTMLTextAreaElement;

  constructor(private f: FeatureContext) {
    this.panel = document.createElement('div');
    this.panel.className = 'panel fx-kept';
    this.panel.setAttribute('role', 'region');
    this.panel.setAttribute('aria-label', t('kept'));
    this.panel.hidden = true;
    this.title = document.createElement('strong');
    this.box = document.createElement('textarea');
    this.box.readOnly = true;
    this.box.rows = 4;
    this.box.setAttribute('aria-label', t('kept.box'));
    const mk = (text: string, title: string, cls: string, fn: () => void) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = text;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.className = cls;
      b.addEventListener('click', fn);
      return b;
    };
    const head = document.createElement('div');
    head.className = 'fx-kept-head';
    head.append(
      this.title,
      mk(t('share.copy'), t('kept.copy.title'), 'fx-kept-copy', () => void this.copy()),
      mk(t('kept.discard'), t('kept.discard.title'), 'fx-kept-discard', () => this.discard()),
      mk('×', t('board.hide'), 'fx-close', () => (this.panel.hidden = true)),
    );
    this.panel.append(head, this.box);
    f.notices.appendChild(this.panel);
    this.btn = f.button(t('kept'), t('kept.title'), () => {
      this.panel.hidden = !this.panel.hidden;
    }, 'fx-kept-btn');
    this.btn.hidden = true;
    f.host.sync.onKept.push(() => this.show(true));
    this.show(true);
  }

  /** The kept refusals of this board. */
  list(): Kept[] {
    return loadKept(this.f.host.boardId);
  }

  /** Shows what is kept (open: the panel too). */
  private show(open: boolean): void {
    const list = this.list();
    const items = list.flatMap((k) => k.items);
    this.btn.hidden = !items.length;
    if (!items.length) {
      this.panel.hidden = true;
      return;
    }
    // The node's message without its "change 1 of 2 refused: " prefix.
    const reasons = [...new Set(list.map((k) => k.reason.replace(/^change \d+ of \d+ refused: /, '')))].join('; ');
    this.title.textContent = t('kept.heading', { reasons });
    this.box.value = items.map((i) => i.text).join('\n\n');
    if (open) this.panel.hidden = false;
  }

  private async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.box.value);
      this.f.host.toast(t('kept.copied'));
    } catch {
      // No clipboard permission: selected, for Ctrl+C.
      this.box.focus();
      this.box.select();
      this.f.host.toast(t('kept.selected'));
    }
  }

  private discard(): void {
    saveKept(this.f.host.boardId, []);
    this.show(false);
  }
}
