// The sync protocol (docs/PROTOCOL.md, `corkboard.v1`), mirroring
// server/client/client.go: hello with the doc's version vector, catch-up
// (ops or a snapshot), synced, then the outbox; acks drop changes from the
// outbox, refusals start a new replica, closes reconnect with backoff or
// stop. Every local change is applied at once and kept in IndexedDB until
// acked, so a reload or a week offline loses nothing.
import type { Committed, CrdtDoc } from './crdt';
import { loadKept, saveKept, type DocPart, type DocWrite, type KeptWords, type Persistence, type ReplicaRecord } from './store';
import type { Claim } from './replica';
import { helloFrame, markArrival, wsURL, type EarlySocket } from './early';
import { isGuest, newReplicaId, setMyColor } from './ids';
import { loadSnapshotInSlices, steppedBytes } from './steps';
import { peerOf, type Peer, type PresenceData } from './peerdata';

export type ConnState = 'connecting' | 'syncing' | 'live' | 'offline' | 'stopped';

export interface User {
  id: string;
  name: string;
  role: string;
  color?: string;
}

// A peer's presence data is checked where it arrives (peerdata.ts).
export type { Peer, PresenceData } from './peerdata';

export interface SyncEvents {
  /**
   * The node's far-view summary arrived, ahead of the snapshot (hello's
   * farView; farsummary.ts). A promise holds the frames that follow (the
   * snapshot, changes: kept in order, none dropped) until it settles, so
   * that the page can put the summary on screen first.
   */
  farView?(body: Uint8Array): Promise<void> | void;
  /** Remote changes are about to be applied (commit local typing first). */
  beforeRemote(): void;
  /** Elements changed remotely; null: possibly all of them (snapshot, reset). */
  remote(ids: string[] | null): void;
  /** The connection state, the pending count or the user changed. */
  state(): void;
  peers(): void;
  /** refused: set when a refused change made the replica start over (the page words it in its own language). */
  notice(message: string, error?: boolean, refused?: Refusal): void;
}

/** A refused change that made the replica start over: why, how many unsent changes were lost, and whether their words were kept. */
export interface Refusal {
  why: string;
  lost: number;
  kept: boolean;
}

export interface SyncOptions {
  board: string;
  name: string;
  color: string;
  store: Persistence;
  doc: CrdtDoc;
  claim: Claim;
  /** Makes a claim on a new replica (after a refused change or a 4104). */
  newClaim(): Promise<Claim>;
  events: SyncEvents;
  /** Where the node is (default: the page's own node, early.ts' wsURL and relative REST paths). */
  endpoint?: Endpoint;
  /** The WebSocket class (default: the global one; in Node 20, run with --experimental-websocket or pass the `ws` package's). */
  WebSocket?: WebSocketClass;
  /** Keeps the colour the node gave a guest (default: ids.ts' setMyColor, this browser's colour). */
  keepColor?(color: string): void;
  /** Ask for the far-view summary on boards of at least this many elements (SyncEvents.farView; default 0: never). */
  farView?: number;
  /** Keep the words of refused changes in localStorage for keptwords.ts (default true; the SDK outside the page: false). */
  keepWords?: boolean;
  /**
   * While it returns true, saves of the doc wait: the board page reading a
   * board loaded whole, a slice at a time (a save of a big board takes a
   * fifth of a second, which the board would be late by).
   */
  busy?(): boolean;
}

/** How to reach a node: its board WebSocket URL and its REST URLs. */
export interface Endpoint {
  ws(board: string, token?: string): string;
  http(path: string): string;
}

/** What Sync needs of a WebSocket class (the browser's, Node's, or the `ws` package's). */
export type WebSocketClass = new (url: string, protocols?: string | string[]) => WebSocket;

/** WebSocket.OPEN (the constant, for classes that lack the static). */
const OPEN = 1;

/** The page's node: same origin (early.ts). */
const pageEndpoint: Endpoint = { ws: (board, token) => wsURL(board, token), http: (path) => path };

/** Whether there is a browser window to listen to (online, pagehide, visibility): not in Node. */
const hasWindow = typeof window !== 'undefined' && typeof document !== 'undefined';

/**
 * A stored snapshot this big or bigger gets parts appended after it at a
 * save, rather than the doc encoded anew (store.ts, "parts"): about 3,000
 * elements, whose encoding takes some 10 ms.
 */
const APPEND_FROM_BYTES = 512 << 10;

/** APPEND_FROM_BYTES, or the page's globalThis.corkboardAppendFromBytes (browser tests store small boards in parts). */
function appendFromBytes(): number {
  const t = (globalThis as { corkboardAppendFromBytes?: unknown }).corkboardAppendFromBytes;
  return typeof t === 'number' && t >= 0 ? t : APPEND_FROM_BYTES;
}

/** False only when the browser knows it is offline. */
function online(): boolean {
  return typeof navigator === 'undefined' || navigator.onLine !== false;
}

interface Pending {
  start: number;
  bytes: Uint8Array;
  /** The batch it was sent in on this connection; 0: not sent yet. */
  seq: number;
  acked: boolean;
  /** Refused as clock_ahead or rate_limited: not sent again before this time (Date.now(), ms), nor the changes after it. */
  notBefore?: number;
}

/** Error codes that refuse content: the replica has diverged (PROTOCOL.md section 7). */
const REFUSALS = new Set(['malformed', 'forbidden', 'schema', 'invalid_op', 'wrong_replica', 'too_large', 'read_only']);

/** A JSON frame from the node, as listeners see it. */
export type Frame = { type: string } & Record<string, unknown>;

/**
 * How long changes refused as clock_ahead wait before they are sent again.
 * Such a change is taken once the node's clock has reached its time (less
 * the node's margin); the message says how far ahead it was, but a page
 * that stamps with the node's clock (the welcome's "now") has such changes
 * only from before it knew the offset, a little ahead at most.
 */
const CLOCK_AHEAD_RETRY_MS = 15_000;
/** How long to wait before sending again a batch the node could not take now ("unavailable": its disk below its reserve, or its peers slow to confirm). */
const UNAVAILABLE_RETRY_MS = 10_000;
/**
 * A batch refused as rate_limited without a retryAfter is sent again after
 * 1-2 s, then, while refusals follow each other with no ack between,
 * twice as late each time, up to a minute.
 */
const RATE_RETRY_MS = 1_000;
const RATE_RETRY_MAX_MS = 60_000;
const MAX_BATCH_CHANGES = 500;
const MAX_BATCH_BYTES = 512 << 10;
const PRESENCE_EVERY_MS = 50;
const PING_EVERY_MS = 20_000;
const SILENCE_MS = 45_000;

function pushUvarint(out: number[], n: number): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

/** A client → node binary ops frame: 0x01 · seq · batch (PROTOCOL.md section 4). */
export function encodeOpsFrame(seq: number, changes: Uint8Array[]): Uint8Array {
  const head: number[] = [0x01];
  pushUvarint(head, seq);
  pushUvarint(head, changes.length);
  let size = head.length;
  const lens = changes.map((c) => {
    const l: number[] = [];
    pushUvarint(l, c.length);
    size += l.length + c.length;
    return l;
  });
  const out = new Uint8Array(size);
  out.set(head, 0);
  let off = head.length;
  changes.forEach((c, i) => {
    out.set(lens[i], off);
    off += lens[i].length;
    out.set(c, off);
    off += c.length;
  });
  return out;
}

export class Sync {
  state: ConnState = 'connecting';
  /** Why the connection is down or stopped, for people. */
  detail = '';
  user?: User;
  session = '';
  readonly peers = new Map<string, Peer>();
  /** Called with every JSON frame from the node, after Sync handled it (role, error, …). */
  readonly listeners: ((f: Frame) => void)[] = [];
  /** Called with the words of refused changes as they are kept (keptwords.ts shows them). */
  readonly onKept: ((k: KeptWords) => void)[] = [];

  private o: SyncOptions;
  private claim: Claim;
  private ws: WebSocket | null = null;
  private pending: Pending[] = [];
  private seq = 0;
  private attempts = 0;
  /** Rounds of rate_limited refusals since the last ack (the backoff's exponent). */
  private rateRefusals = 0;
  /** Until when this round's refused changes wait (Date.now(), ms): refusals of batches sent before it are the same round. */
  private rateGate = 0;
  /** The flush armed for the first change that waits (notBefore), and when. */
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private waitAt = 0;
  /** Why changes wait (a refusal's message), the status's detail while they do. */
  private waitReason = '';
  private failedOpens = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private flushQueued = false;
  private lastHeard = 0;
  private pingN = 0;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private presenceData: PresenceData | null = null;
  private presenceSentAt = 0;
  private presenceTimer: ReturnType<typeof setTimeout> | undefined;
  private persistTimer: ReturnType<typeof setTimeout> | undefined;
  private persisting = false;
  private persistAgain = false;
  private persistCostMs = 0;
  /**
   * This replica's stored doc (store.ts, "parts"): its snapshot's size,
   * the size of the parts after it, and the next part's number; null: none
   * stored, or stored by version 2 (the next save writes a snapshot).
   */
  private stored: { snapshot: number; tail: number; next: number } | null = null;
  /** The node's batches applied since the last save, in order: the next parts. */
  private unsaved: { batch: Uint8Array }[] = [];
  private unsavedBytes = 0;
  /** A snapshot from the node that replaced the doc since the last save: stored as it came. */
  private base: Uint8Array | null = null;
  private stopped = false;
  private resetting = false;
  /** The last counter of this replica's stored changes. */
  private ownEnd = 0;
  private early: EarlySocket | undefined;
  /** Frames held while the page puts a far-view summary on screen (receive). */
  private holding: { ws: WebSocket | null; data: string | ArrayBuffer }[] | null = null;

  constructor(o: SyncOptions) {
    this.o = o;
    this.claim = o.claim;
  }

  get replica(): string {
    return this.claim.rec.replica;
  }

  get record(): ReplicaRecord {
    return this.claim.rec;
  }

  /** Changes made here that the node has not acknowledged yet. */
  get unacked(): number {
    let n = 0;
    for (const p of this.pending) if (!p.acked) n++;
    return n;
  }

  /**
   * Whether local edits may be made now. Not while one of this replica's
   * own stored changes is held for lack of something it depends on (the
   * tab closed before storing the doc that had it): a new change would
   * take the held change's counters. The catch-up releases it.
   */
  get canWrite(): boolean {
    return (this.o.doc.version()[this.replica] ?? 0) >= this.ownEnd;
  }

  /** The role on this board, once known (from a welcome, now or on an earlier visit). */
  get role(): string | undefined {
    return this.user?.role ?? this.claim.rec.role;
  }

  /**
   * Loads the replica's stored copy and outbox into the doc. Call once,
   * before start.
   */
  async load(): Promise<void> {
    const { doc, store, board } = this.o;
    const rec = this.claim.rec;
    // The stored doc: this replica's, or (a new replica) the newest other
    // one's, which is then stored whole at the first save as this one's.
    type Part = Pick<DocPart, 'n' | 'snapshot' | 'batch' | 'change'>;
    const partsOf = async (r: ReplicaRecord | undefined): Promise<Part[]> =>
      !r ? [] : r.snapshot ? [{ n: 0, snapshot: r.snapshot }] : store.docParts ? await store.docParts(board, r.replica) : [];
    let from: ReplicaRecord | undefined = rec;
    let parts = await partsOf(rec);
    if (!parts.length && this.claim.seed) parts = await partsOf((from = this.claim.seed));
    let base = false;
    for (const p of parts) {
      try {
        if (p.snapshot) doc.loadSnapshot(p.snapshot);
        else if (p.batch) doc.applyBatch(p.batch);
        else if (p.change) {
          doc.applyChange(p.change);
          // Our own acked changes: a new change never takes their counters,
          // even where the snapshot before them was unreadable.
          const info = doc.changeInfo(p.change);
          if (info.replica === rec.replica) this.ownEnd = Math.max(this.ownEnd, info.end);
        }
        if (p.snapshot) base = true;
      } catch (e) {
        console.warn('corkboard: a stored part of the doc is unreadable', p.n, e);
      }
    }
    // Parts are appended only after a snapshot that loaded; else the next save writes one.
    if (from === rec && !rec.snapshot && base && parts[0]?.snapshot) {
      const tail = parts.reduce((n, p) => n + (p.batch?.length ?? p.change?.length ?? 0), 0);
      this.stored = { snapshot: parts[0].snapshot.length, tail, next: parts[parts.length - 1].n + 1 };
    }
    for (const e of await store.outbox(board, rec.replica)) {
      try {
        doc.applyChange(e.bytes);
        this.ownEnd = Math.max(this.ownEnd, doc.changeInfo(e.bytes).end);
      } catch (err) {
        console.warn('corkboard: outbox entry unreadable', err);
        continue;
      }
      this.pending.push({ start: e.start, bytes: e.bytes, seq: 0, acked: false });
    }
    doc.setReplica(rec.replica);
    // Offline, the node's word from the last welcome: a signed-in person
    // keeps their own name and colour (not this browser's guest name).
    if (rec.userId) this.user = { id: rec.userId, name: rec.userName ?? this.o.name, role: rec.role ?? '', color: rec.userColor };
  }

  /**
   * Connects, and keeps connecting until stop. early: a connection opened
   * before the doc was loaded (see EarlySocket), used if it still fits.
   */
  start(early?: EarlySocket): void {
    this.early = early;
    if (hasWindow) {
      addEventListener('online', this.onOnline);
      addEventListener('offline', this.onOffline);
      addEventListener('pagehide', this.onHide);
      document.addEventListener('visibilitychange', this.onHide);
    }
    this.heartbeat = setInterval(this.beat, PING_EVERY_MS);
    if (!online()) this.reconnectLater('no network');
    else this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.early?.discard();
    this.early = undefined;
    clearTimeout(this.retryTimer);
    clearTimeout(this.waitTimer);
    clearInterval(this.heartbeat);
    if (hasWindow) {
      removeEventListener('online', this.onOnline);
      removeEventListener('offline', this.onOffline);
      removeEventListener('pagehide', this.onHide);
      document.removeEventListener('visibilitychange', this.onHide);
    }
    this.drop(1000, 'bye');
    this.setState('stopped', 'closed');
    // The replica is let go once the last save is written: a page taking
    // it up meanwhile would number its parts from the same place.
    const claim = this.claim;
    void this.finalSave().finally(() => claim.release());
  }

  /** Keeps a local change (already applied to the doc) and sends it. */
  commit(c: Committed): void {
    const { store, board } = this.o;
    this.pending.push({ start: c.start, bytes: c.change, seq: 0, acked: false });
    store.addOutbox({ board, replica: this.replica, start: c.start, bytes: c.change }).catch((e) => console.warn('corkboard: outbox write failed', e));
    this.schedulePersist();
    this.o.events.state();
    if (!this.flushQueued) {
      // Changes made in one task go out in one frame.
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
  }

  /** Sets this session's presence; sent at most every 50 ms, the latest wins. */
  presence(data: PresenceData): void {
    this.presenceData = data;
    if (this.presenceTimer) return;
    const wait = Math.max(0, this.presenceSentAt + PRESENCE_EVERY_MS - Date.now());
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = undefined;
      if (this.state !== 'live' || !this.ws || !this.presenceData) return;
      this.presenceSentAt = Date.now();
      this.send(JSON.stringify({ type: 'presence', data: this.presenceData }));
    }, wait);
  }

  /** Tries to connect now (a person pressed "retry"). */
  retry(): void {
    if (this.stopped || this.ws?.readyState === OPEN) return;
    // A connection still trying (to a network that was down) gives way to a new one.
    if (this.ws) this.drop(1000, 'retry');
    this.attempts = 0;
    this.connect();
  }

  /**
   * Connects with another token from now on (the owner's new one after the
   * links were revoked or a password set, which ended the connection made
   * with the old one): the replica record keeps it, and the connection is
   * opened again with it at once.
   */
  setToken(token: string): void {
    if (this.claim.rec.token === token) return;
    this.claim.rec.token = token;
    this.schedulePersist();
    if (this.stopped) return;
    this.drop(1000, 'new token');
    this.attempts = 0;
    this.connect();
  }

  // ---- connection ----

  private url(): string {
    return (this.o.endpoint ?? pageEndpoint).ws(this.o.board, this.claim.rec.token);
  }

  private setState(s: ConnState, detail = ''): void {
    this.state = s;
    // Changes waiting for a refusal's time keep saying why across a reconnect.
    this.detail = detail || (this.waitReason && this.waiting() ? this.waitReason : '');
    this.o.events.state();
  }

  /** Whether an unacked change waits for a refusal's time (notBefore). */
  private waiting(): boolean {
    const now = Date.now();
    return this.pending.some((p) => !p.acked && p.notBefore !== undefined && p.notBefore > now);
  }

  private connect(): void {
    clearTimeout(this.retryTimer);
    if (this.stopped || this.ws) return;
    this.setState('connecting');
    const early = this.early;
    this.early = undefined;
    if (early && (early.closed || early.replica !== this.replica || early.token !== this.claim.rec.token || Object.keys(this.o.doc.version()).length > 0)) early.discard();
    else if (early) {
      this.adopt(early);
      return;
    }
    let ws: WebSocket;
    try {
      const WS = this.o.WebSocket ?? globalThis.WebSocket;
      if (!WS) throw new Error('no WebSocket here (Node 20: run with --experimental-websocket, or pass one)');
      ws = new WS(this.url(), 'corkboard.v1');
    } catch (e) {
      this.setState('stopped', String(e));
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.attach(ws, false);
  }

  /** Takes over an early connection and handles what it has received so far. */
  private adopt(early: EarlySocket): void {
    const ws = early.ws;
    this.ws = ws;
    this.attach(ws, early.opened, early.sendsOwnHello);
    if (early.opened) {
      this.failedOpens = 0;
      this.lastHeard = Date.now();
    }
    for (const data of early.frames.splice(0)) {
      if (this.ws !== ws) return;
      try {
        this.receive(data);
      } catch (e) {
        console.error('corkboard: handling a message failed', e);
      }
    }
  }

  /**
   * attach handles ws's events. alreadyOpen: its open event came already
   * (an early connection's); helloSent: it sends its hello itself when it
   * opens (an early connection in a worker, taken over before its open
   * event reached the page: a second hello here was refused by the node).
   */
  private attach(ws: WebSocket, alreadyOpen: boolean, helloSent = false): void {
    let opened = alreadyOpen;
    if (!alreadyOpen)
      ws.onopen = () => {
        opened = true;
        performance.mark('corkboard:ws-open');
        this.failedOpens = 0;
        this.lastHeard = Date.now();
        if (!helloSent) this.send(helloFrame(this.replica, this.o.doc.version(), this.o.name, this.user?.color || this.o.color, this.o.farView ?? 0));
      };
    else ws.onopen = null;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      markArrival(ev.data);
      this.lastHeard = Date.now();
      try {
        this.receive(ev.data);
      } catch (e) {
        console.error('corkboard: handling a message failed', e);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.closed(ev.code, ev.reason, opened);
    };
    ws.onerror = () => {
      // A handshake that failed (refused, unreachable): browsers follow the
      // error with a close (1006), Node 20's WebSocket does not and stays
      // "connecting": end it here either way (the close is then ignored).
      if (opened || this.ws !== ws) return;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
      try {
        ws.close();
      } catch {
        /* never opened */
      }
      this.closed(1006, '', false);
    };
  }

  private send(data: string | Uint8Array): void {
    if (this.ws?.readyState === OPEN) this.ws.send(data as string | ArrayBufferView<ArrayBuffer>);
  }

  /** Ends the connection from this side, without the close handling. */
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.onclose = ws.onmessage = ws.onopen = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closing */
    }
    this.disconnected();
  }

  /** Forgets what belonged to the connection. */
  private disconnected(): void {
    this.session = '';
    if (this.peers.size) {
      this.peers.clear();
      this.o.events.peers();
    }
    for (const p of this.pending) if (!p.acked) p.seq = 0;
  }

  private closed(code: number, reason: string, opened: boolean): void {
    this.disconnected();
    if (this.stopped || this.resetting) return;
    if (code === 4104) {
      void this.startOver('this replica id belongs to another user');
      return;
    }
    // PROTOCOL.md section 9: 1000 is final, 1001 and 4000–4099 reconnect,
    // 4100–4199, 1008 and 1009 are terminal. Anything else (1006: the
    // network dropped) reconnects.
    if ((code >= 4100 && code < 4200) || code === 1008 || code === 1009 || code === 1000) {
      this.setState('stopped', reason || `the node closed the connection (${code})`);
      return;
    }
    if (!opened) {
      this.failedOpens++;
      if (this.failedOpens >= 2 && online()) {
        void this.checkBoard();
        return;
      }
    }
    this.reconnectLater(reason || (opened ? 'connection lost' : 'cannot reach the node'));
  }

  /** After failed upgrades, asks the REST API why: a 401 or 404 will not go away by retrying. */
  private async checkBoard(): Promise<void> {
    const token = this.claim.rec.token;
    try {
      const r = await fetch((this.o.endpoint ?? pageEndpoint).http(`/v1/boards/${this.o.board}`), { headers: token ? { Authorization: 'Bearer ' + token } : {} });
      if ((r.status === 400 || r.status === 401 || r.status === 403 || r.status === 404) && !this.ws) {
        const body = await r.json().catch(() => null);
        this.setState('stopped', body?.error?.message ?? `refused (${r.status})`);
        return;
      }
    } catch {
      /* unreachable: keep trying */
    }
    // Connected meanwhile (retry), or stopped: nothing to schedule.
    if (this.ws || this.stopped) return;
    this.reconnectLater('cannot reach the node');
  }

  private reconnectLater(why: string): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    // Exponential backoff with jitter; while the browser says it is
    // offline, only a slow poll (the online event reconnects at once).
    const base = !online() ? 30_000 : Math.min(30_000, 500 * 2 ** this.attempts);
    this.attempts++;
    const delay = base * (0.5 + Math.random() / 2);
    this.setState('offline', why);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private onOnline = () => {
    this.attempts = 0;
    if (!this.ws && !this.stopped && this.state !== 'stopped') this.connect();
  };

  private onOffline = () => {
    if (this.stopped || this.state === 'stopped') return;
    this.drop(1000, 'offline');
    this.reconnectLater('no network');
  };

  private onHide = () => {
    if (document.visibilityState === 'hidden' || !document.visibilityState) void this.persistNow();
  };

  private beat = () => {
    if (!this.ws || this.ws.readyState !== OPEN) return;
    if (Date.now() - this.lastHeard > SILENCE_MS) {
      // The node has said nothing, not even pong: the path is dead.
      this.drop(1000, 'no answer');
      this.reconnectLater('the node stopped answering');
      return;
    }
    this.send(JSON.stringify({ type: 'ping', n: ++this.pingN }));
  };

  // ---- receiving ----

  /**
   * Holds the frames that arrive until p settles, then handles them in
   * order: nothing is reordered while the page draws the far-view summary
   * or loads a big snapshot in slices. Frames of a connection closed
   * meanwhile are dropped: the next connection's hello gives the doc's
   * version, and the node catches up from there.
   */
  private holdUntil(p: Promise<unknown>): void {
    this.holding = [];
    const resume = () => {
      const held = this.holding ?? [];
      this.holding = null;
      for (let i = 0; i < held.length; i++) {
        if (held[i].ws !== this.ws) continue;
        try {
          this.receive(held[i].data);
        } catch (e) {
          console.error('corkboard: handling a message failed', e);
        }
        // A frame that holds again (a snapshot loading in slices) keeps the rest behind it.
        // (TypeScript narrowed this.holding to null above; receive may have set it.)
        const again = this.holding as typeof held | null;
        if (again) {
          again.push(...held.slice(i + 1));
          return;
        }
      }
    };
    p.then(resume, resume);
  }

  /** After the node's snapshot replaced the doc: our unacked changes back on top, and the page told. */
  private snapshotLoaded(snap: Uint8Array): void {
    performance.mark('corkboard:snapshot-loaded');
    // The next save stores it as it came; what was applied before it is in it.
    this.base = snap;
    this.unsaved = [];
    this.unsavedBytes = 0;
    // Our own changes the node has not seen: back on top.
    for (const p of this.pending) {
      try {
        this.o.doc.applyChange(p.bytes);
      } catch (e) {
        console.warn('corkboard: re-applying an outbox change failed', e);
      }
    }
    this.o.events.remote(null);
    // Stored 800 ms or more from now, not when the welcome's timer says:
    // that one fell due while the snapshot loaded, and its encoding of the
    // whole doc (0.3-0.5 s for 100,000 elements) ran before the page's
    // first frame from the board.
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.schedulePersist();
  }

  private receive(data: string | ArrayBuffer): void {
    if (this.holding) {
      this.holding.push({ ws: this.ws, data });
      return;
    }
    const ev = this.o.events;
    if (typeof data !== 'string') {
      const b = new Uint8Array(data);
      if (b[0] === 0x04) {
        // The far-view summary: what follows waits until the page drew it.
        const shown = ev.farView?.(b.subarray(1));
        if (shown) this.holdUntil(shown);
      } else if (b[0] === 0x02) {
        ev.beforeRemote();
        const batch = b.subarray(1);
        const r = this.o.doc.applyBatch(batch);
        this.unsaved.push({ batch });
        this.unsavedBytes += batch.length;
        if (r.ids.length) ev.remote(r.ids);
        this.schedulePersist();
      } else if (b[0] === 0x03) {
        ev.beforeRemote();
        performance.mark('corkboard:snapshot-in');
        const body = b.subarray(1);
        if (body.length < steppedBytes()) {
          this.o.doc.loadSnapshot(body);
          this.snapshotLoaded(body);
        } else {
          // A big board: loaded in slices (steps.ts), the page drawing and
          // taking input meanwhile; what follows waits for it, in order.
          // A connection closed meanwhile: its snapshot is still the
          // node's state at some point, kept as one loaded at once would be.
          this.holdUntil(
            loadSnapshotInSlices(this.o.doc, body).then(
              () => this.snapshotLoaded(body),
              (e) => console.error('corkboard: handling a message failed', e),
            ),
          );
        }
      }
      return;
    }
    const f = JSON.parse(data);
    switch (f.type) {
      case 'welcome': {
        this.session = f.session;
        this.user = f.user;
        // Stamp changes with the node's clock (PROTOCOL.md 5.1).
        if (typeof f.now === 'number') this.o.doc.clockOffset = f.now - Date.now();
        const rec = this.claim.rec;
        if (f.token) rec.token = f.token; // a guest: keep the identity
        rec.userId = f.user.id;
        rec.role = f.user.role;
        rec.userName = f.user.name;
        rec.userColor = f.user.color;
        // Changes of ours the node has already (their ack was lost) are
        // done, not sent again: the node checks a change as it arrives, and
        // one that passed may not pass twice (a conversion moving other
        // people's dots, once its old element is gone).
        const have = Number(f.version?.[this.replica] ?? 0);
        for (const p of this.pending) if (!p.acked && p.start <= have) p.acked = true;
        // A guest's colour is its browser's; the node may have swapped it
        // for one nobody present wears: keep that one from now on.
        if (f.user.color && isGuest(f.user.id)) (this.o.keepColor ?? setMyColor)(f.user.color);
        this.peers.clear();
        for (const raw of Array.isArray(f.peers) ? f.peers : []) {
          const p = peerOf(raw);
          if (p && p.session !== this.session) this.peers.set(p.session, p);
        }
        ev.peers();
        this.setState('syncing');
        this.schedulePersist();
        break;
      }
      case 'synced':
        this.attempts = 0;
        this.setState('live');
        this.flush(); // the outbox, then live changes
        if (this.presenceData) this.presence(this.presenceData);
        break;
      case 'ack':
        this.acked(f.seq, (f.applied ?? 0) + (f.duplicate ?? 0) + (f.held ?? 0));
        break;
      case 'error':
        this.refused(f);
        break;
      case 'presence': {
        const p = peerOf(f.peer);
        if (p && p.session !== this.session) {
          this.peers.set(p.session, p);
          ev.peers();
        }
        break;
      }
      case 'leave':
        if (this.peers.delete(f.session)) ev.peers();
        break;
      case 'shutdown':
        this.detail = f.reason ?? '';
        break;
      case 'role':
        // The owner changed our role: what the page allows follows at once.
        if (this.user) this.user = { ...this.user, role: f.role };
        this.claim.rec.role = f.role;
        this.schedulePersist();
        ev.state();
        break;
    }
    for (const fn of this.listeners) {
      try {
        fn(f);
      } catch (e) {
        console.error('corkboard: frame listener', e);
      }
    }
  }

  /** Batch seq is durable on the node: its first n changes (all, normally). */
  private acked(seq: number, n: number): void {
    const batch = this.pending.filter((p) => p.seq === seq && !p.acked);
    for (const p of batch.slice(0, n >= batch.length ? batch.length : n)) p.acked = true;
    this.rateRefusals = 0;
    // The reason changes waited goes once none does (a later batch taken
    // while an earlier one waits for the day's end says nothing of it).
    if (this.waitReason && !this.waiting()) {
      if (this.detail === this.waitReason) this.detail = '';
      this.waitReason = '';
    }
    this.schedulePersist();
    this.o.events.state();
  }

  /** Changes wait for the reason the node gave (a refusal's message), the status's detail while they do. */
  private waitingBecause(why: string): void {
    this.detail = why;
    this.waitReason = why;
  }

  private refused(f: { code: string; message?: string; seq?: number; accepted?: number; retryAfter?: number }): void {
    if (f.code === 'rate_limited') {
      // Not a refusal of content: send again later (without a seq, the
      // dropped frame is unknown: resend everything unacked), and the
      // changes after it with it, in order. When the node says when
      // (retryAfter, s: a day's bytes of changes spent), then, at most a
      // little over a day (the longest budget) whatever it says; else
      // after 1-2 s, twice as late at each round of refusals until an
      // ack. Sent again every second or two, a batch past a day's budget
      // went to the node thousands of times, each refused.
      const retry = typeof f.retryAfter === 'number' && f.retryAfter > 0 ? Math.min(f.retryAfter, 90_000) * 1000 : 0;
      const now = Date.now();
      let at: number;
      if (retry) at = now + retry + Math.random() * 1000;
      else {
        // One step of the backoff per round: the refusals of batches sent
        // together (a reconnect's outbox) wait the same time.
        if (now >= this.rateGate) this.rateGate = now + Math.min(RATE_RETRY_MAX_MS, RATE_RETRY_MS * 2 ** Math.min(this.rateRefusals++, 6)) + Math.random() * 1000;
        at = this.rateGate;
      }
      // The changes the node took before the refused one (the held limits') are durable, as if acked.
      if (f.seq && f.accepted) this.pending.filter((p) => p.seq === f.seq && !p.acked).slice(0, f.accepted).forEach((p) => (p.acked = true));
      for (const p of this.pending) {
        if (!p.acked && (!f.seq || p.seq === f.seq)) {
          p.seq = 0;
          p.notBefore = Math.max(p.notBefore ?? 0, at);
        }
      }
      if (retry > 60_000) {
        this.waitingBecause(f.message ?? f.code);
        console.warn('corkboard: the node takes no more changes from here for now; they are kept and sent again then:', f.message);
      }
      this.schedulePersist();
      this.o.events.state();
      this.flush(); // arms the timer for the first change that waits
      return;
    }
    if (f.code === 'unavailable') {
      // Not a refusal of content: the node cannot take the batch now
      // (its disk is nearly full, or other nodes did not confirm it in
      // time). What it accepted before is durable; keep the rest and
      // send it again later (a change it had stored comes back acked as
      // a duplicate). The reason is the status's detail meanwhile.
      const batch = this.pending.filter((p) => p.seq === f.seq && !p.acked);
      batch.slice(0, f.accepted ?? 0).forEach((p) => (p.acked = true));
      for (const p of this.pending) if (!p.acked && (!f.seq || p.seq === f.seq)) p.seq = 0;
      this.waitingBecause(f.message ?? f.code);
      console.warn('corkboard: the node cannot take changes now; sending them again later:', f.message);
      setTimeout(() => this.flush(), UNAVAILABLE_RETRY_MS + Math.random() * 1000);
      this.schedulePersist();
      this.o.events.state();
      return;
    }
    if (f.code === 'clock_ahead') {
      // Not a refusal of content: the change was stamped ahead of the
      // node's clock (this page's clock runs fast, or ran fast when it was
      // made). The node takes it once its clock gets there: keep it and
      // the changes after it, and send them again then.
      const batch = this.pending.filter((p) => p.seq === f.seq && !p.acked);
      batch.slice(0, f.accepted ?? 0).forEach((p) => (p.acked = true));
      const at = Date.now() + CLOCK_AHEAD_RETRY_MS;
      for (const p of this.pending) {
        if (!p.acked && (!f.seq || p.seq === f.seq)) {
          p.seq = 0;
          p.notBefore = at;
        }
      }
      console.warn('corkboard: a change is ahead of the node clock; sending it again later:', f.message);
      this.flush(); // arms the timer for the first change that waits (flushAt)
      this.schedulePersist();
      this.o.events.state();
      return;
    }
    if (f.seq && REFUSALS.has(f.code)) {
      const batch = this.pending.filter((p) => p.seq === f.seq && !p.acked);
      batch.slice(0, f.accepted ?? 0).forEach((p) => (p.acked = true));
      const lost = this.unacked;
      const kept = this.keepWords(f.message || f.code);
      void this.startOver(`${f.code}: ${f.message ?? ''}`, lost, kept);
      return;
    }
    console.warn('corkboard: node error', f);
  }

  /**
   * Keeps the words of the unsent changes before they are dropped (never
   * someone's words without a way to recover them): the text of every
   * element they touched, as the local copy has it now, stored for the
   * board (store.ts) and handed to onKept's listeners. Null when they hold
   * no words (a move, a colour). Rejected: redoing the changes once the
   * board reopens (they may no longer apply, and the person may not want
   * them any more: they decide, with the words in hand).
   */
  private keepWords(reason: string): KeptWords | null {
    const ids = new Set<string>();
    const lost = this.pending.filter((p) => !p.acked);
    for (const p of lost) {
      try {
        const c = this.o.doc.changeJSON(p.bytes) as { ops?: { el?: string }[] };
        for (const op of c.ops ?? []) if (op.el) ids.add(op.el);
      } catch (e) {
        console.warn('corkboard: a refused change could not be read', e);
      }
    }
    if (!ids.size) return null;
    let items: KeptWords['items'] = [];
    try {
      items = this.o.doc
        .elements([...ids])
        .map((e) => ({ id: e.id, kind: e.kind, text: Object.values(e.text ?? {}).filter(Boolean).join('\n') }))
        .filter((e) => e.text.trim() !== '');
    } catch (e) {
      console.warn('corkboard: refused words not read', e);
    }
    if (!items.length) return null;
    const k: KeptWords = { at: Date.now(), reason, changes: lost.length, items };
    if (this.o.keepWords !== false) saveKept(this.o.board, [...loadKept(this.o.board), k]);
    for (const fn of this.onKept) {
      try {
        fn(k);
      } catch (e) {
        console.error('corkboard: kept words listener', e);
      }
    }
    return k;
  }

  /**
   * After a refused change the local copy has diverged from every other
   * (PROTOCOL.md, "After a refused change"): forget it and this replica,
   * take a new replica id and load the board afresh.
   */
  private async startOver(why: string, lost = this.unacked, kept: KeptWords | null = null): Promise<void> {
    if (this.resetting) return;
    this.resetting = true;
    this.drop(1000, 'starting over');
    // Not live from here: the doc is about to be replaced, and the page
    // (and whoever waits for "live") must not take the old one as the
    // node's while the store forgets this replica.
    this.setState('connecting', 'starting over');
    console.warn('corkboard: starting over with a new replica:', why);
    this.o.events.notice(
      `The server refused a change (${why}). Reloaded the board from the server` +
        (!lost ? '.' : kept ? `; ${lost} unsent change(s) could not be saved: your words are kept in "Not saved", to copy.` : `; ${lost} unsent change(s) were dropped.`),
      true,
      { why, lost, kept: !!kept },
    );
    const old = this.claim;
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    try {
      await this.o.store.deleteReplica(this.o.board, old.rec.replica);
    } catch (e) {
      console.warn(e);
    }
    old.release();
    try {
      this.claim = await this.o.newClaim();
    } catch (e) {
      // The store failing (closed, full): the page starts over without it
      // rather than stay stuck resetting.
      console.warn('corkboard: a new replica could not be stored', e);
      this.claim = { rec: { board: this.o.board, replica: newReplicaId(), updated: Date.now() }, release() {} };
    }
    this.claim.rec.token = old.rec.token;
    this.claim.rec.userId = old.rec.userId;
    this.claim.rec.role = old.rec.role;
    this.pending = [];
    this.seq = 0;
    this.ownEnd = 0;
    this.stored = null;
    this.unsaved = [];
    this.unsavedBytes = 0;
    this.base = null;
    this.o.doc.reset();
    this.o.doc.setReplica(this.replica);
    this.o.events.remote(null);
    this.resetting = false;
    this.attempts = 0;
    this.connect();
  }

  // ---- sending ----

  /** Sends every change not yet sent on this connection, in order, in batches. */
  private flush(): void {
    if (this.state !== 'live' || this.ws?.readyState !== OPEN) return;
    let batch: Pending[] = [];
    let bytes = 0;
    const out = () => {
      if (!batch.length) return;
      const seq = ++this.seq;
      for (const p of batch) p.seq = seq;
      this.send(encodeOpsFrame(seq, batch.map((p) => p.bytes)));
      batch = [];
      bytes = 0;
    };
    const now = Date.now();
    for (const p of this.pending) {
      if (p.acked || p.seq !== 0) continue;
      // A change refused as ahead of the node's clock waits, and those
      // after it with it: in counter order, or the node would hold them.
      if (p.notBefore !== undefined && p.notBefore > now) {
        this.flushAt(p.notBefore);
        break;
      }
      if (batch.length >= MAX_BATCH_CHANGES || (batch.length && bytes + p.bytes.length > MAX_BATCH_BYTES)) out();
      batch.push(p);
      bytes += p.bytes.length + 4;
    }
    out();
  }

  /** Flushes again at time at (Date.now(), ms), unless a flush is armed for earlier. */
  private flushAt(at: number): void {
    if (this.waitTimer !== undefined && this.waitAt <= at) return;
    clearTimeout(this.waitTimer);
    this.waitAt = at;
    // setTimeout's longest delay is 2^31-1 ms; a flush before that time arms it again.
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      this.flush();
    }, Math.min(Math.max(0, at - Date.now()) + 5, 2 ** 31 - 1));
  }

  // ---- persistence ----

  private persistMarked = false;

  /** Stores the doc soon (throttled by how long a save takes; not while frames are held). */
  schedulePersist(): void {
    if (this.persistTimer || this.resetting || this.stopped) return;
    this.persistTimer = setTimeout(() => {
      if (this.holding || this.o.busy?.()) {
        // A snapshot loading (in slices): the doc is about to be replaced,
        // and encoding the old one would take the load's time. Or the
        // page reading the board just loaded (SyncOptions.busy).
        this.persistTimer = undefined;
        this.schedulePersist();
      } else void this.persistNow();
    }, Math.max(800, this.persistCostMs * 25));
  }

  /** The save at stop: after the one being written, if any. */
  private async finalSave(): Promise<void> {
    while (this.persisting) await new Promise((r) => setTimeout(r, 20));
    await this.persistNow();
  }

  /**
   * Stores the doc, and drops the acked changes from the stored outbox in
   * the same transaction: appended to the stored doc as parts (the node's
   * batches since the last save, then those changes), or as a new snapshot
   * (store.ts, "parts": the node's own when it sent one, else the doc
   * encoded, when it is small or the parts outgrew a quarter of it).
   */
  async persistNow(): Promise<void> {
    clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    if (this.resetting) return;
    if (this.persisting) {
      this.persistAgain = true;
      return;
    }
    this.persisting = true;
    const rec = this.claim.rec;
    if (!this.persistMarked) {
      this.persistMarked = true;
      performance.mark('corkboard:first-persist'); // bench/web's traces
    }
    const base = this.base;
    const unsaved = this.unsaved;
    const unsavedBytes = this.unsavedBytes;
    this.unsaved = [];
    this.unsavedBytes = 0;
    let mode = '';
    try {
      const t0 = performance.now();
      const acked = this.pending.filter((p) => p.acked);
      const changes = acked.map((p) => ({ change: p.bytes }));
      const changeBytes = acked.reduce((n, p) => n + p.bytes.length, 0);
      const st = this.stored;
      let write: DocWrite;
      if (!this.o.store.docParts) {
        // A Persistence that keeps the doc whole, in the record.
        rec.snapshot = this.o.doc.snapshot(true);
        write = { from: 0, parts: [] };
        mode = 'record';
      } else if (base) {
        write = { snapshot: base, from: 1, parts: [...unsaved, ...changes] };
        mode = 'node-snapshot';
      } else if (!st || st.snapshot < appendFromBytes() || st.tail + unsavedBytes + changeBytes > st.snapshot / 4) {
        write = { snapshot: this.o.doc.snapshot(true), from: 1, parts: [] };
        mode = 'snapshot';
      } else {
        write = { from: st.next, parts: [...unsaved, ...changes] };
        mode = 'parts';
      }
      let next: typeof this.stored = null;
      if (mode !== 'record') {
        const tail = write.parts.reduce((n, p) => n + (p.batch ?? p.change)!.length, write.snapshot ? 0 : st!.tail);
        next = { snapshot: write.snapshot?.length ?? st!.snapshot, tail, next: write.from + write.parts.length };
        rec.docBytes = next.snapshot;
        delete rec.snapshot; // version 2's place for it
      }
      rec.updated = Date.now();
      const writing = this.o.store.persist(rec, acked.map((p) => p.start), mode === 'record' ? undefined : write);
      // The page's own time in the save: the encoding, and the store's copy of what it writes.
      const encodeMs = performance.now() - t0;
      this.persistCostMs = encodeMs;
      await writing;
      // From the start to the write done (bench/web reads encodeMs).
      if (hasWindow) performance.measure('corkboard:persist', { start: t0, detail: { mode, encodeMs, bytes: (write.snapshot?.length ?? rec.snapshot?.length ?? 0) + (next?.tail ?? 0) } });
      if (this.claim.rec === rec) {
        this.stored = next;
        if (this.base === base) this.base = null;
        const gone = new Set(acked);
        this.pending = this.pending.filter((p) => !gone.has(p));
      }
    } catch (e) {
      console.warn('corkboard: saving the board locally failed', e);
      if (this.claim.rec === rec) {
        if (mode === 'parts' && this.base === base) {
          // Kept for the next save, before what came meanwhile; bounded:
          // past a quarter of the snapshot, that save encodes the doc.
          this.unsaved = [...unsaved, ...this.unsaved];
          this.unsavedBytes += unsavedBytes;
        } else if (this.base === base) {
          // The next save encodes the doc whole: nothing kept meanwhile.
          this.stored = null;
          this.base = null;
        }
      }
    } finally {
      this.persisting = false;
    }
    if (this.persistAgain) {
      this.persistAgain = false;
      this.schedulePersist();
    }
  }
}
