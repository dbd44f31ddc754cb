// The web client's words: one catalogue per language (en.ts, the source,
// and fr.ts), a message chosen by key, with {placeholders} and plurals.
//
// The language is the first of the browser's (navigator.languages) that
// has a catalogue, by its primary subtag ("fr-CA" → fr), else English; a
// key missing from a catalogue falls back to English. A plural message is
// an object of CLDR plural categories (Intl.PluralRules: "one", "other",
// and "zero", "few", "many" where a language has them), chosen by the
// `n` parameter; "other" is always there.
//
// Rejected: a library (i18next, FormatJS): the client needs lookup,
// substitution and plurals, which Intl gives; and catalogues as JSON files
// (no type checking of keys at the call sites; en.ts's type makes every
// t() key checked by tsc, and fr.ts must have the same keys to compile).
import { en, type Key, type Message } from './en';

export type { Key, Message };
import { fr } from './fr';

const CATALOGUES: Record<string, Partial<Record<Key, Message>>> = { en, fr };

/** The language the client speaks: a catalogue's code. */
export function pickLanguage(langs: readonly string[] = typeof navigator === 'undefined' ? [] : navigator.languages ?? [navigator.language]): string {
  for (const l of langs) {
    const base = l.toLowerCase().split('-')[0];
    if (base in CATALOGUES) return base;
  }
  return 'en';
}

let lang = pickLanguage();
let plural = new Intl.PluralRules(lang);

/** The language in use. */
export function language(): string {
  return lang;
}

/** Switches the language (tests; a later language menu). */
export function setLanguage(l: string): void {
  lang = l in CATALOGUES ? l : 'en';
  plural = new Intl.PluralRules(lang);
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

export type Params = Record<string, string | number>;

/** The message of key in the page's language, with params put in ({name}; a plural's form by params.n). */
export function t(key: Key, params: Params = {}): string {
  const m = CATALOGUES[lang][key] ?? en[key];
  let s: string;
  if (typeof m === 'string') s = m;
  else {
    const n = Number(params.n ?? 0);
    const forms = m as Record<string, string>;
    s = forms[plural.select(n)] ?? forms.other;
  }
  return s.replace(/\{(\w+)\}/g, (all, p: string) => (p in params ? String(params[p]) : all));
}

if (typeof document !== 'undefined') document.documentElement.lang = lang;

/** A role's name ("editor"), in the page's language. */
export function roleName(role: string): string {
  const k = `role.${role}` as Key;
  return k in en ? t(k) : role;
}
