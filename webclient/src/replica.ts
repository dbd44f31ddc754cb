// Which replica id this tab writes as. A replica's changes are numbered
// without gaps, so two tabs must never write as one replica; but a reload
// must write as the replica it was, to resend its unacked outbox (the node
// refuses changes of another replica than the session's). Each tab
// therefore holds a Web Lock on the replica it uses for as long as it
// lives; a new page adopts a replica whose lock is free (the one its
// previous incarnation held, typically) or makes a new one.
import { newReplicaId } from './ids';
import { setTabReplica, tabReplica, type Persistence, type ReplicaRecord } from './store';

export interface Claim {
  rec: ReplicaRecord;
  /** Another replica whose stored doc a new replica starts from (the newest stored copy of the board). */
  seed?: ReplicaRecord;
  release(): void;
}

/** Whether there are Web Locks here (not in Node, nor in an insecure context). */
const hasLocks = () => typeof navigator !== 'undefined' && 'locks' in navigator;

const lockName = (board: string, replica: string) => `corkboard:${board}:${replica}`;

/** Takes the lock, holding it until release; null if not had (now, or within waitMs). */
function lock(name: string, waitMs = 0): Promise<(() => void) | null> {
  if (!hasLocks()) return Promise.resolve(() => {});
  return new Promise((resolve) => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const opts: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true };
    navigator.locks
      .request(name, opts, async (l) => {
        if (!l) {
          resolve(null);
          return;
        }
        resolve(release);
        await held;
      })
      .catch(() => resolve(null));
  });
}

/**
 * Chooses the replica for this tab. token is the token the page was opened
 * with (undefined when none): a replica bound to another user is not
 * adopted, since the node would refuse it. freshId: the id a new replica
 * takes (the one a first visit's early connection said hello as, early.ts).
 */
export async function claimReplica(store: Persistence, board: string, token?: string, freshId?: string): Promise<Claim> {
  const all = await store.listReplicas(board);
  const usable = all.filter((r) => !token || !r.token || r.token === token);
  const pendingCount = new Map<string, number>();
  await Promise.all(usable.map(async (r) => pendingCount.set(r.replica, (await store.outbox(board, r.replica)).length)));
  usable.sort((a, b) => (pendingCount.get(b.replica)! > 0 ? 1 : 0) - (pendingCount.get(a.replica)! > 0 ? 1 : 0) || b.updated - a.updated);

  if (!hasLocks()) {
    // No Web Locks (an insecure context): keep the replica per tab in
    // sessionStorage, which survives a reload of the tab.
    const mine = tabReplica(board);
    const rec = usable.find((r) => r.replica === mine);
    if (rec) return { rec, release() {} };
    const fresh = newRecord(board, token, freshId);
    setTabReplica(board, fresh.replica);
    return { rec: fresh, seed: newest(all), release() {} };
  }

  for (const rec of usable) {
    const release = await lock(lockName(board, rec.replica));
    const held = release && (await current(store, board, rec.replica, release));
    if (held) return held;
  }
  // A reload can start before the old page let go of its lock: wait a
  // little for a replica that still has changes to send.
  const waiting = usable.find((r) => pendingCount.get(r.replica)! > 0);
  if (waiting) {
    const release = await lock(lockName(board, waiting.replica), 2500);
    const held = release && (await current(store, board, waiting.replica, release));
    if (held) return held;
  }
  return claimNew(store, board, token, newest(all), freshId);
}

/**
 * The replica's record as stored now that its lock is held, or null (the
 * lock let go) when it is gone: the list was read before the lock, and
 * meanwhile its holder may have saved (a newer record) or another page
 * swept it away (sweepReplicas: its doc and outbox deleted).
 */
async function current(store: Persistence, board: string, replica: string, release: () => void): Promise<Claim | null> {
  const rec = (await store.listReplicas(board)).find((r) => r.replica === replica);
  if (rec) return { rec, release };
  release();
  return null;
}

/** A claim on a brand-new replica. */
export async function claimNew(store: Persistence, board: string, token: string | undefined, seed?: ReplicaRecord, freshId?: string): Promise<Claim> {
  const rec = newRecord(board, token, freshId);
  const release = (await lock(lockName(board, rec.replica))) ?? (() => {});
  await store.putReplica(rec);
  return { rec, seed, release };
}

function newRecord(board: string, token?: string, freshId?: string): ReplicaRecord {
  return { board, replica: freshId ?? newReplicaId(), token, updated: Date.now() };
}

function newest(recs: ReplicaRecord[]): ReplicaRecord | undefined {
  return recs.filter((r) => r.snapshot || r.docBytes).sort((a, b) => b.updated - a.updated)[0];
}

/** Deletes the records of replicas nobody holds that have nothing left to send. */
export async function sweepReplicas(store: Persistence, board: string, keep: string): Promise<void> {
  if (!hasLocks()) return;
  for (const r of await store.listReplicas(board)) {
    if (r.replica === keep) continue;
    const release = await lock(lockName(board, r.replica));
    if (!release) continue; // another tab's
    try {
      if ((await store.outbox(board, r.replica)).length === 0) await store.deleteReplica(board, r.replica);
    } finally {
      release();
    }
  }
}
