// Long work in slices: a big board's snapshot is loaded into the CRDT, its
// elements read out of it (crdt.SnapshotLoader, the wasm's
// loadSnapshotStep and elementsPage), and its spatial index built
// (Board.indexInSlices), a slice of SLICE_MS at a time with a task's turn
// between slices: the page draws (the far-view summary, panned and zoomed)
// and takes input meanwhile instead of freezing for seconds. A slice is
// made of small steps (STEP_MS, each step's budget following the time the
// last one took), so that it ends near its time.
//
// The turn is a posted message (MessageChannel): the browser draws a frame
// between two tasks when one is due. Rejected: scheduler.yield (its
// continuations outrank frames: the page froze for 2 s while the index was
// built), requestIdleCallback (in headless Chromium the page was seldom
// idle while loading: the load took twice as long), and slices of a frame
// or less (a frame drawn at nearly every turn: the load at half speed).
import type { CrdtDoc, ElementJSON } from './crdtdoc';

/** What one step aims at, ms: small enough for a slice to end near its time. */
const STEP_MS = 4;

/** A slice, ms: work runs this long between two turns of the page (about 30 fps while loading). */
const SLICE_MS = 30;

/** A snapshot body smaller than this loads in one call (a small board: a few ms, no yield). */
const STEPPED_BYTES = 512 << 10;

/** STEPPED_BYTES, or the page's globalThis.corkboardSteppedBytes (the browser tests load small boards in slices). */
export function steppedBytes(): number {
  const t = (globalThis as { corkboardSteppedBytes?: unknown }).corkboardSteppedBytes;
  return typeof t === 'number' && t >= 0 ? t : STEPPED_BYTES;
}

/** Elements read out of the doc in the first page (later pages adapt); a board with fewer is read in one call. */
export const FIRST_PAGE = 2000;

/**
 * Gives the page a turn (a frame when one is due, input), then resolves
 * with the time until which the next slice may run (performance.now()).
 * In Node (the SDK), the next turn of the event loop.
 */
export function nextSlice(): Promise<number> {
  const immediate = (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate;
  const turn =
    typeof immediate === 'function'
      ? new Promise<void>((r) => immediate(r))
      : new Promise<void>((r) => {
          const c = new MessageChannel();
          c.port1.onmessage = () => {
            c.port1.close();
            r();
          };
          c.port2.postMessage(0);
        });
  return turn.then(() => performance.now() + SLICE_MS);
}

/** The next budget: scaled to aim at STEP_MS, within [lo, hi] and at most 4× either way. */
function adapt(budget: number, ms: number, lo: number, hi: number): number {
  const next = ms > 0.25 ? (budget * STEP_MS) / ms : budget * 4;
  return Math.round(Math.min(hi, Math.max(lo, next, budget / 4), budget * 4));
}

/**
 * Replaces the doc's state with a snapshot, in slices. The doc is
 * untouched until the last step; throws what loadSnapshot would.
 */
export async function loadSnapshotInSlices(doc: CrdtDoc, snap: Uint8Array): Promise<void> {
  let budget = 64 << 10;
  let first: Uint8Array | undefined = snap;
  for (;;) {
    const until = await nextSlice();
    do {
      const t = performance.now();
      const done = doc.loadSnapshotStep(first, budget);
      first = undefined;
      if (done) return;
      budget = adapt(budget, performance.now() - t, 8 << 10, 16 << 20);
    } while (performance.now() + STEP_MS <= until);
  }
}

/**
 * Every element of the doc (deleted ones included), read a page at a
 * time in slices after the first, full page (doc.elementsPage(0,
 * FIRST_PAGE), of `from` elements), each page given to take before the
 * next is read. stale() is asked after each wait: true gives up (the doc
 * was loaded again meanwhile) and resolves to false.
 */
export async function elementsInSlices(doc: CrdtDoc, from: number, take: (page: ElementJSON[]) => void, stale: () => boolean): Promise<boolean> {
  let n = 500;
  for (let at = from; ; ) {
    const until = await nextSlice();
    if (stale()) return false;
    do {
      const t = performance.now();
      const page = doc.elementsPage(at, n);
      take(page);
      at += page.length;
      if (page.length < n) return true;
      n = adapt(n, performance.now() - t, 50, 50000);
    } while (performance.now() + STEP_MS <= until);
  }
}
