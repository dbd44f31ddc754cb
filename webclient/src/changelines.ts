// The words of the "since your last visit" list (sincevisit.ts shows it):
// the node's events (GET /v1/boards/{board}/changes, server/activity) folded
// by person, action and kind, each element named by its text ("Ana added 2
// notes: “Lake walk” and “Swim”").

import { t, type Key } from './i18n';
import { en } from './i18n/en';

/** One event of the node: what one or more changes did to one element. */
export interface ChangeEvent {
  element: string;
  kind: string;
  action: string;
  by: string[];
  count?: number;
  text?: string;
  target?: string;
  targetText?: string;
  /** Comments and replies: the element their thread is pinned to, and its text. */
  on?: string;
  onText?: string;
  at?: number;
}

/** One line of the list: a person, an action, a kind, and the elements. */
export interface ChangeGroup {
  who: string;
  action: string;
  kind: string;
  elements: string[];
  text: string;
}

/** A kind as a noun: "a note", "3 mindmap nodes". */
export function kindNoun(kind: string, n: number): string {
  const k = `kind.${kind === 'node' ? 'mindmap' : kind}` as Key;
  if (Object.hasOwn(en, k)) return t(k, { n });
  return n === 1 ? kind : `${n} ${kind}`;
}

/** An element named by its text: a short preview in quotes ("" when it has none). */
export function quoted(text: string | undefined, max = 40): string {
  const s = (text ?? '').replace(/\s+/g, ' ').trim();
  if (!s) return '';
  return t('quote', { text: s.length > max ? s.slice(0, max - 1).trimEnd() + '…' : s });
}

/** "A", "A and B", "A, B and C" in the page's language. */
function joinAnd(items: string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return t('list.and', { list: items.slice(0, -1).join(t('list.sep')), last: items[items.length - 1] });
}

/** The elements of a line named by their text ("“A”, “B” and 2 more"). */
function names(texts: string[]): string {
  const q = texts.map((x) => quoted(x)).filter(Boolean);
  if (!q.length) return '';
  const shown = q.slice(0, 3);
  const more = texts.length - shown.length;
  if (more > 0) return t('list.more', { list: shown.join(t('list.sep')), n: more });
  return joinAnd(shown);
}

/** The element an event is about: for a comment or a reply, what its thread is on. */
export function commentOn(e: ChangeEvent): string {
  if (e.kind !== 'comment') return e.element;
  return e.on || e.target || e.element;
}

/** The verb of an action: "added", "voted for". */
function verb(action: string): string {
  const k = `change.${action}` as Key;
  return k in en ? t(k) : action;
}

/**
 * Folds the node's events into lines: per person, action and kind, in
 * order of first appearance, each naming its elements by their text.
 * "added" (and a new comment or reply) is said of its creator alone, the
 * first of `by`: whoever edited the element later did not add it.
 */
export function groupChanges(events: ChangeEvent[], names_: Record<string, string>): ChangeGroup[] {
  const out = new Map<string, ChangeGroup & { texts: string[] }>();
  const creatorOnly = new Set(['added', 'commented', 'replied']);
  for (const e of events) {
    const by = creatorOnly.has(e.action) ? e.by.slice(0, 1) : e.by;
    const who = joinAnd(by.map((u) => names_[u] || t('someone'))) || t('someone');
    const comment = e.kind === 'comment';
    // A comment is named by what its thread is on, a reply too (a
    // reply's target is its thread: the first comment's text names no
    // idea); the board when that is no element.
    const kind = comment ? 'comment' : e.kind;
    const key = `${who}\u0000${e.action}\u0000${kind}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { who, action: e.action, kind, elements: [], text: '', texts: [] }));
    const el = commentOn(e);
    if (g.elements.includes(el)) continue;
    g.elements.push(el);
    g.texts.push(comment ? (e.onText ?? '') : (e.text ?? ''));
  }
  const res: ChangeGroup[] = [];
  for (const g of out.values()) {
    const n = g.elements.length;
    const named = names(g.texts);
    const v = verb(g.action);
    if (g.kind === 'comment') g.text = t('change.line', { who: g.who, verb: v, what: named || (n === 1 ? t('change.theBoard') : t('change.elements', { n })) });
    else if (n === 1) g.text = t('change.line', { who: g.who, verb: v, what: named || kindNoun(g.kind, 1) });
    else g.text = named ? t('change.lineNamed', { who: g.who, verb: v, what: kindNoun(g.kind, n), names: named }) : t('change.line', { who: g.who, verb: v, what: kindNoun(g.kind, n) });
    res.push({ who: g.who, action: g.action, kind: g.kind, elements: g.elements, text: g.text });
  }
  return res;
}
