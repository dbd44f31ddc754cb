// The words of the "since your last visit" list (sincevisit.ts shows it):
// the node's events (GET /v1/boards/{board}/changes, server/activity) folded
// by person, action and kind, each element named by its text ("Ana added 2
// notes: “Lake walk” and “Swim”").

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

const SINGULAR: Record<string, string> = { stroke: 'drawing', mindmap: 'mindmap node', node: 'mindmap node' };
const PLURAL: Record<string, string> = { note: 'notes', shape: 'shapes', text: 'texts', comment: 'comments', image: 'images', connector: 'connectors', frame: 'frames', stroke: 'drawings', mindmap: 'mindmap nodes', node: 'mindmap nodes' };

/** A kind as a noun: "a note", "3 mindmap nodes". */
export function kindNoun(kind: string, n: number): string {
  if (n === 1) {
    const w = SINGULAR[kind] ?? kind;
    return (/^[aeiou]/.test(w) ? 'an ' : 'a ') + w;
  }
  return `${n} ${PLURAL[kind] ?? (SINGULAR[kind] ?? kind) + 's'}`;
}

/** An element named by its text: a short preview in quotes ("" when it has none). */
export function quoted(text: string | undefined, max = 40): string {
  const t = (text ?? '').replace(/\s+/g, ' ').trim();
  if (!t) return '';
  return '“' + (t.length > max ? t.slice(0, max - 1).trimEnd() + '…' : t) + '”';
}

/** The elements of a line named by their text ("“A”, “B” and 2 more"). */
function names(texts: string[]): string {
  const q = texts.map((t) => quoted(t)).filter(Boolean);
  if (!q.length) return '';
  const shown = q.slice(0, 3);
  const more = texts.length - shown.length;
  if (more > 0) return shown.join(', ') + ` and ${more} more`;
  return shown.length === 1 ? shown[0] : shown.slice(0, -1).join(', ') + ' and ' + shown[shown.length - 1];
}

const VERB: Record<string, string> = { voted: 'voted for', commented: 'commented on', replied: 'replied on' };

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
    const who = by.map((u) => names_[u] || 'Someone').join(' and ') || 'Someone';
    const comment = e.kind === 'comment';
    // A comment is named by what it is on.
    const kind = comment ? 'comment' : e.kind;
    const key = `${who}\u0000${e.action}\u0000${kind}`;
    let g = out.get(key);
    if (!g) out.set(key, (g = { who, action: e.action, kind, elements: [], text: '', texts: [] }));
    const el = comment && e.target ? e.target : e.element;
    if (g.elements.includes(el)) continue;
    g.elements.push(el);
    g.texts.push(comment ? (e.targetText ?? '') : (e.text ?? ''));
  }
  const res: ChangeGroup[] = [];
  for (const g of out.values()) {
    const n = g.elements.length;
    const named = names(g.texts);
    const verb = VERB[g.action] ?? g.action;
    if (g.kind === 'comment') g.text = `${g.who} ${verb} ${named || (n === 1 ? 'the board' : n + ' elements')}`;
    else if (n === 1) g.text = `${g.who} ${verb} ${named || kindNoun(g.kind, 1)}`;
    else g.text = `${g.who} ${verb} ${kindNoun(g.kind, n)}${named ? ': ' + named : ''}`;
    res.push({ who: g.who, action: g.action, kind: g.kind, elements: g.elements, text: g.text });
  }
  return res;
}
