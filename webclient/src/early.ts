// The first connection of a first visit, opened before the board's code
// and the WebAssembly are loaded (see EarlySocket). Kept apart from sync.ts
// so that the page's entry (main.ts) can open it without loading Sync.
import { localGet, localKeys, localSet } from './store';

/** The board's WebSocket URL on this node. */
export function wsURL(board: string, token?: string): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/v1/boards/${board}/ws` + (token ? '?token=' + encodeURIComponent(token) : '');
}

/**
 * From how many elements the page asks for the node's far-view summary
 * ahead of a first visit's snapshot (hello's farView, farsummary.ts): on
 * smaller boards the snapshot comes and loads quickly, and their fitted
 * view is not a far view. A test may lower it (globalThis.corkboardFarViewFrom).
 */
export function farViewFrom(): number {
  const t = (globalThis as { corkboardFarViewFrom?: unknown }).corkboardFarViewFrom;
  return typeof t === 'number' && t > 0 ? t : 10000;
}

export function helloFrame(replica: string, version: Record<string, number>, name: string, color: string, farView = 0): string {
  return JSON.stringify({ type: 'hello', replica, version, name: utf8Prefix(name, 64), color: utf8Prefix(color, 32), format: 'binary', ...(farView > 0 ? { farView } : {}) });
}

/**
 * Prepares a first visit's connection (a worker's, main.ts): open makes it,
 * and it sends hello itself as soon as it is open (EarlySocket); discard
 * drops what was prepared, when no connection is made.
 */
export type EarlySocketMaker = () => { open: (url: string, protocol: string, hello: string) => WebSocket; discard: () => void };

/**
 * A connection opened as the page starts, on a first visit of the board
 * (main.ts), while the board's code loads and the WebAssembly compiles:
 * nothing is stored yet, so the doc will start empty and the hello can say
 * so (an empty version vector) at once, as a new replica. What the
 * node sends (the welcome, the board's snapshot, synced) waits in frames
 * until Sync.start takes the connection over and handles it in order. Sync
 * takes it only if the doc is still empty then and the replica and token
 * the same (else it closes it and connects as usual), so the hello it sent
 * is the one Sync would have sent.
 *
 * Rejected: connecting from Sync itself before the doc exists (every path
 * of Sync reads the doc; a doc-less state in it would touch all of them),
 * and painting a first frame from the REST state before the doc is loaded
 * (a second, different path to the screen, and the same elements read and
 * laid out twice on a loaded 2-core machine). The one exception is the far
 * view of a big board (farsummary.ts): boxes only, from the node's summary
 * on this same connection, drawn where the far view draws them.
 */
export class EarlySocket {
  readonly ws: WebSocket;
  readonly frames: (string | ArrayBuffer)[] = [];
  opened = false;
  closed = false;
  /**
   * The socket sends hello itself when it opens (a WorkerSocket): whoever
   * takes the connection over before its open event reaches the page must
   * not send another (the node refuses a second hello).
   */
  readonly sendsOwnHello: boolean;

  /**
   * socket: makes the connection and sends hello as soon as it opens (a
   * WorkerSocket, main.ts); by default an ordinary WebSocket, which is
   * sent hello from here.
   */
  constructor(
    board: string,
    readonly token: string | undefined,
    readonly replica: string,
    name: string,
    color: string,
    socket?: ReturnType<EarlySocketMaker>['open'],
  ) {
    this.sendsOwnHello = !!socket;
    const hello = helloFrame(replica, {}, name, color, farViewFrom());
    const ws = socket ? socket(wsURL(board, token), 'corkboard.v1', hello) : new WebSocket(wsURL(board, token), 'corkboard.v1');
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      this.opened = true;
      performance.mark('corkboard:ws-open');
      if (!socket) ws.send(hello);
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string' && !this.frames.some((f) => typeof f !== 'string')) performance.mark('corkboard:early-binary');
      markArrival(ev.data);
      this.frames.push(ev.data);
    };
    ws.onclose = () => (this.closed = true);
    this.ws = ws;
  }

  /** Closes it unused. */
  discard(): void {
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    try {
      this.ws.close(1000, 'not needed');
    } catch {
      /* already closing */
    }
  }
}

const arrived = new Set<string>();

/**
 * Marks when the first frame of each kind of a board's catch-up came in
 * (performance marks corkboard:arrived-<kind>: welcome, far-view,
 * snapshot, synced), before the page handles it: bench/web's traces.
 */
export function markArrival(data: string | ArrayBuffer): void {
  if (arrived.size >= 4) return;
  let kind = '';
  if (typeof data !== 'string') {
    const tag = data instanceof ArrayBuffer && data.byteLength ? new Uint8Array(data, 0, 1)[0] : 0;
    kind = tag === 0x03 ? 'snapshot' : tag === 0x04 ? 'far-view' : '';
  } else if (data.startsWith('{"type":"welcome"')) kind = 'welcome';
  else if (data.startsWith('{"type":"synced"')) kind = 'synced';
  if (kind && !arrived.has(kind)) {
    arrived.add(kind);
    performance.mark('corkboard:arrived-' + kind);
  }
}

/** Cuts s to at most max bytes of UTF-8, on a character boundary. */
export function utf8Prefix(s: string, max: number): string {
  const enc = new TextEncoder();
  while (enc.encode(s).length > max) s = Array.from(s).slice(0, -1).join('');
  return s;
}

const knownKey = localKeys.known;

/**
 * Opens the early connection when this browser has not opened the board
 * before (no mark in localStorage, so nothing of it is stored), else
 * undefined at once. The mark is set by markKnown once the board's
 * replica is stored; a board opened before marks existed costs one unused
 * early connection, which Sync closes.
 *
 * It waits for access, the page's first question to the node (GET
 * /v1/boards/{board}, main.ts): only a board that lets this browser in is
 * connected to. A password board (or a revoked link, a members-only
 * board) answers 401, and the page asks for the password instead of
 * trying a WebSocket the node would refuse (a failed connection is an
 * error in the console). The check costs nothing on the way: the board's
 * code and the WebAssembly, which the first visit waits for anyway, take
 * longer to load than one REST round trip.
 */
export function openEarly(board: string, token: string | undefined, replica: string, name: string, color: string, access: Promise<Response>, socket?: EarlySocketMaker): Promise<EarlySocket | undefined> {
  try {
    if (localGet(knownKey(board)) || navigator.onLine === false) return Promise.resolve(undefined);
  } catch {
    return Promise.resolve(undefined); // no localStorage (privacy settings): the usual path
  }
  // Prepared now (a worker's script loads meanwhile), opened once the node let this browser in.
  let made: ReturnType<EarlySocketMaker> | undefined;
  try {
    made = socket?.();
  } catch {
    made = undefined; // no worker: an ordinary WebSocket
  }
  return access.then(
    (r) => {
      if (r.ok)
        try {
          return new EarlySocket(board, token, replica, name, color, made?.open);
        } catch {
          /* no WebSocket: the usual path */
        }
      made?.discard();
      return undefined;
    },
    () => {
      made?.discard();
      return undefined;
    },
  );
}

/** Asks the node for the board (its metadata and one's role): the page's first request. */
export function askBoard(board: string, token: string | undefined): Promise<Response> {
  return fetch(`/v1/boards/${board}`, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
}

/** Notes that the board has a stored replica in this browser. */
export function markKnown(board: string): void {
  try {
    localSet(knownKey(board), '1');
  } catch {
    /* then every visit counts as a first one: an unused early connection */
  }
}
