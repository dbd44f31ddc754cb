// Persistence in IndexedDB (through `idb`): per board, each replica's copy
// of the doc (a snapshot) and its outbox of unacked changes, plus what the
// home page lists. An outbox entry is deleted only in the same transaction
// that stores a snapshot containing it, so after a crash the stored doc
// plus the stored outbox always hold every change this replica ever made:
// a new change can never reuse a counter.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

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

interface Schema extends DBSchema {
  boards: { key: string; value: BoardRecord };
  replicas: { key: [string, string]; value: ReplicaRecord };
  outbox: { key: [string, string, number]; value: OutboxRecord };
}

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
}

/** Keeps nothing across reloads: used when IndexedDB cannot be opened. */
class MemoryStore implements Persistence {
  readonly durable = false;
  private boards = new Map<string, BoardRecord>();
  private replicas = new Map<string, ReplicaRecord>();
  private box = new Map<string, OutboxRecord>();
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
}

let opened: Promise<Persistence> | null = null;

export function openStore(): Promise<Persistence> {
  if (!opened) {
    opened = openDB<Schema>('corkboard', 1, {
      upgrade(db) {
        db.createObjectStore('boards', { keyPath: 'id' });
        db.createObjectStore('replicas', { keyPath: ['board', 'replica'] });
        db.createObjectStore('outbox', { keyPath: ['board', 'replica', 'start'] });
      },
    }).then(
      (db) => new Store(db) as Persistence,
      (err) => {
        console.warn('corkboard: IndexedDB unavailable, nothing will be kept offline', err);
        return new MemoryStore();
      },
    );
  }
  return opened;
}
