// Board tokens never stay in the address bar. A page's URL is what people
// copy to share a board; a token in it hands out whatever that token grants
// (an owner token: the whole board, past its password, for a year). Links
// therefore carry their token in the fragment (`/b/{board}#token=…`, which
// browsers never send to a server, so it is in no access log or Referer
// either), and the page takes it out of the address as it starts:
// takeURLToken reads `#token=` (or a legacy `?token=`) and replaces the
// history entry with the same address without it, before anything else
// runs. The token then lives in this browser's storage: the board's record
// in IndexedDB (store.ts), which board.ts writes; until that write is done,
// a hand-over entry in localStorage (synchronous, so a reload at once, or
// the early connection of main.ts, still finds it). The home page hands
// a new board's owner token over the same way instead of putting it in
// the address, and so do the password prompt and the embed's `load`.
//
// Rejected: exchanging the token for a cookie (a cookie per board, on
// every request of every board, and cookie-authenticated writes need CSRF
// checks; the REST calls and the WebSocket take the token as they already
// did); keeping `?token=` and only replacing the history entry (the query
// reaches the server and its logs, and the Referer of the page's first
// requests).
import { localGet, localKeys, localRemove, localSet } from './store';

const key = localKeys.handOver;
const refusedKey = localKeys.refused;

/**
 * Takes a board token out of the page's address: the fragment's `token`
 * (links), else the query's (older links). When either was there, the
 * history entry is replaced by the same address without them (other query
 * and fragment parameters kept). Returns the token, or undefined.
 */
export function takeURLToken(): string | undefined {
  let url: URL;
  try {
    url = new URL(location.href);
  } catch {
    return undefined;
  }
  const frag = new URLSearchParams(url.hash.slice(1));
  const fromFrag = frag.get('token');
  const fromQuery = url.searchParams.get('token');
  if (fromFrag === null && fromQuery === null) return undefined;
  frag.delete('token');
  url.searchParams.delete('token');
  const rest = frag.toString();
  url.hash = rest ? '#' + rest : '';
  try {
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  } catch {
    /* a sandboxed frame may refuse: the token is still taken */
  }
  return fromFrag || fromQuery || undefined;
}

/**
 * Keeps token for board until board.ts has stored it (handedOver,
 * tokenStored). Returns false when localStorage is unavailable.
 */
export function handOver(board: string, token: string): boolean {
  try {
    localSet(key(board), token);
    return true;
  } catch {
    return false;
  }
}

/** The token handed over for board, if any. */
export function handedOver(board: string): string | undefined {
  try {
    return localGet(key(board)) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The board's record now holds token: the hand-over is done (unless another token was handed over since). */
export function tokenStored(board: string, token: string): void {
  try {
    if (localGet(key(board)) === token) localRemove(key(board));
  } catch {
    /* nothing to clean */
  }
}

/**
 * Notes a token the node refused (a revoked link), for the next load of
 * the page to forget before it connects (takeRefused). False when it
 * cannot be noted (no localStorage): the page then does not reload.
 */
export function markRefused(board: string, token: string): boolean {
  try {
    localSet(refusedKey(board), token);
    return true;
  } catch {
    return false;
  }
}

/** The token noted by markRefused, once. */
export function takeRefused(board: string): string | undefined {
  try {
    const t = localGet(refusedKey(board)) ?? undefined;
    if (t !== undefined) localRemove(refusedKey(board));
    return t;
  } catch {
    return undefined;
  }
}

/**
 * A link as it should be shared: its token in the fragment. Links kept
 * from older nodes carry it in the query; they still work, and are moved
 * over here.
 */
export function fragmentLink(link: string): string {
  try {
    const u = new URL(link, location.href);
    const t = u.searchParams.get('token');
    if (t === null) return link;
    u.searchParams.delete('token');
    u.hash = 'token=' + encodeURIComponent(t);
    return u.toString();
  } catch {
    return link;
  }
}

/** The token of a link (fragment or query), if any. */
export function linkToken(link: string): string | undefined {
  try {
    const u = new URL(link, location.href);
    return new URLSearchParams(u.hash.slice(1)).get('token') ?? u.searchParams.get('token') ?? undefined;
  } catch {
    return undefined;
  }
}
