// Everything the client keeps in the browser, in one place.
//
// IndexedDB (through `idb`), one database "corkboard": per board, each
// replica's copy of the doc (a snapshot) and its outbox of unacked
// changes, what the home page lists, and the last visit's version
// ("since your last visit", sincevisit.ts). An outbox entry is deleted
// only in the same transaction that stores a snapshot containing it, so
// after a crash the stored doc plus the stored outbox always hold every
// change this replica ever made: a new change can never reuse a counter.
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
  snapshot?: Uint8Array;
  updated: number;
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
}

/** The database and its version: 1, boards, replicas and outbox; 2, visits too. */
const DB_NAME = 'corkboard';
const DB_VERSION = 2;
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
  /** Deletes a replica's record and outbox. */
  deleteReplica(board: string, replica: string): Promise<void>;
  outbox(board: string, replica: string): Promise<OutboxRecord[]>;
  addOutbox(e: OutboxRecord): Promise<void>;
  /** Stores the replica record (with its snapshot) and drops the acked outbox entries, atomically. */
  persist(r: ReplicaRecord, acked: number[]): Promise<void>;
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
    const tx = this.db.transaction(['replicas', 'outbox'], 'readwrite');
    await Promise.all([tx.objectStore('replicas').delete([board, replica]), tx.objectStore('outbox').delete(range(board, replica)), tx.done]);
  }
  outbox(board: string, replica: string) {
    return this.db.getAll('outbox', range(board, replica));
  }
  async addOutbox(e: OutboxRecord) {
    await this.db.put('outbox', e);
  }
  async persist(r: ReplicaRecord, acked: number[]) {
    const tx = this.db.transaction(['replicas', 'outbox'], 'readwrite');
    const out = tx.objectStore('outbox');
    await Promise.all([
      tx.objectStore('replicas').put(r),
      ...acked.map((start) => out.delete([r.board, r.replica, start])),
      tx.done,
    ]);
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
    for (const [k, e] of this.box) if (e.board === board && e.replica === replica) this.box.delete(k);
  }
  async outbox(board: string, replica: string) {
    return [...this.box.values()].filter((e) => e.board === board && e.replica === replica).sort((a, b) => a.start - b.start);
  }
  async addOutbox(e: OutboxRecord) {
    this.box.set(`${e.board}/${e.replica}/${e.start}`, e);
  }
  async persist(r: ReplicaRecord, acked: number[]) {
    await this.putReplica(r);
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

/** The page's store (opened once): IndexedDB, or MemoryStore when it cannot be opened. */
export function openStore(): Promise<Persistence> {
  if (!opened) {
    opened = openDB<Schema>(DB_NAME, DB_VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) {
          db.createObjectStore('boards', { keyPath: 'id' });
          db.createObjectStore('replicas', { keyPath: ['board', 'replica'] });
          db.createObjectStore('outbox', { keyPath: ['board', 'replica', 'start'] });
        }
        if (oldVersion < 2) db.createObjectStore('visits', { keyPath: 'board' });
      },
    }).then(
      async (db) => {
        await migrateVisits(db).catch((e) => console.warn('corkboard: old visit records not moved', e));
        return new Store(db) as Persistence;
      },
      (err) => {
        console.warn('corkboard: IndexedDB unavailable, nothing will be kept offline', err);
        return new MemoryStore();
      },
    );
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
