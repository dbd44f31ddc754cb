// Everything the client keeps in the browser, in one place.
//
// IndexedDB (through `idb`), one database "corkboard": per board, each
// replica's copy of the doc and its outbox of unacked changes, what the
// home page lists, and the last visit's version ("since your last visit",
// sincevisit.ts). An outbox entry is deleted only in the same transaction
// that stores a doc containing it, so after a crash the stored doc plus
// the stored outbox always hold every change this replica ever made: a new
// change can never reuse a counter.
//
// A replica's doc is stored in parts (DocPart): a snapshot, then what was
// applied to the doc after it (the node's batches, this replica's acked
// changes), in order. A save appends the new parts; the snapshot is
// written anew only when it is small, when the parts after it outgrow a
// quarter of it, or when the node sent a snapshot of its own (stored as
// it came, without encoding the doc). Encoding the doc of a board of
// 100,000 elements takes the page's thread 0.7-1 s (0.4-0.5 s in the raw
// format), which a save every few seconds while people edit made a
// freeze every few seconds. Snapshots are stored raw, as the node sends
// them: 2.4 times the bytes of the packed format, but made in half the
// time and loaded in a third (0.24 s against 0.65-0.72 s for that board).
// Rejected: the snapshot in the replica's record (version 2 kept it
// there: any save rewrote it, 17 MB for such a board), encoding it in
// slices (the doc changes between slices), and a database of its own (an
// outbox entry could then not be dropped in the transaction that stores
// it).
// The visits had a database of their own ("corkboard-visits") before: its
// records are copied over the first time the store opens, and it is
// deleted (migrateVisits).
//
// Web storage, synchronous (read before anything else loads, or in a
// pagehide): the names below (localKeys) are every key the client keeps in
// localStorage, and the replica a tab uses where there are no Web Locks is
// the one sessionStorage key. The accessors throw as localStorage does
// when it is unavailable (privacy settings): callers that can do without
// it catch.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { VersionVector } from './crdt';

export interface BoardRecord {
  id: string;
  name?: string;
  /** The token this browser uses on the board (from a link, board creation or the password). Never put in the address bar (boardtoken.ts). */
  token?: string;
  /** The role token had when last asked (GET /v1/boards/{board}). */
  role?: string;
  /** Links per role, kept for the top bar's Share: made with the board, or in Share & settings. */
  links?: Record<string, string>;
  lastOpened: number;
}

export interface ReplicaRecord {
  board: string;
  replica: string;
  /** The token the replica connects with: its user (a guest's, from the welcome). */
  token?: string;
  /** The user the node bound this replica to, and their role. */
  userId?: string;
  role?: string;
  /** Their name and presence colour as the node last said (shown when the page starts offline). */
  userName?: string;
  userColor?: string;
  /**
   * The whole doc, where it is not stored in parts: as version 2 of the
   * database kept it (read, then moved to the parts at the next save), or
   * in a Persistence without docParts.
   */
  snapshot?: Uint8Array;
  /** The size of the stored doc's snapshot (its parts). Unset: none stored. */
  docBytes?: number;
  updated: number;
}

/**
 * One part of a replica's stored doc: n 0 is its snapshot, then each
 * later part one thing applied after it: a batch from the node or a change
 * of this replica (acked: it left the outbox).
 */
export interface DocPart {
  board: string;
  replica: string;
  n: number;
  snapshot?: Uint8Array;
  batch?: Uint8Array;
  change?: Uint8Array;
}

/** What a save writes of the doc: a new snapshot (the parts after it start at 1), or parts appended from n. */
export interface DocWrite {
  snapshot?: Uint8Array;
  from: number;
  parts: { batch?: Uint8Array; change?: Uint8Array }[];
}

export interface OutboxRecord {
  board: string;
  replica: string;
  /** The change's first counter: orders a replica's changes. */
  start: number;
  bytes: Uint8Array;
}

/** A board's last visit in this browser: the doc's version then. */
export interface Visit {
  board: string;
  version: VersionVector;
  at: number;
}

interface Schema extends DBSchema {
  boards: { key: string; value: BoardRecord };
  replicas: { key: [string, string]; value: ReplicaRecord };
  outbox: { key: [string, string, number]; value: OutboxRecord };
  visits: { key: string; value: Visit };
  parts: { key: [string, string, number]; value: DocPart };
}

/** The database and its version: 1, boards, replicas and outbox; 2, visits too; 3, the doc in parts. */
const DB_NAME = 'corkboard';
const DB_VERSION = 3;
/**
 * How long a page waits for a tab of an older version to let the
 * database go (it holds version 2 open and does not close it for an
 * upgrade) before it does without IndexedDB (MemoryStore).
 */
const BLOCKED_WAIT_MS = 3000;
/** The visits' own database before version 2 (migrateVisits). */
const OLD_VISITS_DB = 'corkboard-visits';

/** What the client stores. Store is IndexedDB; MemoryStore when IndexedDB is unavailable. */
export interface Persistence {
  readonly durable: boolean;
  getBoard(id: string): Promise<BoardRecord | undefined>;
  putBoard(b: BoardRecord): Promise<void>;
  listBoards(): Promise<BoardRecord[]>;
  listReplicas(board: string): Promise<ReplicaRecord[]>;
  putReplica(r: ReplicaRecord): Promise<void>;
  /** Deletes a replica's record, stored doc and outbox. */
  deleteReplica(board: string, replica: string): Promise<void>;
  outbox(board: string, replica: string): Promise<OutboxRecord[]>;
  addOutbox(e: OutboxRecord): Promise<void>;
  /**
   * A replica's stored doc, its parts in order (none: nothing stored).
   * Optional for a Persistence of one's own (the SDK's `store`): without
   * it, the doc is kept whole in the record's `snapshot`, written at every
   * save, and persist gets no DocWrite.
   */
  docParts?(board: string, replica: string): Promise<DocPart[]>;
  /**
   * Stores the replica record and what doc says of its doc, and drops the
   * acked outbox entries, atomically. A new snapshot replaces every part.
   */
  persist(r: ReplicaRecord, acked: number[], doc?: DocWrite): Promise<void>;
  getVisit(board: string): Promise<Visit | undefined>;
  /** Stores a visit; the write is issued before it returns (safe in a pagehide). */
  putVisit(v: Visit): Promise<void>;
}

const range = (board: string, replica: string) =>
  IDBKeyRange.bound([board, replica, 0], [board, replica, Number.MAX_SAFE_INTEGER]);

class Store implements Persistence {
  readonly durable = true;
  constructor(private db: IDBPDatabase<Schema>) {}

  getBoard(id: string) {
    return this.db.get('boards', id);
  }
  async putBoard(b: BoardRecord) {
    await this.db.put('boards', b);
  }
  listBoards() {
    return this.db.getAll('boards');
  }
  listReplicas(board: string) {
    return this.db.getAll('replicas', IDBKeyRange.bound([board, ''], [board, '\uffff']));
  }
  async putReplica(r: ReplicaRecord) {
    await this.db.put('replicas', r);
  }
  async deleteReplica(board: string, replica: string) {
    const tx = this.db.transaction(['replicas', 'outbox', 'parts'], 'readwrite');
    await Promise.all([
      tx.objectStore('replicas').delete([board, replica]),
      tx.objectStore('outbox').delete(range(board, replica)),
      tx.objectStore('parts').delete(range(board, replica)),
      tx.done,
    ]);
  }
  outbox(board: string, replica: string) {
    return this.db.getAll('outbox', range(board, replica));
  }
  async addOutbox(e: OutboxRecord) {
    await this.db.put('outbox', e);
  }
  docParts(board: string, replica: string) {
    return this.db.getAll('parts', range(board, replica));
  }
  async persist(r: ReplicaRecord, acked: number[], doc?: DocWrite) {
    const tx = this.db.transaction(['replicas', 'outbox', 'parts'], 'readwrite');
    const out = tx.objectStore('outbox');
    const parts = tx.objectStore('parts');
    const ops: Promise<unknown>[] = [];
    if (doc?.snapshot) {
      ops.push(parts.delete(range(r.board, r.replica)));
      ops.push(parts.put({ board: r.board, replica: r.replica, n: 0, snapshot: doc.snapshot }));
    }
    doc?.parts.forEach((p, i) => ops.push(parts.put({ board: r.board, replica: r.replica, n: doc.from + i, ...p })));
    await Promise.all([tx.objectStore('replicas').put(r), ...ops, ...acked.map((start) => out.delete([r.board, r.replica, start])), tx.done]);
  }
  getVisit(board: string) {
    return this.db.get('visits', board);
  }
  async putVisit(v: Visit) {
    await this.db.put('visits', v);
  }
}

/** Keeps nothing across reloads: used when IndexedDB cannot be opened, and by the SDK in Node. */
export class MemoryStore implements Persistence {
  readonly durable = false;
  private boards = new Map<string, BoardRecord>();
  private replicas = new Map<string, ReplicaRecord>();
  private box = new Map<string, OutboxRecord>();
  private visits = new Map<string, Visit>();
  private docs = new Map<string, DocPart[]>();
  async getBoard(id: string) {
    return this.boards.get(id);
  }
  async putBoard(b: BoardRecord) {
    this.boards.set(b.id, b);
  }
  async listBoards() {
    return [...this.boards.values()];
  }
  async listReplicas(board: string) {
    return [...this.replicas.values()].filter((r) => r.board === board);
  }
  async putReplica(r: ReplicaRecord) {
    this.replicas.set(r.board + '/' + r.replica, r);
  }
  async deleteReplica(board: string, replica: string) {
    this.replicas.delete(board + '/' + replica);
    this.docs.delete(board + '/' + replica);
    for (const [k, e] of this.box) if (e.board === board && e.replica === replica) this.box.delete(k);
  }
  async outbox(board: string, replica: string) {
    return [...this.box.values()].filter((e) => e.board === board && e.replica === replica).sort((a, b) => a.start - b.start);
  }
  async addOutbox(e: OutboxRecord) {
    this.box.set(`${e.board}/${e.replica}/${e.start}`, e);
  }
  async docParts(board: string, replica: string) {
    return [...(this.docs.get(board + '/' + replica) ?? [])];
  }
  async persist(r: ReplicaRecord, acked: number[], doc?: DocWrite) {
    await this.putReplica(r);
    const key = r.board + '/' + r.replica;
    if (doc) {
      const kept = doc.snapshot ? [{ board: r.board, replica: r.replica, n: 0, snapshot: doc.snapshot }] : (this.docs.get(key) ?? []);
      const byN = new Map(kept.map((p) => [p.n, p]));
      doc.parts.forEach((p, i) => byN.set(doc.from + i, { board: r.board, replica: r.replica, n: doc.from + i, ...p }));
      this.docs.set(key, [...byN.values()].sort((a, b) => a.n - b.n));
    }
    for (const s of acked) this.box.delete(`${r.board}/${r.replica}/${s}`);
  }
  async getVisit(board: string) {
    return this.visits.get(board);
  }
  async putVisit(v: Visit) {
    this.visits.set(v.board, v);
  }
}

let opened: Promise<Persistence> | null = null;

/** How long a page waits for the database at all before it does without (a slow first open included). */
const OPEN_WAIT_MS = 15000;

const closedListeners: (() => void)[] = [];

/**
 * Calls fn when a newer version of the client, in another tab, takes the
 * database over: this page's connection is closed then, and nothing it
 * writes is kept any more (the board page reloads, into the newer version).
 */
export function onStoreClosed(fn: () => void): void {
  closedListeners.push(fn);
}

/**
 * The page's store (opened once): IndexedDB, or MemoryStore when it cannot
 * be opened, or when a tab of an older version holds it past
 * BLOCKED_WAIT_MS (that tab's saves go on; this one keeps nothing), or
 * when it is not open after OPEN_WAIT_MS. A newer version's upgrade
 * closes this page's connection (blocking) and tells onStoreClosed's
 * listeners, rather than hold the newer page.
 */
export function openStore(): Promise<Persistence> {
  if (!opened) {
    opened = new Promise<Persistence>((resolve) => {
      let settled = false;
      let blockedTimer: ReturnType<typeof setTimeout> | undefined;
      const without = (why: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(blockedTimer);
        clearTimeout(cap);
        console.warn('corkboard: IndexedDB unavailable, nothing will be kept offline', why);
        resolve(new MemoryStore());
      };
      // A page queued behind another one's upgrade may never hear "blocked".
      const cap = setTimeout(() => without('not opened in time'), OPEN_WAIT_MS);
      openDB<Schema>(DB_NAME, DB_VERSION, {
        upgrade(db, oldVersion) {
          if (oldVersion < 1) {
            db.createObjectStore('boards', { keyPath: 'id' });
            db.createObjectStore('replicas', { keyPath: ['board', 'replica'] });
            db.createObjectStore('outbox', { keyPath: ['board', 'replica', 'start'] });
          }
          if (oldVersion < 2) db.createObjectStore('visits', { keyPath: 'board' });
          if (oldVersion < 3) db.createObjectStore('parts', { keyPath: ['board', 'replica', 'n'] });
        },
        blocked() {
          blockedTimer ??= setTimeout(() => without('another tab of an older version holds it'), BLOCKED_WAIT_MS);
        },
        blocking(_current, _wanted, ev) {
          (ev.target as IDBDatabase).close();
          for (const fn of closedListeners) fn();
        },
      }).then(
        async (db) => {
          if (settled) {
            db.close();
            return;
          }
          settled = true;
          clearTimeout(blockedTimer);
          clearTimeout(cap);
          await migrateVisits(db).catch((e) => console.warn('corkboard: old visit records not moved', e));
          resolve(new Store(db));
        },
        without,
      );
    });
  }
  return opened;
}

/**
 * Moves the visits of the old database (OLD_VISITS_DB) into this one and
 * deletes it. Checked on every open rather than in the upgrade (which runs
 * once), so that a tab of an older version writing there meanwhile loses
 * nothing; a record already here is newer (this version wrote it) and
 * stays. Only where the browser can list its databases (it cannot be
 * asked whether one exists without creating it otherwise).
 */
async function migrateVisits(db: IDBPDatabase<Schema>): Promise<void> {
  if (typeof indexedDB.databases !== 'function') return;
  if (!(await indexedDB.databases()).some((d) => d.name === OLD_VISITS_DB)) return;
  const old = await openDB(OLD_VISITS_DB);
  try {
    const rows: Visit[] = old.objectStoreNames.contains('visits') ? await old.getAll('visits') : [];
    const tx = db.transaction('visits', 'readwrite');
    for (const v of rows) {
      if (v && typeof v.board === 'string' && !(await tx.store.get(v.board))) await tx.store.put(v);
    }
    await tx.done;
  } finally {
    old.close();
  }
  await new Promise<void>((resolve) => {
    const r = indexedDB.deleteDatabase(OLD_VISITS_DB);
    r.onsuccess = r.onerror = r.onblocked = () => resolve();
  });
}

// ---- web storage ----

/** Every key the client keeps in localStorage. */
export const localKeys = {
  /** The display name this browser gives itself (ids.ts). */
  name: 'cb.name',
  /** Its cursor colour (ids.ts). */
  color: 'cb.color',
  /** The view last had on a board (camera.ts). */
  camera: (board: string) => 'cb.cam.' + board,
  /** The board has a stored replica here: no early connection (early.ts). */
  known: (board: string) => 'cb.known.' + board,
  /** Names of the people met on a board, for comments (comments.ts). */
  people: (board: string) => 'cb.people.' + board,
  /** A token handed over to the next page of a board (boardtoken.ts). */
  handOver: (board: string) => 'cb.token.' + board,
  /** A token the node refused, for the next load to forget (boardtoken.ts). */
  refused: (board: string) => 'cb.refused.' + board,
  /** Words of changes the node refused, kept for their author to copy (keptwords.ts). */
  kept: (board: string) => 'cb.kept.' + board,
};

/** The words of local changes the node refused (a closed board, …): what their author wrote, to copy. */
export interface KeptWords {
  at: number;
  /** Why the node refused them (its error message). */
  reason: string;
  /** How many changes were refused. */
  changes: number;
  /** The elements they touched that hold words, as they were just before the page started over. */
  items: { id: string; kind: string; text: string }[];
}

/** The refused words kept for a board, oldest first. */
export function loadKept(board: string): KeptWords[] {
  try {
    const v = JSON.parse(localGet(localKeys.kept(board)) ?? '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

/** Keeps the refused words of a board (an empty list forgets them); the newest 20 refusals at most. */
export function saveKept(board: string, list: KeptWords[]): void {
  try {
    if (list.length) localSet(localKeys.kept(board), JSON.stringify(list.slice(-20)));
    else localRemove(localKeys.kept(board));
  } catch (e) {
    console.warn('corkboard: refused words not kept', e);
  }
}

/** localStorage's value for key (null: none). Throws where localStorage is unavailable. */
export function localGet(key: string): string | null {
  return localStorage.getItem(key);
}

/** Sets a localStorage key. Throws where localStorage is unavailable (or full). */
export function localSet(key: string, value: string): void {
  localStorage.setItem(key, value);
}

export function localRemove(key: string): void {
  localStorage.removeItem(key);
}

/** A view of a board (render.ts' Camera). */
export interface SavedView {
  x: number;
  y: number;
  zoom: number;
}

/** The view last had on a board, if any. */
export function loadCamera(board: string): SavedView | null {
  const saved = localGet(localKeys.camera(board));
  if (!saved) return null;
  try {
    const c = JSON.parse(saved);
    if ([c.x, c.y, c.zoom].every(Number.isFinite)) return c;
  } catch {
    /* ignore */
  }
  return null;
}

export function saveCamera(board: string, c: SavedView): void {
  localSet(localKeys.camera(board), JSON.stringify(c));
}

/** The replica this tab uses on a board where there are no Web Locks (replica.ts): sessionStorage, which survives a reload of the tab. */
export function tabReplica(board: string): string | null {
  return sessionStorage.getItem('cb.replica.' + board);
}

export function setTabReplica(board: string, replica: string): void {
  sessionStorage.setItem('cb.replica.' + board, replica);
}
