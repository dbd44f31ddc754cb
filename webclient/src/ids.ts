// Identifiers and colours.
import { localGet, localKeys, localSet } from './store';

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. */
export function uuidv7(now = Date.now()): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A random non-zero 64-bit replica id, as 16 hex digits (docs/PROTOCOL.md section 2). */
export function newReplicaId(): string {
  for (;;) {
    const s = hex(crypto.getRandomValues(new Uint8Array(8)));
    if (!/^0+$/.test(s)) return s;
  }
}

/** The palette names of docs/SCHEMA.md and how they are painted. */
export const PALETTE: Record<string, string> = {
  yellow: '#fff176',
  orange: '#ffcc80',
  pink: '#f8bbd0',
  purple: '#d1c4e9',
  blue: '#b3e5fc',
  green: '#c5e1a5',
  gray: '#e0e0e0',
};

/** A CSS colour for a schema colour value (palette name, #rrggbb[aa], transparent). */
export function cssColor(v: unknown, fallback: string): string {
  if (typeof v !== 'string' || v === '') return cssColor(fallback, '#000000');
  if (Object.hasOwn(PALETTE, v)) return PALETTE[v]; // not `in`: "constructor" is in every object
  if (v === 'transparent' || /^#[0-9a-fA-F]{6}([0-9a-fA-F]{2})?$/.test(v)) return v;
  return cssColor(fallback, '#000000');
}

const CURSOR_COLORS = ['#e8590c', '#1c7ed6', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5f3dc4'];

/** A cursor colour for this browser, kept across visits. */
export function myColor(): string {
  let c = localGet(localKeys.color);
  if (!c || !/^#[0-9a-f]{6}$/.test(c)) {
    c = CURSOR_COLORS[Math.floor(Math.random() * CURSOR_COLORS.length)];
    localSet(localKeys.color, c);
  }
  return c;
}

/**
 * A person's colour (a peer's, a member's) as the page may use it in a style:
 * `#rrggbb`, else grey. It comes from other people's hellos through the node,
 * which checks it too; a page never puts such a string in a style unchecked.
 */
export function personColor(c: unknown): string {
  return typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) ? c : '#868e96';
}

/** Keeps the colour the node gave this browser's guest (it avoids those of others present). */
export function setMyColor(c: string): void {
  if (/^#[0-9a-f]{6}$/.test(c)) localSet(localKeys.color, c);
}

/** Whether a user id is a guest's or a link visitor's (no account: no profile colour or name). */
export function isGuest(userId: string): boolean {
  return userId.startsWith('guest-') || userId.startsWith('link-');
}

/** The display name this browser gives itself (guests and link visitors). */
export function myName(): string {
  let n = localGet(localKeys.name);
  if (!n) {
    n = 'Guest ' + Math.floor(100 + Math.random() * 900);
    localSet(localKeys.name, n);
  }
  return n;
}

export function setMyName(n: string): void {
  localSet(localKeys.name, n.slice(0, 60));
}
