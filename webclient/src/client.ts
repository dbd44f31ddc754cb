// One board, connected: the CRDT doc (crdtdoc.ts), its sync with the node
// and the outbox (sync.ts), its store (store.ts) and the peers' presence.
// This is the object the SDK's connect() returns (webclient/sdk, package
// @corkboard/client) and the one the board page (board.ts) is built on: the
// page adds its views and tools around it, the SDK adds how to load the
// WebAssembly and where the node is. See docs/SDK.md.
//
// Changes are made in transactions: every create, update and delete made
// inside transact() is one change, one undo step and one outbox entry.
// Outside a transaction each call is its own. Rejected: an explicit
// "commit()" handle (one more thing to forget), and a change per call
// (undo would then take a note back one property at a time).
import { generateKeyBetween } from 'fractional-indexing';
import { CrdtDoc, type Committed, type ElementJSON, type LocalOp } from './crdtdoc';
import { uuidv7 } from './ids';
import type { Claim } from './replica';
import type { Element, Kind } from './schema.gen';
import type { Persistence } from './store';
import { Sync, type Endpoint, type Refusal, type Frame, type Peer, type PresenceData, type User, type WebSocketClass } from './sync';
import type { EarlySocket } from './early';

/** The connection as the SDK tells it: connecting (or catching up), synced (live), offline (retrying), closed (stopped, or refused for good). */
export type Status = 'connecting' | 'synced' | 'offline' | 'closed';

/** A change of the board's elements. ids: the elements changed; null: possibly all (a snapshot was loaded, the replica started over). */
export interface ChangeEvent {
  ids: string[] | null;
  origin: 'local' | 'remote';
}

/** Another session on the board, and what it last said in presence. */
export type PeerInfo = Peer;

/** A message for people: the node refused a change, the board was reloaded. */
export interface Notice {
  /** In English. */
  message: string;
  error: boolean;
  /** Set for a refused change that made the board reload (a page words it from these). */
  refused?: Refusal;
}

export interface BoardEvents {
  change: ChangeEvent;
  status: Status;
  /** The peers or their presence changed. */
  presence: PeerInfo[];
  notice: Notice;
  /** Anything about the connection changed: its status or detail, the unacked count, the role. */
  state: void;
  /** Every JSON frame the node sent (welcome, role, error, …), after it was handled. */
  frame: Frame;
}

/** The element of a kind, as the schema types it (schema.gen.ts). */
export type ElementOf<K extends Kind> = Extract<Element, { kind: K }>;
/** A kind's properties. */
export type PropsOf<K extends Kind> = ElementOf<K> extends { props?: infer P } ? NonNullable<P> : Record<string, never>;
/** A kind's text fields. */
export type TextOf<K extends Kind> = ElementOf<K> extends { text?: infer T } ? NonNullable<T> : Record<string, never>;

/** What a new element starts with. */
export interface CreateInit<K extends Kind> {
  /** Its id (a UUID); a new UUIDv7 by default. */
  id?: string;
  props?: PropsOf<K>;
  text?: TextOf<K>;
  /** The element it is inside (a frame, a mindmap node); the board by default. */
  parent?: string;
  /** Its position among its parent's children (a fractional index key); after the last by default. */
  pos?: string;
}

/** What update changes: properties (null removes one), text fields (replaced, as a minimal edit), the parent and position. */
export interface UpdatePatch<K extends Kind = Kind> {
  props?: Partial<Record<keyof PropsOf<K> & string, unknown>> & Record<string, unknown>;
  text?: Partial<Record<keyof TextOf<K> & string, string>> & Record<string, string>;
  parent?: string;
  pos?: string;
}

/** Options of BoardClient.open. */
export interface OpenOptions {
  board: string;
  store: Persistence;
  claim: Claim;
  /** A claim on a new replica (after a refusal the replica starts over). */
  newClaim(): Promise<Claim>;
  /** The name and colour others see in presence. */
  name: string;
  color: string;
  endpoint?: Endpoint;
  WebSocket?: WebSocketClass;
  keepColor?(color: string): void;
  keepWords?: boolean;
  /** Called just before remote changes are applied (the page commits typing). */
  beforeRemote?(): void;
  /** Refuse every local change (a view-only embed): writes throw. */
  readOnly?: boolean;
  /**
   * The board page's far view: ask for the node's summary on boards of at
   * least farViewFrom elements, handed to farView ahead of the snapshot
   * (Sync's SyncEvents.farView).
   */
  farViewFrom?: number;
  farView?(body: Uint8Array): Promise<void> | void;
  /** While it returns true, the doc's saves wait (SyncOptions.busy). */
  busy?(): boolean;
}

/** The id of the board's root (children of the board have no parent). */
const ROOT = '00000000-0000-0000-0000-000000000000';

/** Kinds drawn on the canvas, which get a z key on top when made without one. */
const DRAWN = new Set<string>(['connector', 'frame', 'image', 'mindmap', 'note', 'shape', 'stroke', 'text']);

type Listener<T> = (v: T) => void;

/** A connected board. Made by connect() in the SDK, by startBoard on the board page. */
export class BoardClient {
  readonly doc: CrdtDoc;
  readonly sync: Sync;
  readonly board: string;
  /** The peers' presence, and one's own. */
  readonly presence: PresenceHandle;

  private listeners = new Map<keyof BoardEvents, Set<Listener<never>>>();
  private cache: Map<string, Element> | null = null;
  private ops: LocalOp[] | null = null;
  private lastStatus: Status = 'connecting';
  private waiters: { resolve(): void; reject(e: Error): void }[] = [];
  private closed = false;
  private readOnly: boolean;

  private constructor(o: OpenOptions, doc: CrdtDoc) {
    this.board = o.board;
    this.readOnly = !!o.readOnly;
    this.doc = doc;
    this.sync = new Sync({
      board: o.board,
      name: o.name,
      color: o.color,
      store: o.store,
      doc,
      claim: o.claim,
      newClaim: o.newClaim,
      endpoint: o.endpoint,
      WebSocket: o.WebSocket,
      keepColor: o.keepColor,
      keepWords: o.keepWords,
      farView: o.farViewFrom,
      busy: o.busy,
      events: {
        farView: o.farView ? (b) => o.farView!(b) : undefined,
        beforeRemote: () => o.beforeRemote?.(),
        remote: (ids) => this.changed(ids, 'remote'),
        state: () => this.stateChanged(),
        peers: () => this.emit('presence', this.presence.peers),
        notice: (message, error, refused) => this.emit('notice', { message, error: !!error, refused }),
      },
    });
    this.sync.listeners.push((f) => this.emit('frame', f));
    this.presence = new PresenceHandle(this.sync);
  }

  /**
   * Makes the doc (the WebAssembly must be started: startCRDT) and loads
   * the claimed replica's stored copy and outbox into it. start connects.
   */
  static async open(o: OpenOptions): Promise<BoardClient> {
    const c = new BoardClient(o, new CrdtDoc());
    await c.sync.load();
    return c;
  }

  /** Connects, and keeps connecting until close. early: the page's first-visit connection (early.ts). */
  start(early?: EarlySocket): void {
    this.sync.start(early);
  }

  // ---- events ----

  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof BoardEvents>(event: E, fn: Listener<BoardEvents[E]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return () => this.off(event, fn);
  }

  off<E extends keyof BoardEvents>(event: E, fn: Listener<BoardEvents[E]>): void {
    this.listeners.get(event)?.delete(fn as Listener<never>);
  }

  private emit<E extends keyof BoardEvents>(event: E, v: BoardEvents[E]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        (fn as Listener<BoardEvents[E]>)(v);
      } catch (e) {
        console.error(`corkboard: ${event} listener`, e);
      }
    }
  }

  private changed(ids: string[] | null, origin: 'local' | 'remote'): void {
    if (ids === null) this.cache = null;
    else if (this.cache && ids.length) {
      for (const e of this.doc.elements(ids) as Element[]) {
        if (e.deleted) this.cache.delete(e.id);
        else this.cache.set(e.id, e);
      }
    }
    if (ids === null || ids.length) this.emit('change', { ids, origin });
  }

  private stateChanged(): void {
    const s = this.status;
    if (s !== this.lastStatus) {
      this.lastStatus = s;
      this.emit('status', s);
    }
    this.emit('state', undefined);
    if (!this.waiters.length) return;
    if (s === 'synced' && this.sync.unacked === 0) for (const w of this.waiters.splice(0)) w.resolve();
    else if (s === 'closed') for (const w of this.waiters.splice(0)) w.reject(this.closedError());
  }

  // ---- state ----

  get status(): Status {
    switch (this.sync.state) {
      case 'live':
        return 'synced';
      case 'offline':
        return 'offline';
      case 'stopped':
        return 'closed';
      default:
        return 'connecting';
    }
  }

  /** Why the connection is down or closed, for people. */
  get detail(): string {
    return this.sync.detail;
  }

  /** Local changes the node has not acknowledged yet (kept in the outbox, sent again after a reconnect). */
  get pending(): number {
    return this.sync.unacked;
  }

  /** This client's replica id (16 hex digits). */
  get replica(): string {
    return this.sync.replica;
  }

  /** Who the node says this client is, once welcomed. */
  get user(): User | undefined {
    return this.sync.user;
  }

  /** The role on this board, once known: owner, editor, commenter or viewer. */
  get role(): string | undefined {
    return this.sync.role;
  }

  /** Whether local edits may be made now (not while catching up with one's own held change). */
  get canWrite(): boolean {
    return this.sync.canWrite;
  }

  /**
   * Resolves once connected with every local change acknowledged; rejects
   * when the connection ends for good first (the node refused the token or
   * the board, or close was called), with the reason.
   */
  synced(): Promise<void> {
    if (this.status === 'synced' && this.pending === 0) return Promise.resolve();
    if (this.status === 'closed') return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private closedError(): Error {
    return new Error('corkboard: disconnected: ' + (this.detail || 'closed'));
  }

  // ---- reading ----

  /** The board's elements that are not deleted, by id (typed by kind: schema.gen.ts). Read lazily, then kept up to date. */
  get elements(): ReadonlyMap<string, Element> {
    if (!this.cache) {
      this.cache = new Map();
      for (const e of this.doc.elements() as Element[]) if (!e.deleted) this.cache.set(e.id, e);
    }
    return this.cache;
  }

  /** One element (undefined when there is none or it is deleted). */
  get(id: string): Element | undefined {
    return this.elements.get(id);
  }

  /** The elements of one kind. */
  list<K extends Kind>(kind: K): ElementOf<K>[] {
    return [...this.elements.values()].filter((e): e is ElementOf<K> => e.kind === kind);
  }

  /** A text field of an element ('' when none). */
  text(id: string, field = 'text'): string {
    return this.doc.text(id, field);
  }

  // ---- writing ----

  /**
   * Runs fn and makes every create, update and delete it does one change
   * (one undo step), applied at once, kept in the outbox and sent. Returns
   * fn's result. Nested calls join the outer one. Throws (making nothing)
   * when the node would refuse the ops or the role may not edit.
   */
  transact<T>(fn: () => T): T {
    if (this.ops) return fn();
    this.ops = [];
    let out: T;
    let ops: LocalOp[];
    try {
      out = fn();
    } finally {
      ops = this.ops;
      this.ops = null;
    }
    this.applyOps(ops);
    return out;
  }

  /** Makes an element; returns its id. */
  create<K extends Kind>(kind: K, init: CreateInit<K> = {}): string {
    const id = init.id ?? uuidv7();
    const ops: LocalOp[] = [{ op: 'create', el: id, kind }];
    const props: Record<string, unknown> = { ...(init.props ?? {}) };
    if (DRAWN.has(kind) && props.z === undefined && !init.parent) props.z = this.topZ();
    for (const [key, value] of Object.entries(props)) if (value !== undefined) ops.push({ op: 'set', el: id, key, value });
    for (const [field, t] of Object.entries((init.text ?? {}) as Record<string, string>)) if (t) ops.push({ op: 'insertText', el: id, field, pos: 0, text: t });
    if (init.parent || init.pos) ops.push({ op: 'move', el: id, parent: init.parent, posKey: init.pos ?? this.keyAfterLast(init.parent) });
    if (kind === 'note' && this.user && props.author === undefined) ops.push({ op: 'set', el: id, key: 'author', value: this.user.id });
    this.queue(ops);
    return id;
  }

  /** Changes an element's properties, text, parent or position. */
  update(id: string, patch: UpdatePatch): void {
    const ops: LocalOp[] = [];
    for (const [key, value] of Object.entries(patch.props ?? {})) if (value !== undefined) ops.push({ op: 'set', el: id, key, value });
    for (const [field, t] of Object.entries(patch.text ?? {})) ops.push(...textOps(id, field, this.pendingText(id, field), t));
    if (patch.parent !== undefined || patch.pos !== undefined) ops.push({ op: 'move', el: id, parent: patch.parent, posKey: patch.pos ?? this.keyAfterLast(patch.parent) });
    this.queue(ops);
  }

  /** Deletes an element (its children are hidden with it; undo restores it). */
  delete(id: string): void {
    this.queue([{ op: 'delete', el: id }]);
  }

  /** Applies raw ops (docs/PROTOCOL.md's op forms) in the current transaction. */
  raw(ops: LocalOp[]): void {
    this.queue(ops);
  }

  /** Undoes this client's last change; false when there was none. */
  undo(): boolean {
    return this.history(false);
  }

  /** Redoes the last undone change; false when there was none. */
  redo(): boolean {
    return this.history(true);
  }

  get canUndo(): boolean {
    return this.doc.canUndo();
  }

  get canRedo(): boolean {
    return this.doc.canRedo();
  }

  /**
   * Keeps and sends a change already applied to the doc, and tells the
   * change listeners (origin local). The board page's LocalEdits commits
   * through here, as transact does.
   */
  commit(c: Committed): void {
    this.sync.commit(c);
    this.changed(c.ids, 'local');
  }

  /** Tries to connect now (after going offline), without waiting for the backoff. */
  reconnect(): void {
    this.sync.retry();
  }

  /** Disconnects for good: stores what is unsent (a durable store keeps it for the next connect) and stops. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sync.stop();
  }

  private history(redo: boolean): boolean {
    this.checkWrite();
    const c = redo ? this.doc.redo() : this.doc.undo();
    if (!c) return false;
    this.commit(c);
    return true;
  }

  private queue(ops: LocalOp[]): void {
    if (this.ops) this.ops.push(...ops);
    else this.applyOps(ops);
  }

  private checkWrite(): void {
    if (this.closed) throw new Error('corkboard: the board is closed');
    if (this.readOnly) throw new Error('corkboard: this board was opened read-only');
    if (this.role === 'viewer') throw new Error('corkboard: a viewer cannot change the board');
    if (!this.canWrite) throw new Error('corkboard: catching up with the node before the next change');
  }

  /**
   * Applies ops as one local change (one undo step), keeps it in the
   * outbox and sends it; the ids changed, and the error of an op that
   * failed (the ops before it are made, as a change cannot be rolled back).
   * "author" stamps go in a change of their own that is not an undo step,
   * unless stampsApart is false (comments and votes: their author is part
   * of them): undoing a creation must not write author = null, which the
   * node refuses. check: first refuse, making nothing, ops the node would
   * refuse (transactions do; the board page checks what it cannot trust,
   * such as pastes, itself). Throws when nothing was made. The board page's
   * LocalEdits applies every edit through here, as transact does.
   */
  apply(ops: LocalOp[], o: { check?: boolean; stampsApart?: boolean } = {}): { ids: string[]; error?: string } {
    if (!ops.length) return { ids: [] };
    this.checkWrite();
    if (o.check) {
      const bad = this.doc.checkOps(ops);
      if (bad.length) throw new Error(`corkboard: the node would refuse op ${bad[0]}: ${JSON.stringify(ops[bad[0]])}`);
    }
    const isStamp = (op: LocalOp) => o.stampsApart !== false && op.op === 'set' && op.key === 'author';
    const stamps = ops.filter(isStamp);
    const rest = ops.filter((op) => !isStamp(op));
    const c = rest.length ? this.doc.edit(rest) : null;
    if (c) this.commit(c);
    let ids = c?.ids ?? [];
    if (stamps.length) {
      try {
        const s = this.doc.edit(stamps, this.doc.now(), false);
        if (s) {
          this.commit(s);
          ids = [...new Set([...ids, ...s.ids])];
        }
      } catch (e) {
        console.warn('corkboard: author not stamped', e);
      }
    }
    return { ids, error: c?.error };
  }

  private applyOps(ops: LocalOp[]): void {
    const r = this.apply(ops, { check: true });
    if (r.error) throw new Error('corkboard: ' + r.error);
  }

  /** A text field as it will be once the transaction's queued ops are applied (for diffs in one transaction). */
  private pendingText(id: string, field: string): string {
    let t = [...this.doc.text(id, field)];
    for (const o of this.ops ?? []) {
      if (o.el !== id || !('field' in o) || o.field !== field) continue;
      if (o.op === 'insertText') t.splice(o.pos, 0, ...o.text);
      else if (o.op === 'deleteText') t.splice(o.pos, o.count);
    }
    return t.join('');
  }

  private topZ(): string {
    let max: string | null = null;
    for (const e of this.elements.values()) {
      const z = (e.props as { z?: unknown } | undefined)?.z;
      if (typeof z === 'string' && (max === null || z > max)) max = z;
    }
    for (const o of this.ops ?? []) if (o.op === 'set' && o.key === 'z' && typeof o.value === 'string' && (max === null || o.value > max)) max = o.value;
    try {
      return generateKeyBetween(max, null);
    } catch {
      return generateKeyBetween(null, null);
    }
  }

  private keyAfterLast(parent: string | undefined): string {
    const p = parent ?? ROOT;
    let last: string | null = null;
    for (const e of this.doc.elements() as ElementJSON[]) if ((e.parent ?? ROOT) === p && e.pos && (last === null || e.pos > last)) last = e.pos;
    try {
      return generateKeyBetween(last, null);
    } catch {
      return generateKeyBetween(null, null);
    }
  }
}

/** The ops that turn text `from` into `to`: one delete and one insert around the common prefix and suffix (in code points). */
export function textOps(el: string, field: string, from: string, to: string): LocalOp[] {
  const a = [...from];
  const b = [...to];
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ops: LocalOp[] = [];
  const del = a.length - pre - suf;
  if (del > 0) ops.push({ op: 'deleteText', el, field, pos: pre, count: del });
  const ins = b.slice(pre, b.length - suf).join('');
  if (ins) ops.push({ op: 'insertText', el, field, pos: pre, text: ins });
  return ops;
}

/** board.presence: one's own presence out, the peers' in. */
export class PresenceHandle {
  constructor(private sync: Sync) {}

  /** Sets what this session tells the others (free-form JSON, at most 2048 bytes; sent at most every 50 ms, the latest wins). */
  set(data: Record<string, unknown>): void {
    this.sync.presence(data as PresenceData);
  }

  /** The other sessions on the board now. */
  get peers(): PeerInfo[] {
    return [...this.sync.peers.values()];
  }

  /** This session's id on the node ('' while not connected). */
  get session(): string {
    return this.sync.session;
  }
}
